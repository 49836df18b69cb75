//! Kubernetes API versions that are deprecated or removed, by the minor release that did it.
//!
//! A chart that renders `extensions/v1beta1` Ingresses installs on an old cluster and fails on a
//! new one; linting against the target version catches that before a deploy does. The table
//! follows the Kubernetes deprecated API migration guide.

/// One API version of a kind that Kubernetes deprecated, removed, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetiredApi {
    pub api_version: &'static str,
    pub kind: &'static str,
    /// The minor version (of 1.x) from which the API server warns about it.
    pub deprecated_in: u64,
    /// The minor version (of 1.x) that no longer serves it, if any yet.
    pub removed_in: Option<u64>,
    pub replacement: &'static str,
}

const fn retired(
    api_version: &'static str,
    kind: &'static str,
    deprecated_in: u64,
    removed_in: Option<u64>,
    replacement: &'static str,
) -> RetiredApi {
    RetiredApi {
        api_version,
        kind,
        deprecated_in,
        removed_in,
        replacement,
    }
}

/// The kinds that moved from an old API version; `*` stands for every kind of that version.
/// Columns: API version, kind, deprecated in 1.x, removed in 1.x, what to use instead.
#[rustfmt::skip]
pub const RETIRED_APIS: &[RetiredApi] = &[
    retired("extensions/v1beta1", "Deployment", 9, Some(16), "apps/v1"),
    retired("extensions/v1beta1", "DaemonSet", 9, Some(16), "apps/v1"),
    retired("extensions/v1beta1", "ReplicaSet", 9, Some(16), "apps/v1"),
    retired("extensions/v1beta1", "NetworkPolicy", 9, Some(16), "networking.k8s.io/v1"),
    retired("extensions/v1beta1", "PodSecurityPolicy", 10, Some(16), "policy/v1beta1 (itself removed in 1.25)"),
    retired("extensions/v1beta1", "Ingress", 14, Some(22), "networking.k8s.io/v1"),
    retired("apps/v1beta1", "*", 9, Some(16), "apps/v1"),
    retired("apps/v1beta2", "*", 9, Some(16), "apps/v1"),
    retired("networking.k8s.io/v1beta1", "Ingress", 19, Some(22), "networking.k8s.io/v1"),
    retired("networking.k8s.io/v1beta1", "IngressClass", 19, Some(22), "networking.k8s.io/v1"),
    retired("apiextensions.k8s.io/v1beta1", "CustomResourceDefinition", 16, Some(22), "apiextensions.k8s.io/v1"),
    retired("admissionregistration.k8s.io/v1beta1", "MutatingWebhookConfiguration", 16, Some(22), "admissionregistration.k8s.io/v1"),
    retired("admissionregistration.k8s.io/v1beta1", "ValidatingWebhookConfiguration", 16, Some(22), "admissionregistration.k8s.io/v1"),
    retired("apiregistration.k8s.io/v1beta1", "APIService", 19, Some(22), "apiregistration.k8s.io/v1"),
    retired("authentication.k8s.io/v1beta1", "TokenReview", 19, Some(22), "authentication.k8s.io/v1"),
    retired("authorization.k8s.io/v1beta1", "*", 19, Some(22), "authorization.k8s.io/v1"),
    retired("certificates.k8s.io/v1beta1", "CertificateSigningRequest", 19, Some(22), "certificates.k8s.io/v1"),
    retired("coordination.k8s.io/v1beta1", "Lease", 19, Some(22), "coordination.k8s.io/v1"),
    retired("rbac.authorization.k8s.io/v1beta1", "*", 17, Some(22), "rbac.authorization.k8s.io/v1"),
    retired("rbac.authorization.k8s.io/v1alpha1", "*", 17, Some(22), "rbac.authorization.k8s.io/v1"),
    retired("scheduling.k8s.io/v1beta1", "PriorityClass", 14, Some(22), "scheduling.k8s.io/v1"),
    retired("scheduling.k8s.io/v1alpha1", "PriorityClass", 14, Some(17), "scheduling.k8s.io/v1"),
    retired("storage.k8s.io/v1beta1", "CSIDriver", 19, Some(22), "storage.k8s.io/v1"),
    retired("storage.k8s.io/v1beta1", "CSINode", 17, Some(22), "storage.k8s.io/v1"),
    retired("storage.k8s.io/v1beta1", "StorageClass", 19, Some(22), "storage.k8s.io/v1"),
    retired("storage.k8s.io/v1beta1", "VolumeAttachment", 19, Some(22), "storage.k8s.io/v1"),
    retired("storage.k8s.io/v1beta1", "CSIStorageCapacity", 24, Some(27), "storage.k8s.io/v1"),
    retired("batch/v1beta1", "CronJob", 21, Some(25), "batch/v1"),
    retired("batch/v2alpha1", "CronJob", 8, Some(21), "batch/v1"),
    retired("discovery.k8s.io/v1beta1", "EndpointSlice", 21, Some(25), "discovery.k8s.io/v1"),
    retired("events.k8s.io/v1beta1", "Event", 21, Some(25), "events.k8s.io/v1"),
    retired("autoscaling/v2beta1", "HorizontalPodAutoscaler", 22, Some(25), "autoscaling/v2"),
    retired("autoscaling/v2beta2", "HorizontalPodAutoscaler", 23, Some(26), "autoscaling/v2"),
    retired("policy/v1beta1", "PodDisruptionBudget", 21, Some(25), "policy/v1"),
    retired("policy/v1beta1", "PodSecurityPolicy", 21, Some(25), "Pod Security Admission (no replacement object)"),
    retired("node.k8s.io/v1beta1", "RuntimeClass", 20, Some(25), "node.k8s.io/v1"),
    retired("flowcontrol.apiserver.k8s.io/v1beta1", "*", 23, Some(26), "flowcontrol.apiserver.k8s.io/v1"),
    retired("flowcontrol.apiserver.k8s.io/v1beta2", "*", 26, Some(29), "flowcontrol.apiserver.k8s.io/v1"),
    retired("flowcontrol.apiserver.k8s.io/v1beta3", "*", 29, Some(32), "flowcontrol.apiserver.k8s.io/v1"),
    retired("v1", "Endpoints", 33, None, "discovery.k8s.io/v1 EndpointSlice"),
];

