//! Rules on what the chart renders: it must render with the given values, and the objects must
//! use APIs the target Kubernetes serves and valid label values.

use super::apis::{ApiStatus, find_retired};
use super::finding::Finding;
use crate::expand::{ExpandError, ExpandInput, expand};
use crate::model::{Chart, Engine};
use crate::names::check_label_value;
use crate::render::{Manifest, RenderError, chart_engine};
use crate::version::parse_version;

/// Renders the chart as `capstan template` would and checks every object. A Go-template chart is
/// rendered as `helm lint` renders it ([`super::go_templates`]).
pub fn check(input: &ExpandInput, out: &mut Vec<Finding>) {
    if matches!(chart_engine(&input.chart), Ok(Engine::Go)) {
        super::go_templates::check(input, out);
        return;
    }
    let rendered = match expand(input) {
        Ok(rendered) => rendered,
        Err(err) => {
            out.push(finding_for_error(&input.chart, &err));
            return;
        }
    };
    for manifest in rendered.crds.iter().chain(&rendered.manifests) {
        let file = chart_relative(&input.chart, &manifest.source);
        check_manifest(manifest, &file, &input.opts.kube_version, out);
    }
}

/// The API and label rules for one object rendered from `file`.
pub(super) fn check_manifest(
    manifest: &Manifest,
    file: &str,
    kube_version: &str,
    out: &mut Vec<Finding>,
) {
    let minor = parse_version(kube_version)
        .ok()
        .filter(|v| v.major == 1)
        .map(|v| v.minor);
    if let Some(minor) = minor {
        check_api(manifest, file, minor, kube_version, out);
    }
    check_labels(manifest, file, out);
}

/// Strips the top chart's name from a render source (`web/templates/x.yaml` → `templates/x.yaml`),
/// so findings use the same paths as the chart's other files.
fn chart_relative(chart: &Chart, source: &str) -> String {
    source
        .strip_prefix(chart.name())
        .and_then(|rest| rest.strip_prefix('/'))
        .unwrap_or(source)
        .to_string()
}

fn finding_for_error(chart: &Chart, err: &ExpandError) -> Finding {
    let (file, line) = match err {
        ExpandError::Values(_) => ("values.yaml".to_string(), None),
        ExpandError::Render(RenderError::Template { location, .. }) => {
            let mut parts = location.splitn(3, ':');
            let file = parts.next().unwrap_or_default();
            let line = parts.next().and_then(|l| l.parse().ok());
            (chart_relative(chart, file), line)
        }
        ExpandError::Render(
            RenderError::NotText { file }
            | RenderError::GoTemplate { file, .. }
            | RenderError::TooLong { file, .. }
            | RenderError::OutputTooLarge { file, .. }
            | RenderError::Yaml { file, .. }
            | RenderError::InvalidObject { file, .. },
        ) => (chart_relative(chart, file), None),
        _ => ("Chart.yaml".to_string(), None),
    };
    Finding::error(file, err.to_string()).at_line(line)
}

fn check_api(manifest: &Manifest, file: &str, minor: u64, target: &str, out: &mut Vec<Finding>) {
    let Some(retired) = find_retired(&manifest.api_version, &manifest.kind) else {
        return;
    };
    let what = format!(
        "{} {} {:?}",
        manifest.api_version, manifest.kind, manifest.name
    );
    match retired.status_at(minor) {
        ApiStatus::Served => {}
        ApiStatus::Deprecated => out.push(Finding::warning(
            file,
            format!(
                "{what} uses an API deprecated since Kubernetes 1.{}{}; use {}",
                retired.deprecated_in,
                retired
                    .removed_in
                    .map(|r| format!(" and removed in 1.{r}"))
                    .unwrap_or_default(),
                retired.replacement
            ),
        )),
        ApiStatus::Removed => out.push(Finding::error(
            file,
            format!(
                "{what} uses an API removed in Kubernetes 1.{} (target {target}); use {}",
                retired.removed_in.unwrap_or_default(),
                retired.replacement
            ),
        )),
    }
}

fn check_labels(manifest: &Manifest, file: &str, out: &mut Vec<Finding>) {
    let label_maps = [
        ("metadata.labels", &manifest.object["metadata"]["labels"]),
        (
            "spec.template.metadata.labels",
            &manifest.object["spec"]["template"]["metadata"]["labels"],
        ),
    ];
    for (path, labels) in label_maps {
        let Some(labels) = labels.as_object() else {
            continue;
        };
        for (key, value) in labels {
            let problem = match value.as_str() {
                Some(text) => check_label_value(text).err(),
                None => Some(format!("{value} is not a string; quote it")),
            };
            if let Some(problem) = problem {
                out.push(Finding::error(
                    file,
                    format!(
                        "{} {:?}: {path}.{key}: invalid label value: {problem}",
                        manifest.kind, manifest.name
                    ),
                ));
            }
        }
    }
}
