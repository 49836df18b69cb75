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
    let (deleted, _) = delete_each(acting, owner, entries, Refused::Fail).await?;
    Ok(deleted)
}

/// What to do when the identity may not delete an object.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Fail, so the next attempt tries again (pruning a revision).
    Fail,
    /// Leave it and go on (deleting a ChartDeployment, whose ServiceAccount or its RBAC may
    /// already be gone with its namespace): the finalizer must not hold the deletion forever.
    Skip,
}

/// [`delete_all`], with refused deletions handled as `refused` says. Returns what was deleted
/// and, with [`Refused::Skip`], what was left with why.
pub async fn delete_each(
    acting: &Acting<'_>,
    owner: &Owner,
    entries: &[InventoryEntry],
    refused: Refused,
) -> Result<(Vec<String>, Vec<String>)> {
    let mut deleted = Vec::new();
    let mut left = Vec::new();
    for entry in entries {
        match delete_one(acting, owner, entry).await {
            Ok(true) => deleted.push(describe(entry)),
            Ok(false) => {}
            Err(error @ Error::Forbidden { .. }) if refused == Refused::Skip => {
                left.push(error.to_string());
            }
            Err(error) => return Err(error),
        }
    }
    Ok((deleted, left))
}

/// Deletes `entry` if it is there, ours and not kept; whether it was deleted.
async fn delete_one(acting: &Acting<'_>, owner: &Owner, entry: &InventoryEntry) -> Result<bool> {
    let Some(api) = acting.api(entry).await? else {
        // The kind is no longer served (its CRD went first): nothing left to delete.
        return Ok(false);
    };
    let Some(live) = api
        .get_opt(&entry.name)
        .await
        .map_err(|source| prune_error(acting, entry, source))?
    else {
        return Ok(false);
    };
    let annotations = live.metadata.annotations.as_ref();
    if ownership(annotations, owner) != Ownership::Ours || is_kept(annotations) {
        info!(object = %describe(entry), "not deleting: kept by annotation or owned elsewhere");
        return Ok(false);
    }
    delete(acting, &api, entry).await?;
    Ok(true)
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
