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
mod index_cache;
mod owner;
mod prune;
mod report;
mod repository;
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
    },
    /// Print the CustomResourceDefinitions as YAML (this is how `crds/` is generated).
    Crds,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Run { namespace: None }) {
        Command::Crds => {
            print!("{}", capstan_api::crd::crds_yaml()?);
            Ok(())
        }
        Command::Run { namespace } => run(namespace),
    }
}

fn run(namespace: Option<String>) -> anyhow::Result<()> {
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
        let ctx = Arc::new(context::Context::new(client, namespace));
        tracing::info!("capstan-operator started");
        tokio::join!(controller::run(ctx.clone()), repository::run(ctx));
        Ok(())
    })
}
