//! `capstan push ARCHIVE s3://BUCKET/PREFIX`: release a chart into a repository in a bucket.

use super::aws_config::{self, DEFAULT_REGION, Sources};
use super::repo_source::{RepoConnectionArgs, runtime};
use anyhow::{Context, anyhow, bail};
use capstan_sources::s3::{
    IndexChange, Release, Released, S3Config, S3Repository, Stored, aws_endpoint,
    default_path_style,
};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags that only apply to `s3://` repositories.
#[derive(Debug, Args)]
pub struct S3PushArgs {
    /// Base URL of the S3 API (`https://s3.eu-west-1.amazonaws.com`,
    /// `https://storage.googleapis.com`, `http://minio.storage:9000`). Default: AWS_ENDPOINT_URL_S3,
    /// AWS_ENDPOINT_URL, the profile's endpoint_url, else AWS S3 in the region.
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// Region the requests are signed for. Default: AWS_REGION, AWS_DEFAULT_REGION, the
    /// profile's region, else us-east-1.
    #[arg(long, value_name = "REGION")]
    pub s3_region: Option<String>,
    /// Path-style object URLs (`ENDPOINT/BUCKET/KEY`), as MinIO and most self-hosted servers
    /// need. Default: the profile's s3 addressing_style, else true for IP address and
    /// localhost endpoints.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub s3_path_style: Option<bool>,
    /// Profile of the shared AWS credentials and config files to take keys and settings from
    /// (default: AWS_PROFILE, else `default`). Named here, it wins over keys in the environment.
    #[arg(long, value_name = "NAME")]
    pub s3_profile: Option<String>,
    /// Replace an archive, provenance file or index entry of the same chart version whose
    /// content differs. Without it such a release is refused: versions are immutable.
    #[arg(long)]
    pub force: bool,
    /// Write the chart's URL in the index as this base URL joined with the archive's name
    /// (e.g. the bucket's public https:// address). Default: the archive's name, relative to
    /// index.yaml.
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
}

impl S3PushArgs {
    fn any_given(&self) -> bool {
        self.s3_endpoint.is_some()
            || self.s3_region.is_some()
            || self.s3_path_style.is_some()
            || self.s3_profile.is_some()
            || self.force
            || self.base_url.is_some()
    }

    /// Fails when S3 flags are given for a remote that is not a bucket.
    pub fn refuse_for(&self, remote: &str) -> anyhow::Result<()> {
        if self.any_given() {
            bail!(
                "--s3-endpoint, --s3-region, --s3-path-style, --s3-profile, --force and --base-url only apply to s3:// repositories, not {remote}"
            );
        }
        Ok(())
    }
}

/// Releases `archive` (and `provenance`) into the repository at `location`.
pub fn push_to_bucket(
    archive: &[u8],
    provenance: Option<&[u8]>,
    location: &str,
    args: &S3PushArgs,
    connection: &RepoConnectionArgs,
) -> anyhow::Result<ExitCode> {
    if connection.username.is_some() {
        bail!(
            "--username and --password-stdin do not apply to s3:// repositories: the keys come from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY or the shared credentials file"
        );
    }
    let repository = repository(location, args, connection)?;
    let released = runtime()?.block_on(repository.release(&Release {
        archive,
        provenance,
        force: args.force,
        base_url: args.base_url.clone().unwrap_or_default(),
    }))?;
    report(&released, &repository.location());
    Ok(ExitCode::SUCCESS)
}

/// The bucket client, with keys and settings from the flags, the environment and the profile.
fn repository(
    location: &str,
    args: &S3PushArgs,
    connection: &RepoConnectionArgs,
) -> anyhow::Result<S3Repository> {
    let home = std::env::var_os("HOME")
        .filter(|home| !home.is_empty())
        .map(PathBuf::from);
    let settings = aws_config::resolve(
        args.s3_profile.as_deref(),
        &Sources {
            env: &aws_config::process_env,
            home,
        },
    )?;
    let keys = settings.keys.ok_or_else(|| {
        anyhow!(
            "no S3 keys for {location}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary keys), or put them in a profile of ~/.aws/credentials chosen with --s3-profile or AWS_PROFILE"
        )
    })?;
    let region = args
        .s3_region
        .clone()
        .or(settings.region)
        .unwrap_or_else(|| DEFAULT_REGION.into());
    let endpoint = args
        .s3_endpoint
        .clone()
        .or(settings.endpoint)
        .unwrap_or_else(|| aws_endpoint(&region));
    let path_style = args
        .s3_path_style
        .or(settings.path_style)
        .unwrap_or_else(|| default_path_style(&endpoint));
    let config = S3Config {
        endpoint,
        region,
        access_key: keys.access_key_id,
        secret_key: keys.secret_access_key,
        path_style,
    };
    let repository = S3Repository::new(location, &config, connection.client()?)
        .with_context(|| format!("with the keys from {}", settings.keys_source))?;
    Ok(match keys.session_token {
        Some(token) => repository.with_session_token(&token),
        None => repository,
    })
}

fn report(released: &Released, location: &str) {
    let stored = |stored: Stored| match stored {
        Stored::New => "uploaded",
        Stored::Unchanged => "already there, unchanged",
        Stored::Replaced => "replaced (--force)",
    };
    println!(
        "Pushed: {} ({})",
        released.archive_location,
        stored(released.archive)
    );
    if let Some(provenance) = released.provenance {
        println!(
            "Provenance: {}.prov ({})",
            released.archive_location,
            stored(provenance)
        );
    }
    let change = match released.index {
        IndexChange::Created => "created with",
        IndexChange::Added => "added",
        IndexChange::AlreadyListed => "already lists",
        IndexChange::Replaced => "replaced (--force)",
    };
    let retries = match released.index_attempts {
        1 => String::new(),
        attempts => format!(", after {attempts} attempts: other releases changed it meanwhile"),
    };
    println!(
        "Index: {location}/index.yaml ({change} {} {}{retries})",
        released.name, released.version
    );
    println!("Digest: {}", released.digest);
}
