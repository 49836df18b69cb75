//! One reconcile of a ChartDeployment, as its steps: dereference, plan, apply, status.
//!
//! [`reconcile`] bounds the attempt by `spec.timeout`, then reports its outcome; [`attempt`]
//! reads as the pipeline it is. Every decision is a call into [`super::plan`]; every read a call
//! into [`super::dereference`] or [`super::live`].

use std::sync::Mutex;
use std::time::Duration;

use capstan_api::{ChartDeployment, Revision};
use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use tracing::info;

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
use super::status::{self, Applied, RolledBack};
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
    /// The applied upgrade failed its health check and was rolled back.
    RolledBack(Box<RolledBack>),
}

/// How far an attempt got, for the error that says where a timeout struck, and the revision
/// it was attempting once known.
#[derive(Default)]
pub struct Progress {
    stage: Mutex<(&'static str, Option<Revision>)>,
}

impl Progress {
    fn enter(&self, stage: &'static str) {
        lock(&self.stage).0 = stage;
    }

    fn attempting(&self, revision: &Revision) {
        lock(&self.stage).1 = Some(revision.clone());
    }

    fn stage(&self) -> &'static str {
        lock(&self.stage).0
    }

    fn attempted(&self) -> Option<Revision> {
        lock(&self.stage).1.clone()
    }
}

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
        Ok(Attempt::RolledBack(rolled)) => {
            ctx.clear_failures(&key);
            let report = status::after_rollback(deployment, &rolled, Timestamp::now());
            publish_then_requeue(ctx, deployment, report).await
        }
        Err(error) => {
            let attempted = progress.attempted();
            let report =
                status::after_failure(deployment, &error, attempted.as_ref(), Timestamp::now());
            status::publish(ctx, deployment, report).await?;
            Err(error)
        }
    }
}

/// How soon a revision on its way to healthy is looked at again if none of its objects' watches
/// wakes it first (kinds the operator does not watch, objects outside its namespace).
const HEALTH_RECHECK: Duration = Duration::from_secs(10);

/// Writes `report`, then asks to be woken at the interval, or soon while objects are on their
/// way to healthy.
async fn publish_then_requeue(
    ctx: &Context,
    deployment: &ChartDeployment,
    report: status::Report,
) -> Result<Action> {
    let progressing = status::is_progressing(report.status.as_ref().or(deployment.status.as_ref()));
    status::publish(ctx, deployment, report).await?;
    let interval = interval(deployment, ctx.settings.min_interval);
    Ok(Action::requeue(if progressing {
        HEALTH_RECHECK.min(interval)
    } else {
        interval
    }))
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
        match needed(&revision) {
            Needed::Nothing => return Ok(Attempt::Unchanged),
            Needed::HealthCheck => return health_check(deployment, ctx, &acting, deadline).await,
            Needed::Apply => {}
        }
    }

    progress.enter("fetching the chart");
    let fetched = dereference::archive(ctx, inputs.source, &inputs.policy).await?;
    let chart = capstan_chart::load::load_archive(&fetched.package.archive).map_err(Error::Load)?;
    let revision = plan::revision(&chart, &fetched, &values_digest);
    progress.attempting(&revision);
    match needed(&revision) {
        Needed::Nothing => return Ok(Attempt::Unchanged),
        Needed::HealthCheck => return health_check(deployment, ctx, &acting, deadline).await,
        Needed::Apply => {}
    }
    let provenance = plan::verify(
        &inputs.policy,
        inputs.keyring.as_ref(),
        &fetched.package,
        &revision,
    )?;
    if let Some(verified) = &provenance {
        info!(deployment = %key, signer = %verified.signer, fingerprint = %verified.key_fingerprint, "provenance verified");
    }

    progress.enter("rendering the chart");
    let release_number = plan::release_number(deployment, &revision);
    let capabilities = ctx.cluster.capabilities().await?;
    let options = plan::render_options(deployment, release_number, capabilities);
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
    let observed = live::observe_all(&acting, &objects).await?;
    let rules = plan::Rules::of(deployment, &revision);
    let previous_inventory = deployment
        .status
        .as_ref()
        .map(|status| status.inventory.as_slice())
        .unwrap_or_default();
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
        post_hooks::Pending::Stored { retry_failed: true }
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
        && rollback::wanted(deployment)
        && let Some(why) =
            status::health_failure(deployment, &health, Timestamp::now(), timeout(deployment))
        && let Some(rolled) = rollback::run(deployment, ctx, &acting, why, deadline).await?
    {
        return Ok(Attempt::RolledBack(Box::new(rolled)));
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
    post_hooks::run_when_healthy(
        acting,
        deployment,
        &Owner::of(deployment),
        post_hooks::applied_release(deployment),
        post_hooks::Pending::Stored {
            retry_failed: false,
        },
        &mut summary,
        deadline,
    )
    .await?;
    if rollback::wanted(deployment)
        && let Some(why) =
            status::health_failure(deployment, &summary, Timestamp::now(), timeout(deployment))
        && let Some(rolled) = rollback::run(deployment, ctx, acting, why, deadline).await?
    {
        return Ok(Attempt::RolledBack(Box::new(rolled)));
    }
    Ok(Attempt::HealthChecked(summary))
}

/// An object of `entry` that is not there, as health sees it.
fn gone(entry: &capstan_api::InventoryEntry) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "capstan.dev/v1alpha1", "kind": "Missing",
        "status": {"conditions": [{"type": "Ready", "status": "False",
                                   "message": format!("{} is gone", entry.kind)}]}
    })
}
