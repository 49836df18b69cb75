//! `capstan template [NAME] CHART`: print exactly the objects the operator would apply.
//!
//! For a Go-template (Helm) chart the output is byte for byte what `helm template` prints with the
//! same flags: manifests in Helm's order, then hooks, with Helm's `# Source:` lines.

use super::values_args::ValuesArgs;
use anyhow::{Context, bail};
use capstan_chart::expand::{ExpandInput, expand};
use capstan_chart::load::load_path;
use capstan_chart::render::{Manifest, RenderOptions, Rendered};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Render a chart directory or archive locally and print the manifests as one YAML stream. Uses
/// the same code path as the operator; nothing is sent to a cluster. Takes Helm's form too:
/// `capstan template NAME CHART`.
#[derive(Debug, Args)]
pub struct TemplateArgs {
    /// A chart directory or .tgz archive; or, when CHART follows, the release name.
    #[arg(value_name = "[NAME] CHART")]
    pub first: String,
    /// The chart, when the release name comes first (as with `helm template NAME CHART`).
    #[arg(value_name = "CHART")]
    pub second: Option<PathBuf>,
    #[command(flatten)]
    pub values: ValuesArgs,
    /// Release name seen by templates (`.Release.Name`, `release.name`).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Namespace seen by templates (`.Release.Namespace`, `release.namespace`).
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// Kubernetes version to render for, checked against the chart's kubeVersion.
    #[arg(long, value_name = "VERSION")]
    pub kube_version: Option<String>,
    /// Extra API versions the cluster serves (e.g. from CRDs); repeatable or comma-separated.
    #[arg(short = 'a', long, value_delimiter = ',', value_name = "GROUP/VERSION")]
    pub api_versions: Vec<String>,
    /// Print only the objects from this template (e.g. templates/deployment.yaml, or a glob for
    /// a Helm chart); repeatable.
    #[arg(short = 's', long, value_name = "FILE")]
    pub show_only: Vec<String>,
    /// Also print the chart's CRDs (from crds/), before everything else.
    #[arg(long)]
    pub include_crds: bool,
    /// Leave out Helm test hooks (`helm.sh/hook: test`).
    #[arg(long)]
    pub skip_tests: bool,
    /// Render as an upgrade (`.Release.IsUpgrade`) instead of a first install.
    #[arg(long)]
    pub is_upgrade: bool,
    /// Also print the rendered NOTES.txt after the manifests.
    #[arg(long)]
    pub notes: bool,
}

/// The release name when neither a positional name nor `--name` is given, as in Helm.
const DEFAULT_RELEASE_NAME: &str = "release-name";

impl TemplateArgs {
    /// The chart path and the release name, from `[NAME] CHART` and `--name`.
    fn chart_and_name(&self) -> anyhow::Result<(PathBuf, String)> {
        match (&self.second, &self.name) {
            (Some(_), Some(_)) => bail!(
                "the release name is given twice (as the first argument and with --name); keep one"
            ),
            (Some(chart), None) => Ok((chart.clone(), self.first.clone())),
            (None, name) => Ok((
                PathBuf::from(&self.first),
                name.clone()
                    .unwrap_or_else(|| DEFAULT_RELEASE_NAME.to_string()),
            )),
        }
    }
}

pub fn run(args: TemplateArgs) -> anyhow::Result<ExitCode> {
    let (path, release_name) = args.chart_and_name()?;
    let chart =
        load_path(&path).with_context(|| format!("cannot load chart {}", path.display()))?;
    let defaults = RenderOptions::default();
    let input = ExpandInput {
        chart,
        user_values: args.values.layers()?,
        opts: RenderOptions {
            release_name,
            namespace: args.namespace.clone(),
            kube_version: args.kube_version.clone().unwrap_or(defaults.kube_version),
            api_versions: args.api_versions.clone(),
            is_install: !args.is_upgrade,
            ..defaults
        },
    };
    let rendered =
        expand(&input).with_context(|| format!("cannot render chart {}", path.display()))?;
    let notes = rendered.notes.clone();
    let stream = match rendered.helm_template_output(args.include_crds, args.skip_tests) {
        Some(stream) => helm_show_only(&stream, &args.show_only)?,
        None => capstan_stream(rendered, &args)?,
    };
    print!("{stream}");
    if args.notes
        && let Some(notes) = notes
    {
        println!("---\n# Source: NOTES.txt\n{notes}");
    }
    Ok(ExitCode::SUCCESS)
}

