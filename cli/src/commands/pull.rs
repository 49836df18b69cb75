//! `capstan pull URL/CHART|oci://HOST/PATH/CHART`: download a chart archive from a repository
//! over HTTP or from an OCI registry.

use super::registry::RegistryArgs;
use super::repo_source::{RepoConnectionArgs, load_index, runtime};
use anyhow::{Context, bail};
use capstan_chart::index::{ChartVersion, join_url};
use capstan_chart::provenance::{Keyring, archive_digest, verify_archive};
use capstan_sources::http::{DownloadLimits, HttpClient, HttpError, redact_url};
use capstan_sources::oci;
use clap::Args;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Download a chart archive (and its .prov when there is one) from a repository served over HTTP
/// or from an OCI registry. Over HTTP the archive's sha256 must match the digest in the
/// repository index; on a mismatch nothing is written. From a registry, --version is a tag, a
/// constraint over the registry's tags (`_` read as `+`) or a sha256: digest, and
/// oci://HOST/PATH/CHART@sha256:... names a digest directly.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// Repository base URL and chart name, e.g. https://charts.example.com/stable/nginx, or
    /// oci://HOST[:PORT]/PATH/CHART.
    #[arg(value_name = "URL/CHART")]
    pub reference: String,
    /// Version or constraint (Helm syntax), or a sha256: digest for oci://; the newest release
    /// when omitted.
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
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub fn run(args: PullArgs) -> anyhow::Result<ExitCode> {
    let (download, description) = if args.reference.starts_with("oci://") {
        pull_oci(&args)?
    } else {
        pull_http(&args)?
    };
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
        "Pulled {description} to {}",
        args.destination.join(&download.file_name).display()
    );
    Ok(ExitCode::SUCCESS)
}

/// From a repository over HTTP: the index picks the version and holds the digest to check.
fn pull_http(args: &PullArgs) -> anyhow::Result<(Download, String)> {
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
    Ok((download, format!("{} {}", entry.name, entry.version)))
}

/// From an OCI registry: the version is a tag, a constraint over the tags, or a digest.
fn pull_oci(args: &PullArgs) -> anyhow::Result<(Download, String)> {
    let options = args.registry.options(&args.reference, &args.connection)?;
    let version = Some(args.version.trim()).filter(|v| !v.is_empty());
    let pulled = runtime()?.block_on(oci::pull(
        &args.reference,
        version,
        &options,
        oci::PullLimits::default(),
    ))?;
    let description = format!("{} {} ({})", pulled.name, pulled.version, pulled.digest);
    Ok((
        Download {
            file_name: format!("{}-{}.tgz", pulled.name, pulled.version),
            archive: pulled.archive,
            provenance: pulled.prov,
        },
        description,
    ))
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
    let limits = DownloadLimits::default();
    let archive = client.get_limited(&url, limits.archive_bytes).await?;
    let actual = archive_digest(&archive);
    if let Some(expected) = entry.digest_hex()
        && actual.trim_start_matches("sha256:") != expected
    {
        bail!(
            "the archive downloaded from {} has digest {actual}, but the repository index says sha256:{expected}; nothing was written (the file was changed or corrupted)",
            redact_url(&url)
        );
    }
    let provenance = match client
        .get_limited(&format!("{url}.prov"), limits.provenance_bytes)
        .await
    {
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