/// The table entry for an object's API version and kind, if it is retired in any release.
pub fn find_retired(api_version: &str, kind: &str) -> Option<&'static RetiredApi> {
    RETIRED_APIS
        .iter()
        .find(|r| r.api_version == api_version && (r.kind == kind || r.kind == "*"))
}

/// What a retired API means on a cluster of minor version `minor` (of 1.x).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiStatus {
    Served,
    Deprecated,
    Removed,
}

impl RetiredApi {
    pub fn status_at(&self, minor: u64) -> ApiStatus {
        match self.removed_in {
            Some(removed) if minor >= removed => ApiStatus::Removed,
            _ if minor >= self.deprecated_in => ApiStatus::Deprecated,
            _ => ApiStatus::Served,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingress_extensions_removed_in_122() {
        let api = find_retired("extensions/v1beta1", "Ingress").unwrap();
        assert_eq!(api.status_at(13), ApiStatus::Served);
        assert_eq!(api.status_at(21), ApiStatus::Deprecated);
        assert_eq!(api.status_at(22), ApiStatus::Removed);
    }

    #[test]
    fn wildcard_kinds_and_current_apis() {
        assert!(find_retired("rbac.authorization.k8s.io/v1beta1", "Role").is_some());
        assert!(find_retired("apps/v1", "Deployment").is_none());
        assert!(find_retired("autoscaling/v2", "HorizontalPodAutoscaler").is_none());
        let endpoints = find_retired("v1", "Endpoints").unwrap();
        assert_eq!(endpoints.status_at(36), ApiStatus::Deprecated);
    }
}
