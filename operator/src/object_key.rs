//! The one way the operator names a namespaced object of its own: `namespace/name`.
//!
//! Caches, back-off counters and messages all key on [`ObjectKey`]; the kind, where it matters
//! (the shared back-off counters), is part of [`KindKey`].

use std::fmt;

use kube::{Resource, ResourceExt};

/// A namespaced object's identity within its kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectKey {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The key of `object` (a namespaced resource; an empty namespace otherwise).
    pub fn of<K: Resource>(object: &K) -> Self {
        ObjectKey {
            namespace: object.namespace().unwrap_or_default(),
            name: object.name_any(),
        }
    }
}

impl fmt::Display for ObjectKey {
    /// `namespace/name`, as `kubectl` and the API server write it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// An object of one of the operator's own kinds, for state shared across kinds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KindKey {
    pub kind: &'static str,
    pub key: ObjectKey,
}

impl KindKey {
    pub fn of<K: Resource<DynamicType = ()>>(object: &K) -> Self {
        KindKey {
            kind: kind_name::<K>(),
            key: ObjectKey::of(object),
        }
    }
}

impl fmt::Display for KindKey {
    /// `Kind namespace/name`, as messages name objects.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.key)
    }
}

/// `K`'s kind as a static string (the operator's kinds are few and fixed).
fn kind_name<K: Resource<DynamicType = ()>>() -> &'static str {
    match K::kind(&()).as_ref() {
        "ChartDeployment" => "ChartDeployment",
        "ChartRepository" => "ChartRepository",
        _ => "Object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_print_as_kubectl_names_objects() {
        let key = ObjectKey::new("apps", "web");
        assert_eq!(key.to_string(), "apps/web");
        let deployment: capstan_api::ChartDeployment = serde_json::from_value(serde_json::json!({
            "apiVersion": "capstan.dev/v1alpha1", "kind": "ChartDeployment",
            "metadata": {"name": "web", "namespace": "apps"},
            "spec": {"chart": {"package": {"configMapRef": {"name": "p"}}}}
        }))
        .unwrap();
        assert_eq!(ObjectKey::of(&deployment), key);
        assert_eq!(
            KindKey::of(&deployment).to_string(),
            "ChartDeployment apps/web"
        );
    }
}
