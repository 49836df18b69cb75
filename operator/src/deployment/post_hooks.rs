//! `post-install`/`post-upgrade` hooks run once the revision's objects are healthy, as Helm runs
//! them after `--wait`; a hook that fails then fails the revision (`Ready=False`, reason
//! `HookFailed`, naming the hook), as a failed health check does, and a revision that never gets
//! healthy runs none.
//!
//! Health often comes reconciles after the apply, so the revision's hooks wait in its
//! [`snapshot`], kept before anything of it is applied, with a mark naming the pending phase;
//! the mark says `done` once they ran, so a revision that goes unhealthy and back does not run
//! them again. A failure stands until the revision is applied again (at its interval, or on a
//! new revision), which runs them again.

use capstan_api::ChartDeployment;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::error::{Error, Result};
use crate::object_key::ObjectKey;

use super::acting::Acting;
use super::health::Summary;
use super::history;
use super::hooks::{self, Hook, Phase};
use super::owner::Owner;
use super::snapshot::{self, DONE, POST_HOOKS, Snapshot};
use super::{desired, plan, status};

/// Keeps `kept`, the snapshot of a new revision, before anything of it is applied: with its
/// `hooks`, and a mark when hooks of `after` wait for it to be healthy. Required when the
/// revision has hooks (they run later from it); otherwise kept only `for_rollback`, and a failure
/// to keep it only logged.
pub async fn keep_snapshot(
    acting: &Acting<'_>,
    deployment: &ChartDeployment,
    mut kept: Snapshot,
    hooks: &[Hook],
    after: Phase,
    for_rollback: bool,
) -> Result<()> {
    if hooks.is_empty() {
        if for_rollback {
            snapshot::save(acting, deployment, &kept).await;
        }
        return Ok(());
    }
    kept = kept.with_hooks(hooks.iter().map(|hook| &hook.object));
    if hooks.iter().any(|hook| hook.runs_in(after)) {
        kept.marks
            .insert(POST_HOOKS.to_string(), after.name().to_string());
    }
    snapshot::try_save(acting, deployment, &kept).await
}

/// Where the post hooks of the revision looked at come from.
pub enum Pending<'a> {
    /// A new revision, just applied: its hooks as rendered, for `phase`.
    Fresh { hooks: &'a [Hook], phase: Phase },
    /// The revision applied earlier: its snapshot says whether they still wait, unless
    /// `none_waiting` (this operator applied it and saw no post hooks), when it is not read. A
    /// failure the status reports stands unless `retry_failed`.
    Stored {
        retry_failed: bool,
        none_waiting: bool,
    },
}

/// Runs the post hooks of release `release` if its objects are `health`y and the hooks still
/// wait; a hook that fails is recorded in `health`, which then fails the revision.
pub async fn run_when_healthy(
    acting: &Acting<'_>,
    deployment: &ChartDeployment,
    owner: &Owner,
    release: u64,
    pending: Pending<'_>,
    health: &mut Summary,
    deadline: Instant,
) -> Result<()> {
    if !health.objects_healthy() {
        return Ok(());
    }
    let key = ObjectKey::of(deployment);
    let (stored, phase) = match pending {
        Pending::Fresh { hooks, phase } => {
            let ran = run_recording(acting, owner, hooks, phase, health, deadline).await;
            if !ran.is_empty() {
                mark_done(acting, &key, release).await;
            }
            return Ok(());
        }
        Pending::Stored {
            retry_failed,
            none_waiting,
        } => {
            let Some(status) = deployment.status.as_ref() else {
                return Ok(());
            };
            if !retry_failed && let Some(failure) = status::carried_hook_failure(status) {
                health.hook_failed = Some(failure);
                return Ok(());
            }
            if none_waiting || !may_wait(deployment) {
                return Ok(());
            }
            let stored = match snapshot::find(acting, &key, release).await {
                Ok(Some(stored)) => stored,
                // An identity that may not read Secrets could not have kept hooks to run.
                Ok(None) | Err(Error::Forbidden { .. }) => return Ok(()),
                Err(error) => return Err(error),
            };
            let Some(phase) = waiting_phase(&stored) else {
                return Ok(());
            };
            (stored, phase)
        }
    };
    let hooks = stored_hooks(acting, deployment, owner, stored).await?;
    let ran = run_recording(acting, owner, &hooks, phase, health, deadline).await;
    if health.hook_failed.is_none() {
        info!(deployment = %key, phase = phase.name(), hooks = ?ran, "post hooks ran once healthy");
        mark_done(acting, &key, release).await;
    }
    Ok(())
}

/// Runs `phase`'s hooks; a failure (of the hook, or of the requests running it) goes into
/// `health`, as the revision's objects are applied already.
async fn run_recording(
    acting: &Acting<'_>,
    owner: &Owner,
    hooks: &[Hook],
    phase: Phase,
    health: &mut Summary,
    deadline: Instant,
) -> Vec<String> {
    match hooks::run(acting, owner, hooks, phase, deadline).await {
        Ok(ran) => ran,
        Err(error) => {
            health.hook_failed = Some(error.to_string());
            Vec::new()
        }
    }
}

async fn mark_done(acting: &Acting<'_>, key: &ObjectKey, release: u64) {
    if let Err(error) = snapshot::mark(acting, key, release, POST_HOOKS, DONE).await {
        warn!(deployment = %key, %error, "the post hooks ran but could not be marked done: they may run again");
    }
}

