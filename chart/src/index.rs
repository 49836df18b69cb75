//! Chart repository indexes (`index.yaml`), read and written the way Helm's `repo.IndexFile` does.
//!
//! Reading follows Helm's `loadIndex`: YAML is decoded strictly (an unknown or duplicate key is an
//! error, as with `yaml.UnmarshalStrict`), JSON leniently (unknown keys ignored, the last duplicate
//! wins, as with `encoding/json`); entries that fail chart-metadata validation are dropped with a
//! warning rather than failing the whole index, because public repositories carry old mistakes;
//! and every chart's versions are sorted newest first. A missing `apiVersion` fails the load.
//!
//! Writing follows `helm repo index`: keys in alphabetical order (Helm marshals through JSON),
//! entries newest first, `digest` as the bare sha256 hex of the archive.

mod block_yaml;

use crate::load::load_archive;
use crate::model::{ChartMetadata, Dependency, Maintainer};
use crate::provenance::archive_digest;
use crate::version::{Constraint, Version, VersionError, parse_version};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The only index format version Helm has defined.
pub const INDEX_API_VERSION: &str = "v1";

/// Largest index accepted. Large public repositories publish indexes of a few tens of MiB.
pub const MAX_INDEX_BYTES: usize = 256 * 1024 * 1024;

/// Most YAML nodes an index may hold (a 20 MB index has about two million).
const MAX_INDEX_NODES: usize = 20_000_000;

/// Why an index could not be read, written or queried.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error(
        "{source_name}: the index is empty; a repository index needs at least `apiVersion: v1`"
    )]
    Empty { source_name: String },
    #[error(
        "{source_name}: the index is {size} bytes, more than the limit of {limit}; is this really an index.yaml?"
    )]
    TooLarge {
        source_name: String,
        size: usize,
        limit: usize,
    },
    #[error("{source_name}: no API version specified; add `apiVersion: v1` at the top level")]
    NoApiVersion { source_name: String },
    #[error("{source_name}: not a valid index: {message}")]
    Parse {
        source_name: String,
        message: String,
    },
    #[error("cannot read {}: {cause}", path.display())]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("cannot add {file} to the index: {reason}; fix its Chart.yaml and package it again")]
    InvalidChart { file: String, reason: String },
    #[error("cannot serialise the index: {0}")]
    Serialize(String),
    #[error("no chart named {name:?} in the repository index{}", suggestion(.similar))]
    NoChartName { name: String, similar: Vec<String> },
    #[error(
        "chart {name:?} has no version matching {constraint:?}; available: {}",
        listing(.available)
    )]
    NoMatchingVersion {
        name: String,
        constraint: String,
        available: Vec<String>,
    },
    #[error("invalid version constraint for chart {name:?}: {source}")]
    Constraint {
        name: String,
        #[source]
        source: VersionError,
    },
}

fn suggestion(similar: &[String]) -> String {
    if similar.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", similar.join(", "))
    }
}

fn listing(available: &[String]) -> String {
    const SHOWN: usize = 20;
    if available.is_empty() {
        return "none".into();
    }
    let mut text = available
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if available.len() > SHOWN {
        text.push_str(&format!(" and {} older", available.len() - SHOWN));
    }
    text
}

/// `index.yaml`: every chart version a repository serves.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IndexFile {
    /// Written by ChartMuseum; Helm accepts and ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_info: Option<serde_json::Value>,
    #[serde(default)]
    pub api_version: String,
    /// RFC 3339 time at which the index was generated.
    #[serde(default)]
    pub generated: String,
    /// Chart name → versions, newest first once loaded.
    #[serde(default)]
    pub entries: BTreeMap<String, Vec<ChartVersion>>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub public_keys: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// One chart version in an index: the chart's `Chart.yaml` fields plus where to download it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChartVersion {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
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
    /// Helm 2 fields still accepted in `Chart.yaml` metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<String>,
    #[serde(default)]
    pub urls: Vec<String>,
    /// RFC 3339 time at which this version was added to the index.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub created: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub removed: bool,
    /// sha256 of the archive: bare hex as Helm writes it, or `sha256:`-prefixed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
    /// Deprecated Helm 2 fields: accepted so strict decoding does not reject old indexes, never
    /// written.
    #[serde(default, skip_serializing)]
    pub checksum: Option<String>,
    #[serde(default, skip_serializing)]
    pub engine: Option<String>,
    #[serde(default, skip_serializing)]
    pub tiller_version: Option<String>,
    #[serde(default, skip_serializing)]
    pub url: Option<String>,
    /// `version` parsed once at load, so queries do not re-parse thousands of strings.
    #[serde(skip)]
    parsed_version: Option<Version>,
}

