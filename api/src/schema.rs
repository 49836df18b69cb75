//! The CRDs' structural OpenAPI schemas as JSON Schema, so manifests can be checked offline
//! exactly against what the apiserver serves.
//!
//! Kubernetes' structural schemas are OpenAPI v3 with extensions. The conversion keeps their
//! meaning as the apiserver applies it under `kubectl apply` (strict field validation):
//! `nullable` admits `null`, `x-kubernetes-int-or-string` admits both, an object with
//! `properties` rejects other fields unless it has `x-kubernetes-preserve-unknown-fields`, and the
//! root admits `apiVersion`, `kind` and `metadata`. CEL rules (`x-kubernetes-validations`) are
//! not evaluated here; [`crate::validate`] checks the same rules in Rust.

use kube::CustomResourceExt;
use serde_json::{Value, json};
use std::sync::OnceLock;

use crate::{ChartDeployment, ChartRepository};

/// JSON Schema of a ChartRepository document.
pub fn repository_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| document_schema(&ChartRepository::crd()))
}

/// JSON Schema of a ChartDeployment document.
pub fn deployment_schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| document_schema(&ChartDeployment::crd()))
}

fn document_schema(
    crd: &k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
) -> Value {
    let openapi = crd
        .spec
        .versions
        .iter()
        .find(|version| version.name == crate::VERSION)
        .and_then(|version| version.schema.as_ref())
        .and_then(|schema| schema.open_api_v3_schema.as_ref())
        .map(|schema| serde_json::to_value(schema).expect("a CRD schema serializes"))
        .expect("the CRD has a schema for the served version");
    let mut schema = convert(openapi);
    let properties = schema["properties"]
        .as_object_mut()
        .expect("the root schema has properties");
    properties.insert("apiVersion".into(), json!({"type": "string"}));
    properties.insert("kind".into(), json!({"type": "string"}));
    properties.insert("metadata".into(), json!({"type": "object"}));
    schema
}

/// Converts one structural schema node (and everything below it) to JSON Schema.
pub fn convert(openapi: Value) -> Value {
    let Value::Object(mut node) = openapi else {
        return openapi;
    };
    let nullable = node.remove("nullable") == Some(Value::Bool(true));
    let int_or_string = node.remove("x-kubernetes-int-or-string") == Some(Value::Bool(true));
    let preserve = node.remove("x-kubernetes-preserve-unknown-fields") == Some(Value::Bool(true));
    node.retain(|key, _| !key.starts_with("x-kubernetes-"));
    if int_or_string {
        node.insert("type".into(), json!(["integer", "string"]));
    }
    if let Some(Value::Object(properties)) = node.get_mut("properties") {
        for value in properties.values_mut() {
            *value = convert(value.take());
        }
        if !preserve && !node.contains_key("additionalProperties") {
            node.insert("additionalProperties".into(), Value::Bool(false));
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(value) = node.get_mut(key)
            && value.is_object()
        {
            *value = convert(value.take());
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(items)) = node.get_mut(key) {
            for item in items {
                *item = convert(item.take());
            }
        }
    }
    if nullable {
        match node.get_mut("type") {
            Some(Value::String(kind)) => {
                let kind = std::mem::take(kind);
                node.insert("type".into(), json!([kind, "null"]));
            }
            Some(Value::Array(kinds)) => kinds.push(json!("null")),
            _ => {}
        }
        if let Some(Value::Array(options)) = node.get_mut("enum") {
            options.push(Value::Null);
        }
    }
    Value::Object(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nullable_int_or_string_and_closed_objects() {
        let converted = convert(json!({
            "type": "object",
            "properties": {
                "a": {"type": "string", "nullable": true, "enum": ["x"]},
                "b": {"x-kubernetes-int-or-string": true},
                "c": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                "d": {"type": "array", "items": {"type": "object", "properties": {"e": {"type": "integer"}}}},
            },
            "x-kubernetes-validations": [{"rule": "true"}],
        }));
        assert_eq!(
            converted,
            json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "a": {"type": ["string", "null"], "enum": ["x", null]},
                    "b": {"type": ["integer", "string"]},
                    "c": {"type": "object"},
                    "d": {"type": "array", "items": {
                        "type": "object",
                        "additionalProperties": false,
                        "properties": {"e": {"type": "integer"}},
                    }},
                },
            })
        );
    }

    #[test]
    fn document_schemas_admit_the_object_header() {
        for schema in [repository_schema(), deployment_schema()] {
            let properties = schema["properties"].as_object().unwrap();
            for key in ["apiVersion", "kind", "metadata", "spec", "status"] {
                assert!(properties.contains_key(key), "{key}");
            }
            assert_eq!(schema["additionalProperties"], false);
        }
        assert!(
            deployment_schema()["properties"]["spec"]["properties"]["values"]
                .get("additionalProperties")
                .is_none()
        );
    }
}
