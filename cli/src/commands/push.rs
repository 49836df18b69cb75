//! `capstan push ARCHIVE oci://HOST/PATH`: publish a packaged chart to an OCI registry as Helm
//! stores it; `capstan push ARCHIVE s3://BUCKET/PREFIX`: release it into a chart repository in
//! a bucket (archive, provenance and an entry in the bucket's `index.yaml`).

use super::registry::RegistryArgs;
use super::repo_source::{RepoConnectionArgs, runtime};
use super::s3_push::{S3PushArgs, push_to_bucket};
use anyhow::{Context, bail};
use capstan_chart::provenance::provenance_path;
use capstan_sources::oci;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Charts larger than this are refused before anything is sent.
const MAX_ARCHIVE_BYTES: u64 = 64 * 1024 * 1024;

/// Push a chart archive, with its provenance (ARCHIVE.prov) when present, to an OCI registry or
/// a chart repository in an S3-compatible bucket.
///
/// oci://HOST/PATH: the chart is stored at oci://HOST/PATH/<name>, tagged with its version (`+`
/// written as `_`), with Helm's media types and annotations, so `helm pull` gets it.
///
/// s3://BUCKET/PREFIX: the archive goes to PREFIX/<name>-<version>.tgz (and .prov), and its entry
/// into PREFIX/index.yaml, leaving every other entry as it was. Releases running at the same time
/// all end up in the index (the index is written only if unchanged since it was read, else read
/// again). A version already stored with other bytes is refused unless --force. Keys come from
/// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN or the shared credentials and
/// config files (~/.aws, profile from --s3-profile or AWS_PROFILE); the region from --s3-region,
/// AWS_REGION, AWS_DEFAULT_REGION or the profile; the endpoint from --s3-endpoint,
/// AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or the profile, else AWS S3.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// The packaged chart (`NAME-VERSION.tgz`).
    #[arg(value_name = "ARCHIVE")]
    pub archive: PathBuf,
    /// Where to push: oci://HOST[:PORT]/PATH (the chart name is appended), or
    /// s3://BUCKET[/PREFIX] for a chart repository in a bucket.
    #[arg(value_name = "oci://HOST/PATH|s3://BUCKET/PREFIX")]
    pub remote: String,
    #[command(flatten)]
    pub connection: RepoConnectionArgs,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[command(flatten)]
    pub s3: S3PushArgs,
}

pub fn run(args: PushArgs) -> anyhow::Result<ExitCode> {
    if !args.remote.starts_with("oci://") && !args.remote.starts_with("s3://") {
        bail!(
            "{:?} is neither a registry reference nor a bucket; push needs oci://HOST[:PORT]/PATH or s3://BUCKET[/PREFIX]",
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
    if args.remote.starts_with("s3://") {
        return push_to_bucket(
            &archive,
            prov.as_deref(),
            &args.remote,
            &args.s3,
            &args.connection,
        );
    }
    args.s3.refuse_for(&args.remote)?;
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
