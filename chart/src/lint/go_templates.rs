//! Helm's template lint rule for Go-template charts, with Helm's messages where users search for
//! them: every file is rendered with Helm's lint engine (`required` and `fail` give an empty
//! string instead of stopping), then each file's extension, indentation, YAML and object names
//! are checked, and each object goes through the API and label rules of [`super::manifests`].

use super::finding::Finding;
use super::manifests;
use crate::expand::ExpandInput;
use crate::helm::{Strictness, render_files, split_manifests};
use crate::kube_object;
use crate::render::{Manifest, chart_engine};
use crate::values::resolve;

/// The extensions Helm accepts under `templates/`.
const VALID_EXTENSIONS: &[&str] = &[".yaml", ".yml", ".tpl", ".txt"];

/// Lints the templates of a Go-template chart.
pub fn check(input: &ExpandInput, out: &mut Vec<Finding>) {
    let chart = &input.chart;
    for template in &chart.templates {
        check_source(&template.path, &template.data, out);
    }
    let (resolved, values) = match resolve(chart, &input.user_values) {
        Ok(resolved) => resolved,
        Err(error) => {
            out.push(Finding::error("values.yaml", error.to_string()));
            return;
        }
    };
    if let Err(error) = chart_engine(&resolved) {
        out.push(Finding::error("Chart.yaml", error.to_string()));
        return;
    }
    let strictness = Strictness {
        lint: true,
        missing_key_error: false,
    };
    let outputs = match render_files(&resolved, &values, &input.opts, strictness) {
        Ok(outputs) => outputs,
        Err(error) => {
            out.push(Finding::error("templates/", error.to_string()));
            return;
        }
    };
    let prefix = format!("{}/", chart.name());
    for output in outputs {
        let file = output
            .source
            .strip_prefix(&prefix)
            .unwrap_or(&output.source)
            .to_string();
        let text = match output.result {
            Ok(text) => text,
            Err(error) => {
                out.push(Finding::error(file, error.to_string()));
                continue;
            }
        };
        let is_own_yaml = file.starts_with("templates/") && file.ends_with(".yaml");
        if is_own_yaml && !text.trim().is_empty() {
            check_rendered(&output.source, &file, &text, input, out);
        }
    }
}

/// Rules on a template's name and source text.
fn check_source(path: &str, data: &[u8], out: &mut Vec<Finding>) {
    let base = path.rsplit('/').next().unwrap_or(path);
    let extension = base.rfind('.').map_or("", |dot| &base[dot..]);
    if !VALID_EXTENSIONS.contains(&extension) {
        out.push(Finding::error(
            path,
            format!(
                "file extension '{extension}' not valid. Valid extensions are .yaml, .yml, .tpl, or .txt"
            ),
        ));
    }
    if String::from_utf8_lossy(data).contains(".Release.Time") {
        out.push(Finding::error(
            path,
            ".Release.Time has been removed in v3, please replace with the `now` function in your templates",
        ));
    }
}

/// Rules on one rendered file of the top chart.
fn check_rendered(
    source: &str,
    file: &str,
    text: &str,
    input: &ExpandInput,
    out: &mut Vec<Finding>,
) {
    if let Some(line) = text
        .lines()
        .find(|line| !line.trim().is_empty())
        .filter(|line| line.starts_with([' ', '\t']))
    {
        out.push(Finding::warning(
            file,
            format!(
                "document starts with an illegal indent: {line:?}, which may cause parsing problems"
            ),
        ));
    }
    for (index, document) in split_manifests(text).iter().enumerate() {
        let object = match crate::helm::parse_document(source, index + 1, document) {
            Ok(object) => object,
            Err(error) => {
                out.push(Finding::error(
                    file,
                    format!("unable to parse YAML: {error}"),
                ));
                return;
            }
        };
        if object.is_null() {
            continue;
        }
        match kube_object::identify(&object) {
            Ok(identity) => {
                let manifest = Manifest {
                    source: source.to_string(),
                    api_version: identity.api_version,
                    kind: identity.kind,
                    name: identity.name,
                    namespace: identity.namespace,
                    object,
                    yaml: document.clone(),
                };
                manifests::check_manifest(&manifest, file, &input.opts.kube_version, out);
            }
            Err(problem) => out.push(Finding::warning(
                file,
                format!(
                    "object name does not conform to Kubernetes naming requirements: {problem}"
                ),
            )),
        }
    }
}
