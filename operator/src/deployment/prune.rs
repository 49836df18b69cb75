//! Step 3 of a reconcile, continued: deleting what the last inventory has and the new revision
//! does not (the list comes from [`super::plan::to_prune`]), and everything on cleanup.

use capstan_api::InventoryEntry;
use kube::api::{Api, DeleteParams, DynamicObject, PropagationPolicy};
use tracing::info;

use crate::cluster::ClusterInfo;
use crate::error::{Error, Result};

use super::desired::describe;
use super::owner::{Owner, Ownership, is_kept, ownership};

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
        let prune_error = |source: kube::Error| Error::Prune {
            object: describe(entry),
            source,
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
        Err(source) => Err(Error::Prune {
            object: describe(entry),
            source,
        }),
    }
}
