//! One reconcile of a ChartDeployment, as its steps: dereference, plan, apply, status.
//!
//! [`reconcile`] bounds the attempt by `spec.timeout`, then reports its outcome; [`attempt`]
//! reads as the pipeline it is. Every decision is a call into [`super::plan`]; every read a call
//! into [`super::dereference`] or [`super::live`].

use std::sync::Mutex;
use std::time::Duration;

use capstan_api::deployment::ReleaseAction;
use capstan_api::{ChartDeployment, InventoryEntry, Revision};
use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use tracing::{debug, info, warn};

use crate::context::{Context, lock};
use crate::error::{Error, Result};
use crate::object_key::{KindKey, ObjectKey};

use super::acting::Acting;
use super::approval::Plan;
use super::controller::interval;
use super::dependencies;
use super::dereference::{self, Source};
use super::health::{self, Summary};
use super::identity::Identity;
use super::owner::Owner;
use super::plan::Needed;
use super::remediate::{self, Remediated};
use super::remediation::{self, Gate};
use super::status::{self, Applied};
use super::{
    apply, crds, desired, hooks, live, plan, post_hooks, prune, render, rollback, snapshot,
};
use capstan_api::deployment::{Approval, PlanStatus};

/// Default `spec.timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// What an attempt came to.
pub enum Attempt {
    /// The revision is the one applied, recently and under the same policy: nothing was read
    /// beyond the inputs and nothing was written.
    Unchanged,
    /// The revision applied recently is on its way to healthy: its objects' health was read.
    HealthChecked(Summary),
    /// The change is planned and waits for `spec.approvedPlan` to name its plan.
    AwaitingApproval {
        message: String,
        summary: Box<PlanStatus>,
        revision: Box<Revision>,
    },
    Applied(Box<Applied>),
    /// The applied revision failed its health check, under a remediation: it is tried again,
    /// rolled back, uninstalled or left ([`remediate`]).
    Remediated(Box<Remediated>),
    /// An earlier attempt at the revision failed; the next waits this long yet.
    BackingOff(Duration),
}

/// How far an attempt got, for the error that says where a timeout struck, the revision it
/// was attempting once known, and, once it started writing a new revision, what it writes (for
/// the remediation of a failure). It lives as long as one attempt.
#[derive(Default)]
pub struct Progress {
    stage: Mutex<Stage>,
}

#[derive(Default)]
struct Stage {
    name: &'static str,
    revision: Option<Revision>,
    writing: Option<(ReleaseAction, Vec<InventoryEntry>)>,
}

impl Progress {
    fn enter(&self, stage: &'static str) {
        lock(&self.stage).name = stage;
    }

    fn attempting(&self, revision: &Revision) {
        lock(&self.stage).revision = Some(revision.clone());
    }

    fn writing(&self, action: ReleaseAction, objects: Vec<InventoryEntry>) {
        lock(&self.stage).writing = Some((action, objects));
    }

    fn stage(&self) -> &'static str {
        lock(&self.stage).name
    }

    fn attempted(&self) -> Option<Revision> {
        lock(&self.stage).revision.clone()
    }

    fn written(&self) -> Option<(ReleaseAction, Vec<InventoryEntry>)> {
        lock(&self.stage).writing.clone()
    }
}

/// How soon a deployment waiting for its repository's first fetch by this operator looks again,
/// in case that wake-up is missed: the index arriving in the cache wakes it (see
/// [`crate::repository::index_cache::IndexCache::arrivals`]).
const INDEX_PENDING_RECHECK: std::time::Duration = std::time::Duration::from_secs(5);