/// The stream for a Jinja chart: CRDs (on request) and manifests, filtered by `--show-only`.
fn capstan_stream(mut rendered: Rendered, args: &TemplateArgs) -> anyhow::Result<String> {
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
    Ok(rendered.to_yaml_stream())
}

/// Sources are `<chart>/templates/x.yaml`; accept that or the chart-relative `templates/x.yaml`.
fn is_from(manifest: &Manifest, wanted: &str) -> bool {
    manifest.source == wanted || manifest.source.ends_with(&format!("/{wanted}"))
}

/// Helm's `--show-only`: the documents of the printed stream whose `# Source:` path, without the
/// chart name, matches one of the patterns (Go's `filepath.Match`), in pattern order.
fn helm_show_only(stream: &str, patterns: &[String]) -> anyhow::Result<String> {
    if patterns.is_empty() {
        return Ok(stream.to_string());
    }
    let documents = capstan_chart::helm::split_manifests(stream);
    let mut out = String::new();
    for pattern in patterns {
        let mut found = false;
        for document in &documents {
            let Some(path) = source_path(document) else {
                continue;
            };
            if go_path_match(pattern, path) {
                out.push_str(&format!("---\n{document}\n"));
                found = true;
            }
        }
        if !found {
            bail!("could not find template {pattern} in chart");
        }
    }
    Ok(out)
}

/// The path after the chart name in the first `# Source: <chart>/<path>` of a document.
fn source_path(document: &str) -> Option<&str> {
    let start = document.find("# Source: ")? + "# Source: ".len();
    let rest = &document[start..];
    let line = rest.split('\n').next().unwrap_or(rest);
    let slash = line.find('/')?;
    (slash > 0)
        .then(|| &line[slash + 1..])
        .filter(|p| !p.is_empty())
}

/// Go's `path/filepath.Match` on `/`-separated paths for the forms `--show-only` patterns use:
/// `*` (any run without `/`), `?` (one character but `/`), `\` escapes and literal text.
/// Character classes (`[a-z]`) are taken literally.
fn go_path_match(pattern: &str, name: &str) -> bool {
    fn matches(pattern: &[char], name: &[char]) -> bool {
        match pattern.split_first() {
            None => name.is_empty(),
            Some(('*', rest)) => (0..=name.len())
                .take_while(|&i| i == 0 || name[i - 1] != '/')
                .any(|i| matches(rest, &name[i..])),
            Some(('?', rest)) => !name.is_empty() && name[0] != '/' && matches(rest, &name[1..]),
            Some(('\\', rest)) => match rest.split_first() {
                Some((literal, rest)) => name.first() == Some(literal) && matches(rest, &name[1..]),
                None => false,
            },
            Some((literal, rest)) => name.first() == Some(literal) && matches(rest, &name[1..]),
        }
    }
    let pattern: Vec<char> = pattern.chars().collect();
    let name: Vec<char> = name.chars().collect();
    matches(&pattern, &name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_only_matches_paths_after_the_chart_name() {
        let stream = "---\n# Source: app/templates/a.yaml\nkind: A\n---\n# Source: app/templates/b.yaml\nkind: B\n---\n# Source: app/charts/db/templates/a.yaml\nkind: C\n";
        assert_eq!(
            helm_show_only(stream, &["templates/a.yaml".to_string()]).unwrap(),
            "---\n# Source: app/templates/a.yaml\nkind: A\n"
        );
        assert_eq!(
            helm_show_only(stream, &["templates/*".to_string()]).unwrap(),
            "---\n# Source: app/templates/a.yaml\nkind: A\n---\n# Source: app/templates/b.yaml\nkind: B\n"
        );
        let err = helm_show_only(stream, &["templates/none.yaml".to_string()]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "could not find template templates/none.yaml in chart"
        );
    }

    #[test]
    fn go_match_stars_stop_at_slashes() {
        assert!(go_path_match("templates/*.yaml", "templates/a.yaml"));
        assert!(!go_path_match("templates/*.yaml", "templates/x/a.yaml"));
        assert!(go_path_match(
            "charts/*/templates/a.yaml",
            "charts/db/templates/a.yaml"
        ));
        assert!(go_path_match("templates/?.yaml", "templates/a.yaml"));
    }
}
