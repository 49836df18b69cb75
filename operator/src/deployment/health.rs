//! Whether an applied object is healthy, by kstatus's rules, from its live state alone.
//!
//! A revision is Ready when every object it applied is healthy: Deployments available and
//! updated, StatefulSets and DaemonSets rolled out, Jobs complete, PersistentVolumeClaims bound,
//! CRDs established, APIServices available, anything with a `Ready` condition ready. Objects
//! without a notion of health are healthy once applied. No client here.

use serde_json::Value;

/// The health of one object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Health {
    Healthy,
    /// Not there yet; the text says what is awaited (`1 of 3 replicas available`).
    Progressing(String),
    /// It will not get there by itself (a failed Job).
    Failed(String),
}

/// The health of `object` (a live object as JSON).
pub fn of(object: &Value) -> Health {
    let kind = object["kind"].as_str().unwrap_or_default();
    let group = object["apiVersion"]
        .as_str()
        .and_then(|v| v.rsplit_once('/'))
        .map_or("", |(group, _)| group);
    if let Some(waiting) = generation_pending(object) {
        return waiting;
    }
    match (group, kind) {
        ("apps", "Deployment") => deployment(object),
        ("apps", "StatefulSet") => stateful_set(object),
        ("apps", "DaemonSet") => daemon_set(object),
        ("batch", "Job") => job(object),
        ("", "PersistentVolumeClaim") => match object["status"]["phase"].as_str() {
            Some("Bound") => Health::Healthy,
            phase => Health::Progressing(format!("phase {}", phase.unwrap_or("Pending"))),
        },
        ("", "Pod") => pod(object),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            condition_is(object, "Established", "not established yet")
        }
        ("apiregistration.k8s.io", "APIService") => {
            condition_is(object, "Available", "not available yet")
        }
        _ => match condition(object, "Ready") {
            Some(("True", _)) | None => Health::Healthy,
            Some((_, message)) => Health::Progressing(if message.is_empty() {
                "not Ready yet".to_string()
            } else {
                format!("not Ready: {message}")
            }),
        },
    }
}

/// Whether `object` has stopped changing its deployment's wait: healthy, or failed.
pub fn settled(object: &Value) -> bool {
    !matches!(of(object), Health::Progressing(_))
}

/// A spec change the object's controller has not observed yet.
fn generation_pending(object: &Value) -> Option<Health> {
    let generation = object["metadata"]["generation"].as_i64()?;
    let observed = object["status"]["observedGeneration"].as_i64()?;
    (observed < generation).then(|| Health::Progressing("the new spec is not observed yet".into()))
}

fn count(object: &Value, field: &str) -> i64 {
    object["status"][field].as_i64().unwrap_or(0)
}

fn replicas(object: &Value) -> i64 {
    object["spec"]["replicas"].as_i64().unwrap_or(1)
}

fn deployment(object: &Value) -> Health {
    let wanted = replicas(object);
    let updated = count(object, "updatedReplicas");
    let available = count(object, "availableReplicas");
    let total = count(object, "replicas");
    if let Some((_, message)) =
        condition_with_reason(object, "Progressing", "ProgressDeadlineExceeded")
    {
        return Health::Failed(format!("progress deadline exceeded: {message}"));
    }
    if updated < wanted {
        return Health::Progressing(format!("{updated} of {wanted} replicas updated"));
    }
    if total > updated {
        return Health::Progressing(format!(
            "{} old replicas pending termination",
            total - updated
        ));
    }
    if available < wanted {
        return Health::Progressing(format!("{available} of {wanted} replicas available"));
    }
    Health::Healthy
}

fn stateful_set(object: &Value) -> Health {
    let wanted = replicas(object);
    let ready = count(object, "readyReplicas");
    let updated = count(object, "updatedReplicas");
    let rolling = object["spec"]["updateStrategy"]["type"].as_str() != Some("OnDelete");
    if rolling && updated < wanted {
        return Health::Progressing(format!("{updated} of {wanted} replicas updated"));
    }
    if ready < wanted {
        return Health::Progressing(format!("{ready} of {wanted} replicas ready"));
    }
    let current = object["status"]["currentRevision"].as_str();
    let update = object["status"]["updateRevision"].as_str();
    if rolling && current.is_some() && update.is_some() && current != update {
        return Health::Progressing("rolling out the new revision".into());
    }
    Health::Healthy
}

