//! `capstan verify` prints exactly what `helm verify` prints, and fails the way it does;
//! `capstan package --sign` writes a `.prov` that it accepts.

use std::path::Path;
use std::process::Command;

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/testdata/helm");

fn capstan(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(args)
        .output()
        .expect("capstan runs")
}

fn keyring() -> String {
    format!("{TESTDATA}/provenance/helm-test-key.pub")
}

#[test]
fn verify_prints_helms_three_lines() {
    let archive = format!("{TESTDATA}/signtest/signtest-0.1.0.tgz");
    let output = capstan(&["verify", &archive, "--keyring", &keyring()]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "Signed by: Helm Testing (This key should only be used for testing. DO NOT TRUST.) <helm-testing@helm.sh>\n\
         Using Key With Fingerprint: 5E615389B53CA37F0EE60BD3843BBF981FC18762\n\
         Chart Hash Verified: sha256:e5ef611620fb97704d8751c16bab17fedb68883bfb0edc76f78a70e9173f9b55\n"
    );
}

#[test]
fn verify_refuses_directories_and_missing_provenance() {
    let directory = format!("{TESTDATA}/signtest/signtest");
    let output = capstan(&["verify", &directory, "--keyring", &keyring()]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unpacked charts cannot be verified"));

    let unsigned = format!("{TESTDATA}/repo/repository/sprocket-1.1.0.tgz");
    assert!(Path::new(&unsigned).exists());
    let output = capstan(&["verify", &unsigned, "--keyring", &keyring()]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("could not load provenance file"),
        "{stderr}"
    );
    assert!(stderr.contains("sprocket-1.1.0.tgz.prov"), "{stderr}");
}

#[test]
fn verify_reports_a_changed_archive() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("signtest-0.1.0.tgz");
    let mut bytes = std::fs::read(format!("{TESTDATA}/signtest/signtest-0.1.0.tgz")).unwrap();
    bytes.push(0);
    std::fs::write(&archive, bytes).unwrap();
    std::fs::copy(
        format!("{TESTDATA}/signtest/signtest-0.1.0.tgz.prov"),
        dir.path().join("signtest-0.1.0.tgz.prov"),
    )
    .unwrap();
    let output = capstan(&["verify", archive.to_str().unwrap(), "--keyring", &keyring()]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("sha256 sum does not match"));
}

/// `capstan package CHART -d DEST --sign` with Helm's passphrase-protected test key.
fn package_signed(chart: &str, dest: &str, passphrase_file: &Path) -> std::process::Output {
    capstan(&[
        "package",
        chart,
        "-d",
        dest,
        "--sign",
        "--key",
        "fake@helm.sh",
        "--keyring",
        &format!("{TESTDATA}/provenance/helm-password-key.secret"),
        "--passphrase-file",
        passphrase_file.to_str().unwrap(),
    ])
}

#[test]
fn package_sign_then_verify() {
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().to_str().unwrap();
    let passphrase = out.path().join("passphrase");
    std::fs::write(&passphrase, "secret\n").unwrap();
    let chart = format!("{TESTDATA}/provenance/hashtest");
    let packaged = package_signed(&chart, dest, &passphrase);
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
        &format!("{TESTDATA}/provenance/helm-password-key.secret"),
    ]);
    let stdout = String::from_utf8_lossy(&verified.stdout);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    assert!(
        stdout.starts_with("Signed by: password key (fake) <fake@helm.sh>\n"),
        "{stdout}"
    );

    let wrong = out.path().join("wrong");
    std::fs::write(&wrong, "secrets_and_lies\n").unwrap();
    let refused = package_signed(&chart, dest, &wrong);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("passphrase does not unlock"), "{stderr}");
    assert!(!stderr.contains("secrets_and_lies"), "{stderr}");
}
