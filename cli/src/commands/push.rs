//! `capstan push ARCHIVE oci://HOST/PATH`: publish a packaged chart to an OCI registry as Helm
//! stores it.

use super::registry::RegistryArgs;
use super::repo_source::{RepoConnectionArgs, runtime};
use anyhow::{Context, bail};
use capstan_chart::provenance::provenance_path;
use capstan_sources::oci;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Charts larger than this are refused before anything is sent.
const MAX_ARCHIVE_BYTES: u64 = 64 * 1024 * 1024;

/// Push a chart archive to an OCI registry, with its provenance (ARCHIVE.prov) when present. The
/// chart is stored at oci://HOST/PATH/<name>, tagged with its version (`+` written as `_`), with
/// Helm's media types and annotations, so `helm pull` gets it.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The packaged chart (`NAME-VERSION.tgz`).
    #[arg(value_name = "ARCHIVE")]
    pub archive: PathBuf,
    /// Where to push: oci://HOST[:PORT]/PATH (the chart name is appended).
    #[arg(value_name = "oci://HOST/PATH")]
    pub remote: String,
    #[command(flatten)]
    pub connection: RepoConnectionArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub fn run(args: PushArgs) -> anyhow::Result<ExitCode> {
    if !args.remote.starts_with("oci://") {
        bail!(
            "{:?} is not a registry reference; push needs oci://HOST[:PORT]/PATH",
            args.remote
        );
    }
    let archive = read_bounded(&args.archive)?;
    let prov_path = provenance_path(&args.archive);
    let prov = match std::fs::metadata(&prov_path) {
        Ok(_) => Some(read_bounded(&prov_path)?),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => None,
        Err(err) => {
            return Err(err).with_context(|| format!("cannot read {}", prov_path.display()));
        }
    };
    let options = args.registry.options(&args.remote, &args.connection)?;
    let pushed =
        runtime()?.block_on(oci::push(&archive, prov.as_deref(), &args.remote, &options))?;
    println!("Pushed: {}", pushed.reference);
    println!("Digest: {}", pushed.digest);
    Ok(ExitCode::SUCCESS)
}

fn read_bounded(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    if size > MAX_ARCHIVE_BYTES {
        bail!(
            "{} is {size} bytes, over the {MAX_ARCHIVE_BYTES}-byte limit for a chart",
            path.display()
        );
    }
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}