impl ChartVersion {
    /// An entry for a packaged chart: its `Chart.yaml` fields, with no URL, time or digest yet.
    pub fn from_metadata(metadata: &ChartMetadata) -> Self {
        ChartVersion {
            api_version: metadata.api_version.clone(),
            name: metadata.name.clone(),
            version: metadata.version.clone(),
            kube_version: metadata.kube_version.clone(),
            description: metadata.description.clone(),
            chart_type: metadata.chart_type.clone(),
            keywords: metadata.keywords.clone(),
            home: metadata.home.clone(),
            sources: metadata.sources.clone(),
            dependencies: metadata.dependencies.clone(),
            maintainers: metadata.maintainers.clone(),
            icon: metadata.icon.clone(),
            app_version: metadata.app_version.clone(),
            deprecated: metadata.deprecated,
            annotations: metadata.annotations.clone(),
            ..Default::default()
        }
    }

    /// The parsed version, if `version` is a valid (lenient) SemVer.
    pub fn semver(&self) -> Option<&Version> {
        self.parsed_version.as_ref()
    }

    /// The digest as bare lowercase hex, with any `sha256:` prefix removed.
    pub fn digest_hex(&self) -> Option<String> {
        let trimmed = self.digest.trim();
        let hex = trimmed.strip_prefix("sha256:").unwrap_or(trimmed);
        (!hex.is_empty()).then(|| hex.to_ascii_lowercase())
    }

    /// Fills `parsed_version` and checks the rules Helm's `Metadata.Validate` applies to index
    /// entries. Returns why the entry must be skipped.
    fn prepare(&mut self) -> Result<(), String> {
        if self.api_version.is_empty() {
            self.api_version = "v1".into();
        }
        if self.name.is_empty() {
            return Err("chart.metadata.name is required".into());
        }
        if self.name.contains(['/', '\\']) || self.name == "." || self.name == ".." {
            return Err(format!("chart.metadata.name {:?} is invalid", self.name));
        }
        if self.version.is_empty() {
            return Err("chart.metadata.version is required".into());
        }
        let parsed = parse_version(&self.version).map_err(|e| {
            format!(
                "chart.metadata.version {:?} is invalid: {}",
                self.version, e
            )
        })?;
        if let Some(kind) = self.chart_type.as_deref()
            && !kind.is_empty()
            && kind != "application"
            && kind != "library"
        {
            return Err(format!(
                "chart.metadata.type {kind:?} must be application or library"
            ));
        }
        if self.maintainers.iter().any(|m| m.name.is_empty()) {
            return Err("each maintainer requires a name".into());
        }
        if self.dependencies.iter().any(|d| d.name.is_empty()) {
            return Err("each dependency requires a name".into());
        }
        self.parsed_version = Some(parsed);
        Ok(())
    }
}

/// The index and the entries that were skipped while loading it.
#[derive(Debug, Clone)]
pub struct LoadedIndex {
    pub index: IndexFile,
    /// One line per dropped entry, saying which chart and version and why (Helm logs these).
    pub warnings: Vec<String>,
}

