//! The Capstan operator. The reconcile pipeline (fetch, verify, expand, apply, prune, status)
//! lives in modules of those names; `controller` wires them to the cluster.

mod access;
mod apply;
mod cluster;
mod context;
mod controller;
mod desired;
mod error;
mod expand;
mod fetch;
mod fetch_schedule;
mod index_cache;
mod owner;
mod prune;
mod report;
mod repository;
mod s3;
mod status;
mod values;
mod verify;

use std::sync::Arc;

use clap::{Parser, Subcommand};

/// Reconciles ChartRepository and ChartDeployment resources (capstan.dev/v1alpha1).
///
/// Runs in a cluster with its ServiceAccount, or outside one with the kubeconfig named by
/// `KUBECONFIG` (or `~/.kube/config`).
#[derive(Debug, Parser)]
#[command(name = "capstan-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the controllers (the default).
    Run {
        /// Watch only this namespace instead of the whole cluster (for namespace-scoped installs
        /// and tests that run one operator per namespace).
        #[arg(long, env = "CAPSTAN_WATCH_NAMESPACE")]
        namespace: Option<String>,
        /// Largest repository index (index.yaml) downloaded, in bytes. A larger one is refused
        /// with the condition reason IndexTooLarge and nothing of it is used.
        #[arg(long, env = "CAPSTAN_MAX_INDEX_BYTES", default_value_t = DEFAULT_MAX_INDEX_BYTES)]
        max_index_bytes: u64,
    },
    /// Print the CustomResourceDefinitions as YAML (this is how `crds/` is generated).
    Crds,
}

/// Default `--max-index-bytes`: 100 MiB, twice the largest public indexes.
const DEFAULT_MAX_INDEX_BYTES: u64 = 100 * 1024 * 1024;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or_else(|| {
        // `capstan-operator` alone runs with the defaults (and the environment variables).
        Cli::parse_from(["capstan-operator", "run"])
            .command
            .expect("run is a command")
    });
    match command {
        Command::Crds => {
            print!("{}", capstan_api::crd::crds_yaml()?);
            Ok(())
        }
        Command::Run {
            namespace,
            max_index_bytes,
        } => run(namespace, max_index_bytes),
    }
}

fn run(namespace: Option<String>, max_index_bytes: u64) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    // kube uses rustls with ring; install it as the process default so no other TLS user in
    // the process can pick a different provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let client = kube::Client::try_default().await?;
        let ctx = Arc::new(context::Context::new(client, namespace, max_index_bytes));
        tracing::info!("capstan-operator started");
        tokio::join!(controller::run(ctx.clone()), repository::run(ctx));
        Ok(())
    })
}
