//! Interoperability with real GnuPG (and Helm, when its binary is available): what they sign we
//! verify, and what we sign they verify.

use capstan_chart::model::ChartMetadata;
use capstan_chart::provenance::{
    Keyring, ProvenanceError, message_block, sign_with_keyring, verify_archive,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/testdata/helm");
const USER_ID: &str = "Capstan Interop <interop@example.com>";

/// A throw-away GnuPG home. Dropping it stops the agent gpg started for it.
struct GnuPg {
    gpg: PathBuf,
    home: tempfile::TempDir,
}

impl GnuPg {
    fn new() -> Option<Self> {
        let gpg = std::env::var_os("CAPSTAN_E2E_GPG")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/usr/bin/gpg"));
        if !gpg.exists() {
            eprintln!("SKIP: no gpg at {} (set CAPSTAN_E2E_GPG)", gpg.display());
            return None;
        }
        let home = tempfile::tempdir().unwrap();
        Some(GnuPg { gpg, home })
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

fn hashtest() -> (ChartMetadata, Vec<u8>) {
    let chart_yaml =
        std::fs::read_to_string(format!("{TESTDATA}/provenance/hashtest/Chart.yaml")).unwrap();
    let archive = std::fs::read(format!("{TESTDATA}/provenance/hashtest-1.2.3.tgz")).unwrap();
    (serde_saphyr::from_str(&chart_yaml).unwrap(), archive)
}

#[test]
fn gnupg_signed_block_verifies_and_keybox_is_refused() {
    let Some(gpg) = GnuPg::new() else { return };
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
    let Some(gpg) = GnuPg::new() else { return };
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

    let Some(helm) = helm_binary() else {
        eprintln!(
            "SKIP: helm verify (no helm binary: set CAPSTAN_E2E_HELM or run e2e/cluster build)"
        );
        return;
    };
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
        stdout.contains("Chart Hash Verified: sha256:c6841b3a"),
        "{stdout}"
    );
}

/// Helm from `CAPSTAN_E2E_HELM`, else the one `e2e/cluster build` caches.
fn helm_binary() -> Option<PathBuf> {
    if let Some(helm) = std::env::var_os("CAPSTAN_E2E_HELM").map(PathBuf::from) {
        return helm.exists().then_some(helm);
    }
    let cache = Path::new(&std::env::var_os("HOME")?).join(".cache/capstan/bin");
    std::fs::read_dir(cache)
        .ok()?
        .flatten()
        .map(|entry| entry.path().join("helm"))
        .find(|path| path.exists())
}
