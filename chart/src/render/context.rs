//! The variables a template sees: `values`, `release`, `chart`, `capabilities`, `files` and
//! `template`.
//!
//! Everything here is built from the chart in memory and the render options; nothing reads the
//! filesystem or the network, so a render is a pure function of its inputs.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use minijinja::value::{Enumerator, Object, ObjectRepr, Serde, Value};
use minijinja::{Error, ErrorKind, State};
use serde_json::json;

use super::{RenderError, RenderOptions};
use crate::model::{Chart, ChartFile};

/// The API group versions a Kubernetes 1.36 API server serves out of the box. Used as
/// `capabilities.api_versions` because rendering is offline; `RenderOptions::api_versions` adds
/// CRD-provided ones.
const BUILT_IN_API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "apiextensions.k8s.io/v1",
    "apiregistration.k8s.io/v1",
    "apps/v1",
    "authentication.k8s.io/v1",
    "authorization.k8s.io/v1",
    "autoscaling/v1",
    "autoscaling/v2",
    "batch/v1",
    "certificates.k8s.io/v1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "events.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1",
    "networking.k8s.io/v1",
    "node.k8s.io/v1",
    "policy/v1",
    "rbac.authorization.k8s.io/v1",
    "resource.k8s.io/v1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1",
];

/// `release`: who is being installed, where, and whether this is a first install.
pub(crate) fn release_value(opts: &RenderOptions) -> Value {
    Value::from(Serde(json!({
        "name": opts.release_name,
        "namespace": opts.namespace,
        "revision": opts.revision,
        "is_install": opts.is_install,
        "is_upgrade": !opts.is_install,
        "service": "Capstan",
    })))
}

/// `chart`: the fields of `Chart.yaml` in snake_case.
pub(crate) fn chart_value(chart: &Chart) -> Value {
    let meta = &chart.metadata;
    Value::from(Serde(json!({
        "api_version": meta.api_version,
        "name": meta.name,
        "version": meta.version,
        "app_version": meta.app_version,
        "kube_version": meta.kube_version,
        "description": meta.description,
        "type": meta.chart_type.as_deref().unwrap_or("application"),
        "keywords": meta.keywords,
        "home": meta.home,
        "sources": meta.sources,
        "icon": meta.icon,
        "deprecated": meta.deprecated,
        "annotations": meta.annotations,
        "maintainers": meta.maintainers.iter().map(|m| json!({
            "name": m.name, "email": m.email, "url": m.url,
        })).collect::<Vec<_>>(),
        "dependencies": meta.dependencies.iter().map(|d| json!({
            "name": d.name, "version": d.version, "repository": d.repository, "alias": d.alias,
        })).collect::<Vec<_>>(),
    })))
}

/// `capabilities`: the Kubernetes version and API versions the chart is rendered for.
pub(crate) fn capabilities_value(opts: &RenderOptions) -> Result<Value, RenderError> {
    let (major, minor) = parse_kube_version(&opts.kube_version)?;
    let mut api_versions: Vec<String> = BUILT_IN_API_VERSIONS
        .iter()
        .map(|v| v.to_string())
        .collect();
    for extra in &opts.api_versions {
        if !api_versions.contains(extra) {
            api_versions.push(extra.clone());
        }
    }
    let kube_version = Value::from(Serde(json!({
        "version": opts.kube_version,
        "git_version": opts.kube_version,
        "major": major,
        "minor": minor,
    })));
    Ok(Value::from(BTreeMap::from([
        ("kube_version", kube_version),
        (
            "api_versions",
            Value::from_object(ApiVersions(api_versions)),
        ),
    ])))
}

/// Splits `v1.36.3` (or `1.36`) into major and minor, as strings like Kubernetes reports them.
fn parse_kube_version(version: &str) -> Result<(String, String), RenderError> {
    let invalid = || RenderError::InvalidOption {
        field: "kube_version".into(),
        problem: format!("`{version}` is not a Kubernetes version; write it like `v1.36.0`"),
    };
    let mut parts = version.trim_start_matches('v').split(['.', '-', '+']);
    let major = parts
        .next()
        .filter(|p| p.parse::<u32>().is_ok())
        .ok_or_else(invalid)?;
    let minor = parts
        .next()
        .filter(|p| p.parse::<u32>().is_ok())
        .ok_or_else(invalid)?;
    Ok((major.to_string(), minor.to_string()))
}

/// `capabilities.api_versions`: a list with a `has("apps/v1")` method (`"apps/v1" in ...` works
/// too, as for any list).
#[derive(Debug)]
struct ApiVersions(Vec<String>);

impl Object for ApiVersions {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.0.get(key.as_usize()?).map(|v| Value::from(v.as_str()))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.0.len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match (method, args) {
            ("has", [wanted]) => {
                let wanted = wanted.as_str().ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidOperation,
                        "api_versions.has() takes a string such as \"apps/v1\"",
                    )
                })?;
                Ok(Value::from(self.0.iter().any(|v| v == wanted)))
            }
            ("has", _) => Err(Error::new(
                ErrorKind::InvalidOperation,
                "api_versions.has() takes exactly one group/version string",
            )),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// `template`: the chart-relative name of the file being rendered and its directory.
