//! Step 3 of a reconcile, continued: deleting what the last inventory has and the new revision
//! does not (the list comes from [`super::plan::to_prune`]), and everything on cleanup, as the
//! deployment's identity.

use capstan_api::InventoryEntry;
use kube::api::{Api, DeleteParams, DynamicObject, PropagationPolicy};
use tracing::info;

use crate::error::{Error, Result};

use super::acting::Acting;
use super::desired::describe;
use super::owner::{Owner, Ownership, is_kept, ownership};

/// Deletes each entry unless it is gone, kept by annotation, or no longer ours. Returns what
/// was deleted (as `Kind namespace/name`), for the event.
pub async fn delete_all(
    acting: &Acting<'_>,
    owner: &Owner,
    entries: &[InventoryEntry],
) -> Result<Vec<String>> {
    let mut deleted = Vec::new();
    for entry in entries {
        let Some(api) = acting.api(entry).await? else {
            // The kind is no longer served (its CRD went first): nothing left to delete.
            continue;
        };
        let Some(live) = api
            .get_opt(&entry.name)
            .await
            .map_err(|source| prune_error(acting, entry, source))?
        else {
            continue;
        };
        let annotations = live.metadata.annotations.as_ref();
        if ownership(annotations, owner) != Ownership::Ours || is_kept(annotations) {
            info!(object = %describe(entry), "not deleting: kept by annotation or owned elsewhere");
            continue;
        }
        delete(acting, &api, entry).await?;
        deleted.push(describe(entry));
    }
    Ok(deleted)
}

async fn delete(
    acting: &Acting<'_>,
    api: &Api<DynamicObject>,
    entry: &InventoryEntry,
) -> Result<()> {
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..DeleteParams::default()
    };
    match api.delete(&entry.name, &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(source) => Err(prune_error(acting, entry, source)),
    }
}

/// A failed read or delete of `entry`; a refused one names the identity and permission.
fn prune_error(acting: &Acting<'_>, entry: &InventoryEntry, source: kube::Error) -> Error {
    match source {
        kube::Error::Api(ref status) if status.code == 403 => {
            acting.refused(describe(entry), source)
        }
        source => Error::Prune {
            object: describe(entry),
            source,
        },
    }
}