/// Reconciles `deployment`: the attempt, bounded by `spec.timeout`, then its report.
pub async fn reconcile(deployment: &ChartDeployment, ctx: &Context) -> Result<Action> {
    if deployment.spec.suspend {
        return Ok(Action::await_change());
    }
    let key = KindKey::of(deployment);
    let timeout = timeout(deployment);
    let progress = Progress::default();
    let result = tokio::time::timeout(timeout, attempt(deployment, ctx, &progress))
        .await
        .unwrap_or_else(|_| {
            Err(Error::TimedOut {
                seconds: timeout.as_secs(),
                stage: progress.stage(),
            })
        });
    match result {
        Ok(Attempt::Unchanged) => {
            ctx.clear_failures(&key);
            Ok(Action::requeue(interval(
                deployment,
                ctx.settings.min_interval,
            )))
        }
        Ok(Attempt::AwaitingApproval {
            message,
            summary,
            revision,
        }) => {
            ctx.clear_failures(&key);
            let report = status::awaiting_approval(
                deployment,
                *summary,
                message,
                &revision,
                Timestamp::now(),
            );
            publish_then_requeue(ctx, deployment, report).await
        }
        Ok(Attempt::HealthChecked(health)) => {
            ctx.clear_failures(&key);
            let report = status::after_health_check(deployment, &health, Timestamp::now(), timeout);
            publish_then_requeue(ctx, deployment, report).await
        }
        Ok(Attempt::Applied(applied)) => {
            ctx.clear_failures(&key);
            ctx.mark_applied(&key.key, &applied.policy_tag);
            let report = status::after_success(deployment, &applied, Timestamp::now(), timeout);
            publish_then_requeue(ctx, deployment, report).await
        }
        Ok(Attempt::Remediated(remediated)) => {
            ctx.clear_failures(&key);
            publish_remediated(ctx, deployment, *remediated).await
        }
        Ok(Attempt::BackingOff(wait)) => Ok(Action::requeue(wait)),
        Err(Error::IndexPending { repository }) => {
            debug!(deployment = %key.key, %repository, "waiting for the repository's index");
            Ok(Action::requeue(INDEX_PENDING_RECHECK))
        }
        Err(error) => {
            if let Some(remediated) =
                remediate_failed_write(deployment, ctx, &progress, &error, timeout).await
            {
                match remediated {
                    Ok(remediated) => {
                        ctx.clear_failures(&key);
                        return publish_remediated(ctx, deployment, remediated).await;
                    }
                    Err(remediation_error) => {
                        warn!(deployment = %key, error = %remediation_error, "the remediation of a failed attempt failed");
                    }
                }
            }
            let attempted = progress.attempted();
            let report =
                status::after_failure(deployment, &error, attempted.as_ref(), Timestamp::now());
            status::publish(ctx, deployment, report).await?;
            Err(error)
        }
    }
}

/// Writes the report of a remediated attempt, then asks to be woken when its retry is due (or
/// at the interval).
async fn publish_remediated(
    ctx: &Context,
    deployment: &ChartDeployment,
    remediated: Remediated,
) -> Result<Action> {
    let retry_after = remediated.retry_after();
    let report = remediated.report(deployment, Timestamp::now());
    status::publish(ctx, deployment, report).await?;
    Ok(Action::requeue(retry_after.unwrap_or_else(|| {
        interval(deployment, ctx.settings.min_interval)
    })))
}

/// Counts and remediates an attempt that failed while writing a new revision, when the spec
/// asks for remediation and the error is the revision's own (see
/// [`remediation::is_failure_of_revision`]); `None` otherwise. Bounded by `timeout`.
async fn remediate_failed_write(
    deployment: &ChartDeployment,
    ctx: &Context,
    progress: &Progress,
    error: &Error,
    timeout: Duration,
) -> Option<Result<Remediated>> {
    let revision = progress.attempted()?;
    let (action, written) = progress.written()?;
    if !remediation::is_failure_of_revision(error) {
        return None;
    }
    let policy = remediation::policy(deployment, action)?;
    let failure = remediate::Failure {
        revision: &revision,
        action,
        written: &written,
        reason: error.reason(),
        why: remediation::cause(error),
    };
    let deadline = tokio::time::Instant::now() + timeout;
    let remediated = async {
        let acting = Acting::new(ctx, Identity::of(deployment, &ctx.settings))?;
        remediate::run(deployment, ctx, &acting, policy, failure, deadline).await
    };
    Some(
        tokio::time::timeout(timeout, remediated)
            .await
            .unwrap_or_else(|_| {
                Err(Error::TimedOut {
                    seconds: timeout.as_secs(),
                    stage: "remediating a failed attempt",
                })
            }),
    )
}

/// How soon a revision on its way to healthy is looked at again when some object with a health
/// is one the watches do not see (kinds the operator does not watch, objects outside its
/// namespace): those are polled.
const HEALTH_RECHECK: Duration = Duration::from_secs(10);

