//! Helm's `toToml` and `fromToml`, after `BurntSushi/toml` v1.6.0 (the version Helm v3.22.0
//! builds with): the encoder writes a map's plain keys first, then its tables (`[a]`, indented
//! two spaces per level) and arrays of tables (`[[b]]`), keys sorted, nil values skipped; the
//! decoder gives `int64` integers, `float64` floats and `time.Time` datetimes. Neither fails:
//! `toToml` returns the error text, `fromToml` puts it under the `Error` key.

use super::dates::GoTimeValue;
use super::gotime::{GoTime, Location, parse_in_location};
use super::types::{any, string};
use super::{arg, define, str_arg, string_result};
use crate::funcs::{FuncError, Funcs, Signature};
use crate::value::{FloatKind, Kind, Object, Value};
use std::any::Any;
use std::collections::BTreeMap;

pub(super) fn register(funcs: &mut Funcs) {
    define(funcs, &["toToml"], Signature::new([any()]), |ctx, args| {
        let value = arg(args, 0);
        if value.is_nil() {
            // BurntSushi asks reflect for the type of nil and panics; the panic is not its own
            // encoding error, so the template fails.
            return Err(FuncError::new(
                "reflect: call of reflect.Value.Type on zero Value",
            ));
        }
        ctx.charge_bytes(super::encoded_size(&value, 0))?;
        let mut encoder = Encoder::default();
        let text = match encoder.encode(&[], &value, 0) {
            Ok(()) => encoder.out,
            Err(message) => message,
        };
        string_result(ctx, text)
    });
    define(
        funcs,
        &["fromToml"],
        Signature::new([string()]),
        |ctx, args| {
            let text = str_arg(args, 0);
            ctx.charge_bytes(text.len())?;
            Ok(match text.parse::<toml::Table>() {
                Ok(table) => table_value(&table),
                Err(error) => {
                    let mut entries = BTreeMap::new();
                    let message = error.message().trim().to_string();
                    entries.insert(
                        "Error".to_string(),
                        Value::string(format!("toml: {message}")),
                    );
                    Value::map(entries)
                }
            })
        },
    );
}

fn table_value(table: &toml::Table) -> Value {
    Value::map(
        table
            .iter()
            .map(|(key, value)| (key.clone(), toml_value(value)))
            .collect(),
    )
}

fn toml_value(value: &toml::Value) -> Value {
    match value {
        toml::Value::String(s) => Value::string(s.as_str()),
        toml::Value::Integer(n) => Value::int64(*n),
        toml::Value::Float(f) => Value::float(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(datetime) => datetime_value(datetime),
        toml::Value::Array(items) => Value::list(items.iter().map(toml_value).collect()),
        toml::Value::Table(table) => table_value(table),
    }
}

/// A TOML datetime as the `time.Time` BurntSushi gives (offset datetimes in a fixed zone,
/// local ones read as UTC).
fn datetime_value(datetime: &toml::value::Datetime) -> Value {
    let text = datetime.to_string();
    let layouts = [
        "2006-01-02T15:04:05.999999999Z07:00",
        "2006-01-02 15:04:05.999999999Z07:00",
        "2006-01-02T15:04:05.999999999",
        "2006-01-02 15:04:05.999999999",
        "2006-01-02",
        "15:04:05.999999999",
    ];
    let parsed = layouts
        .iter()
        .find_map(|layout| parse_in_location(layout, &text, &Location::Utc).ok());
    match parsed {
        Some(time) => Value::object(GoTimeValue(time)),
        None => Value::string(text),
    }
}

/// BurntSushi's `Encoder` for template values.
#[derive(Default)]
struct Encoder {
    out: String,
}

const NIL_ELEMENT: &str = "toml: cannot encode array with nil element";

/// The TOML kind BurntSushi's `tomlTypeOfGo` gives a value (`None` for nil).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TomlType {
    Plain,
    Table,
    TableArray,
}