/// Keys Helm's structs define, used to drop unknown keys from JSON input the way `encoding/json`
/// does. YAML input is checked against the same lists by `deny_unknown_fields`.
const INDEX_KEYS: &[&str] = &[
    "serverInfo",
    "apiVersion",
    "generated",
    "entries",
    "publicKeys",
    "annotations",
];
const CHART_VERSION_KEYS: &[&str] = &[
    "apiVersion",
    "name",
    "version",
    "kubeVersion",
    "description",
    "type",
    "keywords",
    "home",
    "sources",
    "dependencies",
    "maintainers",
    "icon",
    "appVersion",
    "deprecated",
    "annotations",
    "condition",
    "tags",
    "urls",
    "created",
    "removed",
    "digest",
    "checksum",
    "engine",
    "tillerVersion",
    "url",
];

/// Entries are lists that may hold `null` (Helm skips those with a warning).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawIndex {
    #[serde(default)]
    server_info: Option<serde_json::Value>,
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    generated: String,
    #[serde(default)]
    entries: Option<BTreeMap<String, Option<Vec<Option<ChartVersion>>>>>,
    #[serde(default)]
    public_keys: Option<Vec<String>>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

impl IndexFile {
    /// A new, empty index stamped with the current time.
    pub fn new() -> Self {
        IndexFile {
            api_version: INDEX_API_VERSION.into(),
            generated: now_rfc3339(),
            ..Default::default()
        }
    }

    /// Parses index bytes (YAML or JSON). `source_name` (a path or URL, without credentials) is
    /// used in errors and warnings.
    pub fn parse(data: &[u8], source_name: &str) -> Result<LoadedIndex, IndexError> {
        let source_name = source_name.to_string();
        if data.iter().all(u8::is_ascii_whitespace) {
            return Err(IndexError::Empty { source_name });
        }
        if data.len() > MAX_INDEX_BYTES {
            return Err(IndexError::TooLarge {
                source_name,
                size: data.len(),
                limit: MAX_INDEX_BYTES,
            });
        }
        let parse_error = |message: String| IndexError::Parse {
            source_name: source_name.clone(),
            message,
        };
        let raw: RawIndex = match serde_json::from_slice::<serde_json::Value>(data) {
            Ok(json) => serde_json::from_value(drop_unknown_json_keys(json))
                .map_err(|e| parse_error(e.to_string()))?,
            // Most indexes are plain block YAML that the fast reader takes whole; anything else
            // (and every error) goes through the general parser.
            Err(_) => match block_yaml::parse_index(data) {
                Some(raw) => raw,
                None => serde_saphyr::from_slice_with_options(data, index_yaml_options())
                    .map_err(|e| parse_error(e.to_string()))?,
            },
        };
        let mut warnings = Vec::new();
        let mut entries = BTreeMap::new();
        for (name, versions) in raw.entries.unwrap_or_default() {
            let mut kept = Vec::new();
            for entry in versions.unwrap_or_default() {
                let Some(mut entry) = entry else {
                    warnings.push(format!(
                        "skipping loading invalid entry for chart {name:?} from {source_name}: empty entry"
                    ));
                    continue;
                };
                match entry.prepare() {
                    Ok(()) => kept.push(entry),
                    Err(reason) => warnings.push(format!(
                        "skipping loading invalid entry for chart {name:?} {:?} from {source_name}: {reason}",
                        entry.version
                    )),
                }
            }
            sort_newest_first(&mut kept);
            entries.insert(name, kept);
        }
        if raw.api_version.is_empty() {
            return Err(IndexError::NoApiVersion { source_name });
        }
        Ok(LoadedIndex {
            index: IndexFile {
                server_info: raw.server_info,
                api_version: raw.api_version,
                generated: raw.generated,
                entries,
                public_keys: raw.public_keys.unwrap_or_default(),
                annotations: raw.annotations.unwrap_or_default(),
            },
            warnings,
        })
    }

    /// Adds a chart version, as `helm repo index` does for each archive: `url` is the archive's
    /// URL (or path relative to the index), `digest` the sha256 hex of the archive bytes.
    pub fn add(&mut self, mut entry: ChartVersion) -> Result<(), String> {
        entry.prepare()?;
        if entry.created.is_empty() {
            entry.created = now_rfc3339();
        }
        self.entries
            .entry(entry.name.clone())
            .or_default()
            .push(entry);
        Ok(())
    }

