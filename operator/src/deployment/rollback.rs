//! Rolling back a failed upgrade (`spec.upgrade.remediation.strategy: Rollback`): the objects of
//! the newest healthy release, from its [`snapshot`], are applied again as a new release, what
//! the failed one added is pruned, and the failed revision is not tried again until the spec or
//! the chart changes. CRDs are left as they are. When to roll back is [`super::remediation`]'s
//! decision.

use capstan_api::deployment::RemediationStrategy;
use capstan_api::{ChartDeployment, InventoryEntry, Revision};
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

/// What failed, for a rollback.
pub struct Failed<'a> {
    /// The revision that failed.
    pub revision: &'a Revision,
    /// Whether it was applied (it failed its health check) or failed on its way (rejected,
    /// a hook failed), in which case the release applied is still the one before it.
    pub was_applied: bool,
    /// Objects it may have written beyond the status's inventory (it failed part-way), which
    /// the rollback prunes unless the release it goes back to has them.
    pub written: &'a [InventoryEntry],
    /// Why it failed.
    pub why: String,
}

/// Rolls back the failed revision. `None` when no release to go back to was healthy (a first
/// install has nothing to go back to): the failure is reported as it is.
pub async fn run(
    deployment: &ChartDeployment,
    ctx: &Context,
    acting: &Acting<'_>,
    failed: Failed<'_>,
    deadline: tokio::time::Instant,
) -> Result<Option<RolledBack>> {
    let Some(status) = deployment.status.as_ref() else {
        return Ok(None);
    };
    let Some(current) = status
        .release_number
        .and_then(|number| u64::try_from(number).ok())
    else {
        return Ok(None);
    };
    let target = if failed.was_applied {
        snapshot::last_healthy(deployment, current)
    } else {
        snapshot::newest_healthy(deployment)
    };
    let Some(target) = target else {
        return Ok(None);
    };
    // A revision that failed on its way took the next release number.
    let release_number = current.saturating_add(if failed.was_applied { 1 } else { 2 });
    let snapshot = snapshot::load(acting, deployment, target).await?;
    info!(deployment = %ObjectKey::of(deployment), from = %failed.revision.version, to = target, "rolling back a failed upgrade");
    let owner = Owner::of(deployment);
    let hooks = rollback_hooks::before(acting, deployment, &owner, &snapshot, deadline).await?;
    let objects = desired::build(
        Vec::new(),
        snapshot.objects.clone(),
        &owner,
        &plan::target_namespace(deployment),
        ctx.cluster.scopes().await?,
    )?;
    let previous: Vec<InventoryEntry> = status
        .inventory
        .iter()
        .chain(failed.written)
        .cloned()
        .collect();
    // A rollback writes over the failed revision: every object is checked before the first
    // write.
    let observed = live::observe_all(
        acting,
        &owner,
        &objects,
        &previous,
        live::NewObjects::DryRun,
    )
    .await?;
    let rules = Rules {
        mode: Mode::All,
        adoption: Adoption::of(deployment),
        drift: DriftPolicy::from_spec(deployment.spec.drift_detection.as_ref()),
    };
    let mut applied = apply::apply_all(acting, &owner, &objects, &observed, &rules).await?;
    // CRDs stay as they are, and listed.
    let (stale, crds_kept) = crds::not_pruned(plan::to_prune(&previous, &applied.inventory));
    applied.list_first(
        dedup(crds_kept)
            .into_iter()
            .map(|entry| (entry, serde_json::Value::Null))
            .collect(),
    );
    let pruned = prune::delete_all(acting, &owner, &dedup(stale)).await?;
    let health = Summary::of(&applied.inventory, &applied.live);
    let revision = snapshot.revision.clone();
    let hook_failure = rollback_hooks::after(
        acting,
        deployment,
        &owner,
        &hooks,
        snapshot,
        release_number,
        deadline,
    )
    .await;
    Ok(Some(RolledBack {
        applied: Applied {
            revision,
            release_number,
            inventory: applied.inventory,
            patched: applied.patched,
            pruned,
            provenance: None,
            policy_tag: String::new(),
            health,
            drift: Vec::new(),
            corrected: false,
            plan_digest: None,
            fresh: true,
        },
        failed: failed.revision.clone(),
        why: rollback_hooks::told_with(failed.why, &hook_failure),
    }))
}

/// `entries` without repeats, first occurrence kept.
pub fn dedup(entries: Vec<InventoryEntry>) -> Vec<InventoryEntry> {
    let mut seen = std::collections::HashSet::new();
    entries
        .into_iter()
        .filter(|entry| seen.insert(entry.clone()))
        .collect()
}
