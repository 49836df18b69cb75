//! Checking values against a chart's `values.schema.json`.
//!
//! Schemas come with charts, so they are untrusted: references to anything outside the schema
//! itself (`$ref: https://...` or `file:`) are refused rather than fetched, and format checks stay
//! off as in Helm. Every violation is reported with the chart, the values path and the rule
//! broken, so a user can fix all of them in one go; never with the value itself, which may come
//! from a Secret and would otherwise reach statuses, events and logs.

use crate::model::Chart;
use crate::values::Values;
use jsonschema::{Retrieve, Uri};
use serde_json::Value;
use std::fmt;

/// One place where values do not satisfy a chart's schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaViolation {
    /// The chart whose schema was violated (`parent.child` for subcharts).
    pub chart: String,
    /// The values path, relative to that chart's values (`image.tag`, `ports[0]`); empty for
    /// the top level.
    pub path: String,
    /// The rule broken and the type of the value found; never the value.
    pub message: String,
}

impl fmt::Display for SchemaViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "(top level)"
        } else {
            &self.path
        };
        write!(f, "chart {}: {path}: {}", self.chart, self.message)
    }
}

/// Why a schema could not be used at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("chart {chart}: values.schema.json cannot be used: {reason}")]
pub struct SchemaError {
    pub chart: String,
    pub reason: String,
}

/// Refuses every reference to a document outside the schema.
struct NoExternalReferences;

impl Retrieve for NoExternalReferences {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        Err(format!(
            "the reference to {} is outside the schema; Capstan never fetches schemas, inline it under $defs",
            uri.as_str()
        )
        .into())
    }
}

/// Validates `values` against `schema`, returning every violation. `chart` names the chart in
/// messages.
pub fn validate(
    chart: &str,
    schema: &Value,
    values: &Values,
) -> Result<Vec<SchemaViolation>, SchemaError> {
    let validator = jsonschema::options()
        .with_retriever(NoExternalReferences)
        .should_validate_formats(false)
        .build(schema)
        .map_err(|error| SchemaError {
            chart: chart.to_string(),
            reason: error.to_string(),
        })?;
    let instance = Value::Object(values.clone());
    Ok(validator
        .iter_errors(&instance)
        .map(|error| SchemaViolation {
            chart: chart.to_string(),
            path: values_path(error.instance_path()),
            message: describe(&error),
        })
        .collect())
}

/// `a.b[0].c` from a JSON pointer location.
fn values_path(location: &jsonschema::paths::Location) -> String {
    let mut path = String::new();
    for segment in location.iter() {
        match segment {
            jsonschema::paths::LocationSegment::Index(index) => {
                path.push_str(&format!("[{index}]"));
            }
            jsonschema::paths::LocationSegment::Property(name) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&name);
            }
        }
    }
    path
}

/// The longest piece of a schema (a pattern, the allowed values) quoted in a message.
const MAX_QUOTED_CHARS: usize = 200;

/// The rule the value breaks, in words, without the value itself: values may come from a Secret
/// (`valuesFrom`), and this message ends up in statuses, events and logs. Only the value's type
/// is named, and what the schema asks for.
fn describe(error: &jsonschema::ValidationError<'_>) -> String {
    use jsonschema::error::{TypeKind, ValidationErrorKind as Kind};
    match error.kind() {
        Kind::Type {
            kind: TypeKind::Single(expected),
        } => format!("expected {expected}, got {}", type_name(error.instance())),
        Kind::Type {
            kind: TypeKind::Multiple(expected),
        } => format!(
            "expected one of the types {}, got {}",
            quoted(&format!("{expected:?}")),
            type_name(error.instance())
        ),
        Kind::Required { property } => {
            format!(
                "the required property {} is missing",
                quoted(&property.to_string())
            )
        }
        Kind::AdditionalProperties { unexpected } => format!(
            "properties not allowed by the schema: {}",
            quoted(&unexpected.join(", "))
        ),
        Kind::UnevaluatedProperties { unexpected } => format!(
            "properties not allowed by the schema (unevaluatedProperties): {}",
            quoted(&unexpected.join(", "))
        ),
        Kind::UnevaluatedItems { .. } => {
            "the list has items the schema does not allow (unevaluatedItems)".into()
        }
        Kind::AdditionalItems { limit } => format!("the list has more than {limit} items"),
        Kind::Enum { options } => {
            format!(
                "the value is not one of the allowed values {}",
                quoted(&options.to_string())
            )
        }
        Kind::Constant { expected_value } => format!(
            "the value must be exactly {}",
            quoted(&expected_value.to_string())
        ),
        Kind::Pattern { pattern } => {
            format!("the value does not match the pattern {}", quoted(pattern))
        }
        Kind::Format { format } => format!("the value is not in the format {format}"),
        Kind::MinLength { limit } => format!("the value must be at least {limit} characters long"),
        Kind::MaxLength { limit } => format!("the value must be at most {limit} characters long"),
        Kind::Minimum { limit } => format!("the value must be at least {limit}"),
        Kind::Maximum { limit } => format!("the value must be at most {limit}"),
        Kind::ExclusiveMinimum { limit } => format!("the value must be greater than {limit}"),
        Kind::ExclusiveMaximum { limit } => format!("the value must be less than {limit}"),
        Kind::MultipleOf { multiple_of } => {
            format!("the value must be a multiple of {multiple_of}")
        }
        Kind::MinItems { limit } => format!("the list must have at least {limit} items"),
        Kind::MaxItems { limit } => format!("the list must have at most {limit} items"),
        Kind::UniqueItems => "the list has repeated items; they must be unique".into(),
        Kind::Contains => "no item of the list matches the schema under `contains`".into(),
        Kind::MinProperties { limit } => format!("the map must have at least {limit} keys"),
        Kind::MaxProperties { limit } => format!("the map must have at most {limit} keys"),
        Kind::PropertyNames { .. } => "a key does not satisfy the schema's propertyNames".into(),
        Kind::AnyOf { .. } => "the value matches none of the alternatives under `anyOf`".into(),
        Kind::OneOfNotValid { .. } => {
            "the value matches none of the alternatives under `oneOf`".into()
        }
        Kind::OneOfMultipleValid { .. } => {
            "the value matches more than one of the alternatives under `oneOf`".into()
        }
        Kind::Not { .. } => "the value matches the schema under `not`, which it must not".into(),
        Kind::FalseSchema => "no value is allowed here (the schema is `false`)".into(),
        Kind::ContentEncoding { content_encoding } => {
            format!("the value is not valid {content_encoding}")
        }
        Kind::ContentMediaType { content_media_type } => {
            format!("the value is not valid {content_media_type}")
        }
        Kind::FromUtf8 { .. } => "the decoded value is not UTF-8 text".into(),
        Kind::BacktrackLimitExceeded { .. } | Kind::RegexEngineFailure { .. } => {
            "the schema's pattern could not be checked against the value (too complex)".into()
        }
        other => format!(
            "the value breaks the schema's `{}` rule",
            quoted(other.keyword())
        ),
    }
}

