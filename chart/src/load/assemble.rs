//! Turning the flat file list of a chart into a [`Chart`]: metadata, values, schema, templates,
//! CRDs, other files and subcharts, following Helm's loader.

use super::{Budget, LoadError, archive};
use crate::model::{Chart, ChartFile, ChartMetadata, Dependency};
use crate::values::{parse_values_file, yaml_error_message};
use std::collections::BTreeMap;

const CHART_YAML: &str = "Chart.yaml";
const VALUES_YAML: &str = "values.yaml";
const SCHEMA_JSON: &str = "values.schema.json";
/// Where apiVersion v1 charts declare their dependencies.
const REQUIREMENTS_YAML: &str = "requirements.yaml";

/// Builds a chart from its files. `origin` is the chart's path inside its parent (`charts/x`), or
/// empty for the chart being loaded; it prefixes file names in errors. `depth` is the chart's
/// nesting level, already checked by [`load_subchart`].
pub(super) fn assemble(
    files: Vec<ChartFile>,
    origin: &str,
    budget: &mut Budget<'_>,
    depth: usize,
) -> Result<Chart, LoadError> {
    let named = |file: &str| {
        if origin.is_empty() {
            file.to_string()
        } else {
            format!("{origin}/{file}")
        }
    };
    let mut chart = Chart::default();
    let mut subchart_files: BTreeMap<String, Vec<ChartFile>> = BTreeMap::new();
    let mut chart_yaml = None;
    for file in files {
        let path = file.path.as_str();
        if path == CHART_YAML {
            chart_yaml = Some(file.data);
        } else if path.starts_with("templates/") {
            chart.templates.push(file);
        } else if path.starts_with("crds/") {
            chart.crds.push(file);
        } else if let Some(inside) = path.strip_prefix("charts/") {
            if inside.ends_with(".prov") && !inside.contains('/') {
                chart.files.push(file);
                continue;
            }
            let name = inside.split('/').next().unwrap_or(inside).to_string();
            subchart_files.entry(name).or_default().push(ChartFile {
                path: inside.to_string(),
                data: file.data,
            });
        } else {
            chart.files.push(file);
        }
    }
    let Some(chart_yaml) = chart_yaml else {
        return Err(LoadError::MissingChartYaml {
            file: named(CHART_YAML),
        });
    };
    chart.raw_metadata = chart_yaml;
    chart.metadata = parse_metadata(&chart.raw_metadata, &named(CHART_YAML))?;
    if chart.metadata.api_version == "v1"
        && let Some(requirements) = chart.file(REQUIREMENTS_YAML)
    {
        chart.metadata.dependencies =
            parse_requirements(&requirements.data, &named(REQUIREMENTS_YAML))?;
    }
    if let Some(values) = chart.file(VALUES_YAML) {
        chart.values = parse_values_file(&named(VALUES_YAML), &values.data)?;
    }
    if let Some(schema) = chart.file(SCHEMA_JSON) {
        let schema =
            serde_json::from_slice(&schema.data).map_err(|cause| LoadError::InvalidSchemaJson {
                file: named(SCHEMA_JSON),
                cause,
            })?;
        chart.schema = Some(schema);
    }
    for (name, files) in subchart_files {
        if name.starts_with(['_', '.']) {
            continue;
        }
        let subchart_origin = named(&format!("charts/{name}"));
        let subchart =
            load_subchart(&name, files, &subchart_origin, budget, depth + 1).map_err(|cause| {
                match cause {
                    // Already names its place; do not wrap again.
                    LoadError::TooDeep { .. } | LoadError::NotASubchart { .. } => cause,
                    other => LoadError::Subchart {
                        file: subchart_origin.clone(),
                        cause: Box::new(other),
                    },
                }
            })?;
        chart.dependencies.push(subchart);
    }
    chart.templates.sort_by(|a, b| a.path.cmp(&b.path));
    chart.crds.sort_by(|a, b| a.path.cmp(&b.path));
    chart.files.sort_by(|a, b| a.path.cmp(&b.path));
    chart
        .dependencies
        .sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    Ok(chart)
}

fn load_subchart(
    name: &str,
    files: Vec<ChartFile>,
    origin: &str,
    budget: &mut Budget<'_>,
    depth: usize,
) -> Result<Chart, LoadError> {
    if depth > budget.limits.max_depth {
        return Err(LoadError::TooDeep {
            file: origin.to_string(),
            limit: budget.limits.max_depth,
        });
    }
    let is_single_file = files.len() == 1 && files[0].path == name;
    if is_single_file && name.ends_with(".tgz") {
        return archive::load_nested_archive(&files[0].data, origin, budget, depth);
    }
    if is_single_file || files.iter().any(|f| f.path == name) {
        return Err(LoadError::NotASubchart {
            file: origin.to_string(),
        });
    }
    let prefix_len = name.len() + 1;
    let files = files
        .into_iter()
        .map(|f| ChartFile {
            path: f.path[prefix_len..].to_string(),
            data: f.data,
        })
        .collect();
    assemble(files, origin, budget, depth)
}

pub(super) fn parse_metadata(bytes: &[u8], file: &str) -> Result<ChartMetadata, LoadError> {
    let invalid = |message: String| LoadError::InvalidChartYaml {
        file: file.to_string(),
        message,
    };
    let mut metadata: ChartMetadata =
        serde_saphyr::from_slice(bytes).map_err(|error| invalid(yaml_error_message(&error)))?;
    if metadata.api_version.is_empty() {
        // Helm treats a Chart.yaml without apiVersion as v1.
        metadata.api_version = "v1".into();
    }
    if metadata.api_version != "v1" && metadata.api_version != "v2" {
        return Err(invalid(format!(
            "apiVersion {:?} is not supported; use v2",
            metadata.api_version
        )));
    }
    if metadata.name.trim().is_empty() {
        return Err(invalid("name is required".into()));
    }
    if metadata.name.contains(['/', '\\']) || metadata.name == "." || metadata.name == ".." {
        return Err(invalid(format!(
            "name {:?} must not be a path; use a plain chart name",
            metadata.name
        )));
    }
    if metadata.version.trim().is_empty() {
        return Err(invalid(
            "version is required (a SemVer 2 version such as 1.0.0)".into(),
        ));
    }
    for dependency in &metadata.dependencies {
        if dependency.name.trim().is_empty() {
            return Err(invalid("a dependency has no name".into()));
        }
    }
    Ok(metadata)
}

/// `requirements.yaml` of apiVersion v1 charts: `dependencies:` in the same form as Chart.yaml v2.
fn parse_requirements(bytes: &[u8], file: &str) -> Result<Vec<Dependency>, LoadError> {
    #[derive(serde::Deserialize, Default)]
    struct Requirements {
        #[serde(default)]
        dependencies: Vec<Dependency>,
    }
    let requirements: Option<Requirements> =
        serde_saphyr::from_slice(bytes).map_err(|error| LoadError::InvalidChartYaml {
            file: file.to_string(),
            message: yaml_error_message(&error),
        })?;
    Ok(requirements.unwrap_or_default().dependencies)
}
