//! What happens when a ChartDeployment is deleted: everything in its inventory (except kept
//! objects) is deleted, then the finalizer lets the resource go.

use std::sync::Arc;

use capstan_api::ChartDeployment;
use kube::runtime::controller::Action;
use tracing::info;

use crate::context::Context;
use crate::error::Result;
use crate::object_key::KindKey;

use super::owner::Owner;
use super::{plan, prune};

pub async fn cleanup(deployment: Arc<ChartDeployment>, ctx: &Context) -> Result<Action> {
    let inventory = deployment
        .status
        .as_ref()
        .map(|status| status.inventory.as_slice())
        .unwrap_or_default();
    let all = plan::to_prune(inventory, &[]);
    let deleted = prune::delete_all(&ctx.cluster, &Owner::of(&deployment), &all).await?;
    let key = KindKey::of(&*deployment);
    ctx.forget(&key);
    info!(deployment = %key.key, deleted = deleted.len(), "cleaned up");
    Ok(Action::await_change())
}
