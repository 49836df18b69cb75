//! Turning rendered manifests into the objects to apply: owner stamps, namespaces, install order
//! and the inventory entry of each. No client here: the scope of each kind comes from a lookup.

use std::collections::{HashMap, HashSet};

use capstan_api::InventoryEntry;
use serde_json::Value;

use super::owner::Owner;
use crate::error::{Error, Result};

/// Whether a kind lives in a namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Namespaced,
    Cluster,
}

/// One object to apply, ready for server-side apply.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredObject {
    pub entry: InventoryEntry,
    pub object: Value,
    /// A CustomResourceDefinition: applied first, then waited for until Established.
    pub is_crd: bool,
}

impl DesiredObject {
    /// `Kind namespace/name`, for messages.
    pub fn describe(&self) -> String {
        describe(&self.entry)
    }
}

/// `Kind namespace/name` (or `Kind name` for cluster-scoped objects), for messages.
pub fn describe(entry: &InventoryEntry) -> String {
    match &entry.namespace {
        Some(namespace) => format!("{} {namespace}/{}", entry.kind, entry.name),
        None => format!("{} {}", entry.kind, entry.name),
    }
}

/// Builds the objects to apply, CRDs first and then the chart's manifests in the order given
/// (the renderer's install order). Namespaced objects without a namespace get `target_namespace`;
/// cluster-scoped objects lose any namespace they name. `known_scope` answers for kinds the
/// cluster serves; kinds defined by a CRD of this same render take their scope from that CRD.
pub fn build(
    crds: Vec<Value>,
    manifests: Vec<Value>,
    owner: &Owner,
    target_namespace: &str,
    known_scope: impl Fn(&str, &str) -> Option<Scope>,
) -> Result<Vec<DesiredObject>> {
    let defined_here = scopes_defined_by(&crds);
    let mut seen = HashSet::new();
    let mut desired = Vec::with_capacity(crds.len() + manifests.len());
    let all = crds
        .into_iter()
        .map(|object| (true, object))
        .chain(manifests.into_iter().map(|object| (false, object)));
    for (from_crds_dir, mut object) in all.filter(|(_, object)| !is_test_hook(object)) {
        let api_version = string_at(&object, &["apiVersion"]);
        let kind = string_at(&object, &["kind"]);
        let name = string_at(&object, &["metadata", "name"]);
        let (Some(api_version), Some(kind), Some(name)) = (api_version, kind, name) else {
            return Err(Error::Manifest(
                "a rendered manifest lacks apiVersion, kind or metadata.name".into(),
            ));
        };
        let scope = defined_here
            .get(&(group_of(&api_version).to_string(), kind.clone()))
            .copied()
            .or_else(|| known_scope(&api_version, &kind))
            .ok_or_else(|| Error::UnknownKind {
                api_version: api_version.clone(),
                kind: kind.clone(),
            })?;
        let namespace = match scope {
            Scope::Cluster => {
                if let Some(metadata) = object["metadata"].as_object_mut() {
                    metadata.remove("namespace");
                }
                None
            }
            Scope::Namespaced => {
                let namespace = string_at(&object, &["metadata", "namespace"])
                    .filter(|namespace| !namespace.is_empty())
                    .unwrap_or_else(|| target_namespace.to_string());
                object["metadata"]["namespace"] = Value::String(namespace.clone());
                Some(namespace)
            }
        };
        owner.stamp(&mut object);
        let entry = InventoryEntry {
            api_version,
            kind,
            namespace,
            name,
        };
        let identity = (
            group_of(&entry.api_version).to_string(),
            entry.kind.clone(),
            entry.namespace.clone(),
            entry.name.clone(),
        );
        if !seen.insert(identity) {
            return Err(Error::Manifest(format!(
                "the chart renders {} twice; object names must be unique",
                describe(&entry)
            )));
        }
        let is_crd = from_crds_dir || super::crds::is_crd(&entry);
        desired.push(DesiredObject {
            entry,
            object,
            is_crd,
        });
    }
    // CRDs from templates also go first; the sort is stable, so install order holds otherwise.
    desired.sort_by_key(|object| !object.is_crd);
    Ok(desired)
}

/// Whether `object` is one of Helm's test hooks (`helm.sh/hook: test`, or Helm 2's
/// `test-success`/`test-failure`), which only `helm test` runs: never applied by a reconcile.
fn is_test_hook(object: &Value) -> bool {
    object["metadata"]["annotations"]["helm.sh/hook"]
        .as_str()
        .is_some_and(|hooks| {
            hooks
                .split(',')
                .map(str::trim)
                .any(|hook| matches!(hook, "test" | "test-success" | "test-failure"))
        })
}