fn toml_type(value: &Value) -> Result<Option<TomlType>, String> {
    Ok(match value {
        Value::Nil => None,
        Value::Map(_) => Some(TomlType::Table),
        Value::List(list) => {
            let mut all_tables = !list.items.is_empty();
            for item in &list.items {
                match toml_type(item)? {
                    None => return Err(NIL_ELEMENT.to_string()),
                    Some(TomlType::Table) => {}
                    Some(_) => all_tables = false,
                }
            }
            Some(if all_tables {
                TomlType::TableArray
            } else {
                TomlType::Plain
            })
        }
        Value::Object(object) if is_time(&**object) => Some(TomlType::Plain),
        Value::Object(object) => match object.underlying() {
            Some(inner) => toml_type(&inner)?,
            None if object.is_nil() => None,
            None => Some(TomlType::Table),
        },
        _ => Some(TomlType::Plain),
    })
}

fn is_time(object: &dyn Object) -> bool {
    (object as &dyn Any).downcast_ref::<GoTimeValue>().is_some()
}

fn is_bare_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// BurntSushi's `dblQuotedReplacer`.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn key_part(key: &str) -> String {
    if key.is_empty() {
        "\"\"".to_string()
    } else if is_bare_key(key) {
        key.to_string()
    } else {
        quoted(key)
    }
}

fn key_path(key: &[String]) -> String {
    key.iter()
        .map(|part| key_part(part))
        .collect::<Vec<_>>()
        .join(".")
}

fn indent(key: &[String]) -> String {
    "  ".repeat(key.len().saturating_sub(1))
}

