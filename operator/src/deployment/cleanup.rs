//! What happens when a ChartDeployment is deleted: everything in its inventory (except kept
//! objects, and CRDs unless `spec.uninstall.deleteCRDs`) is deleted, then the finalizer lets the
//! resource go.

use capstan_api::{ChartDeployment, ChartDeploymentStatus, InventoryEntry};
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use tracing::{info, warn};

use crate::context::Context;
use crate::error::{Error, Result};
use crate::object_key::KindKey;

use super::acting::Acting;
use super::controller::Watched;
use super::identity::Identity;
use super::owner::Owner;
use super::prune::Refused;
use super::{crds, plan, prune};
use crate::report;

pub async fn cleanup(deployment: &ChartDeployment, ctx: &Context) -> Result<Action> {
    let inventory = deployment
        .status
        .as_ref()
        .map(|status| status.inventory.as_slice())
        .unwrap_or_default();
    let identity = Identity::of(deployment, &ctx.settings);
    let delete_crds = deployment
        .spec
        .uninstall
        .as_ref()
        .is_some_and(|uninstall| uninstall.delete_crds);
    delete_inventory(
        ctx,
        KindKey::of(deployment),
        identity,
        inventory,
        delete_crds,
    )
    .await
}

/// [`cleanup`] for a deployment whose spec cannot be decoded: its status (written by the
/// operator, so always readable) still holds the inventory.
pub async fn cleanup_undecodable(watched: &Watched, ctx: &Context) -> Result<Action> {
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
    let delete_crds = data["spec"]["uninstall"]["deleteCRDs"].as_bool() == Some(true);
    delete_inventory(ctx, key, identity, &status.inventory, delete_crds).await
}

async fn delete_inventory(
    ctx: &Context,
    key: KindKey,
    identity: Identity,
    inventory: &[InventoryEntry],
    delete_crds: bool,
) -> Result<Action> {
    // CRDs stay unless asked for: deleting one deletes every object of its kinds, everywhere.
    let all: Vec<_> = plan::to_prune(inventory, &[])
        .into_iter()
        .filter(|entry| crds::deleted_on_uninstall(entry, delete_crds))
        .collect();
    let owner = Owner::new(key.key.namespace.clone(), key.key.name.clone());
    let acting = Acting::new(ctx, identity)?;
    let (deleted, left) = prune::delete_each(&acting, &owner, &all, Refused::Skip).await?;
    if !left.is_empty() {
        // Named in an event on the way out: the deletion goes on without them.
        warn!(deployment = %key.key, left = left.len(), "objects left in place on deletion");
        report::publish_about(
            ctx,
            &key,
            EventType::Warning,
            "CleanupIncomplete",
            format!("Left in place on deletion: {}", left.join("; ")),
        )
        .await;
    }
    ctx.forget(&key);
    info!(deployment = %key.key, deleted = deleted.len(), "cleaned up");
    Ok(Action::await_change())
}