pub(crate) fn template_value(name: &str) -> Value {
    let base_path = name.rsplit_once('/').map_or("", |(dir, _)| dir);
    Value::from(BTreeMap::from([
        ("name", Value::from(name)),
        ("base_path", Value::from(base_path)),
    ]))
}

/// `files`: read-only access to the chart's own non-template files, like Helm's `.Files`.
///
/// It is a mapping from chart-relative path to text, so it can be iterated, plus methods:
/// `get(path)`/`as_text(path)`, `as_bytes(path)`, `exists(path)`, `lines(path)`, `glob(pattern)`
/// (another `files` holding the matches), `as_config()` and `as_secrets()`. As in Helm, reading a
/// file that is not there gives an empty result (`""`, no bytes, no lines); `exists(path)` tells the
/// two apart, and `required` turns an empty file into an error where one is mandatory.
///
/// One `files` is made per chart for a whole render and shared by its templates. Each file is
/// turned into a template value once, on first use, and every later read hands out that same
/// value: reading a large file in a loop costs no new memory, and what a template builds from it
/// is charged as usual.
#[derive(Debug, Clone)]
pub(crate) struct Files {
    files: Arc<Vec<ChartFile>>,
    /// The text of each file of `files` once read (invalid UTF-8 replaced), same indexes.
    texts: Arc<Vec<OnceLock<Value>>>,
    /// The bytes of each file of `files` once read, same indexes.
    bytes: Arc<Vec<OnceLock<Value>>>,
    /// Indexes into `files` visible through this view (all of them, or a glob's matches).
    selected: Vec<usize>,
}

impl Files {
    pub(crate) fn new(chart: &Chart) -> Files {
        let count = chart.files.len();
        Files {
            selected: (0..count).collect(),
            files: Arc::new(chart.files.clone()),
            texts: Arc::new((0..count).map(|_| OnceLock::new()).collect()),
            bytes: Arc::new((0..count).map(|_| OnceLock::new()).collect()),
        }
    }

    fn find(&self, path: &str) -> Option<usize> {
        self.selected
            .iter()
            .copied()
            .find(|&i| self.files[i].path == path)
    }

    /// The file's text as a template value, made on first use.
    fn text_value(&self, index: usize) -> Value {
        self.texts[index]
            .get_or_init(|| {
                Value::from(String::from_utf8_lossy(&self.files[index].data).into_owned())
            })
            .clone()
    }

    /// The file's bytes as a template value, made on first use.
    fn bytes_value(&self, index: usize) -> Value {
        self.bytes[index]
            .get_or_init(|| Value::from_bytes(self.files[index].data.clone()))
            .clone()
    }

    /// The file's text, refusing files that are not UTF-8 (`files[path]` shows them lossily).
    fn strict_text(&self, index: usize) -> Result<Value, Error> {
        let file = &self.files[index];
        if std::str::from_utf8(&file.data).is_err() {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "file `{}` is not UTF-8 text; use `files.as_bytes(path) | b64encode` for binary files",
                    file.path
                ),
            ));
        }
        Ok(self.text_value(index))
    }

    fn selected_files(&self) -> impl Iterator<Item = (usize, &ChartFile)> {
        self.selected.iter().map(|&i| (i, &self.files[i]))
    }

    /// `{base name: text}` for every selected file, as YAML (Helm's `AsConfig`).
    fn as_config(&self, state: &State) -> Result<Value, Error> {
        let mut entries = Vec::new();
        for (index, file) in self.selected_files() {
            entries.push((base_name(&file.path), self.strict_text(index)?));
        }
        super::functions::yaml_text(state, &OrderedMap(entries))
    }

    /// `{base name: base64 of bytes}` for every selected file, as YAML (Helm's `AsSecrets`).
    fn as_secrets(&self, state: &State) -> Result<Value, Error> {
        let encoded_size: u64 = self
            .selected_files()
            .map(|(_, file)| (file.data.len() as u64).div_ceil(3) * 4)
            .sum();
        super::charge::ensure_room(state, encoded_size)?;
        let mut map = serde_json::Map::new();
        for (_, file) in self.selected_files() {
            let encoded = base64::engine::general_purpose::STANDARD.encode(&file.data);
            map.insert(base_name(&file.path).to_string(), encoded.into());
        }
        super::functions::yaml_text(state, &serde_json::Value::Object(map))
    }

    /// The lines of a file as a list of strings: a new list each time, so checked and charged.
    fn lines(&self, state: &State, index: usize) -> Result<Value, Error> {
        let text = self.strict_text(index)?;
        let text = text.as_str().unwrap_or_default();
        let lines = text.lines().count() as u64;
        let size = text.len() as u64 + lines * super::charge::NODE_BYTES;
        super::charge::ensure_room(state, size)?;
        super::charge::charge_bytes(state, text.len() as u64)?;
        Ok(Value::from_iter(text.lines().map(Value::from)))
    }
}