/// The group of an `apiVersion` (`""` for the core group).
pub fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// `(group, kind) -> scope` for the CRDs about to be applied.
fn scopes_defined_by(crds: &[Value]) -> HashMap<(String, String), Scope> {
    let mut scopes = HashMap::new();
    for crd in crds {
        let (Some(group), Some(kind)) = (
            string_at(crd, &["spec", "group"]),
            string_at(crd, &["spec", "names", "kind"]),
        ) else {
            continue;
        };
        let scope = match string_at(crd, &["spec", "scope"]).as_deref() {
            Some("Cluster") => Scope::Cluster,
            _ => Scope::Namespaced,
        };
        scopes.insert((group, kind), scope);
    }
    scopes
}

fn string_at(value: &Value, path: &[&str]) -> Option<String> {
    path.iter()
        .try_fold(value, |value, key| value.get(key))
        .and_then(Value::as_str)
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn core_scope(api_version: &str, kind: &str) -> Option<Scope> {
        match (api_version, kind) {
            ("v1", "Namespace")
            | ("rbac.authorization.k8s.io/v1", "ClusterRole")
            | ("apiextensions.k8s.io/v1", "CustomResourceDefinition") => Some(Scope::Cluster),
            ("v1", _) | ("apps/v1", _) => Some(Scope::Namespaced),
            _ => None,
        }
    }

    fn crd(group: &str, kind: &str, scope: &str) -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("{}s.{group}", kind.to_lowercase())},
            "spec": {"group": group, "scope": scope, "names": {"kind": kind}}
        })
    }

    #[test]
    fn namespaces_default_and_cluster_objects_lose_theirs() {
        let manifests = vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b", "namespace": "other"}}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "r", "namespace": "x"}}),
        ];
        let desired = build(
            vec![],
            manifests,
            &Owner::new("apps", "web"),
            "target",
            core_scope,
        )
        .unwrap();
        let namespaces: Vec<_> = desired
            .iter()
            .map(|d| d.entry.namespace.as_deref())
            .collect();
        assert_eq!(namespaces, [Some("target"), Some("other"), None]);
        assert_eq!(desired[0].object["metadata"]["namespace"], "target");
        assert!(desired[2].object["metadata"].get("namespace").is_none());
        assert_eq!(
            desired[0].object["metadata"]["annotations"]["capstan.dev/deployment"],
            "apps/web"
        );
    }

    #[test]
    fn crds_come_first_and_define_the_scope_of_their_kinds() {
        let manifests = vec![
            json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}}),
            json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}),
            crd("example.com", "Gadget", "Cluster"),
        ];
        let crds = vec![crd("example.com", "Widget", "Namespaced")];
        let desired = build(crds, manifests, &Owner::new("apps", "web"), "t", core_scope).unwrap();
        let order: Vec<_> = desired
            .iter()
            .map(|d| (d.entry.kind.as_str(), d.is_crd))
            .collect();
        assert_eq!(
            order,
            [
                ("CustomResourceDefinition", true),
                ("CustomResourceDefinition", true),
                ("Service", false),
                ("Widget", false)
            ]
        );
        assert_eq!(desired[3].entry.namespace.as_deref(), Some("t"));
    }

    #[test]
    fn test_hooks_are_never_applied() {
        let manifests = vec![
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "t",
                   "annotations": {"helm.sh/hook": "test"}}}),
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "t2",
                   "annotations": {"helm.sh/hook": "pre-install, test-success"}}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c",
                   "annotations": {"helm.sh/hook": "pre-install"}}}),
        ];
        let desired = build(vec![], manifests, &Owner::new("a", "b"), "t", core_scope).unwrap();
        let names: Vec<_> = desired.iter().map(|d| d.entry.name.as_str()).collect();
        assert_eq!(names, ["c"]);
    }

    #[test]
    fn unknown_kinds_and_duplicates_are_errors() {
        let unknown =
            vec![json!({"apiVersion": "nope.io/v1", "kind": "Thing", "metadata": {"name": "t"}})];
        let error = build(vec![], unknown, &Owner::new("a", "b"), "t", core_scope).unwrap_err();
        assert_eq!(error.reason(), "UnknownKind");
        let twice = vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "t"}}),
        ];
        let error = build(vec![], twice, &Owner::new("a", "b"), "t", core_scope).unwrap_err();
        assert!(error.to_string().contains("ConfigMap t/a twice"), "{error}");
        let nameless = vec![json!({"apiVersion": "v1", "kind": "ConfigMap"})];
        assert!(build(vec![], nameless, &Owner::new("a", "b"), "t", core_scope).is_err());
    }
}
