//! Drift: whether a live object still holds every field a revision applied to it, and which
//! fields differ. Client-free.

use capstan_api::deployment::{DriftDetection, DriftMode};
use k8s_openapi::ByteString;
use serde_json::Value;

/// Most fields named for one drifted object.
pub const MAX_PATHS: usize = 10;

/// How a deployment treats drift: its mode and the fields it ignores.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DriftPolicy {
    pub mode: DriftMode,
    ignore: Vec<IgnoreRule>,
}

/// The fields (`paths`) to skip in objects of `target` (kind, and name if given; all when none).
#[derive(Clone, Debug, Default, PartialEq)]
struct IgnoreRule {
    target: Option<(String, Option<String>)>,
    paths: Vec<String>,
}

impl DriftPolicy {
    pub fn from_spec(spec: Option<&DriftDetection>) -> Self {
        let Some(spec) = spec else {
            return DriftPolicy::default();
        };
        DriftPolicy {
            mode: spec.mode,
            ignore: spec
                .ignore
                .iter()
                .map(|rule| IgnoreRule {
                    target: rule
                        .target
                        .as_ref()
                        .map(|target| (target.kind.clone(), target.name.clone())),
                    paths: rule.paths.clone(),
                })
                .collect(),
        }
    }

    /// The fields of `desired` that `live` no longer holds (JSON pointers, at most
    /// [`MAX_PATHS`]), leaving out ignored ones; empty when nothing drifted.
    pub fn drifted(&self, live: &Value, desired: &Value) -> Vec<String> {
        let mut wanted = comparable(desired);
        let kind = desired["kind"].as_str().unwrap_or_default();
        let name = desired["metadata"]["name"].as_str().unwrap_or_default();
        for rule in &self.ignore {
            let applies = rule
                .target
                .as_ref()
                .is_none_or(|(target_kind, target_name)| {
                    target_kind == kind && target_name.as_deref().is_none_or(|n| n == name)
                });
            if applies {
                for path in &rule.paths {
                    remove_pointer(&mut wanted, path);
                }
            }
        }
        let mut paths = Vec::new();
        differing(live, &wanted, &mut String::new(), &mut paths);
        paths
    }
}

/// Removes the field at `pointer` (RFC 6901) from `value`, if there.
fn remove_pointer(value: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let last = last.replace("~1", "/").replace("~0", "~");
    match value.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.remove(&last);
        }
        Some(Value::Array(items)) => {
            if let Ok(index) = last.parse::<usize>()
                && index < items.len()
            {
                items.remove(index);
            }
        }
        _ => {}
    }
}

/// Collects the pointers under `at` where `live` does not hold `desired`.
fn differing(live: &Value, desired: &Value, at: &mut String, paths: &mut Vec<String>) {
    if paths.len() >= MAX_PATHS {
        return;
    }
    match (live, desired) {
        (Value::Object(live), Value::Object(desired)) => {
            for (key, wanted) in desired {
                let len = at.len();
                at.push('/');
                at.push_str(&key.replace('~', "~0").replace('/', "~1"));
                match live.get(key) {
                    Some(found) => differing(found, wanted, at, paths),
                    None if wanted.is_null() => {}
                    None => paths.push(at.clone()),
                }
                at.truncate(len);
            }
        }
        _ if holds(live, desired) => {}
        _ => paths.push(at.clone()),
    }
}

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
    fn drifted_fields_are_named_and_ignored_ones_skipped() {
        let desired = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                             "metadata": {"name": "web"},
                             "spec": {"replicas": 2, "template": {"image": "a:1"}}});
        let live = json!({"apiVersion": "apps/v1", "kind": "Deployment",
                          "metadata": {"name": "web", "uid": "u"},
                          "spec": {"replicas": 5, "template": {"image": "a:2"}}});
        let policy = DriftPolicy::default();
        assert_eq!(
            policy.drifted(&live, &desired),
            ["/spec/replicas", "/spec/template/image"]
        );
        assert!(policy.drifted(&desired, &desired).is_empty());
        let ignoring = DriftPolicy::from_spec(Some(&DriftDetection {
            mode: DriftMode::Warn,
            ignore: vec![capstan_api::deployment::DriftIgnoreRule {
                paths: vec!["/spec/replicas".into()],
                target: Some(capstan_api::deployment::DriftTarget {
                    kind: "Deployment".into(),
                    name: None,
                }),
            }],
        }));
        assert_eq!(ignoring.drifted(&live, &desired), ["/spec/template/image"]);
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
