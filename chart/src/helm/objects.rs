//! The Go values Helm puts at the top of every template: `.Values` (a `chartutil.Values`),
//! `.Chart` (the chart's metadata with `IsRoot`), `.Capabilities` (a `*chartutil.Capabilities`),
//! `.Release` and `.Template`.
//!
//! Each is modelled with the Go type Helm uses, because templates can tell: methods
//! (`.Capabilities.APIVersions.Has`, `.Values.AsMap`), how the value prints (`{{ .Capabilities
//! .KubeVersion }}` prints the version through its `String` method), and what `typeOf` says.

use std::borrow::Cow;
use std::collections::BTreeMap;

use capstan_gotemplate::{CallContext, FuncError, Kind, Object, Signature, Type, Value};

use crate::model::{ChartMetadata, Dependency, Maintainer};

/// Helm's `chartutil.Values`: a `map[string]interface{}` with methods. `.Values` of every chart
/// and `.Template` are of this type; the maps inside them are plain maps.
#[derive(Debug)]
pub(crate) struct ValuesObject {
    /// Always a [`Value::Map`]; shared with whoever else holds it, as Go maps are.
    map: Value,
}

impl ValuesObject {
    /// Wraps a map value (anything else becomes an empty map, as Helm's `Table` gives).
    pub(crate) fn new(map: Value) -> ValuesObject {
        let map = match map {
            Value::Map(_) => map,
            _ => Value::map(BTreeMap::new()),
        };
        ValuesObject { map }
    }

    /// A `chartutil.Values` holding these entries.
    pub(crate) fn value(entries: BTreeMap<String, Value>) -> Value {
        Value::object(ValuesObject::new(Value::map(entries)))
    }

    /// Helm's `Values.Table`: the table at a dotted path, or the `no table named` error.
    fn table(&self, path: &str) -> Result<Value, FuncError> {
        let mut current = self.map.clone();
        for part in path.split('.') {
            let next = current
                .as_map()
                .and_then(|map| map.get(part))
                .filter(|value| matches!(value, Value::Map(_)));
            current = next.ok_or_else(|| FuncError::new(format!("no table named {part:?}")))?;
        }
        Ok(Value::object(ValuesObject::new(current)))
    }

    /// Helm's `Values.PathValue`: the non-table value at a dotted path.
    fn path_value(&self, path: &str) -> Result<Value, FuncError> {
        if path.is_empty() {
            return Err(FuncError::new("YAML path cannot be empty"));
        }
        let (parents, last) = match path.rsplit_once('.') {
            Some((parents, last)) => (Some(parents), last),
            None => (None, path),
        };
        let table = match parents {
            Some(parents) => self.table(parents).map_err(|_| no_value(path))?,
            None => Value::object(ValuesObject::new(self.map.clone())),
        };
        table
            .as_map()
            .and_then(|map| map.get(last))
            .filter(|value| !matches!(value, Value::Map(_)))
            .ok_or_else(|| no_value(last))
    }
}

fn no_value(key: &str) -> FuncError {
    FuncError::new(format!("{key:?} is not a value"))
}

impl Object for ValuesObject {
    fn type_name(&self) -> Cow<'_, str> {
        Cow::Borrowed("chartutil.Values")
    }

    fn kind(&self) -> Kind {
        Kind::Map
    }

    fn underlying(&self) -> Option<Value> {
        Some(self.map.clone())
    }

    fn method(&self, name: &str) -> Option<Signature> {
        match name {
            "AsMap" | "YAML" => Some(Signature::new([])),
            "Table" | "PathValue" => Some(Signature::new([Type::String])),
            _ => None,
        }
    }

    fn call_method(
        &self,
        name: &str,
        ctx: &mut CallContext<'_, '_>,
        args: &[Value],
    ) -> Result<Value, FuncError> {
        let text = args.first().and_then(Value::as_str).unwrap_or_default();
        match name {
            "AsMap" => Ok(self.map.clone()),
            // `yaml.Marshal` itself: `toYaml` without its trimming of the final newline.
            "YAML" => {
                let yaml = super::functions::to_yaml(ctx, &self.map)?;
                Ok(Value::string(format!("{yaml}\n")))
            }
            "Table" => self.table(text),
            "PathValue" => self.path_value(text),
            _ => Err(FuncError::new(format!(
                "chartutil.Values has no method {name}"
            ))),
        }
    }
}

