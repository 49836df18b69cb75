//! `capstan create NAME`: scaffold a new Jinja chart.

use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Create a new chart directory with a Deployment, Service, ServiceAccount, optional Ingress,
/// HTTPRoute and autoscaler, helper macros, values and a values schema.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Directory to create; its last component is the chart name (lowercase, digits, dashes).
    pub name: PathBuf,
    /// Copy this chart directory instead of the built-in scaffold; `<CHARTNAME>` in its files is
    /// replaced with the new name.
    #[arg(short = 'p', long, value_name = "DIR")]
    pub starter: Option<PathBuf>,
}

pub fn run(args: CreateArgs) -> anyhow::Result<ExitCode> {
    capstan_chart::scaffold::create(&args.name, args.starter.as_deref())
        .with_context(|| format!("creating chart {}", args.name.display()))?;
    println!("Creating {}", args.name.display());
    Ok(ExitCode::SUCCESS)
}
