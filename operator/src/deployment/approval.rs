//! Plan, approve, apply exactly that plan (`spec.approval: Manual`). Client-free.
//!
//! A plan is what a revision would do: each object's state before (live) and after (the API
//! server's server-side dry-run result, with the deployment's identity, so defaulting, admission
//! and RBAC are the API server's), and what would be pruned. Its digest covers all of it, so
//! approving a digest approves exactly that change: a new chart version, a new value or someone
//! editing a live object gives another plan, with another digest, which waits for approval again.
//! Secret values never appear: they are replaced by a keyed digest of themselves, so a changed
//! value still shows as changed.

use capstan_api::deployment::{PlanStatus, PlannedObject};
use capstan_api::{InventoryEntry, Revision};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::values_key::ValuesKey;

use super::desired::describe;
use super::drift::MAX_PATHS;

/// Objects listed in `status.plan`.
const MAX_LISTED: usize = 50;
/// Bytes of diffs per ConfigMap (a ConfigMap holds at most 1 MiB).
const MAX_CONFIG_MAP_BYTES: usize = 900 * 1024;

/// What a plan does to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Create,
    Change,
    Prune,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Create => "Create",
            Action::Change => "Change",
            Action::Prune => "Prune",
        }
    }
}

/// One object's planned change, as read and dry-run.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    pub entry: InventoryEntry,
    pub action: Action,
    /// The live object (`None` for a create).
    pub before: Option<Value>,
    /// The dry-run result (`None` for a prune).
    pub after: Option<Value>,
}

/// A whole plan, with its objects in their masked, comparable form.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    pub digest: String,
    pub revision: Revision,
    changes: Vec<(InventoryEntry, Action, Value, Value)>,
    /// Objects that stay as they are.
    pub unchanged: usize,
}

impl Plan {
    /// The plan of `revision` from its `planned` changes; `unchanged` objects need nothing.
    pub fn new(
        revision: &Revision,
        planned: Vec<Planned>,
        unchanged: usize,
        key: &ValuesKey,
    ) -> Plan {
        let mut changes = Vec::with_capacity(planned.len());
        for change in planned {
            let before = change
                .before
                .as_ref()
                .map_or(Value::Null, |object| comparable(object, key));
            let after = change
                .after
                .as_ref()
                .map_or(Value::Null, |object| comparable(object, key));
            if change.action == Action::Change && before == after {
                continue;
            }
            changes.push((change.entry, change.action, before, after));
        }
        let mut hasher = Sha256::new();
        hasher.update(
            serde_json::to_vec(&(
                &revision.chart,
                &revision.version,
                &revision.archive_digest,
                &revision.values_digest,
                &revision.manifest_digest,
            ))
            .unwrap_or_default(),
        );
        for (entry, action, before, after) in &changes {
            hasher.update(
                serde_json::to_vec(&(describe(entry), action.as_str(), before, after))
                    .unwrap_or_default(),
            );
        }
        Plan {
            digest: format!("sha256:{}", hex::encode(hasher.finalize())),
            revision: revision.clone(),
            unchanged,
            changes,
        }
    }

