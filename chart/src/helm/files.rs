//! `.Files`: the chart's files that are neither templates nor metadata, as Helm's `engine.files`
//! (a `map[string][]byte` with `Get`, `GetBytes`, `Glob`, `Lines`, `AsConfig` and `AsSecrets`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use capstan_gotemplate::{CallContext, FuncError, Kind, Object, Signature, Type, Value};

use super::glob::Glob;
use crate::model::Chart;

/// The files of one chart, shared by every template of it.
#[derive(Debug, Clone)]
pub(crate) struct FilesObject {
    files: Arc<BTreeMap<String, Arc<[u8]>>>,
}

/// Files Helm's loader keeps out of `.Files`: they become the chart's values, schema and lock.
const NOT_IN_FILES: &[&str] = &[
    "values.yaml",
    "values.schema.json",
    "Chart.lock",
    "requirements.lock",
];

impl FilesObject {
    /// The files Helm's loader puts in `chart.Files`: everything but `Chart.yaml`, the values,
    /// schema and lock files, templates and subcharts (CRDs and `charts/*.prov` stay; a v2 chart's
    /// `requirements.yaml` goes).
    pub(crate) fn of_chart(chart: &Chart) -> FilesObject {
        let is_v1 = chart.metadata.api_version == "v1";
        let files = chart
            .files
            .iter()
            .filter(|file| !NOT_IN_FILES.contains(&file.path.as_str()))
            .filter(|file| is_v1 || file.path != "requirements.yaml")
            .chain(&chart.crds)
            .map(|file| (file.path.clone(), Arc::from(file.data.as_slice())))
            .collect();
        FilesObject {
            files: Arc::new(files),
        }
    }

    fn get_bytes(&self, name: &str) -> Arc<[u8]> {
        self.files
            .get(name)
            .cloned()
            .unwrap_or_else(|| Arc::from(&[][..]))
    }

    fn glob(&self, ctx: &mut CallContext<'_, '_>, pattern: &str) -> Result<Value, FuncError> {
        let glob = Glob::compile(pattern).map_err(|_| {
            FuncError::new(format!(
                "glob pattern {pattern:?} has more than {} alternatives",
                super::glob::MAX_ALTERNATIVES
            ))
        })?;
        ctx.charge(self.files.keys().map(|name| name.len() as u64).sum())?;
        let matched = self
            .files
            .iter()
            .filter(|(name, _)| glob.matches(name))
            .map(|(name, data)| (name.clone(), data.clone()))
            .collect();
        Ok(Value::object(FilesObject {
            files: Arc::new(matched),
        }))
    }

    /// Each file's base name to its text (or base64), as YAML: what `AsConfig` and `AsSecrets`
    /// return. A base name that repeats keeps one of the files, as in Helm.
    fn as_yaml(
        &self,
        ctx: &mut CallContext<'_, '_>,
        encode: impl Fn(&[u8]) -> String,
    ) -> Result<Value, FuncError> {
        let size: usize = self.files.values().map(|data| data.len() * 4 / 3 + 4).sum();
        ctx.charge_bytes(size)?;
        let entries: BTreeMap<String, Value> = self
            .files
            .iter()
            .map(|(name, data)| {
                let base = name.rsplit('/').next().unwrap_or(name).to_string();
                (base, Value::string(encode(data)))
            })
            .collect();
        let yaml = super::functions::to_yaml(ctx, &Value::typed_map(entries, Type::String))?;
        Ok(Value::string(yaml))
    }

    fn lines(&self, name: &str) -> Value {
        let Some(data) = self.files.get(name).filter(|data| !data.is_empty()) else {
            return Value::string_list(Vec::<String>::new());
        };
        let text = String::from_utf8_lossy(data);
        let text = text.strip_suffix('\n').unwrap_or(&text);
        Value::string_list(text.split('\n').map(str::to_string))
    }
}

impl Object for FilesObject {
    fn type_name(&self) -> Cow<'_, str> {
        Cow::Borrowed("engine.files")
    }

    fn kind(&self) -> Kind {
        Kind::Map
    }

    fn underlying(&self) -> Option<Value> {
        let entries = self
            .files
            .iter()
            .map(|(name, data)| (name.clone(), Value::Bytes(data.clone())))
            .collect();
        Some(Value::typed_map(entries, Type::bytes()))
    }

    fn method(&self, name: &str) -> Option<Signature> {
        match name {
            "Get" | "GetBytes" | "Glob" | "Lines" => Some(Signature::new([Type::String])),
            "AsConfig" | "AsSecrets" => Some(Signature::new([])),
            _ => None,
        }
    }

    fn call_method(
        &self,
        name: &str,
        ctx: &mut CallContext<'_, '_>,
        args: &[Value],
    ) -> Result<Value, FuncError> {
        let arg = args.first().and_then(Value::as_str).unwrap_or_default();
        match name {
            "Get" => {
                let data = self.get_bytes(arg);
                ctx.charge_bytes(data.len())?;
                Ok(Value::string(String::from_utf8_lossy(&data)))
            }
            "GetBytes" => Ok(Value::Bytes(self.get_bytes(arg))),
            "Glob" => self.glob(ctx, arg),
            "Lines" => {
                ctx.charge_bytes(self.files.get(arg).map_or(0, |data| data.len()))?;
                Ok(self.lines(arg))
            }
            "AsConfig" => self.as_yaml(ctx, |data| String::from_utf8_lossy(data).into_owned()),
            "AsSecrets" => self.as_yaml(ctx, |data| {
                base64::engine::general_purpose::STANDARD.encode(data)
            }),
            _ => Err(FuncError::new(format!("engine.files has no method {name}"))),
        }
    }
}