/// `.Chart`: Helm passes `struct { chart.Metadata; IsRoot bool }`, so the metadata's fields are
/// reachable directly (`.Chart.Name`) and through `.Chart.Metadata`.
#[derive(Debug)]
pub(crate) struct ChartObject {
    metadata: MetadataObject,
    is_root: bool,
}

impl ChartObject {
    pub(crate) fn new(metadata: &ChartMetadata, is_root: bool) -> ChartObject {
        ChartObject {
            metadata: MetadataObject::new(metadata),
            is_root,
        }
    }
}

impl Object for ChartObject {
    fn type_name(&self) -> Cow<'_, str> {
        Cow::Borrowed("struct { chart.Metadata; IsRoot bool }")
    }

    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "IsRoot" => Some(Value::Bool(self.is_root)),
            "Metadata" => Some(Value::object(self.metadata.clone())),
            other => self.metadata.field(other),
        }
    }

    fn print_fields(&self) -> Vec<(Cow<'_, str>, Value)> {
        vec![
            (
                Cow::Borrowed("Metadata"),
                Value::object(self.metadata.clone()),
            ),
            (Cow::Borrowed("IsRoot"), Value::Bool(self.is_root)),
        ]
    }
}

/// Helm's `chart.Metadata`, field for field in declaration order. Missing `Chart.yaml` keys are
/// Go's zero values.
#[derive(Debug, Clone)]
pub(crate) struct MetadataObject {
    fields: Vec<(&'static str, Value)>,
}

impl MetadataObject {
    fn new(meta: &ChartMetadata) -> MetadataObject {
        let text = |value: &Option<String>| Value::string(value.clone().unwrap_or_default());
        let maintainers = meta
            .maintainers
            .iter()
            .map(|m| Value::object(PointerStruct::maintainer(m)))
            .collect();
        let dependencies = meta
            .dependencies
            .iter()
            .map(|d| Value::object(PointerStruct::dependency(d)))
            .collect();
        let annotations = meta
            .annotations
            .iter()
            .map(|(k, v)| (k.clone(), Value::string(v.as_str())))
            .collect();
        let fields = vec![
            ("Name", Value::string(meta.name.as_str())),
            ("Home", text(&meta.home)),
            ("Sources", Value::string_list(meta.sources.iter().cloned())),
            ("Version", Value::string(meta.version.as_str())),
            ("Description", text(&meta.description)),
            (
                "Keywords",
                Value::string_list(meta.keywords.iter().cloned()),
            ),
            (
                "Maintainers",
                Value::typed_list(maintainers, Type::Named("*chart.Maintainer".into())),
            ),
            ("Icon", text(&meta.icon)),
            ("APIVersion", Value::string(meta.api_version.as_str())),
            ("Condition", Value::string("")),
            ("Tags", Value::string("")),
            ("AppVersion", text(&meta.app_version)),
            ("Deprecated", Value::Bool(meta.deprecated)),
            ("Annotations", Value::typed_map(annotations, Type::String)),
            ("KubeVersion", text(&meta.kube_version)),
            (
                "Dependencies",
                Value::typed_list(dependencies, Type::Named("*chart.Dependency".into())),
            ),
            ("Type", text(&meta.chart_type)),
        ];
        MetadataObject { fields }
    }
}

impl Object for MetadataObject {
    fn type_name(&self) -> Cow<'_, str> {
        Cow::Borrowed("chart.Metadata")
    }

    fn field(&self, name: &str) -> Option<Value> {
        field_of(&self.fields, name)
    }

    fn print_fields(&self) -> Vec<(Cow<'_, str>, Value)> {
        print_fields_of(&self.fields)
    }
}

