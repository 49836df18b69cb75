//! Reading YAML the way Helm does (`sigs.k8s.io/yaml`, go-yaml v2 underneath), for Go-template
//! charts: YAML 1.1 scalars (`yes`, `on`, `n` are booleans, `0755` is octal), the last of
//! repeated keys wins, and mapping keys that are not strings become the strings Helm makes of
//! them (`on: x` is the key `"true"`, `0755: x` the key `"493"`, `1.0: x` the key `"1"`).

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// `options` (budgets included) set to go-yaml v2's resolution of plain scalars.
pub(crate) fn with_go_rules(mut options: serde_saphyr::Options) -> serde_saphyr::Options {
    options.legacy_octal_numbers = true;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::LastWins;
    options
}

/// Parses one YAML document into JSON-shaped data as Helm's loader sees it.
pub(crate) fn parse(bytes: &[u8]) -> Result<Option<Value>, serde_saphyr::Error> {
    parse_with(bytes, serde_saphyr::Options::default())
}

/// [`parse`] under the budgets of `options`.
pub(crate) fn parse_with(
    bytes: &[u8],
    options: serde_saphyr::Options,
) -> Result<Option<Value>, serde_saphyr::Error> {
    let parsed: Option<GoValue> =
        serde_saphyr::from_slice_with_options(bytes, with_go_rules(options))?;
    Ok(parsed.map(|value| value.0))
}

/// A YAML node as `sigs.k8s.io/yaml` turns it into JSON.
struct GoValue(Value);

impl<'de> Deserialize<'de> for GoValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = GoValue;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<GoValue, E> {
        Ok(GoValue(Value::Bool(b)))
    }

    fn visit_i64<E>(self, n: i64) -> Result<GoValue, E> {
        Ok(GoValue(Value::Number(n.into())))
    }

    fn visit_u64<E>(self, n: u64) -> Result<GoValue, E> {
        Ok(GoValue(Value::Number(n.into())))
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> Result<GoValue, E> {
        Number::from_f64(f)
            .map(|n| GoValue(Value::Number(n)))
            .ok_or_else(|| E::custom(format!("json: unsupported value: {f}")))
    }

    fn visit_str<E>(self, s: &str) -> Result<GoValue, E> {
        Ok(GoValue(Value::String(s.to_string())))
    }

    fn visit_string<E>(self, s: String) -> Result<GoValue, E> {
        Ok(GoValue(Value::String(s)))
    }

    fn visit_unit<E>(self) -> Result<GoValue, E> {
        Ok(GoValue(Value::Null))
    }

    fn visit_none<E>(self) -> Result<GoValue, E> {
        Ok(GoValue(Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<GoValue, D::Error> {
        GoValue::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<GoValue, A::Error> {
        let mut items = Vec::new();
        while let Some(GoValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(GoValue(Value::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<GoValue, A::Error> {
        let mut entries = Map::new();
        while let Some(GoKey(key)) = map.next_key()? {
            let GoValue(value) = map.next_value()?;
            entries.insert(key, value);
        }
        Ok(GoValue(Value::Object(entries)))
    }
}

/// A mapping key, as the string `sigs.k8s.io/yaml` makes of it.
struct GoKey(String);

impl<'de> Deserialize<'de> for GoKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = GoKey;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string, number or boolean mapping key")
    }

    fn visit_bool<E>(self, b: bool) -> Result<GoKey, E> {
        Ok(GoKey(b.to_string()))
    }

    fn visit_i64<E>(self, n: i64) -> Result<GoKey, E> {
        Ok(GoKey(n.to_string()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<GoKey, E> {
        Ok(GoKey(n.to_string()))
    }

    /// go-yaml's float formatting at 32-bit precision, with its spellings of the infinities.
    fn visit_f64<E>(self, f: f64) -> Result<GoKey, E> {
        let text = match capstan_gotemplate::fmt::format_float(f, 'g', -1, 32).as_str() {
            "+Inf" => ".inf".to_string(),
            "-Inf" => "-.inf".to_string(),
            "NaN" => ".nan".to_string(),
            other => other.to_string(),
        };
        Ok(GoKey(text))
    }

    fn visit_str<E>(self, s: &str) -> Result<GoKey, E> {
        Ok(GoKey(s.to_string()))
    }

    fn visit_string<E>(self, s: String) -> Result<GoKey, E> {
        Ok(GoKey(s))
    }

    fn visit_unit<E: de::Error>(self) -> Result<GoKey, E> {
        Err(E::custom("unsupported map key of type: <nil>"))
    }

    fn visit_none<E: de::Error>(self) -> Result<GoKey, E> {
        Err(E::custom("unsupported map key of type: <nil>"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scalars_and_keys_resolve_as_in_helm() {
        let parsed = parse(
            b"a: yes\nb: n\nc: 0755\nd: 0x1F\ne: 1e3\nf: 1:20\ng: ~\nyes: 1\non: 2\n0755: 3\n1.0: 4\n0x10: 5\nh: 1\nh: 2\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            parsed,
            json!({
                "a": true, "b": false, "c": 493, "d": 31, "e": 1000.0, "f": "1:20", "g": null,
                "true": 2, "493": 3, "1": 4, "16": 5, "h": 2,
            })
        );
    }

    #[test]
    fn a_null_key_is_refused() {
        assert!(parse(b"~: 1\n").is_err());
    }
}
