//! What happens when a ChartDeployment is deleted: everything in its inventory (except kept
//! objects) is deleted, then the finalizer lets the resource go.

use capstan_api::{ChartDeployment, ChartDeploymentStatus, InventoryEntry};
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::controller::Action;
use tracing::info;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::object_key::KindKey;

use super::controller::Watched;
use super::owner::Owner;
use super::{plan, prune};

pub async fn cleanup(deployment: &ChartDeployment, ctx: &Context) -> Result<Action> {
    let inventory = deployment
        .status
        .as_ref()
        .map(|status| status.inventory.as_slice())
        .unwrap_or_default();
    delete_inventory(ctx, KindKey::of(deployment), inventory).await
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
    let status: ChartDeploymentStatus = raw
        .and_then(|object| object.data.get("status").cloned())
        .and_then(|status| serde_json::from_value(status).ok())
        .unwrap_or_default();
    delete_inventory(ctx, key, &status.inventory).await
}

async fn delete_inventory(
    ctx: &Context,
    key: KindKey,
    inventory: &[InventoryEntry],
) -> Result<Action> {
    let all = plan::to_prune(inventory, &[]);
    let owner = Owner::new(key.key.namespace.clone(), key.key.name.clone());
    let deleted = prune::delete_all(&ctx.cluster, &owner, &all).await?;
    ctx.forget(&key);
    info!(deployment = %key.key, deleted = deleted.len(), "cleaned up");
    Ok(Action::await_change())
}
