//! `capstan lint PATH...`: check charts before they are packaged or deployed.

use super::values_args::ValuesArgs;
use capstan_chart::lint::{LintOptions, LintReport, lint_path};
use capstan_chart::render::RenderOptions;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Check chart directories and archives: Chart.yaml, values, templates and the objects they
/// render. Exits 1 when a chart has errors (or warnings, with --strict).
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Chart directories or .tgz archives.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Fail on warnings too.
    #[arg(long)]
    pub strict: bool,
    /// `text` for people, `json` for pipelines.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Kubernetes version to check APIs and kubeVersion against (default: the renderer's).
    #[arg(long, value_name = "VERSION")]
    pub kube_version: Option<String>,
    #[command(flatten)]
    pub values: ValuesArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

pub fn run(args: LintArgs) -> anyhow::Result<ExitCode> {
    let mut render = RenderOptions::default();
    if let Some(kube_version) = args.kube_version {
        render.kube_version = kube_version;
    }
    let options = LintOptions {
        user_values: args.values.layers()?,
        render,
    };
    let reports: Vec<LintReport> = args
        .paths
        .iter()
        .map(|path| lint_path(path, &options))
        .collect();
    let failed = reports.iter().filter(|r| r.fails(args.strict)).count();
    match args.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&reports)?),
        OutputFormat::Text => print_text(&reports, failed),
    }
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn print_text(reports: &[LintReport], failed: usize) {
    for report in reports {
        println!("==> Linting {}", report.chart);
        for finding in &report.findings {
            println!("{finding}");
        }
        println!();
    }
    println!(
        "{} chart(s) linted, {failed} chart(s) failed",
        reports.len()
    );
}