fn daemon_set(object: &Value) -> Health {
    let desired = count(object, "desiredNumberScheduled");
    let updated = count(object, "updatedNumberScheduled");
    let available = count(object, "numberAvailable");
    if updated < desired {
        return Health::Progressing(format!("{updated} of {desired} pods updated"));
    }
    if available < desired {
        return Health::Progressing(format!("{available} of {desired} pods available"));
    }
    Health::Healthy
}

fn job(object: &Value) -> Health {
    if let Some(("True", message)) = condition(object, "Failed") {
        return Health::Failed(if message.is_empty() {
            "the Job failed".into()
        } else {
            format!("the Job failed: {message}")
        });
    }
    match condition(object, "Complete") {
        Some(("True", _)) => Health::Healthy,
        _ => Health::Progressing(format!(
            "{} succeeded, {} active",
            count(object, "succeeded"),
            count(object, "active")
        )),
    }
}

fn pod(object: &Value) -> Health {
    match object["status"]["phase"].as_str() {
        Some("Succeeded") => Health::Healthy,
        Some("Failed") => Health::Failed("the Pod failed".into()),
        _ => condition_is(object, "Ready", "not Ready yet"),
    }
}

fn condition_is(object: &Value, type_: &str, waiting: &str) -> Health {
    match condition(object, type_) {
        Some(("True", _)) => Health::Healthy,
        _ => Health::Progressing(waiting.to_string()),
    }
}

/// The status and message of the condition `type_`, if the object has it.
fn condition<'a>(object: &'a Value, type_: &str) -> Option<(&'a str, &'a str)> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .map(|c| {
            (
                c["status"].as_str().unwrap_or_default(),
                c["message"].as_str().unwrap_or_default(),
            )
        })
}

/// The message of the condition `type_` when its reason is `reason`.
fn condition_with_reason<'a>(
    object: &'a Value,
    type_: &str,
    reason: &str,
) -> Option<(&'a str, &'a str)> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_ && c["reason"] == reason)
        .map(|c| {
            (
                c["status"].as_str().unwrap_or_default(),
                c["message"].as_str().unwrap_or_default(),
            )
        })
}

/// The health of a revision's objects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub total: usize,
    pub healthy: usize,
    /// `Kind namespace/name: what is awaited`, in inventory order.
    pub waiting: Vec<String>,
    /// `Kind namespace/name: why`, in inventory order.
    pub failed: Vec<String>,
    /// A post hook of the revision that failed once its objects were healthy: the revision
    /// failed with it.
    pub hook_failed: Option<String>,
}

/// How many objects a message names before it says "and N more".
const NAMED_IN_MESSAGES: usize = 3;

impl Summary {
    /// The health of `entries`, whose live states are `live` (same order).
    pub fn of(entries: &[capstan_api::InventoryEntry], live: &[Value]) -> Self {
        let mut summary = Summary {
            total: entries.len(),
            ..Summary::default()
        };
        for (entry, object) in entries.iter().zip(live) {
            let name = super::desired::describe(entry);
            match of(object) {
                Health::Healthy => summary.healthy += 1,
                Health::Progressing(what) => summary.waiting.push(format!("{name}: {what}")),
                Health::Failed(why) => summary.failed.push(format!("{name}: {why}")),
            }
        }
        summary
    }

    /// Whether every object is healthy (and no post hook failed).
    pub fn is_healthy(&self) -> bool {
        self.objects_healthy() && self.hook_failed.is_none()
    }

    /// Whether every object is healthy, hooks aside: when post hooks are due.
    pub fn objects_healthy(&self) -> bool {
        self.healthy == self.total
    }

    /// `3 of 5 objects healthy; waiting for Deployment web/api: 1 of 3 replicas available`.
    pub fn progress(&self) -> String {
        format!(
            "{} of {} objects healthy; waiting for {}",
            self.healthy,
            self.total,
            named(&self.waiting)
        )
    }