/// A pointer to a plain Go struct with only fields: `*chart.Maintainer`, `*chart.Dependency`.
#[derive(Debug)]
pub(crate) struct PointerStruct {
    type_name: &'static str,
    fields: Vec<(&'static str, Value)>,
}

impl PointerStruct {
    fn maintainer(maintainer: &Maintainer) -> PointerStruct {
        let text = |value: &Option<String>| Value::string(value.clone().unwrap_or_default());
        PointerStruct {
            type_name: "*chart.Maintainer",
            fields: vec![
                ("Name", Value::string(maintainer.name.as_str())),
                ("Email", text(&maintainer.email)),
                ("URL", text(&maintainer.url)),
            ],
        }
    }

    fn dependency(dependency: &Dependency) -> PointerStruct {
        let text = |value: &Option<String>| Value::string(value.clone().unwrap_or_default());
        PointerStruct {
            type_name: "*chart.Dependency",
            fields: vec![
                ("Name", Value::string(dependency.name.as_str())),
                ("Version", text(&dependency.version)),
                ("Repository", text(&dependency.repository)),
                ("Condition", text(&dependency.condition)),
                ("Tags", Value::string_list(dependency.tags.iter().cloned())),
                ("Enabled", Value::Bool(dependency.enabled.unwrap_or(false))),
                (
                    "ImportValues",
                    Value::list(
                        dependency
                            .import_values
                            .iter()
                            .map(Value::from_json)
                            .collect(),
                    ),
                ),
                ("Alias", text(&dependency.alias)),
            ],
        }
    }
}

impl Object for PointerStruct {
    fn type_name(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.type_name)
    }

    fn kind(&self) -> Kind {
        Kind::Ptr
    }

    fn field(&self, name: &str) -> Option<Value> {
        field_of(&self.fields, name)
    }

    fn print_fields(&self) -> Vec<(Cow<'_, str>, Value)> {
        print_fields_of(&self.fields)
    }
}

fn field_of(fields: &[(&'static str, Value)], name: &str) -> Option<Value> {
    fields
        .iter()
        .find(|(field, _)| *field == name)
        .map(|(_, value)| value.clone())
}

fn print_fields_of(fields: &[(&'static str, Value)]) -> Vec<(Cow<'static, str>, Value)> {
    fields
        .iter()
        .map(|(name, value)| (Cow::Borrowed(*name), value.clone()))
        .collect()
}

/// `.Capabilities`: Helm's `*chartutil.Capabilities`.
#[derive(Debug)]
pub(crate) struct CapabilitiesObject {
    kube_version: KubeVersionObject,
    api_versions: Vec<String>,
    helm_version: BuildInfo,
}

impl CapabilitiesObject {
    pub(crate) fn new(kube_version: KubeVersionObject, api_versions: Vec<String>) -> Self {
        CapabilitiesObject {
            kube_version,
            api_versions,
            helm_version: BuildInfo,
        }
    }

    fn api_versions_value(&self) -> Value {
        Value::object(VersionSet(self.api_versions.clone()))
    }
}

impl Object for CapabilitiesObject {
    fn type_name(&self) -> Cow<'_, str> {
        Cow::Borrowed("*chartutil.Capabilities")
    }

    fn kind(&self) -> Kind {
        Kind::Ptr
    }

    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "KubeVersion" => Some(Value::object(self.kube_version.clone())),
            "APIVersions" => Some(self.api_versions_value()),
            "HelmVersion" => Some(Value::object(self.helm_version)),
            _ => None,
        }
    }

    fn print_fields(&self) -> Vec<(Cow<'_, str>, Value)> {
        vec![
            (
                Cow::Borrowed("KubeVersion"),
                Value::object(self.kube_version.clone()),
            ),
            (Cow::Borrowed("APIVersions"), self.api_versions_value()),
            (
                Cow::Borrowed("HelmVersion"),
                Value::object(self.helm_version),
            ),
        ]
    }
}

/// Helm's `chartutil.KubeVersion`: `Version` (`v1.36.0`), `Major` and `Minor`, with `String` and
/// `GitVersion` methods on the pointer.
#[derive(Debug, Clone)]
pub(crate) struct KubeVersionObject {
    pub(crate) version: String,
    pub(crate) major: String,
    pub(crate) minor: String,
}

impl Object for KubeVersionObject {
    fn type_name(&self) -> Cow<'_, str> {
        Cow::Borrowed("chartutil.KubeVersion")
    }

    fn field(&self, name: &str) -> Option<Value> {
        match name {
            "Version" => Some(Value::string(self.version.as_str())),
            "Major" => Some(Value::string(self.major.as_str())),
            "Minor" => Some(Value::string(self.minor.as_str())),
            _ => None,
        }
    }

    fn method(&self, name: &str) -> Option<Signature> {
        matches!(name, "String" | "GitVersion").then(|| Signature::new([]))
    }

    fn call_method(
        &self,
        _name: &str,
        _ctx: &mut CallContext<'_, '_>,
        _args: &[Value],
    ) -> Result<Value, FuncError> {
        Ok(Value::string(self.version.as_str()))
    }

    fn stringer(&self) -> Option<String> {
        Some(self.version.clone())
    }

    fn stringer_needs_pointer(&self) -> bool {
        true
    }

    fn print_fields(&self) -> Vec<(Cow<'_, str>, Value)> {
        vec![
            (
                Cow::Borrowed("Version"),
                Value::string(self.version.as_str()),
            ),
            (Cow::Borrowed("Major"), Value::string(self.major.as_str())),
            (Cow::Borrowed("Minor"), Value::string(self.minor.as_str())),
        ]
    }
}