    /// Whether an entry with exactly this name and version string exists.
    pub fn has(&self, name: &str, version: &str) -> bool {
        self.entries
            .get(name)
            .is_some_and(|versions| versions.iter().any(|v| v.version == version))
    }

    /// Adds the versions of `other` that this index lacks (by name and exact version), as
    /// `helm repo index --merge` does: entries already here win.
    pub fn merge(&mut self, other: IndexFile) {
        for (name, versions) in other.entries {
            for version in versions {
                if !self.has(&name, &version.version) {
                    self.entries.entry(name.clone()).or_default().push(version);
                }
            }
        }
    }

    /// Sorts every chart's versions newest first (entries whose version does not parse go last).
    pub fn sort_entries(&mut self) {
        for versions in self.entries.values_mut() {
            sort_newest_first(versions);
        }
    }

    /// Serialises the index as YAML with Helm's layout: keys sorted alphabetically at every level.
    pub fn to_yaml(&self) -> Result<String, IndexError> {
        let value = serde_json::to_value(self).map_err(|e| IndexError::Serialize(e.to_string()))?;
        serde_saphyr::to_string(&sort_keys(value)).map_err(|e| IndexError::Serialize(e.to_string()))
    }

    /// Finds the version of `name` that Helm's `IndexFile.Get` would pick: an entry whose version
    /// string equals `constraint` exactly, else the newest matching version. An empty constraint
    /// means the newest release (prereleases excluded).
    pub fn resolve(&self, name: &str, constraint: &str) -> Result<&ChartVersion, IndexError> {
        let versions = self
            .entries
            .get(name)
            .ok_or_else(|| IndexError::NoChartName {
                name: name.into(),
                similar: self.similar_names(name),
            })?;
        let constraint_text = if constraint.trim().is_empty() {
            "*"
        } else {
            constraint
        };
        if let Some(exact) = versions.iter().find(|v| v.version == constraint) {
            return Ok(exact);
        }
        let parsed =
            Constraint::parse(constraint_text).map_err(|source| IndexError::Constraint {
                name: name.into(),
                source,
            })?;
        versions
            .iter()
            .find(|v| v.semver().is_some_and(|sv| parsed.matches(sv)))
            .ok_or_else(|| IndexError::NoMatchingVersion {
                name: name.into(),
                constraint: constraint_text.into(),
                available: versions.iter().map(|v| v.version.clone()).collect(),
            })
    }

    /// Up to five chart names that contain, or are contained in, `name` (case-insensitive).
    fn similar_names(&self, name: &str) -> Vec<String> {
        let wanted = name.to_ascii_lowercase();
        self.entries
            .keys()
            .filter(|candidate| {
                let candidate = candidate.to_ascii_lowercase();
                !wanted.is_empty() && (candidate.contains(&wanted) || wanted.contains(&candidate))
            })
            .take(5)
            .cloned()
            .collect()
    }
}

