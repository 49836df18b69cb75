//! The in-memory model of a chart: `Chart.yaml` metadata and the files a chart is made of.
//!
//! The field names and meanings follow Helm's `Chart.yaml` (apiVersion v2) so that Helm's tools keep
//! reading Capstan charts. Capstan-specific choices, such as the template engine, live in
//! `annotations` rather than in new top-level keys.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The annotation that names a chart's template engine.
pub const ENGINE_ANNOTATION: &str = "capstan.dev/engine";
/// The annotation value for Capstan's Jinja templates.
pub const ENGINE_JINJA: &str = "jinja";
/// The annotation value for Go templates, which is also what a chart without the annotation uses,
/// as it is for Helm.
pub const ENGINE_GO: &str = "go";

/// The template language a chart's templates are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Capstan's Jinja templates (annotation `capstan.dev/engine: jinja`).
    Jinja,
    /// Helm's Go templates: the default, so unmodified Helm charts render as `helm template` does.
    Go,
}

impl Engine {
    /// The annotation value naming this engine.
    pub fn annotation_value(self) -> &'static str {
        match self {
            Engine::Jinja => ENGINE_JINJA,
            Engine::Go => ENGINE_GO,
        }
    }
}

/// `Chart.yaml`, as Helm defines it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartMetadata {
    /// `v2` for Capstan and Helm 3 charts; `v1` is accepted when reading old archives. Absent
    /// in some old charts, which Helm (and the loader) then treat as `v1`.
    #[serde(default)]
    pub api_version: String,
    pub name: String,
    /// SemVer 2.
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `application` (the default) or `library`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub chart_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keywords: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<Dependency>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub maintainers: Vec<Maintainer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_version: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deprecated: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl ChartMetadata {
    /// Whether this is a library chart (renders no manifests of its own). Helm compares the type
    /// without regard to case.
    pub fn is_library(&self) -> bool {
        self.chart_type
            .as_deref()
            .is_some_and(|kind| kind.eq_ignore_ascii_case("library"))
    }

    /// The engine the annotation asks for: Go templates without it, `Err` with the value when it
    /// names an engine Capstan does not have.
    pub fn engine(&self) -> Result<Engine, &str> {
        match self.annotations.get(ENGINE_ANNOTATION).map(String::as_str) {
            None => Ok(Engine::Go),
            Some(value) if value == ENGINE_JINJA => Ok(Engine::Jinja),
            Some(value) if value == ENGINE_GO => Ok(Engine::Go),
            Some(other) => Err(other),
        }
    }
}

/// A maintainer entry in `Chart.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Maintainer {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// A dependency (subchart) declared in `Chart.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dependency {
    pub name: String,
    /// A version constraint in Helm's syntax.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// A dotted values path, or several separated by commas; the first that resolves to a bool wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Either `child.path` strings or `{child: ..., parent: ...}` maps, as in Helm.
    #[serde(
        default,
        rename = "import-values",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub import_values: Vec<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

impl Dependency {
    /// The name under which the subchart's values and templates live: the alias if set.
    pub fn effective_name(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }
}

/// A file of a chart, with its path relative to the chart root (always `/`-separated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChartFile {
    pub path: String,
    pub data: Vec<u8>,
}

/// A loaded chart: its metadata, its parsed default values, its files sorted by role, and its
/// subcharts (already loaded, from `charts/` directories or archives).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chart {
    pub metadata: ChartMetadata,
    /// The raw `Chart.yaml` bytes as found (after BOM stripping).
    pub raw_metadata: Vec<u8>,
    /// Parsed `values.yaml` (an empty map when absent).
    pub values: serde_json::Map<String, serde_json::Value>,
    /// Parsed `values.schema.json`, if present.
    pub schema: Option<serde_json::Value>,
    /// Files under `templates/`, sorted by path.
    pub templates: Vec<ChartFile>,
    /// Files under `crds/`, sorted by path.
    pub crds: Vec<ChartFile>,
    /// Every other file (README, values.yaml, Chart.lock, files/...), sorted by path, excluding
    /// `Chart.yaml`, templates, crds and `charts/` (except `charts/*.prov`, kept as Helm does).
    pub files: Vec<ChartFile>,
    /// Subcharts found under `charts/`, sorted by name.
    pub dependencies: Vec<Chart>,
}

impl Chart {
    pub fn name(&self) -> &str {
        &self.metadata.name
    }

    /// Finds a non-template, non-CRD file by its chart-relative path.
    pub fn file(&self, path: &str) -> Option<&ChartFile> {
        self.files.iter().find(|f| f.path == path)
    }
}

/// `Chart.lock` (or `requirements.lock` in apiVersion v1 charts): the exact dependency versions
/// that `dependency update` resolved.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChartLock {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated: Option<String>,
    /// Digest of the dependency declarations the lock was made from.
    #[serde(default)]
    pub digest: String,
    #[serde(default)]
    pub dependencies: Vec<Dependency>,
}

impl Chart {
    /// Parses the chart's lock file, if it has one: `Chart.lock`, or `requirements.lock` for an
    /// apiVersion v1 chart. Returns the lock file's name with the parse error.
    pub fn lock(&self) -> Option<Result<ChartLock, (String, String)>> {
        let name = if self.metadata.api_version == "v1" && self.file("Chart.lock").is_none() {
            "requirements.lock"
        } else {
            "Chart.lock"
        };
        let file = self.file(name)?;
        Some(
            serde_saphyr::from_slice::<Option<ChartLock>>(&file.data)
                .map(Option::unwrap_or_default)
                .map_err(|error| (name.to_string(), crate::values::yaml_error_message(&error))),
        )
    }
}