/// How soon a revision on its way to healthy is looked at again when the watches see every
/// object with a health: a change wakes it at once, so this is only the net for a watch that
/// went silent. Polling at [`HEALTH_RECHECK`] here cost every waiting deployment a read of its
/// objects every 10 s, which at a thousand deployments was most of the operator's requests.
const WATCHED_HEALTH_RECHECK: Duration = Duration::from_secs(60);

/// Writes `report`, then asks to be woken at the interval, or soon while objects are on their
/// way to healthy.
async fn publish_then_requeue(
    ctx: &Context,
    deployment: &ChartDeployment,
    report: status::Report,
) -> Result<Action> {
    let status = report.status.clone().or_else(|| deployment.status.clone());
    let progressing = status::is_progressing(status.as_ref());
    status::publish(ctx, deployment, report).await?;
    if status
        .as_ref()
        .is_some_and(|status| awaits_remediation(deployment, status))
    {
        return Ok(Action::requeue(REMEDIATION_RECHECK));
    }
    let interval = interval(deployment, ctx.settings.min_interval);
    Ok(Action::requeue(match status.filter(|_| progressing) {
        Some(status) => health_recheck(
            &status,
            ctx.settings.watch_namespace.as_deref(),
            timeout(deployment),
            Timestamp::now(),
        )
        .min(interval),
        None => interval,
    }))
}

/// How soon a deployment is looked at again after its status reported a post hook of the applied
/// revision failed while the spec asks for remediation: that next pass counts the failure and
/// retries, uninstalls or rolls back ([`remediate_health`] reads the failure from that status).
/// Nothing else need wake it: its own status write does not, and a hook Job that never ran
/// never changes.
const REMEDIATION_RECHECK: Duration = Duration::from_secs(1);

/// Whether `status`, just written for `deployment`, reports a post hook failure that remediation
/// has not counted yet under a spec that asks for remediation.
fn awaits_remediation(
    deployment: &ChartDeployment,
    status: &capstan_api::ChartDeploymentStatus,
) -> bool {
    if status::carried_hook_failure(status).is_none() {
        return false;
    }
    let reported = ChartDeployment {
        status: Some(status.clone()),
        ..deployment.clone()
    };
    remediation::policy(&reported, remediation::action_of_applied(&reported)).is_some()
        && !remediation::health_failure_counted(&reported)
}

/// When a revision on its way to healthy (`status`) is looked at again: soon when the watches do
/// not see all of its objects, else later; and no later than just after its health deadline
/// (`timeout` since it was applied), so one that never becomes healthy fails on time.
fn health_recheck(
    status: &capstan_api::ChartDeploymentStatus,
    watch_namespace: Option<&str>,
    timeout: Duration,
    now: Timestamp,
) -> Duration {
    let all_watched = status
        .inventory
        .iter()
        .all(|entry| health::wakes_on_change(entry, watch_namespace));
    let recheck = if all_watched {
        WATCHED_HEALTH_RECHECK
    } else {
        HEALTH_RECHECK
    };
    let Some(applied) = status.last_applied_time.as_ref() else {
        return recheck;
    };
    // Measured as the health check measures it.
    let waited = now.duration_since(applied.0).unsigned_abs();
    let until_deadline = timeout.saturating_sub(waited) + Duration::from_secs(1);
    recheck.min(until_deadline)
}

/// The deployment's `spec.timeout`, or the default.
pub fn timeout(deployment: &ChartDeployment) -> Duration {
    deployment
        .spec
        .timeout
        .as_ref()
        .map_or(DEFAULT_TIMEOUT, Into::into)
}

