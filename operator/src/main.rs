//! The Capstan operator. The reconcile pipeline (fetch, verify, expand, apply, prune, status)
//! lives in modules of those names; `controller` wires them to the cluster.

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
    Run,
    /// Print the CustomResourceDefinitions as YAML (this is how `crds/` is generated).
    Crds,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Run) {
        Command::Crds => {
            print!("{}", capstan_api::crd::crds_yaml()?);
            Ok(())
        }
        Command::Run => {
            anyhow::bail!("the controllers are not wired yet")
        }
    }
}