/// The release number the status reports applied (0 before the first).
pub fn applied_release(deployment: &ChartDeployment) -> u64 {
    deployment
        .status
        .as_ref()
        .and_then(|status| status.release_number)
        .and_then(|number| u64::try_from(number).ok())
        .unwrap_or(0)
}

/// Whether the status leaves room for post hooks still to run: the applied revision is not
/// reported healthy (once healthy, they ran) nor replaced by a rollback.
fn may_wait(deployment: &ChartDeployment) -> bool {
    deployment
        .status
        .as_ref()
        .and_then(|status| status.history.first())
        .is_some_and(|top| top.outcome == history::PROGRESSING || top.outcome == history::FAILED)
}

/// The post phase whose hooks the snapshot's mark says still wait.
fn waiting_phase(stored: &Snapshot) -> Option<Phase> {
    stored
        .marks
        .get(POST_HOOKS)
        .and_then(|name| Phase::named(name))
        .filter(|phase| matches!(phase, Phase::PostInstall | Phase::PostUpgrade))
}

/// The hooks kept in a snapshot, as objects to apply again.
pub async fn stored_hooks(
    acting: &Acting<'_>,
    deployment: &ChartDeployment,
    owner: &Owner,
    stored: Snapshot,
) -> Result<Vec<Hook>> {
    hooks_of(
        acting,
        owner,
        &plan::target_namespace(deployment),
        stored.hooks,
    )
    .await
}

/// `objects` (hooks as a snapshot keeps them) as hooks, namespaced into `target_namespace` where
/// they name none.
pub async fn hooks_of(
    acting: &Acting<'_>,
    owner: &Owner,
    target_namespace: &str,
    objects: Vec<serde_json::Value>,
) -> Result<Vec<Hook>> {
    if objects.is_empty() {
        return Ok(Vec::new());
    }
    let built = desired::build(
        Vec::new(),
        objects,
        owner,
        target_namespace,
        acting.cluster.scopes().await?,
    )?;
    Ok(hooks::split(built)?.1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(outcome: &str) -> ChartDeployment {
        serde_json::from_value(json!({
            "apiVersion": "capstan.dev/v1alpha1", "kind": "ChartDeployment",
            "metadata": {"name": "web", "namespace": "apps"},
            "spec": {"chart": {"package": {"configMapRef": {"name": "p"}}}},
            "status": {"history": [
                {"chart": "web", "version": "2", "releaseNumber": 2, "outcome": outcome,
                 "appliedTime": "2026-12-06T14:00:00Z", "archiveDigest": "a", "valuesDigest": "v"},
            ]},
        }))
        .unwrap()
    }

    /// The requests `run_when_healthy` sends for the healthy, progressing release 2 of
    /// `deployment(PROGRESSING)` when `none_waiting` says what this operator knows of it; the
    /// API server finds no snapshot.
    async fn requests_of_a_health_check(none_waiting: bool) -> Vec<String> {
        let (client, asked) =
            crate::fake_api::answering(404, crate::fake_api::status(404, "NotFound"));
        let cluster = crate::cluster::ClusterInfo::new(client.clone());
        let acting = Acting {
            cluster: &cluster,
            client,
            identity: super::super::identity::Identity::Operator,
        };
        let deployment = deployment(history::PROGRESSING);
        let mut health = Summary::of(&[], &[]);
        let pending = Pending::Stored {
            retry_failed: false,
            none_waiting,
        };
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        let owner = Owner::of(&deployment);
        run_when_healthy(
            &acting,
            &deployment,
            &owner,
            2,
            pending,
            &mut health,
            deadline,
        )
        .await
        .unwrap();
        assert!(health.hook_failed.is_none());
        asked.lock().unwrap().clone()
    }

    #[tokio::test]
    async fn a_release_known_to_have_no_post_hooks_is_not_looked_up() {
        assert_eq!(
            requests_of_a_health_check(false).await,
            ["GET /api/v1/namespaces/apps/secrets/capstan.release.web.v2"],
            "unknown: its snapshot says whether post hooks wait"
        );
        assert!(requests_of_a_health_check(true).await.is_empty());
    }

    #[test]
    fn post_hooks_may_wait_only_while_the_revision_was_never_reported_healthy() {
        assert!(may_wait(&deployment(history::PROGRESSING)));
        assert!(
            may_wait(&deployment(history::FAILED)),
            "late health, or a failed hook"
        );
        assert!(!may_wait(&deployment(history::HEALTHY)));
        assert!(!may_wait(&deployment(history::ROLLED_BACK)));
    }

    #[test]
    fn the_mark_names_the_phase_still_waiting() {
        let revision = capstan_api::Revision {
            chart: "web".into(),
            version: "2".into(),
            archive_digest: "a".into(),
            values_digest: "v".into(),
            manifest_digest: None,
        };
        let mut stored = Snapshot::of(&revision, 2, &[]);
        assert_eq!(waiting_phase(&stored), None);
        stored
            .marks
            .insert(POST_HOOKS.into(), "post-upgrade".into());
        assert_eq!(waiting_phase(&stored), Some(Phase::PostUpgrade));
        stored.marks.insert(POST_HOOKS.into(), DONE.into());
        assert_eq!(waiting_phase(&stored), None);
        stored.marks.insert(POST_HOOKS.into(), "pre-delete".into());
        assert_eq!(waiting_phase(&stored), None);
    }
}