/// Indexes the chart archives in `dir` like `helm repo index`: `*.tgz` directly in `dir` and one
/// directory level below it (Go's `**` glob matches a single level), each with its sha256 digest
/// and its URL joined from `base_url` and its relative path. Files that do not load as charts are
/// skipped with a warning, as Helm assumes they are not charts. Entries come out newest first.
pub fn index_directory(dir: &Path, base_url: &str) -> Result<LoadedIndex, IndexError> {
    let mut archives = Vec::new();
    collect_archives(dir, "", &mut archives)?;
    let mut subdirectories = read_sorted(dir)?
        .into_iter()
        .filter(|(_, path)| path.is_dir())
        .collect::<Vec<_>>();
    subdirectories.sort();
    for (name, path) in subdirectories {
        collect_archives(&path, &name, &mut archives)?;
    }
    let mut index = IndexFile::new();
    let mut warnings = Vec::new();
    for (relative_dir, file_name, path) in archives {
        let bytes = std::fs::read(&path).map_err(|cause| IndexError::Io {
            path: path.clone(),
            cause,
        })?;
        let shown = if relative_dir.is_empty() {
            file_name.clone()
        } else {
            format!("{relative_dir}/{file_name}")
        };
        let chart = match load_archive(&bytes) {
            Ok(chart) => chart,
            Err(err) => {
                warnings.push(format!("skipping {shown}: not a chart archive ({err})"));
                continue;
            }
        };
        let parent_url = join_url(base_url, &relative_dir);
        let url = if parent_url.is_empty() {
            file_name.clone()
        } else {
            join_url(&parent_url, &file_name)
        };
        let mut entry = ChartVersion::from_metadata(&chart.metadata);
        entry.urls = vec![url];
        entry.digest = archive_digest(&bytes)
            .trim_start_matches("sha256:")
            .to_string();
        index
            .add(entry)
            .map_err(|reason| IndexError::InvalidChart {
                file: shown,
                reason,
            })?;
    }
    index.sort_entries();
    Ok(LoadedIndex { index, warnings })
}

/// Adds the `*.tgz` regular files of `dir` (not recursing) in name order.
fn collect_archives(
    dir: &Path,
    relative_dir: &str,
    out: &mut Vec<(String, String, PathBuf)>,
) -> Result<(), IndexError> {
    for (name, path) in read_sorted(dir)? {
        if name.ends_with(".tgz") && path.is_file() {
            out.push((relative_dir.to_string(), name, path));
        }
    }
    Ok(())
}

