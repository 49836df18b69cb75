//! `capstan lint`: Helm's chart checks plus Capstan's own, as a list of findings.
//!
//! Linting never stops at the first problem: each rule adds [`Finding`]s and the caller decides
//! what fails (errors always, warnings with `--strict`). Rules are grouped by what they read:
//! [`metadata`] reads `Chart.yaml`, [`structure`] the chart's files, `manifests` what the chart
//! renders through [`crate::expand`], and [`apis`] holds the table of retired Kubernetes APIs.

pub mod apis;
mod finding;
mod go_templates;
mod manifests;
pub mod metadata;
mod structure;

pub use finding::{Finding, Severity};

use crate::expand::ExpandInput;
use crate::load::load_path;
use crate::render::RenderOptions;
use crate::values::Values;
use serde::Serialize;
use std::path::Path;

/// What to lint a chart with, beyond its own defaults.
#[derive(Debug, Clone, Default)]
pub struct LintOptions {
    /// Extra values layers (`-f`, `--set`), applied over the chart's `values.yaml` in order.
    pub user_values: Vec<Values>,
    /// Release, namespace and target Kubernetes version to render with.
    pub render: RenderOptions,
}

/// The findings for one chart directory or archive.
#[derive(Debug, Clone, Serialize)]
pub struct LintReport {
    /// The path as given.
    pub chart: String,
    pub findings: Vec<Finding>,
}

impl LintReport {
    /// Whether this chart fails linting: any error, or any warning when `strict`.
    pub fn fails(&self, strict: bool) -> bool {
        let threshold = if strict {
            Severity::Warning
        } else {
            Severity::Error
        };
        self.findings.iter().any(|f| f.severity >= threshold)
    }
}

/// Lints a chart directory or `.tgz` archive.
pub fn lint_path(path: &Path, options: &LintOptions) -> LintReport {
    let mut findings = Vec::new();
    let is_dir = path.is_dir();
    if is_dir {
        structure::check_directory(path, &mut findings);
    }
    // Directory problems in Chart.yaml or values.yaml are already reported with their line;
    // the loader would report the same problem again without it.
    let already_failed = findings.iter().any(|f| f.severity == Severity::Error);
    match load_path(path) {
        Err(err) if !already_failed => {
            findings.push(Finding::error(path.display().to_string(), format!("{err}")))
        }
        Err(_) => {}
        Ok(chart) => {
            if !is_dir {
                let text = String::from_utf8_lossy(&chart.raw_metadata);
                metadata::check(&text, None, &mut findings);
            }
            structure::check_loaded(&chart, &mut findings);
            if !findings.iter().any(|f| f.severity == Severity::Error) {
                let input = ExpandInput {
                    chart,
                    user_values: options.user_values.clone(),
                    opts: options.render.clone(),
                };
                manifests::check(&input, &mut findings);
            }
        }
    }
    findings.sort_by(|a, b| (b.severity, &a.file, a.line).cmp(&(a.severity, &b.file, b.line)));
    LintReport {
        chart: path.display().to_string(),
        findings,
    }
}
