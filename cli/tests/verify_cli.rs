//! `capstan verify` prints exactly what `helm verify` prints (as recorded by testdata/helm/generate,
//! and as Helm's own tests expect for its vectors), and fails the way it does; `capstan package
//! --sign` writes a `.prov` that it accepts.

use std::path::Path;
use std::process::Command;

use capstan_testdata::Vectors;

fn capstan(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(args)
        .output()
        .expect("capstan runs")
}

fn path(vectors: &Vectors, relative: &str) -> String {
    vectors.path(relative).to_str().unwrap().to_string()
}

fn keyring(vectors: &Vectors) -> String {
    path(vectors, "provenance/helm-test-key.pub")
}

/// `capstan package CHART -d DEST --sign` with the passphrase-protected test key.
fn package_signed(
    vectors: &Vectors,
    chart: &str,
    dest: &str,
    passphrase_file: &Path,
) -> std::process::Output {
    capstan(&[
        "package",
        chart,
        "-d",
        dest,
        "--sign",
        "--key",
        vectors.password_key().email(),
        "--keyring",
        &path(vectors, "provenance/helm-password-key.secret"),
        "--passphrase-file",
        passphrase_file.to_str().unwrap(),
    ])
}

capstan_testdata::vector_tests! {
    fn verify_prints_helms_three_lines(vectors) {
        let archive = path(vectors, "signtest/signtest-0.1.0.tgz");
        let output = capstan(&["verify", &archive, "--keyring", &keyring(vectors)]);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(
            String::from_utf8(output.stdout).unwrap(),
            vectors.signtest_helm_verify_output()
        );
    }

    fn verify_refuses_directories_and_missing_provenance(vectors) {
        let directory = path(vectors, "signtest/signtest");
        let output = capstan(&["verify", &directory, "--keyring", &keyring(vectors)]);
        assert!(!output.status.success());
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("unpacked charts cannot be verified")
        );

        let unsigned = path(vectors, "repo/repository/sprocket-1.1.0.tgz");
        assert!(Path::new(&unsigned).exists());
        let output = capstan(&["verify", &unsigned, "--keyring", &keyring(vectors)]);
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("could not load provenance file"),
            "{stderr}"
        );
        assert!(stderr.contains("sprocket-1.1.0.tgz.prov"), "{stderr}");
    }

    fn verify_reports_a_changed_archive(vectors) {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("signtest-0.1.0.tgz");
        let mut bytes = vectors.read("signtest/signtest-0.1.0.tgz");
        bytes.push(0);
        std::fs::write(&archive, bytes).unwrap();
        std::fs::copy(
            vectors.path("signtest/signtest-0.1.0.tgz.prov"),
            dir.path().join("signtest-0.1.0.tgz.prov"),
        )
        .unwrap();
        let output = capstan(&[
            "verify",
            archive.to_str().unwrap(),
            "--keyring",
            &keyring(vectors),
        ]);
        assert!(!output.status.success());
        assert!(String::from_utf8_lossy(&output.stderr).contains("sha256 sum does not match"));
    }

    fn package_sign_then_verify(vectors) {
        let out = tempfile::tempdir().unwrap();
        let dest = out.path().to_str().unwrap();
        let passphrase = out.path().join("passphrase");
        std::fs::write(&passphrase, format!("{}\n", Vectors::PASSPHRASE)).unwrap();
        let chart = path(vectors, "provenance/hashtest");
        let packaged = package_signed(vectors, &chart, dest, &passphrase);
        assert!(
            packaged.status.success(),
            "{}",
            String::from_utf8_lossy(&packaged.stderr)
        );
        let archive = out.path().join("hashtest-1.2.3.tgz");
        assert!(out.path().join("hashtest-1.2.3.tgz.prov").exists());

        // The password key's public part is the secret file itself (sequoia reads public parts too).
        let verified = capstan(&[
            "verify",
            archive.to_str().unwrap(),
            "--keyring",
            &path(vectors, "provenance/helm-password-key.secret"),
        ]);
        let stdout = String::from_utf8_lossy(&verified.stdout);
        assert!(
            verified.status.success(),
            "{}",
            String::from_utf8_lossy(&verified.stderr)
        );
        let signed_by = format!("Signed by: {}\n", vectors.password_key().user_id);
        assert!(stdout.starts_with(&signed_by), "{stdout}");

        let wrong = out.path().join("wrong");
        std::fs::write(&wrong, "secrets_and_lies\n").unwrap();
        let refused = package_signed(vectors, &chart, dest, &wrong);
        assert!(!refused.status.success());
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains("passphrase does not unlock"), "{stderr}");
        assert!(!stderr.contains("secrets_and_lies"), "{stderr}");
    }
}