    /// Whether the plan changes nothing.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    fn count(&self, action: Action) -> usize {
        self.changes
            .iter()
            .filter(|(_, a, _, _)| *a == action)
            .count()
    }

    /// The summary `status.plan` holds; `config_maps` name the diffs.
    pub fn summary(&self, config_maps: Vec<String>) -> PlanStatus {
        let count = |action| i64::try_from(self.count(action)).unwrap_or(i64::MAX);
        PlanStatus {
            digest: self.digest.clone(),
            chart: self.revision.chart.clone(),
            version: self.revision.version.clone(),
            create: count(Action::Create),
            change: count(Action::Change),
            prune: count(Action::Prune),
            unchanged: i64::try_from(self.unchanged).unwrap_or(i64::MAX),
            objects: self
                .changes
                .iter()
                .take(MAX_LISTED)
                .map(|(entry, action, before, after)| PlannedObject {
                    object: describe(entry),
                    action: action.as_str().to_string(),
                    paths: if *action == Action::Change {
                        changed_paths(before, after)
                    } else {
                        Vec::new()
                    },
                })
                .collect(),
            truncated: self.changes.len() > MAX_LISTED,
            config_maps,
        }
    }

    /// `Plan sha256:... of web 1.2.0 would create 1, change 2 and prune 0 objects`.
    pub fn describe(&self) -> String {
        format!(
            "plan {} of {} {} would create {}, change {} and prune {} objects; approve it by \
             setting spec.approvedPlan to {}",
            self.digest,
            self.revision.chart,
            self.revision.version,
            self.count(Action::Create),
            self.count(Action::Change),
            self.count(Action::Prune),
            self.digest
        )
    }

    /// Every object's unified diff, split into ConfigMap data (key per object) no larger than a
    /// ConfigMap may be.
    pub fn diff_pages(&self) -> Vec<Map<String, Value>> {
        let mut pages = vec![Map::new()];
        let mut size = 0;
        for (index, (entry, action, before, after)) in self.changes.iter().enumerate() {
            let name = describe(entry);
            let mut text = format!("# {} {}\n", action.as_str(), name);
            text.push_str(&unified_diff(&name, before, after));
            let key = format!(
                "{index:04}-{}",
                name.chars()
                    .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                        c
                    } else {
                        '_'
                    })
                    .collect::<String>()
            );
            if size + text.len() > MAX_CONFIG_MAP_BYTES && size > 0 {
                pages.push(Map::new());
                size = 0;
            }
            size += text.len();
            if let Some(page) = pages.last_mut() {
                page.insert(key, Value::String(text));
            }
        }
        pages
    }
}

/// The object as plans compare it: fields the API server sets on every write left out, and
/// every Secret value replaced by a keyed digest of itself.
fn comparable(object: &Value, key: &ValuesKey) -> Value {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
        if let Some(Value::Object(metadata)) = map.get_mut("metadata") {
            for volatile in [
                "uid",
                "resourceVersion",
                "creationTimestamp",
                "generation",
                "managedFields",
                "selfLink",
            ] {
                metadata.remove(volatile);
            }
        }
        let is_secret = map.get("apiVersion").and_then(Value::as_str) == Some("v1")
            && map.get("kind").and_then(Value::as_str) == Some("Secret");
        if is_secret {
            for field in ["data", "stringData"] {
                if let Some(Value::Object(values)) = map.get_mut(field) {
                    for value in values.values_mut() {
                        *value = Value::String(mask(value, key));
                    }
                }
            }
        }
    }
    object
}

/// `(masked <keyed digest>)` of a Secret value: equal values mask equally, nothing of the value
/// shows.
fn mask(value: &Value, key: &ValuesKey) -> String {
    let mut holder = capstan_chart::values::Values::new();
    holder.insert("v".into(), value.clone());
    let digest = key.digest(&holder);
    let short = digest.rsplit(':').next().unwrap_or_default();
    format!("(masked {})", &short[..short.len().min(12)])
}

/// The JSON pointers where `after` differs from `before` (at most [`MAX_PATHS`]).
fn changed_paths(before: &Value, after: &Value) -> Vec<String> {
    let mut paths = Vec::new();
    walk(before, after, &mut String::new(), &mut paths);
    paths
}

fn walk(before: &Value, after: &Value, at: &mut String, paths: &mut Vec<String>) {
    if paths.len() >= MAX_PATHS || before == after {
        return;
    }
    match (before, after) {
        (Value::Object(before), Value::Object(after)) => {
            let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let len = at.len();
                at.push('/');
                at.push_str(&key.replace('~', "~0").replace('/', "~1"));
                walk(
                    before.get(key).unwrap_or(&Value::Null),
                    after.get(key).unwrap_or(&Value::Null),
                    at,
                    paths,
                );
                at.truncate(len);
            }
        }
        _ => paths.push(if at.is_empty() {
            "/".into()
        } else {
            at.clone()
        }),
    }
}

