//! `capstan template PATH`: print exactly the objects the operator would apply.

use super::values_args::ValuesArgs;
use anyhow::{Context, bail};
use capstan_chart::expand::{ExpandInput, expand};
use capstan_chart::load::load_path;
use capstan_chart::render::{Manifest, RenderOptions};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Render a chart directory or archive locally and print the manifests as one YAML stream. Uses
/// the same code path as the operator; nothing is sent to a cluster.
#[derive(Debug, Args)]
pub struct TemplateArgs {
    /// A chart directory or .tgz archive.
    pub path: PathBuf,
    #[command(flatten)]
    pub values: ValuesArgs,
    /// Release name seen by templates as `release.name`.
    #[arg(long, default_value = "release-name")]
    pub name: String,
    /// Namespace seen by templates as `release.namespace`.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// Kubernetes version to render for, checked against the chart's kubeVersion.
    #[arg(long, value_name = "VERSION")]
    pub kube_version: Option<String>,
    /// Extra API versions the cluster serves (e.g. from CRDs); repeatable or comma-separated.
    #[arg(short = 'a', long, value_delimiter = ',', value_name = "GROUP/VERSION")]
    pub api_versions: Vec<String>,
    /// Print only the objects from this template (e.g. templates/deployment.yaml); repeatable.
    #[arg(short = 's', long, value_name = "FILE")]
    pub show_only: Vec<String>,
    /// Also print the chart's CRDs (from crds/), before everything else.
    #[arg(long)]
    pub include_crds: bool,
    /// Also print the rendered NOTES.txt after the manifests.
    #[arg(long)]
    pub notes: bool,
}

pub fn run(args: TemplateArgs) -> anyhow::Result<ExitCode> {
    let chart = load_path(&args.path)
        .with_context(|| format!("cannot load chart {}", args.path.display()))?;
    let defaults = RenderOptions::default();
    let input = ExpandInput {
        chart,
        user_values: args.values.layers()?,
        opts: RenderOptions {
            release_name: args.name.clone(),
            namespace: args.namespace.clone(),
            kube_version: args.kube_version.clone().unwrap_or(defaults.kube_version),
            api_versions: args.api_versions.clone(),
            ..defaults
        },
    };
    let mut rendered =
        expand(&input).with_context(|| format!("cannot render chart {}", args.path.display()))?;
    if !args.include_crds {
        rendered.crds.clear();
    }
    for wanted in &args.show_only {
        if !rendered.manifests.iter().any(|m| is_from(m, wanted)) {
            bail!(
                "--show-only {wanted}: no object was rendered from that template; give a path such as templates/deployment.yaml"
            );
        }
    }
    if !args.show_only.is_empty() {
        rendered
            .manifests
            .retain(|m| args.show_only.iter().any(|wanted| is_from(m, wanted)));
    }
    print!("{}", rendered.to_yaml_stream());
    if args.notes
        && let Some(notes) = &rendered.notes
    {
        println!("---\n# Source: NOTES.txt\n{notes}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Sources are `<chart>/templates/x.yaml`; accept that or the chart-relative `templates/x.yaml`.
fn is_from(manifest: &Manifest, wanted: &str) -> bool {
    manifest.source == wanted || manifest.source.ends_with(&format!("/{wanted}"))
}