/// Dereference, plan, apply and prune one revision.
pub async fn attempt(
    deployment: &ChartDeployment,
    ctx: &Context,
    progress: &Progress,
) -> Result<Attempt> {
    let key = ObjectKey::of(deployment);
    let deadline = hooks::deadline(timeout(deployment));
    plan::check_target_namespace(deployment, ctx.settings.no_cross_namespace_refs)?;
    progress.enter("waiting for the deployments it depends on");
    dependencies::check(deployment, ctx).await?;
    let acting = Acting::new(ctx, Identity::of(deployment, &ctx.settings))?;
    progress.enter("reading the chart source and values");
    let inputs = dereference::inputs(deployment, ctx, &acting).await?;
    let policy_tag = inputs.policy.tag(inputs.keyring.as_ref());
    let values_digest = ctx.values_key.digest(&inputs.values);
    let needed = |revision: &Revision| {
        plan::needed(
            deployment,
            revision,
            ctx.applied_within(
                &key,
                interval(deployment, ctx.settings.min_interval),
                &policy_tag,
            ),
        )
    };
    // A repository's index names the archive's digest, so an unchanged revision is known
    // without downloading anything.
    if let Source::Repository { entry, .. } = &inputs.source
        && let Some(revision) = plan::indexed_revision(entry, &values_digest)
    {
        match remediation::gate(deployment, &revision, Timestamp::now()) {
            Gate::GivenUp => return Ok(Attempt::Unchanged),
            Gate::Wait(wait) => return Ok(Attempt::BackingOff(wait)),
            Gate::Retry => {}
            Gate::Proceed => match needed(&revision) {
                Needed::Nothing => return Ok(Attempt::Unchanged),
                Needed::HealthCheck => {
                    return health_check(deployment, ctx, &acting, deadline).await;
                }
                Needed::Apply => {}
            },
        }
    }

    progress.enter("fetching the chart");
    let fetched = dereference::archive(
        ctx,
        inputs.source,
        &inputs.policy,
        plan::resolution_reuse(deployment, interval(deployment, ctx.settings.min_interval)),
    )
    .await?;
    let load = || fetched.package.chart().map_err(Error::Load);
    // A chart pulled before says what it is without being unpacked again: a reconcile that finds
    // nothing to do (most of them, while objects become healthy) loads nothing.
    let (revision, loaded) = match &fetched.pulled {
        Some(pulled) => (
            plan::pulled_revision(pulled, &fetched, &values_digest),
            None,
        ),
        None => {
            let chart = load()?;
            (
                plan::revision(&chart, &fetched, &values_digest),
                Some(chart),
            )
        }
    };
    progress.attempting(&revision);
    // A retry attempts the revision afresh: hooks, every object, a new wait for health.
    let retrying = match remediation::gate(deployment, &revision, Timestamp::now()) {
        Gate::GivenUp => return Ok(Attempt::Unchanged),
        Gate::Wait(wait) => return Ok(Attempt::BackingOff(wait)),
        Gate::Retry => true,
        Gate::Proceed => match needed(&revision) {
            Needed::Nothing => return Ok(Attempt::Unchanged),
            Needed::HealthCheck => return health_check(deployment, ctx, &acting, deadline).await,
            Needed::Apply => false,
        },
    };
    let action = match remediation::failures_of(deployment, &revision) {
        Some(failures) if retrying => failures.action,
        _ => remediation::action_of_new_revision(deployment),
    };
    let provenance = plan::verify(
        &inputs.policy,
        inputs.keyring.as_ref(),
        &fetched.package,
        &revision,
    )?;
    if let Some(verified) = &provenance {
        info!(deployment = %key, signer = %verified.signer, fingerprint = %verified.key_fingerprint, "provenance verified");
    }

    let chart = match loaded {
        Some(chart) => chart,
        None => load()?,
    };

    progress.enter("rendering the chart");
    let release_number = plan::release_number(deployment, &revision);
    let capabilities = ctx.cluster.capabilities().await?;
    let mut options = plan::render_options(deployment, release_number, capabilities);
    if retrying {
        options.is_install = action == ReleaseAction::Install;
    }
    let options_is_install = options.is_install;
    let rendered =
        render::render_off_runtime(&ctx.render_slots, chart, inputs.values, options).await?;
    let owner = Owner::of(deployment);
    let objects = desired::build(
        rendered.crds.into_iter().map(|m| m.object).collect(),
        rendered.manifests.into_iter().map(|m| m.object).collect(),
        &owner,
        &plan::target_namespace(deployment),
        ctx.cluster.scopes().await?,
    )?;
    let (objects, hooks) = hooks::split(objects)?;

    progress.enter("applying the objects");
    let previous_inventory = deployment
        .status
        .as_ref()
        .map(|status| status.inventory.as_slice())
        .unwrap_or_default();
    let observed = live::observe_all(
        &acting,
        &owner,
        &objects,
        previous_inventory,
        plan::new_objects(deployment),
    )
    .await?;
    let mut rules = plan::Rules::of(deployment, &revision);
    if retrying {
        rules.mode = plan::Mode::All;
    }
    let crds::Selected {
        objects,
        observed,
        kept: kept_crds,
    } = crds::select(
        objects,
        observed,
        previous_inventory,
        &owner,
        crds::policy(deployment),
    );
    let unwritten: Vec<_> = kept_crds.iter().map(|(entry, _)| entry.clone()).collect();
    let mut plan_digest = None;
    if deployment.spec.approval == Some(Approval::Manual) {
        progress.enter("planning the change");
        let desired: Vec<_> = unwritten
            .iter()
            .cloned()
            .chain(objects.iter().map(|object| object.entry.clone()))
            .collect();
        let (stale, _) = crds::not_pruned(plan::to_prune(previous_inventory, &desired));
        let (planned, unchanged) =
            apply::plan_changes(&acting, &owner, &objects, &observed, &rules, &stale).await?;
        let change_plan = Plan::new(&revision, planned, unchanged, &ctx.values_key);
        if !change_plan.is_empty() {
            if deployment.spec.approved_plan.as_deref() != Some(change_plan.digest.as_str()) {
                // The same plan as already reported: its ConfigMaps hold it, write nothing.
                let reported = deployment
                    .status
                    .as_ref()
                    .and_then(|status| status.plan.as_ref())
                    .filter(|reported| reported.digest == change_plan.digest);
                let config_maps = match reported {
                    Some(reported) => reported.config_maps.clone(),
                    None => {
                        apply::write_plan(&acting, deployment, &change_plan.diff_pages()).await?
                    }
                };
                return Ok(Attempt::AwaitingApproval {
                    message: change_plan.describe(),
                    summary: Box::new(change_plan.summary(config_maps)),
                    revision: Box::new(revision),
                });
            }
            info!(deployment = %key, plan = %change_plan.digest, "applying the approved plan");
            plan_digest = Some(change_plan.digest);
        }
    }
    // Hooks run around a new revision, never around a drift correction.
    let (before, after) = hooks::Phase::around(options_is_install);
    let new_revision = rules.mode == plan::Mode::All;
    if new_revision {
        progress.writing(
            action,
            objects.iter().map(|object| object.entry.clone()).collect(),
        );
        let post_hooks = hooks.iter().any(|hook| hook.runs_in(after));
        ctx.applied_release(&key, release_number, post_hooks);
        let kept = snapshot::Snapshot::of(&revision, release_number, &objects);
        let for_rollback = rollback::wanted(deployment);
        post_hooks::keep_snapshot(&acting, deployment, kept, &hooks, after, for_rollback).await?;
        progress.enter(before.stage());
        hooks::run(&acting, &owner, &hooks, before, deadline).await?;
        progress.enter("applying the objects");
    }
    let mut applied = apply::apply_all(&acting, &owner, &objects, &observed, &rules).await?;
    applied.list_first(kept_crds);

    progress.enter("pruning objects the revision dropped");
    let (stale, crds_left) =
        crds::not_pruned(plan::to_prune(previous_inventory, &applied.inventory));
    if !crds_left.is_empty() {
        info!(deployment = %key, crds = ?plan::describe_all(&crds_left), "left in place: CRDs are never pruned");
    }
    let pruned = prune::delete_all(&acting, &owner, &stale).await?;
    info!(deployment = %key, chart = %revision.chart, version = %revision.version, release = release_number, objects = applied.inventory.len(), patched = applied.patched, pruned = pruned.len(), "applied");
    let mut health = Summary::of(&applied.inventory, &applied.live);
    progress.enter(after.stage());
    let pending = if new_revision {
        post_hooks::Pending::Fresh {
            hooks: &hooks,
            phase: after,
        }
    } else {
        post_hooks::Pending::Stored {
            retry_failed: true,
            none_waiting: ctx.without_post_hooks(&key, release_number),
        }
    };
    post_hooks::run_when_healthy(
        &acting,
        deployment,
        &owner,
        release_number,
        pending,
        &mut health,
        deadline,
    )
    .await?;
    // The revision already applied, re-applied at its interval, may have run out of time.
    if !new_revision
        && let Some(remediated) =
            remediate_health(deployment, ctx, &acting, &health, deadline).await?
    {
        return Ok(Attempt::Remediated(Box::new(remediated)));
    }
    Ok(Attempt::Applied(Box::new(Applied {
        revision,
        release_number,
        inventory: applied.inventory,
        patched: applied.patched,
        pruned,
        provenance,
        policy_tag,
        health,
        drift: applied.drift,
        corrected: applied.corrected,
        plan_digest,
        fresh: retrying,
    })))
}

