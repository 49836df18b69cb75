//! Drift: whether a live object still holds every field a revision applied to it. Client-free.

use k8s_openapi::ByteString;
use serde_json::Value;

/// The desired object as the API server stores it, for comparison with the live one: a
/// Secret's `stringData` becomes base64 `data`, and `status` (never applied) is left out.
pub fn comparable(desired: &Value) -> Value {
    let mut object = desired.clone();
    let Some(map) = object.as_object_mut() else {
        return object;
    };
    map.remove("status");
    let is_secret = map.get("apiVersion").and_then(Value::as_str) == Some("v1")
        && map.get("kind").and_then(Value::as_str) == Some("Secret");
    if is_secret && let Some(Value::Object(strings)) = map.remove("stringData") {
        let data = map
            .entry("data")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Some(data) = data.as_object_mut() {
            for (key, value) in strings {
                let bytes = match value {
                    Value::String(text) => text.into_bytes(),
                    other => other.to_string().into_bytes(),
                };
                let encoded = serde_json::to_value(ByteString(bytes)).unwrap_or(Value::Null);
                data.insert(key, encoded);
            }
        }
    }
    object
}

/// Whether `live` holds every field of `desired` with the same value: maps may have more keys,
/// lists must match element by element, numbers compare by value, and a desired `null` matches
/// an absent field.
pub fn holds(live: &Value, desired: &Value) -> bool {
    match (live, desired) {
        (Value::Object(live), Value::Object(desired)) => {
            desired.iter().all(|(key, wanted)| match live.get(key) {
                Some(found) => holds(found, wanted),
                None => wanted.is_null(),
            })
        }
        (Value::Array(live), Value::Array(desired)) => {
            live.len() == desired.len() && live.iter().zip(desired).all(|(l, d)| holds(l, d))
        }
        (Value::Number(live), Value::Number(desired)) => {
            live == desired || live.as_f64() == desired.as_f64()
        }
        _ => live == desired,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn live_objects_with_extra_fields_hold_the_desired_ones() {
        let live = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "uid": "u", "resourceVersion": "7",
                         "labels": {"capstan.dev/deployment": "ns.web", "other": "x"}},
            "data": {"greeting": "hello"},
            "spec": {"ports": [{"port": 80, "protocol": "TCP"}], "replicas": 2}
        });
        let desired = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "labels": {"capstan.dev/deployment": "ns.web"}},
            "data": {"greeting": "hello"},
            "spec": {"ports": [{"port": 80}], "replicas": 2.0, "paused": null}
        });
        assert!(holds(&live, &desired));
    }

    #[test]
    fn changed_missing_or_reordered_fields_are_drift() {
        let live = json!({"data": {"greeting": "hello"}, "list": [1, 2]});
        assert!(!holds(&live, &json!({"data": {"greeting": "hola"}})));
        assert!(!holds(&live, &json!({"data": {"farewell": "bye"}})));
        assert!(!holds(&live, &json!({"list": [2, 1]})));
        assert!(!holds(&live, &json!({"list": [1]})));
        assert!(!holds(&live, &json!({"data": "x"})));
    }

    #[test]
    fn secrets_compare_by_their_stored_form() {
        let desired = json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "stringData": {"password": "hunter2"}, "data": {"user": "YWRtaW4="},
            "status": {"ignored": true}
        });
        let live = json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"password": "aHVudGVyMg==", "user": "YWRtaW4="}, "type": "Opaque"
        });
        assert!(holds(&live, &comparable(&desired)));
        let changed = json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"password": "b3RoZXI=", "user": "YWRtaW4="}
        });
        assert!(!holds(&changed, &comparable(&desired)));
    }
}