/// Helm's `chartutil.VersionSet`: a `[]string` of API versions with `Has`.
#[derive(Debug)]
pub(crate) struct VersionSet(Vec<String>);

impl Object for VersionSet {
    fn type_name(&self) -> Cow<'_, str> {
        Cow::Borrowed("chartutil.VersionSet")
    }

    fn kind(&self) -> Kind {
        Kind::Slice
    }

    fn underlying(&self) -> Option<Value> {
        Some(Value::string_list(self.0.iter().map(String::as_str)))
    }

    fn method(&self, name: &str) -> Option<Signature> {
        (name == "Has").then(|| Signature::new([Type::String]))
    }

    fn call_method(
        &self,
        _name: &str,
        _ctx: &mut CallContext<'_, '_>,
        args: &[Value],
    ) -> Result<Value, FuncError> {
        let wanted = args.first().and_then(Value::as_str).unwrap_or_default();
        Ok(Value::Bool(self.0.iter().any(|version| version == wanted)))
    }
}

/// Helm's `version.BuildInfo`, as `.Capabilities.HelmVersion`: the Helm release whose behaviour
/// Capstan reproduces. There is no Go build behind it, so the commit, tree state and Go version
/// are empty.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BuildInfo;

/// The Helm release whose `helm template` output Go-template charts reproduce.
pub const HELM_VERSION: &str = "v3.22.0";

impl Object for BuildInfo {
    fn type_name(&self) -> Cow<'_, str> {
        Cow::Borrowed("version.BuildInfo")
    }

    fn field(&self, name: &str) -> Option<Value> {
        self.print_fields()
            .into_iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value)
    }

    fn print_fields(&self) -> Vec<(Cow<'_, str>, Value)> {
        vec![
            (Cow::Borrowed("Version"), Value::string(HELM_VERSION)),
            (Cow::Borrowed("GitCommit"), Value::string("")),
            (Cow::Borrowed("GitTreeState"), Value::string("")),
            (Cow::Borrowed("GoVersion"), Value::string("")),
        ]
    }
}

/// `.Release`: a plain `map[string]interface{}` in Helm.
pub(crate) fn release_value(opts: &crate::render::RenderOptions) -> Value {
    let is_upgrade = !opts.is_install;
    let entries = BTreeMap::from([
        (
            "Name".to_string(),
            Value::string(opts.release_name.as_str()),
        ),
        (
            "Namespace".to_string(),
            Value::string(opts.namespace.as_str()),
        ),
        ("IsUpgrade".to_string(), Value::Bool(is_upgrade)),
        ("IsInstall".to_string(), Value::Bool(!is_upgrade)),
        (
            "Revision".to_string(),
            Value::int(i64::try_from(opts.revision).unwrap_or(i64::MAX)),
        ),
        ("Service".to_string(), Value::string("Helm")),
    ]);
    Value::map(entries)
}
