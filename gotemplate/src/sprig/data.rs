//! Serialisation functions: Sprig's JSON family (`toPrettyJson`, `toRawJson`, `mustToJson`,
//! `mustFromJson`...) and Helm's replacements and additions (`toJson`, `fromJson`,
//! `fromJsonArray`, `toYaml`, `toYamlPretty`, `fromYaml`, `fromYamlArray`).
//!
//! Helm's functions never fail: a value that cannot be encoded gives `""`, and a document that
//! cannot be decoded gives a map whose `Error` key holds the message (or a one-element list of
//! it). The `must` variants from Sprig return the error instead.

use super::json::{self, Style};
use super::types::{any, string};
use super::{Outcome, arg, define, str_arg, string_result};
use crate::funcs::{CallContext, FuncError, Funcs, Signature};
use crate::value::Value;
use std::collections::BTreeMap;

const PRETTY: Style = Style {
    escape_html: true,
    indent: Some("  "),
};
const RAW: Style = Style {
    escape_html: false,
    indent: None,
};

/// Sprig's JSON functions (its `fromJson` decodes any document and gives nil on error).
pub(super) fn register_sprig(funcs: &mut Funcs) {
    register_json_encoding(funcs);
    // Sprig: func(v string) interface{}
    define(
        funcs,
        &["fromJson"],
        Signature::new([string()]),
        |ctx, args| {
            let text = str_arg(args, 0);
            charge_json_decode(ctx, text)?;
            Ok(json::decode(text).unwrap_or_default())
        },
    );
    // Sprig: func(v string) (interface{}, error)
    define(
        funcs,
        &["mustFromJson"],
        Signature::new([string()]),
        |ctx, args| {
            let text = str_arg(args, 0);
            charge_json_decode(ctx, text)?;
            json::decode(text).map_err(FuncError::new)
        },
    );
}

/// Helm's JSON and YAML functions, replacing Sprig's `fromJson`.
pub(super) fn register_helm(funcs: &mut Funcs) {
    register_json_decoding(funcs);
    register_yaml(funcs);
}

/// Encodes `value` as JSON for a function that returns `""` on failure (`swallow`) or fails.
fn json_result(
    ctx: &mut CallContext<'_, '_>,
    value: &Value,
    style: Style,
    swallow: bool,
) -> Outcome {
    ctx.charge_bytes(super::encoded_size(value, 0))?;
    match json::encode(value, style) {
        Ok(text) => string_result(ctx, text),
        Err(_) if swallow => Ok(Value::string("")),
        Err(message) => Err(FuncError::new(message)),
    }
}

fn register_json_encoding(funcs: &mut Funcs) {
    let encoders: [(&str, Style, bool); 6] = [
        ("toJson", Style::MARSHAL, true),
        ("mustToJson", Style::MARSHAL, false),
        ("toPrettyJson", PRETTY, true),
        ("mustToPrettyJson", PRETTY, false),
        // Sprig's toRawJson panics on failure, which a template reports as an error.
        ("toRawJson", RAW, false),
        ("mustToRawJson", RAW, false),
    ];
    for (name, style, swallow) in encoders {
        define(funcs, &[name], Signature::new([any()]), move |ctx, args| {
            json_result(ctx, &arg(args, 0), style, swallow)
        });
    }
}

/// Helm's "decode into a map or report in it" result.
fn error_map(message: String) -> Value {
    let mut entries = BTreeMap::new();
    entries.insert("Error".to_string(), Value::string(message));
    Value::map(entries)
}