/// `text` from the schema, cut to [`MAX_QUOTED_CHARS`] characters.
fn quoted(text: &str) -> String {
    match text.char_indices().nth(MAX_QUOTED_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.to_string(),
    }
}

/// The JSON type of a value, in the schema's words; never the value.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks every chart's schema against its part of the resolved values: the top chart against
/// the whole tree, each subchart against its section (named by alias).
pub fn validate_tree(chart: &Chart, values: &Values) -> Result<Vec<SchemaViolation>, SchemaError> {
    let mut violations = Vec::new();
    collect(chart, values, chart.name(), &mut violations)?;
    Ok(violations)
}

fn collect(
    chart: &Chart,
    values: &Values,
    label: &str,
    violations: &mut Vec<SchemaViolation>,
) -> Result<(), SchemaError> {
    if let Some(schema) = &chart.schema {
        violations.extend(validate(label, schema, values)?);
    }
    let empty = Values::new();
    for sub in &chart.dependencies {
        let section = values
            .get(sub.name())
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        collect(sub, section, &format!("{label}.{}", sub.name()), violations)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A value that could come from a Secret.
    const CANARY: &str = "canary-4f1c9e-secret";

    fn messages(schema: Value, values: Value) -> Vec<String> {
        let values = values.as_object().cloned().unwrap();
        validate("app", &schema, &values)
            .unwrap()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn violations_name_the_path_and_rule_but_never_the_value() {
        let rules = [
            json!({"type": "integer"}),
            json!({"type": ["integer", "boolean"]}),
            json!({"enum": ["a", "b"]}),
            json!({"const": "expected"}),
            json!({"pattern": "^[0-9]+$"}),
            json!({"maxLength": 3}),
            json!({"minLength": 100}),
            json!({"format": "email"}),
            json!({"not": {"type": "string"}}),
            json!({"anyOf": [{"type": "integer"}, {"type": "null"}]}),
            json!({"oneOf": [{"type": "integer"}, {"type": "null"}]}),
            json!({"oneOf": [{"type": "string"}, {"minLength": 1}]}),
            json!(false),
        ];
        for rule in rules {
            let schema = json!({"properties": {"password": rule.clone()}});
            let found = messages(schema, json!({"password": CANARY}));
            assert!(
                !found.is_empty() || rule == json!({"format": "email"}),
                "{rule}"
            );
            for message in &found {
                assert!(message.contains("chart app: password: "), "{message}");
                assert!(!message.contains(CANARY), "{rule}: {message}");
                assert!(!message.contains("canary"), "{rule}: {message}");
            }
        }
    }

    #[test]
    fn lists_and_numbers_are_not_echoed_either() {
        let schema = json!({
            "properties": {
                "tokens": {"type": "array", "uniqueItems": true, "maxItems": 1,
                           "items": {"type": "integer"}},
                "pin": {"type": "integer", "maximum": 10, "multipleOf": 7},
                "nested": {"type": "object", "additionalProperties": false, "required": ["x"]},
            }
        });
        let found = messages(
            schema,
            json!({
                "tokens": [CANARY, CANARY],
                "pin": 987654321,
                "nested": {"key": CANARY},
            }),
        );
        assert!(found.len() >= 6, "{found:?}");
        for message in &found {
            assert!(!message.contains(CANARY), "{message}");
            assert!(!message.contains("987654321"), "{message}");
        }
        assert!(
            found.contains(&"chart app: pin: the value must be at most 10".to_string()),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|m| m.starts_with("chart app: nested: ") && m.contains("\"x\"")),
            "{found:?}"
        );
    }
}
