//! Interoperability with real GnuPG and Helm: what they sign we verify, and what we sign they
//! verify. Both tools must be present (`e2e/install-prerequisites`, `e2e/cluster build`); a test
//! without them fails saying so.

use capstan_chart::model::ChartMetadata;
use capstan_chart::provenance::{
    Keyring, ProvenanceError, archive_digest, message_block, sign_with_keyring, verify_archive,
};
use capstan_testdata::{Vectors, tools};
use std::path::PathBuf;
use std::process::{Command, Output};

const USER_ID: &str = "Capstan Interop <interop@example.com>";

/// A throw-away GnuPG home. Dropping it stops the agent gpg started for it.
struct GnuPg {
    gpg: PathBuf,
    home: tempfile::TempDir,
}

impl GnuPg {
    fn new() -> Self {
        GnuPg {
            gpg: tools::gpg(),
            home: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let output = Command::new(&self.gpg)
            .env("GNUPGHOME", self.home.path())
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args)
            .output()
            .expect("gpg runs");
        assert!(
            output.status.success(),
            "gpg {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    fn generate_key(&self) {
        self.run(&["--quick-generate-key", USER_ID, "rsa3072", "sign", "never"]);
    }
}

impl Drop for GnuPg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", self.home.path())
            .args(["--kill", "all"])
            .output();
    }
}

/// The chart Helm packaged for the provenance fixtures: its metadata and archive.
fn hashtest() -> (ChartMetadata, Vec<u8>) {
    let vectors = Vectors::generated();
    let chart_yaml = vectors.read_string("provenance/hashtest/Chart.yaml");
    let archive = vectors.read("provenance/hashtest-1.2.3.tgz");
    (serde_saphyr::from_str(&chart_yaml).unwrap(), archive)
}

#[test]
fn gnupg_signed_block_verifies_and_keybox_is_refused() {
    let gpg = GnuPg::new();
    gpg.generate_key();
    let (metadata, archive) = hashtest();
    let block_path = gpg.home.path().join("block.yaml");
    std::fs::write(
        &block_path,
        message_block(&metadata, "hashtest-1.2.3.tgz", &archive),
    )
    .unwrap();
    let signed_path = gpg.home.path().join("hashtest-1.2.3.tgz.prov");
    gpg.run(&[
        "--digest-algo",
        "SHA512",
        "--clearsign",
        "-u",
        USER_ID,
        "-o",
        signed_path.to_str().unwrap(),
        block_path.to_str().unwrap(),
    ]);
    let exported = gpg.run(&["--export", USER_ID]).stdout;
    let keyring = Keyring::from_bytes(&exported, "gpg --export").unwrap();
    let prov = std::fs::read(&signed_path).unwrap();
    let verification = verify_archive("hashtest-1.2.3.tgz", &archive, &prov, &keyring).unwrap();
    assert_eq!(verification.signer, USER_ID);

    let armored = gpg.run(&["--armor", "--export", USER_ID]).stdout;
    assert!(
        verify_archive(
            "hashtest-1.2.3.tgz",
            &archive,
            &prov,
            &Keyring::from_bytes(&armored, "armored").unwrap()
        )
        .is_ok()
    );

    let keybox = gpg.home.path().join("pubring.kbx");
    let err = Keyring::from_file(&keybox).unwrap_err();
    assert!(
        matches!(err, ProvenanceError::KeyboxKeyring { .. }),
        "{err}"
    );
}

#[test]
fn our_signature_passes_gpg_verify_and_helm_verify() {
    let gpg = GnuPg::new();
    gpg.generate_key();
    let (metadata, archive) = hashtest();
    let secret = gpg.run(&["--export-secret-keys", USER_ID]).stdout;
    let keyring = Keyring::from_bytes(&secret, "gpg --export-secret-keys").unwrap();
    let prov = sign_with_keyring(
        "hashtest-1.2.3.tgz",
        &archive,
        &metadata,
        &keyring,
        "interop@example",
        None,
    )
    .unwrap();

    let dir = gpg.home.path();
    let archive_path = dir.join("hashtest-1.2.3.tgz");
    std::fs::write(&archive_path, &archive).unwrap();
    let prov_path = dir.join("hashtest-1.2.3.tgz.prov");
    std::fs::write(&prov_path, &prov).unwrap();
    let verified = gpg.run(&["--verify", prov_path.to_str().unwrap()]);
    let report = String::from_utf8_lossy(&verified.stderr);
    assert!(report.contains("Good signature"), "{report}");

    let helm = tools::helm();
    let public_ring = dir.join("pubring.gpg");
    std::fs::write(&public_ring, gpg.run(&["--export", USER_ID]).stdout).unwrap();
    let output = Command::new(&helm)
        .args([
            "verify",
            archive_path.to_str().unwrap(),
            "--keyring",
            public_ring.to_str().unwrap(),
        ])
        .env("HELM_CACHE_HOME", dir.join("helm-cache"))
        .env("HELM_CONFIG_HOME", dir.join("helm-config"))
        .env("HELM_DATA_HOME", dir.join("helm-data"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "helm verify: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!("Signed by: {USER_ID}")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "Chart Hash Verified: {}",
            archive_digest(&archive)
        )),
        "{stdout}"
    );
}
