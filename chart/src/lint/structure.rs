//! Rules on the chart's layout: which files exist, whether `values.yaml` parses, subcharts.

use super::finding::{Finding, describe_yaml_error};
use super::metadata::{self, CHART_FILE};
use crate::model::Chart;
use std::collections::BTreeSet;
use std::path::Path;

const VALUES_FILE: &str = "values.yaml";

/// Checks a chart directory on disk: `Chart.yaml` (with the directory-name rule) and `values.yaml`.
pub fn check_directory(dir: &Path, out: &mut Vec<Finding>) {
    let dir_name = dir
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string));
    match std::fs::read_to_string(dir.join(CHART_FILE)) {
        Ok(text) => {
            metadata::check(&text, dir_name.as_deref(), out);
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => out.push(Finding::error(
            CHART_FILE,
            "is missing; every chart needs one at its root (capstan create makes one)",
        )),
        Err(err) => out.push(Finding::error(CHART_FILE, format!("cannot be read: {err}"))),
    }
    match std::fs::read_to_string(dir.join(VALUES_FILE)) {
        Ok(text) => check_values_text(&text, out),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => out.push(Finding::info(
            VALUES_FILE,
            "is missing; templates see only values given at deploy time",
        )),
        Err(err) => out.push(Finding::error(
            VALUES_FILE,
            format!("cannot be read: {err}"),
        )),
    }
}

fn check_values_text(text: &str, out: &mut Vec<Finding>) {
    let parsed: Result<Option<serde_json::Value>, _> = serde_saphyr::from_str(text);
    match parsed {
        Err(err) => {
            let (line, message) = describe_yaml_error(&err);
            out.push(
                Finding::error(VALUES_FILE, format!("does not parse: {message}")).at_line(line),
            );
        }
        Ok(None | Some(serde_json::Value::Null | serde_json::Value::Object(_))) => {}
        Ok(Some(other)) => out.push(Finding::error(
            VALUES_FILE,
            format!("the top level must be a map of keys to values, not {other}"),
        )),
    }
}

/// Checks a loaded chart: that `Chart.yaml` dependencies and the subcharts under `charts/` agree.
pub fn check_loaded(chart: &Chart, out: &mut Vec<Finding>) {
    let present: BTreeSet<&str> = chart.dependencies.iter().map(|c| c.name()).collect();
    let declared: BTreeSet<&str> = chart
        .metadata
        .dependencies
        .iter()
        .map(|d| d.name.as_str())
        .collect();
    for missing in declared.difference(&present) {
        out.push(Finding::error(
            "charts/",
            format!(
                "dependency {missing:?} is declared in Chart.yaml but not under charts/; fetch it into charts/ before deploying"
            ),
        ));
    }
    if chart.metadata.api_version == "v2" {
        for undeclared in present.difference(&declared) {
            out.push(Finding::warning(
                "charts/",
                format!("subchart {undeclared:?} is not declared in Chart.yaml dependencies; declare it so its version is tracked"),
            ));
        }
    }
    if chart.templates.is_empty() && !chart.metadata.is_library() {
        out.push(Finding::warning(
            "templates/",
            "there are no templates (or no templates/ directory), so the chart renders nothing",
        ));
    }
}
