//! The signing flags of `capstan package` (`--sign --key NAME --keyring FILE
//! [--passphrase-file FILE|-]`), and writing `ARCHIVE.prov` next to a packaged archive.

use anyhow::{Context, bail};
use capstan_chart::load::load_path;
use capstan_chart::provenance::{Keyring, provenance_path, sign_with_keyring};
use clap::Args;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

/// A passphrase file larger than this is certainly the wrong file.
const MAX_PASSPHRASE_BYTES: u64 = 64 * 1024;

/// Flags shared by commands that sign an archive, as `helm package` spells them.
#[derive(Debug, Clone, Args)]
pub struct SignArgs {
    /// Sign the archive: writes `ARCHIVE.prov` beside it.
    #[arg(long)]
    pub sign: bool,
    /// Name, e-mail or fingerprint of the signing key (required with --sign).
    #[arg(long, requires = "sign")]
    pub key: Option<String>,
    /// Secret keyring holding the signing key (`gpg --export-secret-keys KEYID > secring.gpg`).
    #[arg(long = "keyring", default_value_os_t = default_secret_keyring())]
    pub keyring: PathBuf,
    /// File whose first line is the key's passphrase, or `-` to read it from standard input.
    #[arg(long, requires = "sign")]
    pub passphrase_file: Option<PathBuf>,
}

/// Helm's default signing keyring: GnuPG 1's secret keyring in the user's home.
fn default_secret_keyring() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
        .join(".gnupg/secring.gpg")
}

/// Signs `archive` when `--sign` was given; returns where the provenance was written.
pub fn sign_package(archive: &Path, args: &SignArgs) -> anyhow::Result<Option<PathBuf>> {
    if !args.sign {
        return Ok(None);
    }
    let Some(key_name) = args.key.as_deref() else {
        bail!("--sign needs --key NAME: the name, e-mail or fingerprint of the signing key");
    };
    let chart = load_path(archive)
        .with_context(|| format!("cannot read chart metadata from {}", archive.display()))?;
    let bytes =
        std::fs::read(archive).with_context(|| format!("cannot read {}", archive.display()))?;
    let archive_name = archive
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .with_context(|| format!("{} has no file name", archive.display()))?;
    let passphrase = args
        .passphrase_file
        .as_deref()
        .map(read_passphrase)
        .transpose()?;
    let keyring = Keyring::from_file(&args.keyring)?;
    let prov = sign_with_keyring(
        &archive_name,
        &bytes,
        &chart.metadata,
        &keyring,
        key_name,
        passphrase.as_deref(),
    )?;
    let prov_path = provenance_path(archive);
    std::fs::write(&prov_path, prov)
        .with_context(|| format!("cannot write {}", prov_path.display()))?;
    Ok(Some(prov_path))
}

/// Reads the first line of a passphrase file (`-` is standard input), without its line ending.
fn read_passphrase(path: &Path) -> anyhow::Result<String> {
    let source: Box<dyn Read> = if path == Path::new("-") {
        Box::new(std::io::stdin())
    } else {
        Box::new(
            std::fs::File::open(path)
                .with_context(|| format!("cannot open passphrase file {}", path.display()))?,
        )
    };
    let mut line = String::new();
    std::io::BufReader::new(source.take(MAX_PASSPHRASE_BYTES))
        .read_line(&mut line)
        .with_context(|| format!("cannot read passphrase file {}", path.display()))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