/// A unified diff of the two objects as YAML.
fn unified_diff(name: &str, before: &Value, after: &Value) -> String {
    let yaml = |value: &Value| {
        if value.is_null() {
            String::new()
        } else {
            serde_saphyr::to_string(value).unwrap_or_default()
        }
    };
    let (before, after) = (yaml(before), yaml(after));
    similar::TextDiff::from_lines(&before, &after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("live/{name}"), &format!("planned/{name}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key() -> ValuesKey {
        ValuesKey::from_bytes(b"a key for the plan tests, 32 b..")
    }

    fn revision() -> Revision {
        Revision {
            chart: "web".into(),
            version: "1.2.0".into(),
            archive_digest: "sha256:a".into(),
            values_digest: "hmac-sha256:v".into(),
            manifest_digest: None,
        }
    }

    fn entry(kind: &str, name: &str) -> InventoryEntry {
        InventoryEntry {
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: Some("apps".into()),
            name: name.into(),
        }
    }

    fn config_map(data: &str, resource_version: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
               "metadata": {"name": "c", "namespace": "apps", "resourceVersion": resource_version,
                            "managedFields": [{"time": resource_version}]},
               "data": {"greeting": data}})
    }

    fn secret(password: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Secret",
               "metadata": {"name": "s", "namespace": "apps"},
               "data": {"password": password}})
    }

    fn changes(live_greeting: &str, password: &str) -> Vec<Planned> {
        vec![
            Planned {
                entry: entry("ConfigMap", "c"),
                action: Action::Change,
                before: Some(config_map(live_greeting, "7")),
                after: Some(config_map("hello", "8")),
            },
            Planned {
                entry: entry("Secret", "s"),
                action: Action::Create,
                before: None,
                after: Some(secret(password)),
            },
            Planned {
                entry: entry("ConfigMap", "old"),
                action: Action::Prune,
                before: None,
                after: None,
            },
        ]
    }

    #[test]
    fn a_plan_counts_names_and_digests_its_changes() {
        let plan = Plan::new(&revision(), changes("hola", "aHVudGVyMg=="), 4, &key());
        let summary = plan.summary(vec!["web-plan".into()]);
        assert_eq!(
            (
                summary.create,
                summary.change,
                summary.prune,
                summary.unchanged
            ),
            (1, 1, 1, 4)
        );
        assert_eq!(summary.objects[0].paths, ["/data/greeting"]);
        assert!(plan.digest.starts_with("sha256:"));
        // Recomputed from new reads (other resourceVersions), the same change has the same digest.
        let again = Plan::new(&revision(), changes("hola", "aHVudGVyMg=="), 4, &key());
        assert_eq!(again.digest, plan.digest);
        // A live edit, or another Secret value, is another plan.
        let edited = Plan::new(
            &revision(),
            changes("edited by hand", "aHVudGVyMg=="),
            4,
            &key(),
        );
        assert_ne!(edited.digest, plan.digest);
        let other_secret = Plan::new(&revision(), changes("hola", "b3RoZXI="), 4, &key());
        assert_ne!(other_secret.digest, plan.digest);
    }

    #[test]
    fn secret_values_never_appear_in_diffs() {
        let plan = Plan::new(&revision(), changes("hola", "aHVudGVyMg=="), 0, &key());
        let pages = plan.diff_pages();
        let text = serde_json::to_string(&pages).unwrap();
        assert!(!text.contains("aHVudGVyMg=="), "{text}");
        assert!(text.contains("(masked "), "{text}");
        assert!(
            text.contains("-  greeting: hola") || text.contains("-  greeting: \"hola\""),
            "{text}"
        );
        assert!(!text.contains("resourceVersion"), "{text}");
    }

    #[test]
    fn a_change_that_changes_nothing_is_left_out() {
        let same = vec![Planned {
            entry: entry("ConfigMap", "c"),
            action: Action::Change,
            before: Some(config_map("hello", "7")),
            after: Some(config_map("hello", "9")),
        }];
        assert!(Plan::new(&revision(), same, 1, &key()).is_empty());
    }

    #[test]
    fn large_plans_are_paged_and_listed_within_bounds() {
        let many: Vec<_> = (0..500)
            .map(|n| Planned {
                entry: entry("ConfigMap", &format!("c{n}")),
                action: Action::Create,
                before: None,
                after: Some(json!({"apiVersion": "v1", "kind": "ConfigMap",
                                   "metadata": {"name": format!("c{n}")},
                                   "data": {"blob": "x".repeat(4000)}})),
            })
            .collect();
        let plan = Plan::new(&revision(), many, 0, &key());
        let summary = plan.summary(Vec::new());
        assert_eq!(summary.objects.len(), MAX_LISTED);
        assert!(summary.truncated);
        let pages = plan.diff_pages();
        assert!(pages.len() > 1);
        for page in &pages {
            assert!(serde_json::to_string(page).unwrap().len() < 1024 * 1024);
        }
        assert_eq!(pages.iter().map(Map::len).sum::<usize>(), 500);
    }
}