fn register_json_decoding(funcs: &mut Funcs) {
    // Helm: func(str string) map[string]interface{}
    define(
        funcs,
        &["fromJson"],
        Signature::new([string()]),
        |ctx, args| {
            let text = str_arg(args, 0);
            charge_json_decode(ctx, text)?;
            Ok(match json::decode(text) {
                Ok(Value::Map(map)) => Value::Map(map),
                // A JSON null leaves Go's map empty.
                Ok(Value::Nil) => Value::map(BTreeMap::new()),
                Ok(other) => error_map(json::type_mismatch(&other, "map[string]interface {}")),
                Err(message) => error_map(message),
            })
        },
    );
    // Helm: func(str string) []interface{}
    define(
        funcs,
        &["fromJsonArray"],
        Signature::new([string()]),
        |ctx, args| {
            let text = str_arg(args, 0);
            charge_json_decode(ctx, text)?;
            Ok(match json::decode(text) {
                Ok(Value::List(list)) => Value::List(list),
                Ok(Value::Nil) => Value::list(Vec::new()),
                Ok(other) => Value::list(vec![Value::string(json::type_mismatch(
                    &other,
                    "[]interface {}",
                ))]),
                Err(message) => Value::list(vec![Value::string(message)]),
            })
        },
    );
    // Sprig: func(v string) (interface{}, error)
    define(
        funcs,
        &["mustFromJson"],
        Signature::new([string()]),
        |ctx, args| {
            let text = str_arg(args, 0);
            charge_json_decode(ctx, text)?;
            json::decode(text).map_err(FuncError::new)
        },
    );
}

fn register_yaml(funcs: &mut Funcs) {
    define(funcs, &["toYaml"], Signature::new([any()]), |ctx, args| {
        ctx.charge_bytes(super::encoded_size(&arg(args, 0), 0))?;
        let Some(json) = json_shape(&arg(args, 0)) else {
            return Ok(Value::string(""));
        };
        let text = crate::goyaml::to_yaml_document(&json);
        string_result(ctx, text.strip_suffix('\n').unwrap_or(&text).to_string())
    });
    define(
        funcs,
        &["toYamlPretty"],
        Signature::new([any()]),
        |ctx, args| {
            ctx.charge_bytes(super::encoded_size(&arg(args, 0), 0))?;
            let Ok(json) = typed_json(&arg(args, 0), 0) else {
                return Ok(Value::string(""));
            };
            let text = crate::goyaml::to_yaml_document_v3(&json);
            string_result(ctx, text.strip_suffix('\n').unwrap_or(&text).to_string())
        },
    );
    define(
        funcs,
        &["fromYaml"],
        Signature::new([string()]),
        |ctx, args| {
            let text = str_arg(args, 0);
            ctx.charge_bytes(text.len())?;
            Ok(match yaml_to_value(ctx, text)? {
                Ok(Value::Map(map)) => Value::Map(map),
                Ok(Value::Nil) => Value::map(BTreeMap::new()),
                Ok(other) => error_map(unmarshal_error(&other, "map[string]interface {}")),
                Err(message) => error_map(message),
            })
        },
    );
    define(
        funcs,
        &["fromYamlArray"],
        Signature::new([string()]),
        |ctx, args| {
            let text = str_arg(args, 0);
            ctx.charge_bytes(text.len())?;
            Ok(match yaml_to_value(ctx, text)? {
                Ok(Value::List(list)) => Value::List(list),
                Ok(Value::Nil) => Value::list(Vec::new()),
                Ok(other) => Value::list(vec![Value::string(unmarshal_error(
                    &other,
                    "[]interface {}",
                ))]),
                Err(message) => Value::list(vec![Value::string(message)]),
            })
        },
    );
}

/// `sigs.k8s.io/yaml`'s wording for a document of the wrong shape.
fn unmarshal_error(value: &Value, go_type: &str) -> String {
    format!(
        "error unmarshaling JSON: while decoding JSON: {}",
        json::type_mismatch(value, go_type)
    )
}

/// The value as `sigs.k8s.io/yaml` sees it before writing YAML: encoded to JSON by Go's rules
/// and read back (so numbers become what their JSON text reads as). `None` where Go's encoding
/// fails (Helm's `toYaml` then gives `""`).
fn json_shape(value: &Value) -> Option<serde_json::Value> {
    let text = json::encode(value, Style::MARSHAL).ok()?;
    serde_json::from_str(&text).ok()
}

