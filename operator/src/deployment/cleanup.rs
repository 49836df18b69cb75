//! What happens when a ChartDeployment is deleted: the release's `pre-delete` hooks run
//! ([`uninstall_hooks`]), then everything in its inventory (except kept objects, and CRDs unless
//! `spec.uninstall.deleteCRDs`) is deleted; once the deleted objects are gone (their own
//! finalizers done, waited for up to `spec.timeout` unless `spec.uninstall.disableWait`), its
//! `post-delete` hooks run and the finalizer lets the resource go.

use crate::events::EventType;
use capstan_api::{ChartDeployment, ChartDeploymentStatus, InventoryEntry};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Resource;
use kube::api::{Api, ApiResource, DynamicObject};
use tracing::{info, warn};

use crate::context::Context;
use crate::error::{Error, Result};
use crate::object_key::KindKey;

use super::acting::Acting;
use super::controller::Watched;
use super::identity::Identity;
use super::owner::Owner;
use super::prune::Refused;
use super::uninstall_hooks::{DeleteHooks, Release};
use super::{crds, plan, prune};
use crate::report;

/// Where a deletion stands after a pass of [`cleanup`].
#[derive(Debug, PartialEq, Eq)]
pub enum Cleanup {
    /// Everything is deleted (or left, with an event): the finalizer may go.
    Done,
    /// Objects are still finalizing: look again shortly, keeping the finalizer.
    Waiting,
}

/// How often a deletion waiting for finalizing objects looks again.
pub const WAIT_POLL: std::time::Duration = std::time::Duration::from_secs(2);

/// What `spec.uninstall` and `spec.timeout` ask of a deletion.
struct Uninstall {
    delete_crds: bool,
    /// Until when the deletion's hooks may run: `spec.timeout` from the deletion.
    deadline: Timestamp,
    /// Until when to wait for finalizing objects; `None` with `disableWait`.
    wait_until: Option<Timestamp>,
}

impl Uninstall {
    fn new(
        delete_crds: bool,
        disable_wait: bool,
        deleted_at: Option<Timestamp>,
        timeout: std::time::Duration,
    ) -> Self {
        let start = deleted_at.unwrap_or_else(Timestamp::now);
        let deadline = start
            .checked_add(SignedDuration::try_from(timeout).unwrap_or(SignedDuration::MAX))
            .unwrap_or(Timestamp::MAX);
        Uninstall {
            delete_crds,
            deadline,
            wait_until: (!disable_wait).then_some(deadline),
        }
    }
}

/// The release number `status` reports applied (0: none).
fn applied_release(status: Option<&ChartDeploymentStatus>) -> u64 {
    status
        .and_then(|status| status.release_number)
        .and_then(|number| u64::try_from(number).ok())
        .unwrap_or(0)
}

pub async fn cleanup(deployment: &ChartDeployment, ctx: &Context) -> Result<Cleanup> {
    let inventory = deployment
        .status
        .as_ref()
        .map(|status| status.inventory.as_slice())
        .unwrap_or_default();
    let identity = Identity::of(deployment, &ctx.settings);
    let uninstall = deployment.spec.uninstall.clone().unwrap_or_default();
    let policy = Uninstall::new(
        uninstall.delete_crds,
        uninstall.disable_wait,
        deployment
            .metadata
            .deletion_timestamp
            .as_ref()
            .map(|time| time.0),
        super::reconcile::timeout(deployment),
    );
    let release = (
        applied_release(deployment.status.as_ref()),
        plan::target_namespace(deployment),
    );
    delete_inventory(
        ctx,
        KindKey::of(deployment),
        identity,
        inventory,
        policy,
        release,
    )
    .await
}