/// BurntSushi's `floatAddDecimal(strconv.FormatFloat(f, 'g', -1, 64))`.
fn toml_float(f: f64, kind: FloatKind) -> String {
    if f.is_nan() {
        return if f.is_sign_negative() { "-nan" } else { "nan" }.to_string();
    }
    if f.is_infinite() {
        return if f < 0.0 { "-inf" } else { "inf" }.to_string();
    }
    let shortest = match kind {
        FloatKind::Float32 => format!("{:e}", f as f32),
        FloatKind::Float64 => format!("{f:e}"),
    };
    let (mantissa, exponent) = shortest.split_once('e').unwrap_or((&shortest, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    // Go's shortest %g: exponent form below 1e-4 and from 1e6.
    let text = if !(-4..6).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    } else {
        match kind {
            FloatKind::Float32 => format!("{}", f as f32),
            FloatKind::Float64 => format!("{f}"),
        }
    };
    if text.contains(['e', '.']) {
        text
    } else {
        format!("{text}.0")
    }
}

impl Encoder {
    fn newline(&mut self) {
        if !self.out.is_empty() {
            self.out.push('\n');
        }
    }

    fn encode(&mut self, key: &[String], value: &Value, depth: usize) -> Result<(), String> {
        if depth >= super::MAX_NESTING {
            return Err("toml: value nested too deeply".to_string());
        }
        match toml_type(value)? {
            None => Ok(()),
            Some(TomlType::TableArray) => self.array_of_tables(key, value, depth),
            Some(TomlType::Table) => self.table(key, value, depth),
            Some(TomlType::Plain) => self.key_value(key, value, false, depth),
        }
    }

    fn key_value(
        &mut self,
        key: &[String],
        value: &Value,
        inline: bool,
        depth: usize,
    ) -> Result<(), String> {
        if let Some(last) = key.last() {
            self.out.push_str(&indent(key));
            self.out.push_str(&key_part(last));
            self.out.push_str(" = ");
        }
        self.element(value, depth)?;
        if !key.is_empty() && !inline {
            self.newline();
        }
        Ok(())
    }

    fn element(&mut self, value: &Value, depth: usize) -> Result<(), String> {
        if depth >= super::MAX_NESTING {
            return Err("toml: value nested too deeply".to_string());
        }
        match value {
            Value::String(s) => self.out.push_str(&quoted(s)),
            Value::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Value::Int(n, _) => self.out.push_str(&n.to_string()),
            Value::Uint(n, _) => self.out.push_str(&n.to_string()),
            Value::Float(f, kind) => self.out.push_str(&toml_float(*f, *kind)),
            Value::Bytes(bytes) => {
                let items: Vec<String> = bytes.iter().map(u8::to_string).collect();
                self.out.push('[');
                self.out.push_str(&items.join(", "));
                self.out.push(']');
            }
            Value::List(list) => {
                self.out.push('[');
                for (i, item) in list.items.iter().enumerate() {
                    if item.is_nil() {
                        return Err(NIL_ELEMENT.to_string());
                    }
                    self.element(item, depth + 1)?;
                    if i + 1 != list.items.len() {
                        self.out.push_str(", ");
                    }
                }
                self.out.push(']');
            }
            Value::Map(_) => self.map(&[], value, true, depth + 1)?,
            Value::Object(object) => {
                if let Some(time) = (&**object as &dyn Any).downcast_ref::<GoTimeValue>() {
                    let time: &GoTime = &time.0;
                    self.out
                        .push_str(&time.format("2006-01-02T15:04:05.999999999Z07:00"));
                } else if let Some(inner) = object.underlying() {
                    self.element(&inner, depth + 1)?;
                } else {
                    return Err(format!("toml: unexpected type: {}", object.type_name()));
                }
            }
            Value::Nil => return Err(NIL_ELEMENT.to_string()),
        }
        Ok(())
    }

    fn array_of_tables(
        &mut self,
        key: &[String],
        value: &Value,
        depth: usize,
    ) -> Result<(), String> {
        if key.is_empty() {
            return Err("toml: top-level values must be Go maps or structs".to_string());
        }
        let items = value.as_list().map(|l| l.items.clone()).unwrap_or_default();
        for item in items.iter().filter(|item| !item.is_nil()) {
            self.newline();
            self.out
                .push_str(&format!("{}[[{}]]", indent(key), key_path(key)));
            self.newline();
            self.map(key, item, false, depth + 1)?;
        }
        Ok(())
    }

    fn table(&mut self, key: &[String], value: &Value, depth: usize) -> Result<(), String> {
        if key.len() == 1 {
            self.newline();
        }
        if !key.is_empty() {
            self.out
                .push_str(&format!("{}[{}]", indent(key), key_path(key)));
            self.newline();
        }
        self.map(key, value, false, depth + 1)
    }

    fn map(
        &mut self,
        key: &[String],
        value: &Value,
        inline: bool,
        depth: usize,
    ) -> Result<(), String> {
        let entries = match value.as_map() {
            Some(map) => map.snapshot(),
            None if value.kind() == Kind::Struct => Vec::new(),
            None => return Ok(()),
        };
        let mut direct = Vec::new();
        let mut tables = Vec::new();
        for (name, item) in entries {
            match toml_type(&item)? {
                Some(TomlType::Table | TomlType::TableArray) => tables.push((name, item)),
                _ => direct.push((name, item)),
            }
        }
        if inline {
            self.out.push('{');
        }
        let has_tables = !tables.is_empty();
        for (group, trailing_comma) in [(direct, has_tables), (tables, false)] {
            let count = group.len();
            for (i, (name, item)) in group.into_iter().enumerate() {
                if item.is_nil() {
                    continue;
                }
                if inline {
                    self.key_value(&[name], &item, true, depth + 1)?;
                    if trailing_comma || i + 1 != count {
                        self.out.push_str(", ");
                    }
                } else {
                    let mut path = key.to_vec();
                    path.push(name);
                    self.encode(&path, &item, depth + 1)?;
                }
            }
        }
        if inline {
            self.out.push('}');
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected texts printed by BurntSushi/toml v1.6.0 through Helm's toToml.

    #[test]
    fn floats_like_burntsushi() {
        assert_eq!(toml_float(1e6, FloatKind::Float64), "1e+06");
        assert_eq!(toml_float(0.1, FloatKind::Float64), "0.1");
        assert_eq!(toml_float(3.0, FloatKind::Float64), "3.0");
        assert_eq!(toml_float(123456.0, FloatKind::Float64), "123456.0");
        assert_eq!(toml_float(1234567.0, FloatKind::Float64), "1.234567e+06");
        assert_eq!(toml_float(0.00001, FloatKind::Float64), "1e-05");
    }

    #[test]
    fn keys_are_quoted_when_not_bare() {
        assert_eq!(
            key_path(&["a".to_string(), "n key".to_string()]),
            "a.\"n key\""
        );
    }
}
