//! Rolling back a failed upgrade (`spec.upgrade.remediation.strategy: Rollback`): the objects of
//! the newest healthy release, from its [`snapshot`], are applied again as a new release, what
//! the failed one added is pruned, and the failed revision is not tried again until the spec or
//! the chart changes. CRDs are left as they are.

use capstan_api::ChartDeployment;
use capstan_api::deployment::RemediationStrategy;
use tracing::info;

use crate::context::Context;
use crate::error::Result;
use crate::object_key::ObjectKey;

use super::acting::Acting;
use super::drift::DriftPolicy;
use super::health::Summary;
use super::owner::Owner;
use super::plan::{self, Adoption, Mode, Rules};
use super::status::{Applied, RolledBack};
use super::{apply, crds, desired, live, prune, rollback_hooks, snapshot};

/// Whether `deployment` asks for failed upgrades to be rolled back.
pub fn wanted(deployment: &ChartDeployment) -> bool {
    deployment
        .spec
        .upgrade
        .as_ref()
        .and_then(|upgrade| upgrade.remediation.as_ref())
        .and_then(|remediation| remediation.strategy)
        == Some(RemediationStrategy::Rollback)
}

/// Rolls back the applied revision, which failed because `why`. `None` when no earlier release
/// was healthy (a first install has nothing to go back to): the failure is reported as it is.
pub async fn run(
    deployment: &ChartDeployment,
    ctx: &Context,
    acting: &Acting<'_>,
    why: String,
    deadline: tokio::time::Instant,
) -> Result<Option<RolledBack>> {
    let Some(status) = deployment.status.as_ref() else {
        return Ok(None);
    };
    let (Some(failed), Some(current)) = (
        status.last_applied_revision.clone(),
        status
            .release_number
            .and_then(|number| u64::try_from(number).ok()),
    ) else {
        return Ok(None);
    };
    let Some(target) = snapshot::last_healthy(deployment, current) else {
        return Ok(None);
    };
    let snapshot = snapshot::load(acting, deployment, target).await?;
    info!(deployment = %ObjectKey::of(deployment), from = current, to = target, "rolling back a failed upgrade");
    let owner = Owner::of(deployment);
    let hooks = rollback_hooks::before(acting, deployment, &owner, &snapshot, deadline).await?;
    let objects = desired::build(
        Vec::new(),
        snapshot.objects.clone(),
        &owner,
        &plan::target_namespace(deployment),
        ctx.cluster.scopes().await?,
    )?;
    let observed = live::observe_all(acting, &objects).await?;
    let rules = Rules {
        mode: Mode::All,
        adoption: Adoption::of(deployment),
        drift: DriftPolicy::from_spec(deployment.spec.drift_detection.as_ref()),
    };
    let mut applied = apply::apply_all(acting, &owner, &objects, &observed, &rules).await?;
    // CRDs stay as they are, and listed.
    let (stale, crds_kept) =
        crds::not_pruned(plan::to_prune(&status.inventory, &applied.inventory));
    applied.list_first(
        crds_kept
            .into_iter()
            .map(|entry| (entry, serde_json::Value::Null))
            .collect(),
    );
    let pruned = prune::delete_all(acting, &owner, &stale).await?;
    let health = Summary::of(&applied.inventory, &applied.live);
    let revision = snapshot.revision.clone();
    let release = current.saturating_add(1);
    let hook_failure = rollback_hooks::after(
        acting, deployment, &owner, &hooks, snapshot, release, deadline,
    )
    .await;
    Ok(Some(RolledBack {
        applied: Applied {
            revision,
            release_number: release,
            inventory: applied.inventory,
            patched: applied.patched,
            pruned,
            provenance: None,
            policy_tag: String::new(),
            health,
            drift: Vec::new(),
            corrected: false,
            plan_digest: None,
        },
        failed,
        why: rollback_hooks::told_with(why, &hook_failure),
    }))
}