/// Reads the objects of the applied revision whose kinds have a notion of health; a failed
/// upgrade is rolled back when the spec asks for it.
async fn health_check(
    deployment: &ChartDeployment,
    ctx: &Context,
    acting: &Acting<'_>,
    deadline: tokio::time::Instant,
) -> Result<Attempt> {
    let inventory = deployment
        .status
        .as_ref()
        .map(|status| status.inventory.as_slice())
        .unwrap_or_default();
    let mut live = Vec::with_capacity(inventory.len());
    for entry in inventory {
        let object = if health::has_health(&entry.api_version, &entry.kind) {
            // A gone object is not healthy: it shows as one that never became ready.
            live::read_entry(acting, entry)
                .await?
                .unwrap_or_else(|| gone(entry))
        } else {
            serde_json::Value::Null
        };
        live.push(object);
    }
    let mut summary = Summary::of(inventory, &live);
    let release = post_hooks::applied_release(deployment);
    post_hooks::run_when_healthy(
        acting,
        deployment,
        &Owner::of(deployment),
        release,
        post_hooks::Pending::Stored {
            retry_failed: false,
            none_waiting: ctx.without_post_hooks(&ObjectKey::of(deployment), release),
        },
        &mut summary,
        deadline,
    )
    .await?;
    if let Some(remediated) = remediate_health(deployment, ctx, acting, &summary, deadline).await? {
        return Ok(Attempt::Remediated(Box::new(remediated)));
    }
    Ok(Attempt::HealthChecked(summary))
}