    /// What failed, or what was still awaited when time ran out.
    pub fn problems(&self) -> String {
        if let Some(hook) = &self.hook_failed {
            hook.clone()
        } else if self.failed.is_empty() {
            named(&self.waiting)
        } else {
            named(&self.failed)
        }
    }
}

fn named(items: &[String]) -> String {
    let mut text = items
        .iter()
        .take(NAMED_IN_MESSAGES)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if items.len() > NAMED_IN_MESSAGES {
        text.push_str(&format!(" (and {} more)", items.len() - NAMED_IN_MESSAGES));
    }
    text
}

/// Kinds whose health comes from their status: objects of other kinds without a `Ready`
/// condition are healthy as soon as they are applied.
pub fn has_health(api_version: &str, kind: &str) -> bool {
    let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
    matches!(
        (group, kind),
        ("apps", "Deployment" | "StatefulSet" | "DaemonSet")
            | ("batch", "Job")
            | ("", "PersistentVolumeClaim" | "Pod")
            | ("apiextensions.k8s.io", "CustomResourceDefinition")
            | ("apiregistration.k8s.io", "APIService")
    ) || !is_built_in(group)
}

/// The kinds with a health whose objects the controller watches (as metadata, those carrying a
/// deployment's label): a change of one wakes the deployment that applied it.
pub fn watched_kinds() -> [kube::core::ApiResource; 5] {
    use k8s_openapi::api::{apps::v1, batch::v1::Job, core::v1::PersistentVolumeClaim};
    use kube::core::ApiResource;
    [
        ApiResource::erase::<v1::Deployment>(&()),
        ApiResource::erase::<v1::StatefulSet>(&()),
        ApiResource::erase::<v1::DaemonSet>(&()),
        ApiResource::erase::<Job>(&()),
        ApiResource::erase::<PersistentVolumeClaim>(&()),
    ]
}

/// Whether a change in the health of the object `entry` names wakes its deployment: it has no
/// health, or it is of a [`watched_kinds`] kind in the watched namespace (`None`: all).
pub fn wakes_on_change(entry: &capstan_api::InventoryEntry, watch_namespace: Option<&str>) -> bool {
    if !has_health(&entry.api_version, &entry.kind) {
        return true;
    }
    let in_watched_namespace =
        watch_namespace.is_none_or(|watched| entry.namespace.as_deref() == Some(watched));
    in_watched_namespace
        && watched_kinds()
            .iter()
            .any(|kind| kind.api_version == entry.api_version && kind.kind == entry.kind)
}

