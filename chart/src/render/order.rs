//! The order in which rendered objects are applied.
//!
//! Objects that others depend on come first (namespaces before what lives in them, service
//! accounts and config before the workloads that mount them), following Helm's install order so
//! charts behave the same under both tools. Kinds not in the list go last, sorted by kind name.

use super::Manifest;

/// Helm's install order, by kind.
const INSTALL_ORDER: &[&str] = &[
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

/// The position of a kind in the install order; unknown kinds share the last rank.
fn install_rank(kind: &str) -> usize {
    INSTALL_ORDER
        .iter()
        .position(|known| *known == kind)
        .unwrap_or(INSTALL_ORDER.len())
}

/// Sorts manifests into install order. The sort is stable and `manifests` arrive in render order
/// (source file, then position in the file), so ties keep that order; sorting on the source as well
/// makes the result independent of the order templates were rendered in.
pub(crate) fn sort_for_install(manifests: &mut [Manifest]) {
    manifests.sort_by(|a, b| {
        let rank_a = install_rank(&a.kind);
        let rank_b = install_rank(&b.kind);
        rank_a
            .cmp(&rank_b)
            .then_with(|| {
                if rank_a == INSTALL_ORDER.len() {
                    a.kind.cmp(&b.kind)
                } else {
                    std::cmp::Ordering::Equal
                }
            })
            .then_with(|| a.source.cmp(&b.source))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(kind: &str, source: &str, name: &str) -> Manifest {
        Manifest {
            source: source.to_string(),
            api_version: "v1".to_string(),
            kind: kind.to_string(),
            name: name.to_string(),
            namespace: None,
            object: serde_json::Value::Null,
            yaml: String::new(),
        }
    }

    #[test]
    fn orders_by_kind_then_source_then_position() {
        let mut manifests = vec![
            manifest("Deployment", "c/templates/a.yaml", "web"),
            manifest("Widget", "c/templates/a.yaml", "w"),
            manifest("Gadget", "c/templates/a.yaml", "g"),
            manifest("ConfigMap", "c/templates/z.yaml", "second-file"),
            manifest("ConfigMap", "c/templates/b.yaml", "first-in-b"),
            manifest("ConfigMap", "c/templates/b.yaml", "second-in-b"),
            manifest("Namespace", "c/templates/z.yaml", "ns"),
            manifest("Service", "c/templates/a.yaml", "svc"),
        ];
        sort_for_install(&mut manifests);
        let names: Vec<&str> = manifests.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "ns",
                "first-in-b",
                "second-in-b",
                "second-file",
                "svc",
                "web",
                "g",
                "w"
            ]
        );
    }
}
