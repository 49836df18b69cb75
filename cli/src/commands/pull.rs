//! `capstan pull URL/CHART`: download a chart archive from an HTTP repository.

use super::repo_source::{RepoConnectionArgs, load_index, runtime};
use anyhow::{Context, bail};
use capstan_chart::http::{HttpClient, HttpError, redact_url};
use capstan_chart::index::{ChartVersion, join_url};
use capstan_chart::provenance::{Keyring, archive_digest, verify_archive};
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Download a chart archive (and its .prov when the repository has one) from a repository
/// served over HTTP. The archive's sha256 must match the digest in the repository index; on a
/// mismatch nothing is written.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// Repository base URL and chart name, e.g. https://charts.example.com/stable/nginx.
    #[arg(value_name = "URL/CHART")]
    pub reference: String,
    /// Version constraint (Helm syntax); the newest release when omitted.
    #[arg(long, value_name = "CONSTRAINT", default_value = "")]
    pub version: String,
    /// Directory to write the archive to.
    #[arg(short = 'd', long, value_name = "DIR", default_value = ".")]
    pub destination: PathBuf,
    /// Verify the archive against its .prov with --keyring before writing it.
    #[arg(long, requires = "keyring")]
    pub verify: bool,
    /// Public keyring (binary or armored OpenPGP keys) for --verify.
    #[arg(long, value_name = "FILE")]
    pub keyring: Option<PathBuf>,
    #[command(flatten)]
    pub connection: RepoConnectionArgs,
}

pub fn run(args: PullArgs) -> anyhow::Result<ExitCode> {
    let Some((repository, chart)) = args.reference.trim_end_matches('/').rsplit_once('/') else {
        bail!(
            "{:?} is not URL/CHART; give the repository URL followed by /<chart name>",
            redact_url(&args.reference)
        );
    };
    if !repository.contains("://") || chart.is_empty() {
        bail!(
            "{:?} is not URL/CHART; give the repository URL followed by /<chart name>",
            redact_url(&args.reference)
        );
    }
    let client = args.connection.client()?;
    let runtime = runtime()?;
    let index = runtime.block_on(load_index(repository, Some(&client)))?;
    let entry = index.resolve(chart, &args.version)?;
    let download = runtime.block_on(download(&client, repository, entry))?;
    if args.verify {
        let Some(provenance) = &download.provenance else {
            bail!(
                "{} has no provenance file ({}.prov); cannot --verify it",
                download.file_name,
                download.file_name
            );
        };
        let keyring_path = args
            .keyring
            .as_deref()
            .context("--verify needs --keyring")?;
        let keyring = Keyring::from_file(keyring_path)?;
        let verification =
            verify_archive(&download.file_name, &download.archive, provenance, &keyring)?;
        println!("Signed by: {}", verification.signer);
        println!("Using Key With Fingerprint: {}", verification.fingerprint);
        println!("Chart Hash Verified: {}", verification.hash);
    }
    write_files(&args.destination, &download)?;
    println!(
        "Pulled {} {} to {}",
        entry.name,
        entry.version,
        args.destination.join(&download.file_name).display()
    );
    Ok(ExitCode::SUCCESS)
}

struct Download {
    file_name: String,
    archive: Vec<u8>,
    provenance: Option<Vec<u8>>,
}

async fn download(
    client: &HttpClient,
    repository: &str,
    entry: &ChartVersion,
) -> anyhow::Result<Download> {
    let Some(first_url) = entry.urls.first() else {
        bail!(
            "the index lists no URL for {} {}; the repository's index.yaml is incomplete",
            entry.name,
            entry.version
        );
    };
    // Relative URLs are relative to the repository, as in indexes made without --url.
    let url = if first_url.contains("://") {
        first_url.clone()
    } else {
        join_url(repository, first_url)
    };
    let archive = client.get(&url).await?;
    let actual = archive_digest(&archive);
    if let Some(expected) = entry.digest_hex()
        && actual.trim_start_matches("sha256:") != expected
    {
        bail!(
            "the archive downloaded from {} has digest {actual}, but the repository index says sha256:{expected}; nothing was written (the file was changed or corrupted)",
            redact_url(&url)
        );
    }
    let provenance = match client.get(&format!("{url}.prov")).await {
        Ok(bytes) => Some(bytes),
        Err(HttpError::Status { status: 404, .. }) => None,
        Err(err) => return Err(err.into()),
    };
    let file_name = url
        .rsplit('/')
        .next()
        .filter(|name| name.ends_with(".tgz") && !name.starts_with('.'))
        .map(str::to_string)
        .unwrap_or_else(|| format!("{}-{}.tgz", entry.name, entry.version));
    Ok(Download {
        file_name,
        archive,
        provenance,
    })
}

fn write_files(destination: &Path, download: &Download) -> anyhow::Result<()> {
    std::fs::create_dir_all(destination)
        .with_context(|| format!("cannot create {}", destination.display()))?;
    let archive_path = destination.join(&download.file_name);
    std::fs::write(&archive_path, &download.archive)
        .with_context(|| format!("cannot write {}", archive_path.display()))?;
    if let Some(provenance) = &download.provenance {
        let prov_path = destination.join(format!("{}.prov", download.file_name));
        std::fs::write(&prov_path, provenance)
            .with_context(|| format!("cannot write {}", prov_path.display()))?;
    }
    Ok(())
}