fn read_sorted(dir: &Path) -> Result<Vec<(String, PathBuf)>, IndexError> {
    let io_error = |cause| IndexError::Io {
        path: dir.to_path_buf(),
        cause,
    };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error)? {
        let entry = entry.map_err(io_error)?;
        if let Some(name) = entry.file_name().to_str() {
            found.push((name.to_string(), entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

fn sort_newest_first(versions: &mut [ChartVersion]) {
    // Stable sort: equal versions keep their order, unparseable ones go last.
    versions.sort_by(|a, b| match (a.semver(), b.semver()) {
        (Some(a), Some(b)) => b.cmp(a),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
}

/// Strict YAML with budgets sized for large public indexes (tens of thousands of entries) while
/// still bounding memory and work for hostile input.
fn index_yaml_options() -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_reader_input_bytes = Some(MAX_INDEX_BYTES);
    budget.max_events = 50_000_000;
    budget.max_nodes = MAX_INDEX_NODES;
    budget.max_total_scalar_bytes = MAX_INDEX_BYTES;
    budget.max_depth = 32;
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    options
}

fn drop_unknown_json_keys(mut json: serde_json::Value) -> serde_json::Value {
    if let serde_json::Value::Object(top) = &mut json {
        top.retain(|key, _| INDEX_KEYS.contains(&key.as_str()));
        if let Some(serde_json::Value::Object(entries)) = top.get_mut("entries") {
            for versions in entries.values_mut() {
                if let serde_json::Value::Array(list) = versions {
                    for entry in list {
                        if let serde_json::Value::Object(fields) = entry {
                            fields.retain(|key, _| CHART_VERSION_KEYS.contains(&key.as_str()));
                        }
                    }
                }
            }
        }
    }
    json
}

/// Rebuilds every object with its keys in alphabetical order (`serde_json` preserves insertion
/// order in this workspace), matching Helm's JSON-then-YAML marshalling.
fn sort_keys(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => {
            let sorted: BTreeMap<String, serde_json::Value> =
                map.into_iter().map(|(k, v)| (k, sort_keys(v))).collect();
            serde_json::Value::Object(sorted.into_iter().collect())
        }
        serde_json::Value::Array(items) => {
            serde_json::Value::Array(items.into_iter().map(sort_keys).collect())
        }
        other => other,
    }
}

/// The current UTC time in RFC 3339 with nanoseconds, as Go's `time.Time` marshals.
pub fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}

/// Joins a repository base URL (or relative path) with a relative path, as Helm's `URLJoin`:
/// the path parts are joined with `/` and cleaned, the scheme and host are kept.
pub fn join_url(base: &str, relative: &str) -> String {
    let (origin, path) = match base.find("://") {
        Some(scheme_end) => {
            let after = scheme_end + 3;
            match base[after..].find('/') {
                Some(slash) => base.split_at(after + slash),
                None => (base, ""),
            }
        }
        None => ("", base),
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/').chain(relative.split('/')) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    if origin.is_empty() {
        if path.starts_with('/') {
            format!("/{joined}")
        } else {
            joined
        }
    } else if joined.is_empty() {
        origin.to_string()
    } else {
        format!("{origin}/{joined}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_and_versions(index: &IndexFile) -> Vec<(String, Vec<String>)> {
        index
            .entries
            .iter()
            .map(|(name, versions)| {
                (
                    name.clone(),
                    versions.iter().map(|v| v.version.clone()).collect(),
                )
            })
            .collect()
    }

    fn expected_local_entries() -> Vec<(String, Vec<String>)> {
        vec![
            ("alpine".into(), vec!["1.0.0".into()]),
            ("chartWithNoURL".into(), vec!["1.0.0".into()]),
            ("nginx".into(), vec!["0.2.0".into(), "0.1.0".into()]),
        ]
    }

    capstan_testdata::vector_tests! {
        fn index_files_load_with_entries_sorted_newest_first(vectors) {
            let vector = |name: &str| vectors.read(&format!("repo/{name}"));
            // The server index is the local one without the URL-less chart.
            for (file, has_chart_without_url) in [
                ("local-index.yaml", true),
                ("local-index.json", true),
                ("local-index-unordered.yaml", true),
                ("local-index-annotations.yaml", true),
                ("chartmuseum-index.yaml", true),
                ("server/index.yaml", false),
            ] {
                let loaded =
                    IndexFile::parse(&vector(file), file).unwrap_or_else(|e| panic!("{file}: {e}"));
                let mut expected = expected_local_entries();
                if !has_chart_without_url {
                    expected.retain(|(name, _)| name != "chartWithNoURL");
                }
                assert_eq!(names_and_versions(&loaded.index), expected, "{file}");
                assert!(loaded.warnings.is_empty(), "{file}: {:?}", loaded.warnings);
                let alpine = &loaded.index.entries["alpine"][0];
                assert_eq!(alpine.urls.len(), 2, "{file}");
                if has_chart_without_url {
                    assert!(loaded.index.entries["chartWithNoURL"][0].urls.is_empty());
                }
            }
            let annotated = IndexFile::parse(&vector("local-index-annotations.yaml"), "a").unwrap();
            assert_eq!(
                annotated
                    .index
                    .annotations
                    .get("helm.sh/test")
                    .map(String::as_str),
                Some("foo bar")
            );
            let server = IndexFile::parse(&vector("server/index.yaml"), "s").unwrap();
            assert_eq!(server.index.entries["nginx"][0].api_version, "v1");
        }

        fn indexing_a_repository_folder_matches_helm(vectors) {
            let dir = vectors.path("repo/repository");
            let loaded = index_directory(&dir, "http://localhost:8080").unwrap();
            let index = loaded.index;
            assert_eq!(
                index.entries.keys().collect::<Vec<_>>(),
                ["frobnitz", "sprocket", "zarthal"]
            );
            let sprocket: Vec<_> = index.entries["sprocket"]
                .iter()
                .map(|v| v.version.as_str())
                .collect();
            assert_eq!(sprocket, ["1.2.0", "1.1.0"]);
            assert_eq!(
                index.entries["frobnitz"][0].urls,
                ["http://localhost:8080/frobnitz-1.2.3.tgz"]
            );
            assert_eq!(
                index.entries["zarthal"][0].urls,
                ["http://localhost:8080/universe/zarthal-1.0.0.tgz"]
            );
            for versions in index.entries.values() {
                for version in versions {
                    assert_eq!(version.digest.len(), 64, "{}", version.name);
                    assert!(!version.created.is_empty());
                }
            }
            if vectors.is_helms() {
                // Helm's TestIndexDirectory names frobnitz's digest.
                assert!(index.entries["frobnitz"][0].digest.starts_with("3bbfcddf"));
            } else {
                // `helm repo index` of the same folder, recorded by testdata/helm/generate.
                let helms = vectors.read("repo/repository-index.yaml");
                let helms = IndexFile::parse(&helms, "repository-index.yaml").unwrap().index;
                assert_eq!(listing(&index), listing(&helms));
            }
            let relative = index_directory(&dir, "").unwrap().index;
            assert_eq!(
                relative.entries["zarthal"][0].urls,
                ["universe/zarthal-1.0.0.tgz"]
            );
        }
    }

    /// Name, version, URLs and digest of every entry: what `helm repo index` decides.
    fn listing(index: &IndexFile) -> Vec<(&str, &str, &[String], &str)> {
        index
            .entries
            .values()
            .flatten()
            .map(|v| {
                (
                    v.name.as_str(),
                    v.version.as_str(),
                    &v.urls[..],
                    v.digest.as_str(),
                )
            })
            .collect()
    }

    #[test]
    fn strictness_follows_helm() {
        let unknown_top = b"apiVersion: v1\nentries: {}\nsurprise: 1\n";
        let err = IndexFile::parse(unknown_top, "index.yaml").unwrap_err();
        assert!(err.to_string().contains("surprise"), "{err}");

        let unknown_entry = b"apiVersion: v1\nentries:\n  a:\n    - name: a\n      version: 1.0.0\n      colour: red\n";
        let err = IndexFile::parse(unknown_entry, "index.yaml").unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");

        let duplicate = b"apiVersion: v1\nentries:\n  a:\n    - name: a\n      version: 1.0.0\n      version: 2.0.0\n";
        let err = IndexFile::parse(duplicate, "index.yaml").unwrap_err();
        assert!(
            err.to_string().starts_with("index.yaml: not a valid index"),
            "{err}"
        );

        let json_unknown = br#"{"apiVersion":"v1","extra":true,"entries":{"a":[{"name":"a","version":"1.0.0","colour":"red"}]}}"#;
        let loaded = IndexFile::parse(json_unknown, "index.json").unwrap();
        assert_eq!(loaded.index.entries["a"].len(), 1);

        let no_api = b"entries:\n  a:\n    - name: a\n      version: 1.0.0\n";
        let err = IndexFile::parse(no_api, "index.yaml").unwrap_err();
        assert!(
            err.to_string().contains("no API version specified"),
            "{err}"
        );

        let err = IndexFile::parse(b"  \n", "index.yaml").unwrap_err();
        assert!(matches!(err, IndexError::Empty { .. }), "{err}");
    }

    #[test]
    fn invalid_entries_are_skipped_with_a_warning() {
        let text = b"apiVersion: v1\nentries:\n  good:\n    - name: good\n      version: 1.0.0\n    - name: good\n      version: not-semver\n    - null\n  nameless:\n    - version: 1.0.0\n  evil:\n    - name: ../evil\n      version: 1.0.0\n";
        let loaded = IndexFile::parse(text, "index.yaml").unwrap();
        assert_eq!(loaded.index.entries["good"].len(), 1);
        assert!(loaded.index.entries["nameless"].is_empty());
        assert!(loaded.index.entries["evil"].is_empty());
        assert_eq!(loaded.warnings.len(), 4, "{:?}", loaded.warnings);
        assert!(
            loaded.warnings.iter().any(|w| w.contains("not-semver")),
            "{:?}",
            loaded.warnings
        );
    }

    #[test]
    fn resolve_prefers_exact_then_newest_and_explains_failures() {
        let text = b"apiVersion: v1\nentries:\n  app:\n    - {name: app, version: 1.0.0}\n    - {name: app, version: 1.2.0}\n    - {name: app, version: 2.0.0-rc.1}\n    - {name: app, version: 1.2.0+hotfix}\n";
        let index = IndexFile::parse(text, "index.yaml").unwrap().index;
        assert_eq!(index.resolve("app", "").unwrap().version, "1.2.0");
        assert_eq!(index.resolve("app", "~1.0").unwrap().version, "1.0.0");
        assert_eq!(
            index.resolve("app", "1.2.0+hotfix").unwrap().version,
            "1.2.0+hotfix"
        );
        assert_eq!(
            index.resolve("app", ">=2.0.0-0").unwrap().version,
            "2.0.0-rc.1"
        );
        let err = index.resolve("app", "^3").unwrap_err().to_string();
        assert!(err.contains("2.0.0-rc.1, 1.2.0"), "{err}");
        let err = index.resolve("ap", "").unwrap_err().to_string();
        assert!(err.contains("did you mean app"), "{err}");
        let err = index.resolve("app", ">= nonsense").unwrap_err().to_string();
        assert!(err.contains("invalid version constraint"), "{err}");
    }

    #[test]
    fn written_index_reads_back_with_sorted_keys() {
        let mut index = IndexFile::new();
        for version in ["1.0.0", "1.10.0", "1.2.0"] {
            index
                .add(ChartVersion {
                    name: "zeta".into(),
                    version: version.into(),
                    urls: vec![format!("zeta-{version}.tgz")],
                    digest: "ab".repeat(32),
                    ..Default::default()
                })
                .unwrap();
        }
        index
            .add(ChartVersion {
                name: "alpha".into(),
                version: "0.1.0".into(),
                ..Default::default()
            })
            .unwrap();
        index.sort_entries();
        let text = index.to_yaml().unwrap();
        let api = text.find("apiVersion:").unwrap();
        let entries = text.find("entries:").unwrap();
        let generated = text.find("generated:").unwrap();
        assert!(api < entries && entries < generated, "{text}");
        assert!(text.find("alpha:").unwrap() < text.find("zeta:").unwrap());
        let back = IndexFile::parse(text.as_bytes(), "written").unwrap();
        assert_eq!(
            back.index.entries["zeta"]
                .iter()
                .map(|v| v.version.as_str())
                .collect::<Vec<_>>(),
            ["1.10.0", "1.2.0", "1.0.0"]
        );
        assert_eq!(back.index.entries["zeta"][0].digest, "ab".repeat(32));
    }

    #[test]
    fn merge_keeps_existing_versions() {
        let mut current = IndexFile::new();
        current
            .add(ChartVersion {
                name: "a".into(),
                version: "1.0.0".into(),
                digest: "new".into(),
                ..Default::default()
            })
            .unwrap();
        let mut old = IndexFile::new();
        for (version, digest) in [("1.0.0", "old"), ("0.9.0", "old")] {
            old.add(ChartVersion {
                name: "a".into(),
                version: version.into(),
                digest: digest.into(),
                ..Default::default()
            })
            .unwrap();
        }
        current.merge(old);
        current.sort_entries();
        let digests: Vec<_> = current.entries["a"]
            .iter()
            .map(|v| (v.version.as_str(), v.digest.as_str()))
            .collect();
        assert_eq!(digests, [("1.0.0", "new"), ("0.9.0", "old")]);
    }

    #[test]
    fn url_joining_matches_helm() {
        assert_eq!(
            join_url("http://localhost:8080", "universe/zarthal-1.0.0.tgz"),
            "http://localhost:8080/universe/zarthal-1.0.0.tgz"
        );
        assert_eq!(
            join_url("https://example.com/charts/", "a-1.0.0.tgz"),
            "https://example.com/charts/a-1.0.0.tgz"
        );
        assert_eq!(join_url("", "universe/z.tgz"), "universe/z.tgz");
        assert_eq!(join_url("", "z.tgz"), "z.tgz");
        assert_eq!(join_url("https://h", ""), "https://h");
    }
}
