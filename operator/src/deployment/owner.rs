//! Who owns an applied object: the ChartDeployment named in its label and annotation.

use std::collections::BTreeMap;

use capstan_api::labels::{
    DEPLOYMENT_ANNOTATION, DEPLOYMENT_LABEL, HELM_RESOURCE_POLICY_ANNOTATION, KEEP_ANNOTATION,
};
use sha2::{Digest, Sha256};

/// Longest value Kubernetes accepts for a label.
const LABEL_VALUE_MAX: usize = 63;
/// Longest field manager name Kubernetes accepts.
const FIELD_MANAGER_MAX: usize = 128;
/// Helm's annotations naming the release an object belongs to.
const HELM_RELEASE_NAME: &str = "meta.helm.sh/release-name";
const HELM_RELEASE_NAMESPACE: &str = "meta.helm.sh/release-namespace";

/// The ChartDeployment that applies an object.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Owner {
    pub namespace: String,
    pub name: String,
}

impl Owner {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Owner {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// The owner of what `deployment` applies.
    pub fn of(deployment: &capstan_api::ChartDeployment) -> Self {
        let key = crate::object_key::ObjectKey::of(deployment);
        Owner::new(key.namespace, key.name)
    }

    /// The annotation value, `<namespace>/<name>`: exact, and what ownership is decided on.
    pub fn annotation_value(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// The label value, `<namespace>.<name>`, for selecting a deployment's objects with
    /// `kubectl get -l`. Label values are limited to 63 characters, so a longer one keeps its start
    /// and ends in a hash of the whole, which stays unique.
    pub fn label_value(&self) -> String {
        let full = format!("{}.{}", self.namespace, self.name);
        if full.len() <= LABEL_VALUE_MAX {
            return full;
        }
        let hash = hex::encode(&Sha256::digest(full.as_bytes())[..8]);
        let keep = LABEL_VALUE_MAX - hash.len() - 1;
        let prefix = full[..keep].trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
        format!("{prefix}-{hash}")
    }

    /// The field manager of this deployment's server-side applies, `capstan/<namespace>.<name>`:
    /// one per deployment, so two deployments that both write a field conflict on the API
    /// server itself, not only in the operator's ownership check.
    pub fn field_manager(&self) -> String {
        let full = format!("capstan/{}.{}", self.namespace, self.name);
        if full.len() <= FIELD_MANAGER_MAX {
            return full;
        }
        let hash = hex::encode(&Sha256::digest(full.as_bytes())[..8]);
        format!("{}-{hash}", &full[..FIELD_MANAGER_MAX - hash.len() - 1])
    }

    /// Marks `object` (a JSON Kubernetes object) as ours.
    pub fn stamp(&self, object: &mut serde_json::Value) {
        let metadata = object.as_object_mut().map(|map| {
            map.entry("metadata")
                .or_insert_with(|| serde_json::json!({}))
        });
        let Some(serde_json::Value::Object(metadata)) = metadata else {
            return;
        };
        let labels = metadata
            .entry("labels")
            .or_insert_with(|| serde_json::json!({}));
        if let Some(labels) = labels.as_object_mut() {
            labels.insert(DEPLOYMENT_LABEL.into(), self.label_value().into());
        }
        let annotations = metadata
            .entry("annotations")
            .or_insert_with(|| serde_json::json!({}));
        if let Some(annotations) = annotations.as_object_mut() {
            annotations.insert(DEPLOYMENT_ANNOTATION.into(), self.annotation_value().into());
        }
    }
}

/// Who owns an object that already exists in the cluster, as far as we are concerned.
#[derive(Debug, PartialEq, Eq)]
pub enum Ownership {
    /// The object does not exist yet, or no ChartDeployment claims it: apply without force, so
    /// that fields managed by someone else make the apply fail instead of being taken.
    Unclaimed,
    /// It is ours: apply with force, taking back fields someone else changed.
    Ours,
    /// Another ChartDeployment (`<namespace>/<name>`) owns it: leave it alone and report.
    OtherDeployment(String),
}

/// Decides ownership from the live object's annotations (`None` when it does not exist).
pub fn ownership(live_annotations: Option<&BTreeMap<String, String>>, owner: &Owner) -> Ownership {
    match live_annotations.and_then(|annotations| annotations.get(DEPLOYMENT_ANNOTATION)) {
        None => Ownership::Unclaimed,
        Some(claimant) if *claimant == owner.annotation_value() => Ownership::Ours,
        Some(claimant) => Ownership::OtherDeployment(claimant.clone()),
    }
}

/// The Helm release (`namespace/name`) an object's annotations say it belongs to.
pub fn helm_release(annotations: &BTreeMap<String, String>) -> Option<String> {
    let name = annotations.get(HELM_RELEASE_NAME)?;
    let namespace = annotations
        .get(HELM_RELEASE_NAMESPACE)
        .map(String::as_str)
        .unwrap_or_default();
    Some(format!("{namespace}/{name}"))
}

/// Whether the object asks to be kept when it is pruned or its deployment deleted
/// (`capstan.dev/keep: "true"` or Helm's `helm.sh/resource-policy: keep`).
pub fn is_kept(annotations: Option<&BTreeMap<String, String>>) -> bool {
    let Some(annotations) = annotations else {
        return false;
    };
    annotations
        .get(KEEP_ANNOTATION)
        .is_some_and(|value| value.eq_ignore_ascii_case("true"))
        || annotations
            .get(HELM_RESOURCE_POLICY_ANNOTATION)
            .is_some_and(|value| value == "keep")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn ownership_is_read_from_the_annotation() {
        let owner = Owner::new("apps", "web");
        assert_eq!(ownership(None, &owner), Ownership::Unclaimed);
        assert_eq!(
            ownership(Some(&annotations(&[("other", "x")])), &owner),
            Ownership::Unclaimed
        );
        assert_eq!(
            ownership(
                Some(&annotations(&[(DEPLOYMENT_ANNOTATION, "apps/web")])),
                &owner
            ),
            Ownership::Ours
        );
        assert_eq!(
            ownership(
                Some(&annotations(&[(DEPLOYMENT_ANNOTATION, "apps/api")])),
                &owner
            ),
            Ownership::OtherDeployment("apps/api".into())
        );
    }

    #[test]
    fn long_label_values_are_shortened_but_stay_distinct() {
        let short = Owner::new("apps", "web");
        assert_eq!(short.label_value(), "apps.web");
        let long_a = Owner::new("a".repeat(40), "b".repeat(40));
        let long_b = Owner::new("a".repeat(40), format!("{}c", "b".repeat(39)));
        assert_eq!(long_a.label_value().len(), 63);
        assert_ne!(long_a.label_value(), long_b.label_value());
    }

    #[test]
    fn stamping_adds_label_and_annotation_and_keeps_the_rest() {
        let mut object = serde_json::json!({
            "kind": "ConfigMap",
            "metadata": {"name": "x", "labels": {"app": "web"}}
        });
        Owner::new("apps", "web").stamp(&mut object);
        assert_eq!(object["metadata"]["labels"]["app"], "web");
        assert_eq!(object["metadata"]["labels"][DEPLOYMENT_LABEL], "apps.web");
        assert_eq!(
            object["metadata"]["annotations"][DEPLOYMENT_ANNOTATION],
            "apps/web"
        );
    }

    #[test]
    fn field_managers_are_per_deployment_and_bounded() {
        assert_eq!(
            Owner::new("apps", "web").field_manager(),
            "capstan/apps.web"
        );
        let long = Owner::new("a".repeat(63), "b".repeat(200));
        assert_eq!(long.field_manager().len(), FIELD_MANAGER_MAX);
        let other = Owner::new("a".repeat(63), format!("{}c", "b".repeat(199)));
        assert_ne!(long.field_manager(), other.field_manager());
    }

    #[test]
    fn helm_releases_are_read_from_helms_annotations() {
        let helm = annotations(&[(HELM_RELEASE_NAME, "web"), (HELM_RELEASE_NAMESPACE, "prod")]);
        assert_eq!(helm_release(&helm).as_deref(), Some("prod/web"));
        assert_eq!(helm_release(&annotations(&[("other", "x")])), None);
    }

    #[test]
    fn keep_annotations_are_honoured() {
        assert!(!is_kept(None));
        assert!(is_kept(Some(&annotations(&[(KEEP_ANNOTATION, "true")]))));
        assert!(!is_kept(Some(&annotations(&[(KEEP_ANNOTATION, "false")]))));
        assert!(is_kept(Some(&annotations(&[(
            HELM_RESOURCE_POLICY_ANNOTATION,
            "keep"
        )]))));
    }
}
