//! The user's values of a ChartDeployment: `valuesFrom` entries merged in order, then `values`.

use capstan_api::ValuesReference;
use capstan_api::deployment::ValuesSourceKind;
use capstan_chart::values::{Values, combine_user_layers, parse_values_file};
use serde_json::Value;

use crate::error::{Error, Result};

/// The content of one `valuesFrom` key, or `None` when the object or key is missing.
pub type Fetched = Option<Vec<u8>>;

/// Merges the `valuesFrom` contents (`fetched[i]` belongs to `references[i]`) and then the inline
/// `values`, as `capstan template` merges `-f` files and `--set`: a `null` is kept so that it
/// deletes the chart default it names. Missing inputs are skipped when marked optional and are an error otherwise. Error
/// messages name the object and key, never the content, which may be secret.
pub fn merge_user_values(
    references: &[ValuesReference],
    fetched: Vec<Fetched>,
    inline: Option<&Values>,
) -> Result<Values> {
    let mut layers = Vec::with_capacity(references.len() + 1);
    for (reference, content) in references.iter().zip(fetched) {
        let source = describe(reference);
        let Some(content) = content else {
            if reference.optional {
                continue;
            }
            return Err(Error::InputMissing {
                what: source,
                message: "not found; create it or mark the valuesFrom entry optional".into(),
            });
        };
        let layer = match &reference.target_path {
            None => parse_values_file(&source, &content).map_err(|error| {
                Error::InvalidSpec(
                    // The parser's message quotes at most the position, never the content.
                    format!("valuesFrom {error}"),
                )
            })?,
            Some(path) => at_path(path, scalar_or_string(&content))
                .map_err(|message| Error::InvalidSpec(format!("valuesFrom {source}: {message}")))?,
        };
        layers.push(layer);
    }
    if let Some(inline) = inline {
        layers.push(inline.clone());
    }
    Ok(combine_user_layers(&layers))
}

/// `ConfigMap name key values.yaml`, for messages.
pub fn describe(reference: &ValuesReference) -> String {
    let kind = match reference.kind {
        ValuesSourceKind::ConfigMap => "ConfigMap",
        ValuesSourceKind::Secret => "Secret",
    };
    format!("{kind} {} key {}", reference.name, reference.key())
}

/// The content as a YAML scalar (number, boolean) when it is one, else as a string with one
/// trailing newline removed (files written by editors end in one).
fn scalar_or_string(content: &[u8]) -> Value {
    let text = String::from_utf8_lossy(content);
    let text = text.strip_suffix('\n').unwrap_or(&text);
    match serde_saphyr::from_str::<Value>(text) {
        Ok(value @ (Value::Bool(_) | Value::Number(_))) => value,
        _ => Value::String(text.to_string()),
    }
}

/// `{a: {b: value}}` for `a.b`.
fn at_path(path: &str, value: Value) -> Result<Values, String> {
    let mut keys: Vec<&str> = path.split('.').collect();
    if keys.iter().any(|key| key.is_empty()) {
        return Err(format!(
            "targetPath {path:?} has an empty segment; write it as a.b.c"
        ));
    }
    let last = keys.pop().unwrap_or_default();
    let mut layer = Values::new();
    layer.insert(last.to_string(), value);
    for key in keys.into_iter().rev() {
        let mut outer = Values::new();
        outer.insert(key.to_string(), Value::Object(layer));
        layer = outer;
    }
    Ok(layer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reference(name: &str, target_path: Option<&str>, optional: bool) -> ValuesReference {
        ValuesReference {
            kind: ValuesSourceKind::ConfigMap,
            name: name.into(),
            key: None,
            target_path: target_path.map(str::to_string),
            optional,
        }
    }

    fn map(value: Value) -> Values {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn nulls_survive_to_delete_chart_defaults() {
        let references = [reference("base", None, false)];
        let fetched = vec![Some(
            b"service: {port: 80}
"
            .to_vec(),
        )];
        let inline = map(json!({"service": {"port": null}, "ingress": null}));
        let merged = merge_user_values(&references, fetched, Some(&inline)).unwrap();
        assert_eq!(
            Value::Object(merged),
            json!({"service": {"port": null}, "ingress": null})
        );
    }

    #[test]
    fn layers_merge_in_order_and_inline_values_win() {
        let references = [
            reference("base", None, false),
            reference("port", Some("service.port"), false),
        ];
        let fetched = vec![
            Some(b"replicas: 1\nservice: {port: 80, type: ClusterIP}\n".to_vec()),
            Some(b"8080\n".to_vec()),
        ];
        let inline = map(json!({"replicas": 3}));
        let merged = merge_user_values(&references, fetched, Some(&inline)).unwrap();
        assert_eq!(
            Value::Object(merged),
            json!({"replicas": 3, "service": {"port": 8080, "type": "ClusterIP"}})
        );
    }

    #[test]
    fn missing_inputs_fail_unless_optional() {
        let required = [reference("gone", None, false)];
        let error = merge_user_values(&required, vec![None], None).unwrap_err();
        assert!(
            error.to_string().contains("ConfigMap gone key values.yaml"),
            "{error}"
        );
        let optional = [reference("gone", None, true)];
        assert!(
            merge_user_values(&optional, vec![None], None)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn target_paths_place_strings_and_reject_empty_segments() {
        let references = [reference("token", Some("auth.token"), false)];
        let merged =
            merge_user_values(&references, vec![Some(b"s3cr3t\n".to_vec())], None).unwrap();
        assert_eq!(merged["auth"]["token"], "s3cr3t");
        let bad = [reference("token", Some("auth..token"), false)];
        let error = merge_user_values(&bad, vec![Some(b"x".to_vec())], None).unwrap_err();
        assert!(error.to_string().contains("empty segment"), "{error}");
    }
}
