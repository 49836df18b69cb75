//! Real GnuPG for the provenance tests: a throw-away home with one unprotected signing key that
//! signs chart archives as `helm package --sign` does and exports its keyrings.

use std::path::{Path, PathBuf};
use std::process::Command;

use capstan_chart::load::load_archive;
use capstan_chart::provenance::message_block;

use crate::operator::TestResult;

/// A GnuPG home with one signing key. Dropping it stops the agent gpg started for it.
pub struct GnuPg {
    gpg: PathBuf,
    home: tempfile::TempDir,
    user_id: String,
}

impl GnuPg {
    /// Generates an RSA signing key for `user_id` with the `gpg` binary (`CAPSTAN_E2E_GPG`).
    pub fn new(gpg: &Path, user_id: &str) -> TestResult<Self> {
        let gnupg = GnuPg {
            gpg: gpg.to_path_buf(),
            home: tempfile::tempdir()?,
            user_id: user_id.to_string(),
        };
        gnupg.run(&["--quick-generate-key", user_id, "rsa3072", "sign", "never"])?;
        Ok(gnupg)
    }

    /// Runs gpg in this home and returns its standard output.
    pub fn run(&self, args: &[&str]) -> TestResult<Vec<u8>> {
        let output = Command::new(&self.gpg)
            .env("GNUPGHOME", self.home.path())
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args)
            .output()?;
        if !output.status.success() {
            return Err(format!(
                "gpg {args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            )
            .into());
        }
        Ok(output.stdout)
    }

    /// The public key, as `gpg --export` writes it.
    pub fn public_key(&self) -> TestResult<Vec<u8>> {
        self.run(&["--export", &self.user_id])
    }

    /// Writes the public and the secret keyring (binary, as `gpg --export` and
    /// `--export-secret-keys` write them) into the home and returns their paths, for tools that
    /// take keyring files (`capstan package --sign`, `helm verify`).
    pub fn export_keyrings(&self) -> TestResult<(PathBuf, PathBuf)> {
        let public_ring = self.home.path().join("pubring.gpg");
        let secret_ring = self.home.path().join("secring.gpg");
        std::fs::write(&public_ring, self.public_key()?)?;
        std::fs::write(
            &secret_ring,
            self.run(&["--export-secret-keys", &self.user_id])?,
        )?;
        Ok((public_ring, secret_ring))
    }

    /// The primary key's fingerprint, from `gpg --with-colons`.
    pub fn fingerprint(&self) -> TestResult<String> {
        let listing = self.run(&["--with-colons", "--fingerprint", &self.user_id])?;
        let listing = String::from_utf8(listing)?;
        let fingerprint = listing
            .lines()
            .find_map(|line| line.strip_prefix("fpr:"))
            .and_then(|rest| rest.split(':').find(|field| !field.is_empty()))
            .ok_or("gpg listed no fingerprint")?;
        Ok(fingerprint.to_string())
    }

    /// Writes `<archive>.prov` next to the archive: Helm's provenance block, clear-signed by gpg
    /// with SHA-512.
    pub fn sign(&self, archive: &Path) -> TestResult {
        let bytes = std::fs::read(archive)?;
        let chart = load_archive(&bytes)?;
        let name = archive
            .file_name()
            .and_then(|name| name.to_str())
            .ok_or("archive without a file name")?;
        let block = self.home.path().join("block.yaml");
        std::fs::write(&block, message_block(&chart.metadata, name, &bytes))?;
        let prov = format!("{}.prov", archive.display());
        self.run(&[
            "--digest-algo",
            "SHA512",
            "--clearsign",
            "-u",
            &self.user_id,
            "--yes",
            "-o",
            &prov,
            block.to_str().ok_or("non-UTF-8 path")?,
        ])?;
        Ok(())
    }
}

impl Drop for GnuPg {
    fn drop(&mut self) {
        let gpgconf = self.gpg.with_file_name("gpgconf");
        let _ = Command::new(gpgconf)
            .env("GNUPGHOME", self.home.path())
            .args(["--kill", "all"])
            .output();
    }
}