/// [`cleanup`] for a deployment whose spec cannot be decoded: its status (written by the
/// operator, so always readable) still holds the inventory.
pub async fn cleanup_undecodable(watched: &Watched, ctx: &Context) -> Result<Cleanup> {
    let key = KindKey::of(watched);
    let resource = ApiResource::erase::<ChartDeployment>(&());
    let raw =
        Api::<DynamicObject>::namespaced_with(ctx.client.clone(), &key.key.namespace, &resource)
            .get_opt(&key.key.name)
            .await
            .map_err(Error::kube(format!("reading {key}")))?;
    let data = raw.map(|object| object.data).unwrap_or_default();
    let status: ChartDeploymentStatus =
        serde_json::from_value(data["status"].clone()).unwrap_or_default();
    // The identity as the spec names it, read field by field from what does decode.
    let identity = match data["spec"]["serviceAccountName"].as_str() {
        Some(name) => Identity::ServiceAccount {
            namespace: key.key.namespace.clone(),
            name: name.to_string(),
        },
        None => match &ctx.settings.default_service_account {
            Some(name) => Identity::ServiceAccount {
                namespace: key.key.namespace.clone(),
                name: name.clone(),
            },
            None => Identity::Operator,
        },
    };
    let spec = &data["spec"];
    let timeout = spec["timeout"]
        .as_str()
        .and_then(|text| text.parse::<capstan_api::Duration>().ok())
        .map_or(super::reconcile::DEFAULT_TIMEOUT, |duration| {
            (&duration).into()
        });
    let policy = Uninstall::new(
        spec["uninstall"]["deleteCRDs"].as_bool() == Some(true),
        spec["uninstall"]["disableWait"].as_bool() == Some(true),
        watched
            .meta()
            .deletion_timestamp
            .as_ref()
            .map(|time| time.0),
        timeout,
    );
    let target_namespace = spec["targetNamespace"]
        .as_str()
        .unwrap_or(&key.key.namespace)
        .to_string();
    let release = (applied_release(Some(&status)), target_namespace);
    delete_inventory(ctx, key, identity, &status.inventory, policy, release).await
}

/// Deletes `inventory` between the delete hooks of the release (`number`, `target_namespace`)
/// applied last.
async fn delete_inventory(
    ctx: &Context,
    key: KindKey,
    identity: Identity,
    inventory: &[InventoryEntry],
    policy: Uninstall,
    (number, target_namespace): (u64, String),
) -> Result<Cleanup> {
    // CRDs stay unless asked for: deleting one deletes every object of its kinds, everywhere.
    let all: Vec<_> = plan::to_prune(inventory, &[])
        .into_iter()
        .filter(|entry| crds::deleted_on_uninstall(entry, policy.delete_crds))
        .collect();
    let owner = Owner::new(key.key.namespace.clone(), key.key.name.clone());
    let acting = Acting::new(ctx, identity)?;
    let release = Release {
        key: &key,
        number,
        target_namespace,
        deadline: policy.deadline,
    };
    let mut hooks = DeleteHooks::load(ctx, &acting, &owner, &release).await;
    hooks.before(ctx, &acting, &owner, &release).await;
    let outcome = prune::delete_each(&acting, &owner, &all, Refused::Skip).await?;
    if !outcome.finalizing.is_empty() {
        match policy.wait_until {
            Some(deadline) if Timestamp::now() < deadline => {
                info!(deployment = %key.key, finalizing = ?outcome.finalizing, "waiting for deleted objects to be gone");
                return Ok(Cleanup::Waiting);
            }
            Some(_) => {
                warn!(deployment = %key.key, finalizing = outcome.finalizing.len(), "deleted objects still finalizing at the timeout");
                report::publish_about(
                    ctx,
                    &key,
                    EventType::Warning,
                    "UninstallTimedOut",
                    format!(
                        "Still finalizing when spec.timeout ran out, left to their finalizers: {}",
                        outcome.finalizing.join(", ")
                    ),
                )
                .await;
            }
            None => {}
        }
    }
    if !outcome.left.is_empty() {
        // Named in an event on the way out: the deletion goes on without them.
        warn!(deployment = %key.key, left = outcome.left.len(), "objects left in place on deletion");
        report::publish_about(
            ctx,
            &key,
            EventType::Warning,
            "CleanupIncomplete",
            format!("Left in place on deletion: {}", outcome.left.join("; ")),
        )
        .await;
    }
    hooks.after(ctx, &acting, &owner, &release).await;
    ctx.forget(&key);
    info!(deployment = %key.key, deleted = outcome.deleted.len(), "cleaned up");
    Ok(Cleanup::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_have_spec_timeout_from_the_deletion_even_without_waiting() {
        let deleted = Timestamp::from_second(1_000).unwrap();
        let timeout = std::time::Duration::from_secs(60);
        let waits = Uninstall::new(false, false, Some(deleted), timeout);
        let expected = Timestamp::from_second(1_060).unwrap();
        assert_eq!(waits.deadline, expected);
        assert_eq!(waits.wait_until, Some(expected));
        let quick = Uninstall::new(false, true, Some(deleted), timeout);
        assert_eq!(
            quick.deadline, expected,
            "delete hooks still run to the timeout"
        );
        assert_eq!(quick.wait_until, None);
    }
}
