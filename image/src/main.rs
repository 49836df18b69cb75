//! `capstan-image`: assembles the operator image from a static binary and pushes it, or writes
//! its root filesystem for the Dockerfile. `image/build` (and `make image`) run it; see there.

use std::path::PathBuf;

use anyhow::Context as _;
use capstan_image::config::Provenance;
use capstan_image::rootfs;
use capstan_sources::oci::{Auth, RegistryOptions, docker_config_auth};
use clap::{Parser, Subcommand};

/// Builds the operator image without a container engine.
#[derive(Debug, Parser)]
#[command(name = "capstan-image", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Assemble the image of a static `capstan-operator` and push it; prints the pushed
    /// reference with its digest. Given binaries for several platforms, pushes one image for
    /// each and an OCI image index of them under the tag (the digest printed is the index's).
    Push {
        /// The static binary (built for `x86_64-unknown-linux-musl` or
        /// `aarch64-unknown-linux-musl`); the image's platform is the one it is built for.
        /// Repeat it, once per platform, for a multi-platform image.
        #[arg(long, required = true)]
        binary: Vec<PathBuf>,
        /// Where to push: `HOST[:PORT]/PATH/capstan-operator:TAG`.
        #[arg(long)]
        image: String,
        #[command(flatten)]
        provenance: ProvenanceArgs,
        /// Talk to the registry over plain HTTP (a local registry).
        #[arg(long)]
        plain_http: bool,
        /// Docker's `config.json` to take the registry's credentials from (its `auths` entry
        /// for the registry's host). Default: `$DOCKER_CONFIG/config.json`, else
        /// `~/.docker/config.json`; no credentials when there is none.
        #[arg(long)]
        docker_config: Option<PathBuf>,
    },
    /// Write the image's files (binary, CA bundle, passwd and group) under DIR, for a
    /// Dockerfile to copy into an empty image.
    Rootfs {
        #[arg(long)]
        binary: PathBuf,
        dir: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct ProvenanceArgs {
    /// The operator's version, for the `org.opencontainers.image.version` label.
    #[arg(long)]
    operator_version: String,
    /// The commit the binary was built from.
    #[arg(long)]
    revision: String,
    /// The time of that commit, in seconds since the Unix epoch (`SOURCE_DATE_EPOCH`): every
    /// time in the image is this one, so the same sources give the same image.
    #[arg(long, env = "SOURCE_DATE_EPOCH")]
    source_date_epoch: i64,
    /// The repository's URL.
    #[arg(long, default_value = env!("CARGO_PKG_REPOSITORY"))]
    source: String,
}

impl ProvenanceArgs {
    fn provenance(self) -> anyhow::Result<Provenance> {
        let created = jiff::Timestamp::from_second(self.source_date_epoch)
            .with_context(|| format!("SOURCE_DATE_EPOCH {}", self.source_date_epoch))?;
        Ok(Provenance {
            version: self.operator_version,
            revision: self.revision,
            source: self.source,
            created,
        })
    }
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Push {
            binary,
            image,
            provenance,
            plain_http,
            docker_config,
        } => {
            let provenance = provenance.provenance()?;
            let mut assembled = Vec::with_capacity(binary.len());
            for binary in &binary {
                let one = capstan_image::assemble(binary, &provenance)?;
                eprintln!(
                    "[image] {}: layer {} of {} bytes",
                    one.platform,
                    one.layer.digest(),
                    one.layer.gzip.len()
                );
                assembled.push(one);
            }
            let options = RegistryOptions {
                plain_http,
                auth: credentials(docker_config, &image)?,
                ..RegistryOptions::default()
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let pushed = match <[_; 1]>::try_from(assembled) {
                Ok([single]) => {
                    eprintln!("[image] pushing {image}");
                    runtime.block_on(single.push(&image, &options))?
                }
                Err(several) => {
                    eprintln!(
                        "[image] pushing {image} as an index of {} images",
                        several.len()
                    );
                    runtime.block_on(capstan_image::push_index(several, &image, &options))?
                }
            };
            println!("{}@{}", pushed.reference, pushed.digest);
            Ok(())
        }
        Command::Rootfs { binary, dir } => {
            let bytes =
                std::fs::read(&binary).with_context(|| format!("reading {}", binary.display()))?;
            rootfs::write_tree(&rootfs::root_files(bytes), &dir)?;
            Ok(())
        }
    }
}

/// The registry credentials in Docker's config file, if there is one.
fn credentials(explicit: Option<PathBuf>, image: &str) -> anyhow::Result<Auth> {
    let path = explicit.or_else(|| {
        std::env::var_os("DOCKER_CONFIG")
            .map(|dir| PathBuf::from(dir).join("config.json"))
            .or_else(|| {
                std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker/config.json"))
            })
            .filter(|path| path.exists())
    });
    let Some(path) = path else {
        return Ok(Auth::Anonymous);
    };
    let registry = image.split('/').next().unwrap_or_default();
    Ok(docker_config_auth(&path, registry)?)
}
