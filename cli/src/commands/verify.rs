//! `capstan verify ARCHIVE --keyring FILE`: check a packaged chart against its `.prov` file, with
//! the same output as `helm verify` so scripts written for Helm keep working.

use anyhow::{Context, bail};
use capstan_chart::provenance::{Keyring, Verification, provenance_path, verify_archive_file};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Verify that a chart archive was signed by a trusted key and has not changed since.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The chart archive (`NAME-VERSION.tgz`); its provenance is read from `ARCHIVE.prov`.
    pub archive: PathBuf,
    /// Public keyring holding the keys you trust (`gpg --export KEYID > keyring.gpg`).
    #[arg(long, default_value_os_t = default_keyring())]
    pub keyring: PathBuf,
}

/// Helm's default: GnuPG 1's public keyring in the user's home.
pub fn default_keyring() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".gnupg/pubring.gpg")
}

pub fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let verification = verify_chart_archive(&args.archive, &args.keyring)?;
    print!("{}", report(&verification));
    Ok(ExitCode::SUCCESS)
}

/// Verifies `archive` against `archive.prov` with the keys in `keyring`.
pub fn verify_chart_archive(archive: &Path, keyring: &Path) -> anyhow::Result<Verification> {
    let metadata = std::fs::metadata(archive)
        .with_context(|| format!("could not load chart archive {}", archive.display()))?;
    if metadata.is_dir() {
        bail!("unpacked charts cannot be verified");
    }
    let prov_path = provenance_path(archive);
    if let Err(err) = std::fs::metadata(&prov_path) {
        bail!(
            "could not load provenance file {}: {err}",
            prov_path.display()
        );
    }
    let keyring = Keyring::from_file(keyring)?;
    Ok(verify_archive_file(archive, &keyring)?)
}

/// The three lines `helm verify` prints.
pub fn report(verification: &Verification) -> String {
    format!(
        "Signed by: {}\nUsing Key With Fingerprint: {}\nChart Hash Verified: {}\n",
        verification.signer, verification.fingerprint, verification.hash
    )
}