/// Entries serialized as a map in their own order, a later entry replacing an earlier one's
/// value under the same key (as two files with one base name do in Helm).
struct OrderedMap<'a>(Vec<(&'a str, Value)>);

impl serde::Serialize for OrderedMap<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut last: BTreeMap<&str, &Value> = BTreeMap::new();
        let mut order: Vec<&str> = Vec::new();
        for (key, value) in &self.0 {
            if last.insert(key, value).is_none() {
                order.push(key);
            }
        }
        let mut map = serializer.serialize_map(Some(order.len()))?;
        for key in order {
            map.serialize_entry(key, last[key])?;
        }
        map.end()
    }
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

fn one_string_arg<'a>(method: &str, args: &'a [Value]) -> Result<&'a str, Error> {
    match args {
        [arg] => arg.as_str().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("files.{method}() takes a path string"),
            )
        }),
        _ => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("files.{method}() takes exactly one argument"),
        )),
    }
}

impl Object for Files {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let index = self.find(key.as_str()?)?;
        Some(self.text_value(index))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(
            self.selected_files()
                .map(|(_, f)| Value::from(f.path.as_str()))
                .collect(),
        )
    }

    fn call_method(
        self: &Arc<Self>,
        state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            // Helm's `.Files.Get`, `.GetBytes` and `.Lines` give an empty result for a missing file.
            "get" | "as_text" => match self.find(one_string_arg(method, args)?) {
                Some(index) => self.strict_text(index),
                None => Ok(Value::from("")),
            },
            "as_bytes" => match self.find(one_string_arg(method, args)?) {
                Some(index) => Ok(self.bytes_value(index)),
                None => Ok(Value::from_bytes(Vec::new())),
            },
            "exists" => Ok(Value::from(
                self.find(one_string_arg(method, args)?).is_some(),
            )),
            "lines" => match self.find(one_string_arg(method, args)?) {
                Some(index) => self.lines(state, index),
                None => Ok(Value::from_iter(std::iter::empty::<Value>())),
            },
            "glob" => {
                let pattern = one_string_arg(method, args)?;
                // Matching costs the product of the pattern and path lengths, per file.
                let work: u64 = self
                    .selected_files()
                    .map(|(_, f)| (pattern.len() as u64 + 1) * (f.path.len() as u64 + 1))
                    .sum();
                super::charge::charge_bytes(state, work)?;
                let selected = self
                    .selected
                    .iter()
                    .copied()
                    .filter(|&i| glob_matches(pattern, &self.files[i].path))
                    .collect();
                Ok(Value::from_object(Files {
                    selected,
                    ..Files::clone(self)
                }))
            }
            "as_config" => self.as_config(state),
            "as_secrets" => self.as_secrets(state),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// Matches a chart-relative path against a glob: `*` and `?` stay within one path segment, `**`
/// spans segments, everything else matches itself.
pub(crate) fn glob_matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let path: Vec<char> = path.chars().collect();
    // Dynamic programming over (pattern position, path position) keeps this linear in the product
    // of the lengths, whatever the pattern; a backtracking matcher could be made exponential.
    let mut reachable = vec![vec![false; path.len() + 1]; pattern.len() + 1];
    reachable[0][0] = true;
    let mut p = 0;
    while p < pattern.len() {
        let double_star = pattern[p] == '*' && pattern.get(p + 1) == Some(&'*');
        let width = if double_star { 2 } else { 1 };
        for s in 0..=path.len() {
            if !reachable[p][s] {
                continue;
            }
            match pattern[p] {
                '*' => {
                    let mut t = s;
                    reachable[p + width][t] = true;
                    while t < path.len() && (double_star || path[t] != '/') {
                        t += 1;
                        reachable[p + width][t] = true;
                    }
                }
                '?' if s < path.len() && path[s] != '/' => reachable[p + 1][s + 1] = true,
                literal if s < path.len() && path[s] == literal => reachable[p + 1][s + 1] = true,
                _ => {}
            }
        }
        p += width;
    }
    reachable[pattern.len()][path.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_stars_stay_within_segments_unless_doubled() {
        assert!(glob_matches("files/*.conf", "files/a.conf"));
        assert!(!glob_matches("files/*.conf", "files/sub/a.conf"));
        assert!(glob_matches("files/**.conf", "files/sub/a.conf"));
        assert!(glob_matches("files/**/*.conf", "files/sub/a.conf"));
        assert!(glob_matches("files/?.txt", "files/x.txt"));
        assert!(!glob_matches("files/?.txt", "files/xy.txt"));
        assert!(!glob_matches("*", "a/b"));
    }

    #[test]
    fn parses_kube_versions() {
        assert_eq!(
            parse_kube_version("v1.36.3").unwrap(),
            ("1".to_string(), "36".to_string())
        );
        assert_eq!(parse_kube_version("1.30").unwrap().1, "30");
        assert!(parse_kube_version("banana").is_err());
    }
}
