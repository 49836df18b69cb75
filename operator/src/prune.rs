//! Pruning: deleting what the last inventory has and the new render does not.

use std::collections::HashSet;

use capstan_api::InventoryEntry;
use kube::api::{Api, DeleteParams, DynamicObject, PropagationPolicy};
use tracing::info;

use crate::cluster::ClusterInfo;
use crate::desired::{describe, group_of};
use crate::error::{Error, Result};
use crate::owner::{Owner, Ownership, is_kept, ownership};

/// Entries of `previous` that are not in `next`, in reverse install order (dependents before
/// what they depend on, CRDs last). Entries compare by group, kind, namespace and name, so an
/// object whose apiVersion moved from `v1beta1` to `v1` is not pruned.
pub fn to_prune(previous: &[InventoryEntry], next: &[InventoryEntry]) -> Vec<InventoryEntry> {
    let keep: HashSet<_> = next.iter().map(identity).collect();
    previous
        .iter()
        .rev()
        .filter(|entry| !keep.contains(&identity(entry)))
        .cloned()
        .collect()
}

fn identity(entry: &InventoryEntry) -> (&str, &str, Option<&str>, &str) {
    (
        group_of(&entry.api_version),
        &entry.kind,
        entry.namespace.as_deref(),
        &entry.name,
    )
}

/// Deletes each entry unless it is gone, kept by annotation, or no longer ours. Returns what
/// was deleted (as `Kind namespace/name`), for the event.
pub async fn delete_all(
    cluster: &ClusterInfo,
    owner: &Owner,
    entries: &[InventoryEntry],
) -> Result<Vec<String>> {
    let mut deleted = Vec::new();
    for entry in entries {
        let Some(api) = cluster
            .dynamic_api(&entry.api_version, &entry.kind, entry.namespace.as_deref())
            .await?
        else {
            // The kind is no longer served (its CRD went first): nothing left to delete.
            continue;
        };
        let prune_error = |error: kube::Error| Error::Prune {
            object: describe(entry),
            message: error.to_string(),
        };
        let Some(live) = api.get_opt(&entry.name).await.map_err(prune_error)? else {
            continue;
        };
        let annotations = live.metadata.annotations.as_ref();
        if ownership(annotations, owner) != Ownership::Ours || is_kept(annotations) {
            info!(object = %describe(entry), "not deleting: kept by annotation or owned elsewhere");
            continue;
        }
        delete(&api, entry).await?;
        deleted.push(describe(entry));
    }
    Ok(deleted)
}

async fn delete(api: &Api<DynamicObject>, entry: &InventoryEntry) -> Result<()> {
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..DeleteParams::default()
    };
    match api.delete(&entry.name, &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(Error::Prune {
            object: describe(entry),
            message: error.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(api_version: &str, kind: &str, name: &str) -> InventoryEntry {
        InventoryEntry {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: Some("ns".into()),
            name: name.into(),
        }
    }

    #[test]
    fn prunes_what_the_new_render_drops_in_reverse_order() {
        let previous = vec![
            entry("v1", "ConfigMap", "a"),
            entry("apps/v1", "Deployment", "web"),
            entry("v1", "Service", "web"),
        ];
        let next = vec![entry("apps/v1", "Deployment", "web")];
        let pruned: Vec<_> = to_prune(&previous, &next)
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(pruned, ["Service", "ConfigMap"]);
    }

    #[test]
    fn a_version_change_of_the_same_object_is_not_pruned() {
        let previous = vec![entry("autoscaling/v1", "HorizontalPodAutoscaler", "web")];
        let next = vec![entry("autoscaling/v2", "HorizontalPodAutoscaler", "web")];
        assert!(to_prune(&previous, &next).is_empty());
        assert!(to_prune(&previous, &previous).is_empty());
    }
}
