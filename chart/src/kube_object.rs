//! Checks that a parsed YAML document is a Kubernetes object the API server could accept.
//!
//! Only what every object shares is checked here (`apiVersion`, `kind`, `metadata.name`,
//! `metadata.namespace`); the schema of each kind is the API server's business. Catching these
//! early turns "the apply failed somewhere in the cluster" into an error naming the template.

use serde_json::Value;

use crate::names::{check_dns_label, check_dns_subdomain};

/// The identity of an object: what an apply needs to address it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectIdentity {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
}

/// Kinds whose names are path segments rather than DNS subdomains (RBAC allows `system:foo`).
const PATH_SEGMENT_NAMED_KINDS: &[&str] =
    &["Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"];

/// Reads and validates the identity of `object`; the error says which field is wrong and how.
pub fn identify(object: &Value) -> Result<ObjectIdentity, String> {
    let map = object.as_object().ok_or_else(|| {
        format!(
            "a manifest must be a YAML mapping with apiVersion, kind and metadata, found {}",
            json_kind(object)
        )
    })?;
    let api_version = required_string(map.get("apiVersion"), "apiVersion", "e.g. `apps/v1`")?;
    let kind = required_string(map.get("kind"), "kind", "e.g. `Deployment`")?;
    let metadata = match map.get("metadata") {
        Some(Value::Object(metadata)) => metadata,
        Some(other) => {
            return Err(format!(
                "metadata must be a mapping, found {}",
                json_kind(other)
            ));
        }
        None => return Err("metadata is missing; every object needs metadata.name".to_string()),
    };
    let name = required_string(
        metadata.get("name"),
        "metadata.name",
        "a DNS-1123 subdomain such as `my-app`",
    )?;
    if PATH_SEGMENT_NAMED_KINDS.contains(&kind.as_str()) {
        check_path_segment_name(&name)?;
    } else {
        check_dns_subdomain(&name).map_err(|why| format!("metadata.name {why}"))?;
    }
    let namespace = match metadata.get("namespace") {
        None | Some(Value::Null) => None,
        Some(Value::String(namespace)) => {
            check_dns_label(namespace).map_err(|why| format!("metadata.namespace {why}"))?;
            Some(namespace.clone())
        }
        Some(other) => {
            return Err(format!(
                "metadata.namespace must be a string, found {}",
                json_kind(other)
            ));
        }
    };
    Ok(ObjectIdentity {
        api_version,
        kind,
        name,
        namespace,
    })
}

fn required_string(value: Option<&Value>, field: &str, example: &str) -> Result<String, String> {
    match value {
        Some(Value::String(text)) if !text.trim().is_empty() => Ok(text.clone()),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            Err(format!("{field} is missing or empty; set it ({example})"))
        }
        Some(other) => Err(format!(
            "{field} must be a string ({example}), found {}",
            json_kind(other)
        )),
    }
}

fn check_path_segment_name(name: &str) -> Result<(), String> {
    if name == "." || name == ".." {
        return Err(format!("metadata.name `{name}` cannot be `.` or `..`"));
    }
    if let Some(bad) = name.chars().find(|&c| c == '/' || c == '%') {
        return Err(format!("metadata.name `{name}` cannot contain `{bad}`"));
    }
    Ok(())
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_identity_of_a_valid_object() {
        let id = identify(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "app.config-1", "namespace": "team-a"}}))
        .unwrap();
        assert_eq!(id.kind, "ConfigMap");
        assert_eq!(id.name, "app.config-1");
        assert_eq!(id.namespace.as_deref(), Some("team-a"));
    }

    #[test]
    fn rejects_missing_fields_and_bad_names() {
        let missing_kind = identify(&json!({"apiVersion": "v1", "metadata": {"name": "x"}}));
        assert!(missing_kind.unwrap_err().contains("kind is missing"));
        let upper =
            identify(&json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "Bad"}}));
        assert!(upper.unwrap_err().contains("\"Bad\" contains 'B'"));
        let dash =
            identify(&json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x-"}}));
        assert!(dash.unwrap_err().contains("start and end"));
        let long = "a".repeat(254);
        let too_long =
            identify(&json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": long}}));
        assert!(too_long.unwrap_err().contains("254 characters"));
        let list = identify(&json!(["a"]));
        assert!(list.unwrap_err().contains("found a list"));
        let bad_ns = identify(&json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "x", "namespace": "a.b"}}));
        assert!(bad_ns.unwrap_err().contains("metadata.namespace"));
    }

    #[test]
    fn rbac_names_may_contain_colons() {
        let role = identify(
            &json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "system:capstan-reader"}}),
        );
        assert!(role.is_ok());
        let slash = identify(
            &json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "a/b"}}),
        );
        assert!(slash.is_err());
    }
}