/// Counts and remediates a failed health check of the applied revision (`health`), when the
/// spec asks for remediation and this failure is not counted yet; `None` otherwise.
async fn remediate_health(
    deployment: &ChartDeployment,
    ctx: &Context,
    acting: &Acting<'_>,
    health: &Summary,
    deadline: tokio::time::Instant,
) -> Result<Option<Remediated>> {
    let Some(revision) = deployment
        .status
        .as_ref()
        .and_then(|status| status.last_applied_revision.as_ref())
    else {
        return Ok(None);
    };
    let action = remediation::action_of_applied(deployment);
    let Some(policy) = remediation::policy(deployment, action) else {
        return Ok(None);
    };
    if remediation::health_failure_counted(deployment) {
        return Ok(None);
    }
    let Some(why) =
        status::health_failure(deployment, health, Timestamp::now(), timeout(deployment))
    else {
        return Ok(None);
    };
    let failure = remediate::Failure {
        revision,
        action,
        written: &[],
        reason: status::HEALTH_CHECK_FAILED,
        why,
    };
    remediate::run(deployment, ctx, acting, policy, failure, deadline)
        .await
        .map(Some)
}

/// An object of `entry` that is not there, as health sees it.
fn gone(entry: &capstan_api::InventoryEntry) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "capstan.dev/v1alpha1", "kind": "Missing",
        "status": {"conditions": [{"type": "Ready", "status": "False",
                                   "message": format!("{} is gone", entry.kind)}]}
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_api::ChartDeploymentStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn applied_at(
        seconds_ago: i64,
        objects: &[(&str, &str)],
    ) -> (ChartDeploymentStatus, Timestamp) {
        let now = Timestamp::from_second(1_800_000_000).unwrap();
        let status = ChartDeploymentStatus {
            last_applied_time: Some(Time(
                now - k8s_openapi::jiff::SignedDuration::from_secs(seconds_ago),
            )),
            inventory: objects
                .iter()
                .map(|(api_version, kind)| InventoryEntry {
                    api_version: api_version.to_string(),
                    kind: kind.to_string(),
                    namespace: Some("app".into()),
                    name: "web".into(),
                })
                .collect(),
            ..ChartDeploymentStatus::default()
        };
        (status, now)
    }

    const FIVE_MINUTES: Duration = Duration::from_secs(300);

    /// A first install whose post hook failed, under `spec` (besides its chart), with the
    /// status's `failures` when given.
    fn after_hook_failure(
        spec: serde_json::Value,
        failures: Option<serde_json::Value>,
    ) -> (ChartDeployment, ChartDeploymentStatus) {
        let revision = serde_json::json!({"chart": "checked", "version": "1.0.0",
            "archiveDigest": "sha256:a", "valuesDigest": "sha256:v"});
        let mut spec = spec;
        spec["chart"] = serde_json::json!({"package": {"configMapRef": {"name": "p"}}});
        let deployment: ChartDeployment = serde_json::from_value(serde_json::json!({
            "apiVersion": "capstan.dev/v1alpha1", "kind": "ChartDeployment",
            "metadata": {"name": "app", "namespace": "apps", "generation": 1},
            "spec": spec,
        }))
        .unwrap();
        let mut status = serde_json::json!({
            "conditions": [{"type": "Ready", "status": "False", "reason": status::HOOK_FAILED,
                            "message": "the post-install hook Job apps/app-check failed",
                            "lastTransitionTime": "2026-12-07T10:00:00Z", "observedGeneration": 1}],
            "observedGeneration": 1, "releaseNumber": 1,
            "lastAttemptedRevision": revision, "lastAppliedRevision": revision,
            "lastAppliedTime": "2026-12-07T10:00:00Z",
        });
        if let Some(failures) = failures {
            status["failures"] = failures;
        }
        (deployment, serde_json::from_value(status).unwrap())
    }

    #[test]
    fn a_post_hook_failure_to_remediate_is_looked_at_again_at_once() {
        let remediated = serde_json::json!({"install": {"remediation": {"retries": 1}}});
        let (deployment, status) = after_hook_failure(remediated.clone(), None);
        assert!(awaits_remediation(&deployment, &status));
        // Nothing to remediate: no policy, or the failure is counted already.
        let (deployment, status) = after_hook_failure(serde_json::json!({}), None);
        assert!(!awaits_remediation(&deployment, &status));
        let counted = serde_json::json!({"revision": {"chart": "checked", "version": "1.0.0",
            "archiveDigest": "sha256:a", "valuesDigest": "sha256:v"}, "generation": 1,
            "action": "Install", "count": 1, "lastFailureTime": "2026-12-07T10:00:01Z",
            "message": "the post-install hook failed"});
        let (deployment, status) = after_hook_failure(remediated, Some(counted));
        assert!(!awaits_remediation(&deployment, &status));
    }

    #[test]
    fn objects_the_watches_see_are_looked_at_again_only_as_a_net() {
        let (status, now) = applied_at(10, &[("apps/v1", "Deployment"), ("v1", "ConfigMap")]);
        assert_eq!(
            health_recheck(&status, None, FIVE_MINUTES, now),
            WATCHED_HEALTH_RECHECK
        );
        assert_eq!(
            health_recheck(&status, Some("app"), FIVE_MINUTES, now),
            WATCHED_HEALTH_RECHECK
        );
    }

    #[test]
    fn objects_the_watches_miss_are_polled() {
        let (status, now) = applied_at(10, &[("apps/v1", "Deployment"), ("v1", "Pod")]);
        assert_eq!(
            health_recheck(&status, None, FIVE_MINUTES, now),
            HEALTH_RECHECK
        );
        // A Deployment outside the watched namespace is not seen either.
        let (status, now) = applied_at(10, &[("apps/v1", "Deployment")]);
        assert_eq!(
            health_recheck(&status, Some("operator"), FIVE_MINUTES, now),
            HEALTH_RECHECK
        );
    }

    #[test]
    fn a_revision_is_looked_at_again_just_after_its_health_deadline() {
        let (status, now) = applied_at(290, &[("apps/v1", "Deployment")]);
        assert_eq!(
            health_recheck(&status, None, FIVE_MINUTES, now),
            Duration::from_secs(11)
        );
        let (status, now) = applied_at(400, &[("apps/v1", "Deployment")]);
        assert_eq!(
            health_recheck(&status, None, FIVE_MINUTES, now),
            Duration::from_secs(1)
        );
    }
}
