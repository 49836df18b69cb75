//! A failed install or upgrade, counted and remediated as [`super::remediation`] decides: tried
//! again after a back-off, rolled back ([`super::rollback`]), uninstalled, or left as it is.
//! Everything this decides from is in the status it reads and writes, so an operator killed
//! part-way decides again from the same status when it restarts.

use std::time::Duration;

use capstan_api::deployment::{Failures, ReleaseAction};
use capstan_api::{ChartDeployment, InventoryEntry, Revision};
use k8s_openapi::jiff::Timestamp;
use tracing::info;

use crate::context::Context;
use crate::error::Result;
use crate::object_key::ObjectKey;

use super::acting::Acting;
use super::owner::Owner;
use super::remediation::{self, Next, Policy, Strategy};
use super::status::{self, Report, RolledBack};
use super::{crds, plan, prune, rollback};

/// A failed attempt at a revision.
pub struct Failure<'a> {
    pub revision: &'a Revision,
    pub action: ReleaseAction,
    /// Objects the attempt may have written beyond the status's inventory.
    pub written: &'a [InventoryEntry],
    /// The condition reason of the failure (`HealthCheckFailed`, `HookFailed`, ...).
    pub reason: &'static str,
    /// What failed, for the status.
    pub why: String,
}

/// What became of a failed attempt.
pub enum Remediated {
    /// It is made again after `after`.
    Retry {
        failures: Failures,
        retries: u32,
        reason: &'static str,
        after: Duration,
    },
    RolledBack {
        rolled: Box<RolledBack>,
        failures: Failures,
    },
    Uninstalled {
        failures: Failures,
        deleted: Vec<String>,
    },
    /// The attempts are used up and the revision stays as it is (no strategy, or nothing to
    /// roll back to: `because`).
    Left {
        failures: Failures,
        because: Option<&'static str>,
    },
}

impl Remediated {
    /// The status and event that say so.
    pub fn report(self, deployment: &ChartDeployment, now: Timestamp) -> Report {
        match self {
            Remediated::Retry {
                failures,
                retries,
                reason,
                after,
            } => status::after_failed_attempt(deployment, failures, retries, reason, after, now),
            Remediated::RolledBack { rolled, failures } => {
                status::after_rollback(deployment, &rolled, failures, now)
            }
            Remediated::Uninstalled { failures, deleted } => {
                status::after_uninstall(deployment, failures, &deleted, now)
            }
            Remediated::Left { failures, because } => {
                status::after_retries_exhausted(deployment, failures, because, now)
            }
        }
    }

    /// When to look again: after the back-off of a retry; otherwise at the interval.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Remediated::Retry { after, .. } => Some(*after),
            _ => None,
        }
    }
}

/// Counts `failure` and does what `policy` says comes next.
pub async fn run(
    deployment: &ChartDeployment,
    ctx: &Context,
    acting: &Acting<'_>,
    policy: Policy,
    failure: Failure<'_>,
    deadline: tokio::time::Instant,
) -> Result<Remediated> {
    let failures = remediation::count(
        deployment,
        failure.revision,
        failure.action,
        failure.why.clone(),
        Timestamp::now(),
    );
    let key = ObjectKey::of(deployment);
    info!(deployment = %key, version = %failure.revision.version, failures = failures.count, retries = policy.retries, why = %failure.why, "attempt failed");
    match remediation::next(&policy, failures.count) {
        Next::Retry(after) => Ok(Remediated::Retry {
            failures,
            retries: policy.retries,
            reason: failure.reason,
            after,
        }),
        Next::Remediate(None) => Ok(Remediated::Left {
            failures,
            because: None,
        }),
        Next::Remediate(Some(Strategy::Rollback)) => {
            let was_applied = deployment
                .status
                .as_ref()
                .and_then(|status| status.last_applied_revision.as_ref())
                == Some(failure.revision);
            let failed = rollback::Failed {
                revision: failure.revision,
                was_applied,
                written: failure.written,
                why: failure.why,
            };
            match rollback::run(deployment, ctx, acting, failed, deadline).await? {
                Some(rolled) => Ok(Remediated::RolledBack {
                    rolled: Box::new(rolled),
                    failures,
                }),
                None => Ok(Remediated::Left {
                    failures,
                    because: Some("no earlier release was healthy to roll back to"),
                }),
            }
        }
        Next::Remediate(Some(Strategy::Uninstall)) => {
            let deleted = uninstall(deployment, acting, failure.written).await?;
            info!(deployment = %key, deleted = deleted.len(), "uninstalled a failed install");
            Ok(Remediated::Uninstalled { failures, deleted })
        }
    }
}

/// Deletes what a failed install applied: its inventory and what the attempt wrote, CRDs aside
/// (never deleted but with the ChartDeployment and `uninstall.deleteCRDs`), objects kept by
/// annotation or no longer ours left alone.
async fn uninstall(
    deployment: &ChartDeployment,
    acting: &Acting<'_>,
    written: &[InventoryEntry],
) -> Result<Vec<String>> {
    let inventory: Vec<InventoryEntry> = deployment
        .status
        .iter()
        .flat_map(|status| &status.inventory)
        .chain(written)
        .cloned()
        .collect();
    let (objects, _crds) = crds::not_pruned(plan::to_prune(&rollback::dedup(inventory), &[]));
    prune::delete_all(acting, &Owner::of(deployment), &objects).await
}