/// The value as go-yaml v3 sees a Go value directly: integers stay integers and floats stay
/// floats (`1e+06`), with maps and lists walked and objects through their JSON form.
fn typed_json(value: &Value, depth: usize) -> Result<serde_json::Value, FuncError> {
    super::check_depth(depth)?;
    use serde_json::Value as Json;
    Ok(match value {
        Value::Nil => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(n, _) => Json::from(*n),
        Value::Uint(n, _) => Json::from(*n),
        Value::Float(f, _) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .ok_or_else(|| FuncError::new("unsupported float"))?,
        Value::String(s) => Json::String(s.to_string()),
        Value::List(list) => Json::Array(
            list.items
                .iter()
                .map(|item| typed_json(item, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(map) => {
            let mut entries = serde_json::Map::new();
            for (key, item) in map.snapshot() {
                entries.insert(key, typed_json(&item, depth + 1)?);
            }
            Json::Object(entries)
        }
        other => json_shape(other).ok_or_else(|| FuncError::new("unencodable value"))?,
    })
}

/// Fuel per byte of JSON text decoded. A decoded value holds far more memory than its text (a
/// value of tens of bytes for every two bytes of `[1,1,1]`), and JSON has no aliases, so the
/// text's length bounds what decoding makes: it is charged up front.
const JSON_DECODE_FUEL_PER_BYTE: u64 = 32;

/// Fuel per YAML node decoded: about what one node holds once decoded. YAML aliases can make
/// many nodes of a short text, so the nodes are counted while parsing (within the parser's own
/// budget) and charged before they become template values.
const YAML_NODE_FUEL: u64 = 64;

fn charge_json_decode(ctx: &mut CallContext<'_, '_>, text: &str) -> Result<(), FuncError> {
    ctx.charge_bytes(text.len())?;
    ctx.charge((text.len() as u64).saturating_mul(JSON_DECODE_FUEL_PER_BYTE - 1))
}

/// `sigs.k8s.io/yaml.Unmarshal` into `interface{}`: YAML 1.1 scalars (`yes`, `on`, `0x1F`,
/// `012` octal), every number a `float64`, keys as strings. The outer error is the budget
/// running out; the inner one names the first problem of the text.
pub(crate) fn yaml_to_value(
    ctx: &mut CallContext<'_, '_>,
    text: &str,
) -> Result<Result<Value, String>, FuncError> {
    let nodes = std::rc::Rc::new(std::cell::Cell::new(0usize));
    let counted = std::rc::Rc::clone(&nodes);
    let options = serde_saphyr::Options::default().with_budget_report(
        move |report: serde_saphyr::budget::BudgetReport| counted.set(report.nodes),
    );
    let parsed = parse_yaml_document(text, options);
    ctx.charge((nodes.get() as u64).saturating_mul(YAML_NODE_FUEL))?;
    Ok(parsed)
}

/// The first document of `text` as a template value, or the text of Go's error.
fn parse_yaml_document(text: &str, mut options: serde_saphyr::Options) -> Result<Value, String> {
    options.legacy_octal_numbers = true;
    // go-yaml keeps the last of duplicate keys and reads only the first document.
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::LastWins;
    let documents: Vec<Option<serde_json::Value>> =
        serde_saphyr::from_str_multiple_with_options(text, options).map_err(|error| {
            let message = error.without_snippet().to_string();
            let message = message.strip_prefix("error: ").unwrap_or(&message);
            format!("error converting YAML to JSON: yaml: {message}")
        })?;
    let mut first = documents.into_iter().next().flatten();
    // A block scalar cut off by the end of the input keeps no final line break in go-yaml,
    // where this parser adds one (`toYaml` trims the document's last newline, so
    // `toYaml | fromYaml` meets this whenever the last value is multi-line text).
    // Only when the first document runs to the end of the input: a later `---` or `...` ends
    // it with its line break (an included manifest often ends in `---`).
    let first_document_is_last = !text
        .lines()
        .skip(1)
        .any(|line| line == "---" || line.starts_with("--- ") || line == "...");
    let ends_in_block_scalar = first_document_is_last
        && !text.ends_with('\n')
        && !text.trim_end().ends_with(['"', '\'', ']', '}']);
    if ends_in_block_scalar && let Some(json) = first.as_mut() {
        strip_last_line_break(json);
    }
    Ok(first.map_or(Value::Nil, |json| Value::from_json(&json)))
}

/// Removes the final line break of the last scalar in document order.
fn strip_last_line_break(json: &mut serde_json::Value) {
    match json {
        serde_json::Value::String(text) if text.ends_with('\n') => {
            text.pop();
        }
        serde_json::Value::Array(items) => {
            if let Some(last) = items.last_mut() {
                strip_last_line_break(last);
            }
        }
        serde_json::Value::Object(entries) => {
            if let Some(last) = entries.values_mut().next_back() {
                strip_last_line_break(last);
            }
        }
        _ => {}
    }
}
