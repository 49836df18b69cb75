//! Step 3 of a reconcile, continued: deleting what the last inventory has and the new revision
//! does not (the list comes from [`super::plan::to_prune`]), and everything on cleanup, as the
//! deployment's identity.

use capstan_api::InventoryEntry;
use either::Either;
use kube::api::{Api, DeleteParams, DynamicObject, PropagationPolicy};
use tracing::info;

use crate::error::{Error, Result};

use super::acting::Acting;
use super::desired::describe;
use super::owner::{Owner, Ownership, is_kept, ownership};

/// Deletes each entry unless it is gone, kept by annotation, or no longer ours. Returns what
/// was deleted (as `Kind namespace/name`), for the event; objects still finalizing count as
/// deleted, since a revision does not wait for them.
pub async fn delete_all(
    acting: &Acting<'_>,
    owner: &Owner,
    entries: &[InventoryEntry],
) -> Result<Vec<String>> {
    let outcome = delete_each(acting, owner, entries, Refused::Fail).await?;
    Ok(outcome
        .deleted
        .into_iter()
        .chain(outcome.finalizing)
        .collect())
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

/// What [`delete_each`] did, each object as `Kind namespace/name`.
#[derive(Debug, Default)]
pub struct Deleted {
    /// Gone.
    pub deleted: Vec<String>,
    /// Deleted, but still there until their own finalizers are done.
    pub finalizing: Vec<String>,
    /// Refused to the identity ([`Refused::Skip`]), with why.
    pub left: Vec<String>,
}

/// [`delete_all`], with refused deletions handled as `refused` says. An object already being
/// deleted is not sent another delete: it is reported as finalizing.
pub async fn delete_each(
    acting: &Acting<'_>,
    owner: &Owner,
    entries: &[InventoryEntry],
    refused: Refused,
) -> Result<Deleted> {
    let mut outcome = Deleted::default();
    for entry in entries {
        match delete_one(acting, owner, entry).await {
            Ok(Deletion::Gone) => outcome.deleted.push(describe(entry)),
            Ok(Deletion::Finalizing) => outcome.finalizing.push(describe(entry)),
            Ok(Deletion::NotOurs) => {}
            Err(error @ Error::Forbidden { .. }) if refused == Refused::Skip => {
                outcome.left.push(error.to_string());
            }
            Err(error) => return Err(error),
        }
    }
    Ok(outcome)
}

/// What became of one object.
enum Deletion {
    Gone,
    /// Being deleted, held by its finalizers.
    Finalizing,
    /// Absent, kept by annotation, or not ours: untouched.
    NotOurs,
}

/// Deletes `entry` if it is there, ours and not kept.
async fn delete_one(
    acting: &Acting<'_>,
    owner: &Owner,
    entry: &InventoryEntry,
) -> Result<Deletion> {
    let Some(api) = acting.api(entry).await? else {
        // The kind is no longer served (its CRD went first): nothing left to delete.
        return Ok(Deletion::NotOurs);
    };
    let Some(live) = api
        .get_opt(&entry.name)
        .await
        .map_err(|source| prune_error(acting, entry, source))?
    else {
        return Ok(Deletion::NotOurs);
    };
    let annotations = live.metadata.annotations.as_ref();
    if ownership(annotations, owner) != Ownership::Ours || is_kept(annotations) {
        info!(object = %describe(entry), "not deleting: kept by annotation or owned elsewhere");
        return Ok(Deletion::NotOurs);
    }
    if live.metadata.deletion_timestamp.is_some() {
        return Ok(Deletion::Finalizing);
    }
    delete(acting, &api, entry).await
}

async fn delete(
    acting: &Acting<'_>,
    api: &Api<DynamicObject>,
    entry: &InventoryEntry,
) -> Result<Deletion> {
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        ..DeleteParams::default()
    };
    match api.delete(&entry.name, &params).await {
        // The API server answers with the object while finalizers still hold it.
        Ok(Either::Left(_)) => Ok(Deletion::Finalizing),
        Ok(Either::Right(_)) => Ok(Deletion::Gone),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(Deletion::Gone),
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
