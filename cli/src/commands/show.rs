//! `capstan show chart|values|readme|crds|all PATH`: print a chart's parts without rendering.

use anyhow::Context;
use capstan_chart::load::load_path;
use capstan_chart::model::Chart;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Print a chart's Chart.yaml, default values, README or CRDs, from a directory or an archive.
#[derive(Debug, Args)]
pub struct ShowArgs {
    pub part: ShowPart,
    /// A chart directory or .tgz archive.
    pub path: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShowPart {
    Chart,
    Values,
    Readme,
    Crds,
    All,
}

pub fn run(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let chart = load_path(&args.path)
        .with_context(|| format!("cannot load chart {}", args.path.display()))?;
    let text = match args.part {
        ShowPart::Chart => metadata_text(&chart),
        ShowPart::Values => file_text(&chart, "values.yaml"),
        ShowPart::Readme => readme_text(&chart),
        ShowPart::Crds => crds_text(&chart),
        ShowPart::All => all_text(&chart),
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

fn with_newline(mut text: String) -> String {
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

fn metadata_text(chart: &Chart) -> String {
    with_newline(String::from_utf8_lossy(&chart.raw_metadata).into_owned())
}

fn file_text(chart: &Chart, path: &str) -> String {
    chart
        .file(path)
        .map(|f| with_newline(String::from_utf8_lossy(&f.data).into_owned()))
        .unwrap_or_default()
}

/// Helm looks for README.md, README.txt or README at the root, whatever their case.
fn readme_text(chart: &Chart) -> String {
    ["readme.md", "readme.txt", "readme"]
        .iter()
        .find_map(|wanted| {
            chart
                .files
                .iter()
                .find(|f| f.path.eq_ignore_ascii_case(wanted))
        })
        .map(|f| with_newline(String::from_utf8_lossy(&f.data).into_owned()))
        .unwrap_or_default()
}

fn crds_text(chart: &Chart) -> String {
    chart
        .crds
        .iter()
        .map(|crd| {
            format!(
                "---\n{}",
                with_newline(String::from_utf8_lossy(&crd.data).into_owned())
            )
        })
        .collect()
}

/// The same sections as `helm show all`: metadata, values, README, then CRDs, separated by `---`.
fn all_text(chart: &Chart) -> String {
    let mut out = metadata_text(chart);
    for section in [file_text(chart, "values.yaml"), readme_text(chart)] {
        if !section.is_empty() {
            out.push_str("---\n");
            out.push_str(&section);
        }
    }
    out.push_str(&crds_text(chart));
    out
}