/// Whether `group` is one of Kubernetes' own API groups (whose kinds other than those above
/// have no health).
fn is_built_in(group: &str) -> bool {
    group.is_empty() || !group.contains('.') || group.ends_with(".k8s.io")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> capstan_api::InventoryEntry {
        capstan_api::InventoryEntry {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: namespace.map(Into::into),
            name: "web".into(),
        }
    }

    #[test]
    fn only_objects_whose_health_the_watches_see_wake_their_deployment() {
        let app = Some("app");
        for (api_version, kind) in [
            ("apps/v1", "Deployment"),
            ("batch/v1", "Job"),
            ("v1", "PersistentVolumeClaim"),
        ] {
            assert!(wakes_on_change(&entry(api_version, kind, app), None));
            assert!(wakes_on_change(&entry(api_version, kind, app), Some("app")));
            assert!(
                !wakes_on_change(&entry(api_version, kind, Some("other")), Some("app")),
                "{kind}"
            );
        }
        // Without a health, nothing to wait for.
        assert!(wakes_on_change(
            &entry("v1", "ConfigMap", app),
            Some("other")
        ));
        // Health, but no watch.
        assert!(!wakes_on_change(&entry("v1", "Pod", app), None));
        assert!(!wakes_on_change(
            &entry("example.com/v1", "Widget", app),
            None
        ));
        assert!(!wakes_on_change(
            &entry("apiextensions.k8s.io/v1", "CustomResourceDefinition", None),
            None
        ));
    }

    fn deployment(replicas: i64, updated: i64, available: i64) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "api", "generation": 2},
               "spec": {"replicas": replicas},
               "status": {"observedGeneration": 2, "replicas": updated,
                          "updatedReplicas": updated, "availableReplicas": available}})
    }

    #[test]
    fn deployments_are_healthy_when_updated_and_available() {
        assert_eq!(of(&deployment(3, 3, 3)), Health::Healthy);
        assert_eq!(
            of(&deployment(3, 3, 1)),
            Health::Progressing("1 of 3 replicas available".into())
        );
        assert_eq!(
            of(&deployment(3, 1, 1)),
            Health::Progressing("1 of 3 replicas updated".into())
        );
        let mut stale = deployment(3, 3, 3);
        stale["status"]["observedGeneration"] = json!(1);
        assert!(matches!(of(&stale), Health::Progressing(_)));
        let mut stuck = deployment(3, 3, 0);
        stuck["status"]["conditions"] = json!([{"type": "Progressing", "status": "False",
            "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet has timed out"}]);
        assert!(matches!(of(&stuck), Health::Failed(_)));
    }

    #[test]
    fn only_healthy_or_failed_objects_are_settled() {
        assert!(!settled(&deployment(2, 1, 1)));
        assert!(!settled(&deployment(2, 2, 1)));
        assert!(settled(&deployment(2, 2, 2)));
        let mut stuck = deployment(2, 1, 1);
        stuck["status"]["conditions"] = json!([{"type": "Progressing", "status": "False",
            "reason": "ProgressDeadlineExceeded", "message": "timed out"}]);
        assert!(settled(&stuck));
        let mut unobserved = deployment(2, 2, 2);
        unobserved["metadata"]["generation"] = json!(3);
        unobserved["status"]["observedGeneration"] = json!(2);
        assert!(!settled(&unobserved));
    }

    #[test]
    fn summaries_count_and_name_what_is_awaited() {
        let entry = |name: &str| capstan_api::InventoryEntry {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("web".into()),
            name: name.into(),
        };
        let summary = Summary::of(
            &[entry("api"), entry("ui")],
            &[deployment(3, 3, 1), deployment(1, 1, 1)],
        );
        assert!(!summary.is_healthy());
        assert_eq!(
            summary.progress(),
            "1 of 2 objects healthy; waiting for Deployment web/api: 1 of 3 replicas available"
        );
        let healthy = Summary::of(&[entry("ui")], &[deployment(1, 1, 1)]);
        assert!(healthy.is_healthy());
    }

    #[test]
    fn jobs_complete_or_fail() {
        let job = |conditions: Value| {
            json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"},
                   "status": {"conditions": conditions, "active": 1}})
        };
        assert_eq!(
            of(&job(json!([{"type": "Complete", "status": "True"}]))),
            Health::Healthy
        );
        assert!(matches!(
            of(&job(json!([{"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}]))),
            Health::Failed(message) if message.contains("BackoffLimitExceeded")
        ));
        assert!(matches!(of(&job(json!([]))), Health::Progressing(_)));
    }

    #[test]
    fn other_kinds_follow_their_conditions_or_are_healthy_once_applied() {
        let crd = json!({"apiVersion": "apiextensions.k8s.io/v1",
                         "kind": "CustomResourceDefinition", "metadata": {"name": "a.b"},
                         "status": {"conditions": [{"type": "Established", "status": "True"}]}});
        assert_eq!(of(&crd), Health::Healthy);
        let pvc = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                         "metadata": {"name": "data"}, "status": {"phase": "Pending"}});
        assert!(matches!(of(&pvc), Health::Progressing(_)));
        let custom = json!({"apiVersion": "example.com/v1", "kind": "Cache",
                            "metadata": {"name": "c"},
                            "status": {"conditions": [{"type": "Ready", "status": "False",
                                                       "message": "warming up"}]}});
        assert_eq!(
            of(&custom),
            Health::Progressing("not Ready: warming up".into())
        );
        let config = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        assert_eq!(of(&config), Health::Healthy);
        assert!(!has_health("v1", "ConfigMap"));
        assert!(has_health("apps/v1", "Deployment"));
        assert!(has_health("example.com/v1", "Cache"));
    }
}
