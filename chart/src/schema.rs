//! Checking values against a chart's `values.schema.json`.
//!
//! Schemas come with charts, so they are untrusted: references to anything outside the schema
//! itself (`$ref: https://...` or `file:`) are refused rather than fetched, and format checks stay
//! off as in Helm. Every violation is reported with the chart, the values path and what was
//! expected, so a user can fix all of them in one go.

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
    /// What was expected and what was found.
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

/// "expected integer, got string \"three\"" for type errors; the validator's wording otherwise.
fn describe(error: &jsonschema::ValidationError<'_>) -> String {
    if let jsonschema::error::ValidationErrorKind::Type {
        kind: jsonschema::error::TypeKind::Single(expected),
    } = error.kind()
    {
        return format!("expected {expected}, got {}", found(error.instance()));
    }
    error.to_string()
}

/// The type and (for short scalars) the value found, as in `string "three"`.
fn found(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) if n.is_f64() => format!("number {n}"),
        Value::Number(n) => format!("integer {n}"),
        Value::String(s) if s.chars().count() <= 40 => format!("string {s:?}"),
        Value::String(_) => "a long string".into(),
        Value::Array(_) => "array".into(),
        Value::Object(_) => "object".into(),
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
