//! Step 4 of a reconcile: the new status and event, computed without a client from what the
//! attempt came to ([`after_success`], [`after_failure`]), and written by one function
//! ([`publish`]). A status that would say what it already says is not written.

use crate::events::EventType;
use capstan_api::deployment::{DriftedObject, Failures, PlanStatus, ReleaseAction};
use capstan_api::{
    ChartDeployment, ChartDeploymentStatus, InventoryEntry, ProvenanceStatus, Revision,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::Resource;

use std::time::Duration;

use crate::conditions::{Outcome, conditions, same};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::report;

use super::health::Summary;
use super::{history, remediation};

/// A revision applied (or re-checked) in full.
#[derive(Clone, Debug, PartialEq)]
pub struct Applied {
    pub revision: Revision,
    /// The release number the templates saw.
    pub release_number: u64,
    pub inventory: Vec<InventoryEntry>,
    /// How many objects were written (all of a new revision; drifted ones of the same).
    pub patched: usize,
    /// `Kind namespace/name` of what was pruned.
    pub pruned: Vec<String>,
    /// The verified signature, when provenance was checked.
    pub provenance: Option<ProvenanceStatus>,
    /// The verification policy the revision was checked under.
    pub policy_tag: String,
    /// The health of the objects as last seen.
    pub health: Summary,
    /// Objects found drifted from the revision already applied.
    pub drift: Vec<DriftedObject>,
    /// Whether that drift was corrected (`Enabled`) or left alone (`Warn`).
    pub corrected: bool,
    /// The approved plan this was applied from (`spec.approval: Manual`).
    pub plan_digest: Option<String>,
    /// A fresh attempt (a retry of a failed one, or a rollback): its wait for health starts now
    /// even when the revision is the one applied.
    pub fresh: bool,
}

/// What to tell the user: a status to write and an event to publish, either possibly absent.
#[derive(Debug, Default, PartialEq)]
pub struct Report {
    pub status: Option<ChartDeploymentStatus>,
    pub event: Option<Note>,
}

/// An event about the deployment.
#[derive(Debug, PartialEq)]
pub struct Note {
    pub type_: EventType,
    pub reason: &'static str,
    pub message: String,
}

/// The report after `applied`: the status moves when the revision, the inventory or the
/// conditions do; re-applying the same revision to undo drift only publishes an event. Ready
/// means healthy: while objects are on their way the deployment is `Ready=Unknown`,
/// `Reconciling=True` (reason `Progressing`), and once `timeout` has passed since the revision
/// was applied, or an object failed, `Ready=False` (reason `HealthCheckFailed`).
pub fn after_success(
    deployment: &ChartDeployment,
    applied: &Applied,
    now: Timestamp,
    timeout: Duration,
) -> Report {
    let previous = deployment.status.clone().unwrap_or_default();
    let revision = &applied.revision;
    let message = format!(
        "Applied {} {}: {} objects{}",
        revision.chart,
        revision.version,
        applied.inventory.len(),
        if applied.pruned.is_empty() {
            String::new()
        } else {
            format!(", pruned {}", applied.pruned.len())
        }
    );
    let same_revision = previous.last_applied_revision.as_ref() == Some(revision) && !applied.fresh;
    // The time moves only when the revision does (or it is attempted afresh), so re-applying the
    // same revision (to undo drift) writes nothing new.
    let last_applied_time = if same_revision {
        previous.last_applied_time.clone()
    } else {
        None
    };
    let applied_at = last_applied_time.as_ref().map_or(now, |time| time.0);
    let outcome = health_outcome(&applied.health, &message, applied_at, now, timeout);
    // Drift found and left alone (`Warn`) stays listed until it goes away; corrected drift is
    // told by an event.
    let drift = if applied.corrected {
        Vec::new()
    } else {
        applied.drift.clone()
    };
    let mut new_conditions = conditions(
        &previous.conditions,
        &outcome,
        deployment.meta().generation,
        now,
    );
    new_conditions.extend(drifted_condition(
        &previous.conditions,
        &drift,
        deployment,
        now,
    ));
    let history = history::after_apply(
        deployment,
        revision,
        i64::try_from(applied.release_number).unwrap_or(i64::MAX),
        applied
            .provenance
            .as_ref()
            .map(|p| p.key_fingerprint.as_str()),
        applied.plan_digest.as_deref(),
        history_outcome(&outcome),
        now,
    );
    let status = ChartDeploymentStatus {
        conditions: new_conditions,
        observed_generation: deployment.meta().generation,
        last_attempted_revision: Some(revision.clone()),
        last_applied_revision: Some(revision.clone()),
        last_applied_time: last_applied_time.or(Some(Time(now))),
        release_number: Some(i64::try_from(applied.release_number).unwrap_or(i64::MAX)),
        provenance: applied.provenance.clone(),
        inventory: applied.inventory.clone(),
        history,
        drift,
        plan: None,
        rolled_back_from: None,
        failures: failures_still_counting(deployment, revision, &outcome),
    };
    let drift_event = drift_event(applied, &previous, revision);
    if says_the_same(&previous, &status) {
        return Report {
            status: None,
            event: drift_event,
        };
    }
    if drift_event.is_some() && same_revision {
        return Report {
            status: Some(status),
            event: drift_event,
        };
    }
    let event = if same_revision || applied.health.hook_failed.is_some() {
        // The same revision, now healthy or failing, or a post hook failed: the condition tells.
        health_event(&outcome)
    } else {
        Some(Note {
            type_: EventType::Normal,
            reason: "Applied",
            message,
        })
    };
    Report {
        status: Some(status),
        event,
    }
}

/// The report after re-reading the health of the revision already applied (nothing else
/// changed): only the conditions move.
pub fn after_health_check(
    deployment: &ChartDeployment,
    health: &Summary,
    now: Timestamp,
    timeout: Duration,
) -> Report {
    let previous = deployment.status.clone().unwrap_or_default();
    let Some(revision) = previous.last_applied_revision.as_ref() else {
        return Report::default();
    };
    let message = format!(
        "Applied {} {}: {} objects",
        revision.chart,
        revision.version,
        previous.inventory.len()
    );
    let applied_at = previous
        .last_applied_time
        .as_ref()
        .map_or(now, |time| time.0);
    let outcome = health_outcome(health, &message, applied_at, now, timeout);
    let mut new_conditions = conditions(
        &previous.conditions,
        &outcome,
        deployment.meta().generation,
        now,
    );
    new_conditions.extend(drifted_condition(
        &previous.conditions,
        &previous.drift,
        deployment,
        now,
    ));
    if same(&previous.conditions, &new_conditions) {
        return Report::default();
    }
    Report {
        event: health_event(&outcome),
        status: Some(ChartDeploymentStatus {
            conditions: new_conditions,
            history: history::with_outcome(deployment, history_outcome(&outcome)),
            failures: failures_still_counting(deployment, revision, &outcome),
            ..previous
        }),
    }
}

/// The failures of `revision` that still count once it is `outcome`: none once it is healthy
/// (or when they were of another revision or spec).
fn failures_still_counting(
    deployment: &ChartDeployment,
    revision: &Revision,
    outcome: &Outcome,
) -> Option<Failures> {
    if matches!(outcome, Outcome::Ready { .. }) {
        return None;
    }
    remediation::failures_of(deployment, revision).cloned()
}

/// Why the applied revision's health check failed (an object failed, or `timeout` ran out
/// since it was applied), or `None` while it is healthy or on its way.
pub fn health_failure(
    deployment: &ChartDeployment,
    health: &Summary,
    now: Timestamp,
    timeout: Duration,
) -> Option<String> {
    let previous = deployment.status.as_ref()?;
    let revision = previous.last_applied_revision.as_ref()?;
    let applied = format!("Applied {} {}", revision.chart, revision.version);
    let applied_at = previous
        .last_applied_time
        .as_ref()
        .map_or(now, |time| time.0);
    match health_outcome(health, &applied, applied_at, now, timeout) {
        Outcome::Stalled { message, .. } => Some(message),
        _ => None,
    }
}

/// A failed upgrade rolled back: `applied` is the earlier revision applied again.
#[derive(Clone, Debug, PartialEq)]
pub struct RolledBack {
    pub applied: Applied,
    /// The revision that failed.
    pub failed: Revision,
    /// Why it failed.
    pub why: String,
}

/// The reason once a failed upgrade was rolled back.
pub const ROLLED_BACK: &str = remediation::ROLLED_BACK;

/// The report after a rollback: `Ready=False`, reason `RolledBack`, saying what failed, after
/// how many attempts, and what runs now; the failed revision in `status.rolledBackFrom` and
/// `status.failures` (not retried until the spec or the chart changes); the rollback in the
/// history as a new release.
pub fn after_rollback(
    deployment: &ChartDeployment,
    rolled: &RolledBack,
    failures: Failures,
    now: Timestamp,
) -> Report {
    let previous = deployment.status.clone().unwrap_or_default();
    let applied = &rolled.applied;
    let release_number = i64::try_from(applied.release_number).unwrap_or(i64::MAX);
    let message = format!(
        "Rolled back to {} {} (release {release_number}) after {} {} failed ({}): {}; a change \
         of the spec or the chart tries again",
        applied.revision.chart,
        applied.revision.version,
        rolled.failed.chart,
        rolled.failed.version,
        remediation::attempts(failures.count),
        rolled.why
    );
    let outcome = Outcome::Stalled {
        reason: ROLLED_BACK.into(),
        message: message.clone(),
    };
    let status = ChartDeploymentStatus {
        conditions: conditions(
            &previous.conditions,
            &outcome,
            deployment.meta().generation,
            now,
        ),
        observed_generation: deployment.meta().generation,
        last_attempted_revision: Some(rolled.failed.clone()),
        last_applied_revision: Some(applied.revision.clone()),
        last_applied_time: Some(Time(now)),
        release_number: Some(release_number),
        inventory: applied.inventory.clone(),
        history: history::after_rollback(
            deployment,
            &rolled.failed,
            &applied.revision,
            release_number,
            now,
        ),
        drift: Vec::new(),
        rolled_back_from: Some(rolled.failed.clone()),
        failures: Some(Failures {
            remediation: Some(ROLLED_BACK.into()),
            ..failures
        }),
        ..previous
    };
    Report {
        status: Some(status),
        event: Some(Note {
            type_: EventType::Warning,
            reason: ROLLED_BACK,
            message,
        }),
    }
}

/// `install of web 1.0.0` or `upgrade to web 1.1.0`.
fn attempt_of(failures: &Failures) -> String {
    let preposition = match failures.action {
        ReleaseAction::Install => "of",
        ReleaseAction::Upgrade => "to",
    };
    format!(
        "{} {preposition} {} {}",
        remediation::describe(failures.action),
        failures.revision.chart,
        failures.revision.version
    )
}

/// The report after a failed attempt that will be made again in `retry_in`: `Ready=False`,
/// `Reconciling=True`, with the failure's `reason` (`HealthCheckFailed`, `HookFailed`, ...), the
/// attempt and the wait in the message; the count in `status.failures`.
pub fn after_failed_attempt(
    deployment: &ChartDeployment,
    failures: Failures,
    retries: u32,
    reason: &'static str,
    retry_in: Duration,
    now: Timestamp,
) -> Report {
    let message = format!(
        "{} failed (attempt {} of {}): {}; trying again in {}s",
        capitalized(&attempt_of(&failures)),
        failures.count,
        retries.saturating_add(1),
        failures.message,
        retry_in.as_secs()
    );
    let outcome = Outcome::Retrying {
        reason: reason.to_string(),
        message: message.clone(),
    };
    remediated_report(deployment, failures, (outcome, reason), None, now, message)
}

/// The report once the attempts at a revision are used up and it is left as it is:
/// `Ready=False`, `Stalled=True`, reason `RetriesExhausted`.
pub fn after_retries_exhausted(
    deployment: &ChartDeployment,
    failures: Failures,
    left_because: Option<&str>,
    now: Timestamp,
) -> Report {
    let message = format!(
        "{} failed ({}): {}; left as it is{}; a change of the spec, the values or the chart \
         tries again",
        capitalized(&attempt_of(&failures)),
        remediation::attempts(failures.count),
        failures.message,
        left_because
            .map(|why| format!(" ({why})"))
            .unwrap_or_default()
    );
    let outcome = Outcome::Stalled {
        reason: remediation::RETRIES_EXHAUSTED.into(),
        message: message.clone(),
    };
    let failures = Failures {
        remediation: Some(remediation::RETRIES_EXHAUSTED.into()),
        ..failures
    };
    let said = (outcome, remediation::RETRIES_EXHAUSTED);
    remediated_report(deployment, failures, said, None, now, message)
}

/// The report once a failed install was uninstalled (`deleted` names what went):
/// `Ready=False`, `Stalled=True`, reason `Uninstalled`; nothing is applied any more.
pub fn after_uninstall(
    deployment: &ChartDeployment,
    failures: Failures,
    deleted: &[String],
    now: Timestamp,
) -> Report {
    let message = format!(
        "{} failed ({}): {}; uninstalled (deleted {}); a change of the spec, the values or the \
         chart tries again",
        capitalized(&attempt_of(&failures)),
        remediation::attempts(failures.count),
        failures.message,
        match deleted.len() {
            1 => "1 object".to_string(),
            count => format!("{count} objects"),
        }
    );
    let outcome = Outcome::Stalled {
        reason: remediation::UNINSTALLED.into(),
        message: message.clone(),
    };
    let failed = failures.revision.clone();
    let failures = Failures {
        remediation: Some(remediation::UNINSTALLED.into()),
        ..failures
    };
    let uninstalled = ChartDeploymentStatus {
        last_applied_revision: None,
        last_applied_time: None,
        release_number: None,
        provenance: None,
        inventory: Vec::new(),
        drift: Vec::new(),
        history: history::after_uninstall(deployment, &failed),
        ..deployment.status.clone().unwrap_or_default()
    };
    let said = (outcome, remediation::UNINSTALLED);
    remediated_report(deployment, failures, said, Some(uninstalled), now, message)
}

/// The status saying `outcome` with `failures` counted, over `base` (the previous status when
/// `None`); a Warning event with `message` and the outcome's reason.
fn remediated_report(
    deployment: &ChartDeployment,
    failures: Failures,
    (outcome, reason): (Outcome, &'static str),
    base: Option<ChartDeploymentStatus>,
    now: Timestamp,
    message: String,
) -> Report {
    let previous = deployment.status.clone().unwrap_or_default();
    let base = base.unwrap_or_else(|| previous.clone());
    // The failed revision, when it is the one applied, failed in the history too.
    let history = if base.last_applied_revision.as_ref() == Some(&failures.revision) {
        let mut history = base.history.clone();
        if let Some(top) = history.first_mut() {
            top.outcome = history::FAILED.into();
        }
        history
    } else {
        base.history.clone()
    };
    let status = ChartDeploymentStatus {
        conditions: conditions(
            &previous.conditions,
            &outcome,
            deployment.meta().generation,
            now,
        ),
        observed_generation: deployment.meta().generation,
        last_attempted_revision: Some(failures.revision.clone()),
        history,
        failures: Some(failures),
        ..base
    };
    Report {
        status: Some(status),
        event: Some(Note {
            type_: EventType::Warning,
            reason,
            message,
        }),
    }
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The reason while a planned change waits for `spec.approvedPlan`.
pub const AWAITING_APPROVAL: &str = "AwaitingApproval";

/// The report while `plan` (of the revision `attempted`) waits for approval: `Ready=False`,
/// `Reconciling=True`, reason `AwaitingApproval`, the summary in `status.plan`; an event when
/// the plan is new.
pub fn awaiting_approval(
    deployment: &ChartDeployment,
    plan: PlanStatus,
    message: String,
    attempted: &Revision,
    now: Timestamp,
) -> Report {
    let previous = deployment.status.clone().unwrap_or_default();
    let outcome = Outcome::Progressing {
        reason: AWAITING_APPROVAL.into(),
        message: message.clone(),
    };
    let mut new_conditions = conditions(
        &previous.conditions,
        &outcome,
        deployment.meta().generation,
        now,
    );
    // Ready=False rather than Unknown: nothing of the change is applied until approved.
    if let Some(ready) = new_conditions.first_mut() {
        ready.status = "False".into();
    }
    let new_plan = previous.plan.as_ref().map(|p| &p.digest) != Some(&plan.digest);
    let status = ChartDeploymentStatus {
        conditions: new_conditions,
        observed_generation: deployment.meta().generation,
        last_attempted_revision: Some(attempted.clone()),
        plan: Some(plan),
        ..previous.clone()
    };
    if says_the_same(&previous, &status) {
        return Report::default();
    }
    Report {
        status: Some(status),
        event: new_plan.then_some(Note {
            type_: EventType::Normal,
            reason: AWAITING_APPROVAL,
            message,
        }),
    }
}

/// The history outcome of a revision whose conditions say `outcome`.
fn history_outcome(outcome: &Outcome) -> &'static str {
    match outcome {
        Outcome::Ready { .. } => history::HEALTHY,
        Outcome::Progressing { .. } | Outcome::Retrying { .. } => history::PROGRESSING,
        Outcome::Stalled { .. } => history::FAILED,
    }
}

/// The condition type that says live objects differ from what was applied (drift detection
/// `Warn`).
pub const DRIFTED: &str = "Drifted";

/// `Drifted=True` while `drift` lists objects; absent otherwise.
fn drifted_condition(
    previous: &[Condition],
    drift: &[DriftedObject],
    deployment: &ChartDeployment,
    now: Timestamp,
) -> Option<Condition> {
    if drift.is_empty() {
        return None;
    }
    let last_transition_time = previous
        .iter()
        .find(|c| c.type_ == DRIFTED && c.status == "True")
        .map_or(Time(now), |c| c.last_transition_time.clone());
    Some(Condition {
        type_: DRIFTED.into(),
        status: "True".into(),
        reason: "DriftDetected".into(),
        message: format!("{} drifted from what was applied", describe_drift(drift)),
        observed_generation: deployment.meta().generation,
        last_transition_time,
    })
}

/// `ConfigMap apps/a (/data/k), Deployment apps/web (/spec/replicas)`, the first few.
fn describe_drift(drift: &[DriftedObject]) -> String {
    let mut text = drift
        .iter()
        .take(3)
        .map(|object| format!("{} ({})", object.object, object.paths.join(", ")))
        .collect::<Vec<_>>()
        .join(", ");
    if drift.len() > 3 {
        text.push_str(&format!(" and {} more", drift.len() - 3));
    }
    text
}

/// The event for drift found in this reconcile: corrected (`Enabled`), or newly found and left
/// alone (`Warn`).
fn drift_event(
    applied: &Applied,
    previous: &ChartDeploymentStatus,
    revision: &Revision,
) -> Option<Note> {
    if applied.drift.is_empty() {
        return None;
    }
    if applied.corrected {
        return Some(Note {
            type_: EventType::Normal,
            reason: "DriftCorrected",
            message: format!(
                "Re-applied {} of {} objects that had drifted from {} {}: {}",
                applied.drift.len(),
                applied.inventory.len(),
                revision.chart,
                revision.version,
                describe_drift(&applied.drift)
            ),
        });
    }
    (previous.drift != applied.drift).then(|| Note {
        type_: EventType::Warning,
        reason: "DriftDetected",
        message: format!(
            "{} drifted from {} {} and was left as it is (driftDetection.mode Warn)",
            describe_drift(&applied.drift),
            revision.chart,
            revision.version
        ),
    })
}

/// The conditions' outcome for a revision applied at `applied_at` whose objects are `health`.
fn health_outcome(
    health: &Summary,
    applied: &str,
    applied_at: Timestamp,
    now: Timestamp,
    timeout: Duration,
) -> Outcome {
    if let Some(hook) = &health.hook_failed {
        return Outcome::Stalled {
            reason: HOOK_FAILED.into(),
            message: hook.clone(),
        };
    }
    if health.is_healthy() {
        return Outcome::Ready {
            reason: "Applied".into(),
            message: format!("{applied}, all healthy"),
        };
    }
    let waited = now.duration_since(applied_at).unsigned_abs();
    if !health.failed.is_empty() || waited >= timeout {
        let why = if health.failed.is_empty() {
            format!("not healthy within spec.timeout ({}s)", timeout.as_secs())
        } else {
            "an object failed".to_string()
        };
        return Outcome::Stalled {
            reason: HEALTH_CHECK_FAILED.into(),
            message: format!("{applied}, {why}: {}", health.problems()),
        };
    }
    Outcome::Progressing {
        reason: PROGRESSING.into(),
        message: format!("{applied}; {}", health.progress()),
    }
}

/// The event for a change of health of the applied revision.
fn health_event(outcome: &Outcome) -> Option<Note> {
    match outcome {
        Outcome::Ready { message, .. } => Some(Note {
            type_: EventType::Normal,
            reason: "Healthy",
            message: message.clone(),
        }),
        Outcome::Stalled { reason, message } => Some(Note {
            type_: EventType::Warning,
            reason: if reason == HOOK_FAILED {
                HOOK_FAILED
            } else {
                HEALTH_CHECK_FAILED
            },
            message: message.clone(),
        }),
        Outcome::Retrying { .. } | Outcome::Progressing { .. } => None,
    }
}

/// The reason while the applied objects are on their way to healthy.
pub const PROGRESSING: &str = "Progressing";
/// The reason when they failed, or did not get there within `spec.timeout`.
pub const HEALTH_CHECK_FAILED: &str = "HealthCheckFailed";
/// The reason when a hook failed; after the revision was applied, a post hook once it was
/// healthy (the message is the hook's failure, which [`carried_hook_failure`] reads back).
pub const HOOK_FAILED: &str = "HookFailed";

/// The post hook failure `status` reports about the revision it applied, if any: it stands
/// until the revision is applied again (a health check alone does not run the hooks again).
pub fn carried_hook_failure(status: &ChartDeploymentStatus) -> Option<String> {
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == capstan_api::common::READY)?;
    let of_applied = status.last_attempted_revision == status.last_applied_revision;
    (ready.status == "False" && ready.reason == HOOK_FAILED && of_applied)
        .then(|| ready.message.clone())
}

/// Whether `status` reports the applied revision still on its way to healthy (or failed
/// health), so only its health needs reading again.
pub fn awaiting_health(status: &ChartDeploymentStatus) -> bool {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == capstan_api::common::READY)
        .is_some_and(|ready| {
            ready.status != "True"
                && (ready.reason == PROGRESSING
                    || ready.reason == HEALTH_CHECK_FAILED
                    || ready.reason == HOOK_FAILED)
        })
}

/// Whether `status` reports the revision progressing (worth re-checking soon).
pub fn is_progressing(status: Option<&ChartDeploymentStatus>) -> bool {
    status.is_some_and(|status| {
        status
            .conditions
            .iter()
            .any(|c| c.type_ == capstan_api::common::READY && c.reason == PROGRESSING)
    })
}

/// The report after a failed attempt at `attempted` (when the revision was known): the
/// conditions say why; the last applied revision and its inventory stay.
pub fn after_failure(
    deployment: &ChartDeployment,
    error: &Error,
    attempted: Option<&Revision>,
    now: Timestamp,
) -> Report {
    let previous = deployment.status.clone().unwrap_or_default();
    let generation = deployment.meta().generation;
    let new_conditions = conditions(
        &previous.conditions,
        &Outcome::from_error(error),
        generation,
        now,
    );
    let unchanged = same(&previous.conditions, &new_conditions)
        && previous.observed_generation == generation
        && (attempted.is_none() || previous.last_attempted_revision.as_ref() == attempted);
    if unchanged {
        return Report::default();
    }
    let status = ChartDeploymentStatus {
        conditions: new_conditions,
        observed_generation: generation,
        last_attempted_revision: attempted
            .cloned()
            .or(previous.last_attempted_revision.clone()),
        ..previous
    };
    Report {
        status: Some(status),
        event: Some(Note {
            type_: EventType::Warning,
            reason: error.reason(),
            message: error.to_string(),
        }),
    }
}

/// Whether `next` says what `previous` says, transition times aside.
fn says_the_same(previous: &ChartDeploymentStatus, next: &ChartDeploymentStatus) -> bool {
    same(&previous.conditions, &next.conditions)
        && ChartDeploymentStatus {
            conditions: Vec::new(),
            ..previous.clone()
        } == ChartDeploymentStatus {
            conditions: Vec::new(),
            ..next.clone()
        }
}

/// Writes the report's status, then publishes its event.
pub async fn publish(ctx: &Context, deployment: &ChartDeployment, report: Report) -> Result<()> {
    if let Some(status) = &report.status {
        report::write_status(ctx, deployment, status).await?;
    }
    if let Some(note) = report.event {
        report::publish(ctx, deployment, note.type_, note.reason, note.message).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FetchError;
    use serde_json::json;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap()
    }

    fn revision(version: &str) -> Revision {
        Revision {
            chart: "hello".into(),
            version: version.into(),
            archive_digest: format!("sha256:{version}"),
            values_digest: "sha256:v".into(),
            manifest_digest: None,
        }
    }

    fn deployment() -> ChartDeployment {
        serde_json::from_value(json!({
            "apiVersion": "capstan.dev/v1alpha1", "kind": "ChartDeployment",
            "metadata": {"name": "web", "namespace": "apps", "generation": 1},
            "spec": {"chart": {"package": {"configMapRef": {"name": "p"}}}},
        }))
        .unwrap()
    }

    fn entry(name: &str) -> InventoryEntry {
        InventoryEntry {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("apps".into()),
            name: name.into(),
        }
    }

    fn applied(version: &str, release_number: u64, patched: usize) -> Applied {
        Applied {
            revision: revision(version),
            release_number,
            inventory: vec![entry("a")],
            patched,
            pruned: Vec::new(),
            provenance: None,
            policy_tag: String::new(),
            health: Summary {
                total: 1,
                healthy: 1,
                ..Summary::default()
            },
            drift: Vec::new(),
            corrected: false,
            plan_digest: None,
            fresh: false,
        }
    }

    const TIMEOUT: Duration = Duration::from_secs(300);

    #[test]
    fn an_install_writes_the_revision_release_and_inventory() {
        let report = after_success(&deployment(), &applied("1.0.0", 1, 1), at(100), TIMEOUT);
        let status = report.status.expect("a first install writes status");
        assert_eq!(status.last_applied_revision, Some(revision("1.0.0")));
        assert_eq!(status.release_number, Some(1));
        assert_eq!(status.inventory, [entry("a")]);
        assert_eq!(status.last_applied_time, Some(Time(at(100))));
        assert_eq!(status.conditions[0].status, "True");
        assert_eq!(report.event.unwrap().reason, "Applied");
    }

    #[test]
    fn re_applying_the_same_revision_writes_nothing_and_reports_drift_only() {
        let mut deployment = deployment();
        deployment.status =
            after_success(&deployment, &applied("1.0.0", 1, 1), at(100), TIMEOUT).status;
        let quiet = after_success(&deployment, &applied("1.0.0", 1, 0), at(700), TIMEOUT);
        assert_eq!(quiet, Report::default());
        let mut corrected = applied("1.0.0", 1, 1);
        corrected.drift = vec![DriftedObject {
            object: "ConfigMap apps/a".into(),
            paths: vec!["/data/k".into()],
        }];
        corrected.corrected = true;
        let drifted = after_success(&deployment, &corrected, at(700), TIMEOUT);
        assert!(drifted.status.is_none());
        let event = drifted.event.unwrap();
        assert_eq!(event.reason, "DriftCorrected");
        assert!(
            event.message.contains("ConfigMap apps/a (/data/k)"),
            "{}",
            event.message
        );
        let upgraded = after_success(&deployment, &applied("1.1.0", 2, 1), at(800), TIMEOUT);
        let status = upgraded.status.unwrap();
        assert_eq!(status.release_number, Some(2));
        assert_eq!(status.last_applied_time, Some(Time(at(800))));
    }

    #[test]
    fn ready_means_healthy_and_time_runs_out_at_the_timeout() {
        let mut waiting = applied("1.0.0", 1, 1);
        waiting.health = Summary {
            total: 1,
            healthy: 0,
            waiting: vec!["Deployment apps/api: 0 of 1 replicas available".into()],
            ..Summary::default()
        };
        let mut deployment = deployment();
        let report = after_success(&deployment, &waiting, at(100), TIMEOUT);
        let status = report.status.unwrap();
        assert_eq!(status.conditions[0].status, "Unknown");
        assert_eq!(status.conditions[0].reason, PROGRESSING);
        assert!(
            status.conditions[0]
                .message
                .contains("0 of 1 objects healthy; waiting for Deployment apps/api")
        );
        assert_eq!(status.conditions[1].type_, "Reconciling");
        deployment.status = Some(status);
        assert!(awaiting_health(deployment.status.as_ref().unwrap()));
        assert_eq!(
            after_health_check(&deployment, &waiting.health, at(200), TIMEOUT),
            Report::default(),
            "still waiting: nothing new to say"
        );
        let late = after_health_check(&deployment, &waiting.health, at(401), TIMEOUT);
        let failed = late.status.unwrap();
        assert_eq!(failed.conditions[0].status, "False");
        assert_eq!(failed.conditions[0].reason, HEALTH_CHECK_FAILED);
        assert!(failed.conditions[0].message.contains("Deployment apps/api"));
        assert_eq!(late.event.unwrap().reason, HEALTH_CHECK_FAILED);
        let healthy = applied("1.0.0", 1, 1).health;
        let recovered = after_health_check(&deployment, &healthy, at(402), TIMEOUT);
        assert_eq!(recovered.status.unwrap().conditions[0].status, "True");
    }

    fn failures(version: &str, action: ReleaseAction, count: u32, second: i64) -> Failures {
        Failures {
            revision: revision(version),
            generation: Some(1),
            action,
            count,
            last_failure_time: Time(at(second)),
            message: "the pre-upgrade hook Job apps/migrate failed".into(),
            remediation: None,
        }
    }

    #[test]
    fn a_failed_attempt_says_which_attempt_and_when_the_next_is() {
        let mut deployment = deployment();
        deployment.status =
            after_success(&deployment, &applied("1.0.0", 1, 1), at(100), TIMEOUT).status;
        let report = after_failed_attempt(
            &deployment,
            failures("1.1.0", ReleaseAction::Upgrade, 1, 200),
            2,
            "HookFailed",
            Duration::from_secs(10),
            at(200),
        );
        let status = report.status.unwrap();
        let ready = &status.conditions[0];
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", "HookFailed")
        );
        assert_eq!(
            ready.message,
            "Upgrade to hello 1.1.0 failed (attempt 1 of 3): the pre-upgrade hook Job \
             apps/migrate failed; trying again in 10s"
        );
        assert_eq!(status.conditions[1].type_, "Reconciling");
        assert_eq!(status.last_applied_revision, Some(revision("1.0.0")));
        assert_eq!(status.last_attempted_revision, Some(revision("1.1.0")));
        assert_eq!(status.failures.unwrap().count, 1);
        assert_eq!(
            status.history[0].outcome,
            history::HEALTHY,
            "1.0.0 did not fail"
        );
        assert_eq!(report.event.unwrap().reason, "HookFailed");
    }

    #[test]
    fn used_up_retries_leave_or_uninstall_and_say_so() {
        let mut deployment = deployment();
        let mut installed = applied("1.0.0", 1, 1);
        installed.health.healthy = 0;
        installed.health.waiting = vec!["Deployment apps/web: 0 of 1 replicas available".into()];
        deployment.status = after_success(&deployment, &installed, at(100), TIMEOUT).status;
        let left = after_retries_exhausted(
            &deployment,
            failures("1.0.0", ReleaseAction::Install, 2, 500),
            None,
            at(500),
        )
        .status
        .unwrap();
        assert_eq!(left.conditions[0].reason, remediation::RETRIES_EXHAUSTED);
        assert_eq!(left.conditions[1].type_, "Stalled");
        assert!(
            left.conditions[0]
                .message
                .starts_with("Install of hello 1.0.0 failed (2 attempts)"),
            "{}",
            left.conditions[0].message
        );
        assert_eq!(left.history[0].outcome, history::FAILED);
        assert_eq!(left.inventory, [entry("a")], "left as it is");
        assert_eq!(
            left.failures.unwrap().remediation.as_deref(),
            Some(remediation::RETRIES_EXHAUSTED)
        );

        let uninstalled = after_uninstall(
            &deployment,
            failures("1.0.0", ReleaseAction::Install, 1, 500),
            &["ConfigMap apps/a".into()],
            at(500),
        );
        let status = uninstalled.status.unwrap();
        assert_eq!(status.conditions[0].reason, remediation::UNINSTALLED);
        assert!(
            status.conditions[0]
                .message
                .contains("uninstalled (deleted 1 object)"),
            "{}",
            status.conditions[0].message
        );
        assert!(status.inventory.is_empty());
        assert_eq!(status.last_applied_revision, None);
        assert_eq!(
            status.release_number, None,
            "the next install is release 1 again"
        );
        assert_eq!(status.history[0].outcome, history::UNINSTALLED);
        assert_eq!(uninstalled.event.unwrap().type_, EventType::Warning);
    }

    #[test]
    fn a_retry_starts_the_wait_for_health_again_and_healthy_clears_the_count() {
        let mut deployment = deployment();
        deployment.status =
            after_success(&deployment, &applied("1.0.0", 1, 1), at(100), TIMEOUT).status;
        let mut status = deployment.status.take().unwrap();
        status.failures = Some(failures("1.0.0", ReleaseAction::Install, 1, 400));
        deployment.status = Some(status);
        let mut retry = applied("1.0.0", 1, 1);
        retry.fresh = true;
        retry.health.healthy = 0;
        retry.health.waiting = vec!["Deployment apps/web: 0 of 1 replicas available".into()];
        let retried = after_success(&deployment, &retry, at(410), TIMEOUT)
            .status
            .unwrap();
        assert_eq!(retried.last_applied_time, Some(Time(at(410))));
        assert_eq!(retried.failures.as_ref().map(|f| f.count), Some(1));
        deployment.status = Some(retried);
        let healthy = after_health_check(
            &deployment,
            &applied("1.0.0", 1, 1).health,
            at(420),
            TIMEOUT,
        )
        .status
        .unwrap();
        assert_eq!(healthy.conditions[0].status, "True");
        assert!(healthy.failures.is_none());
    }

    #[test]
    fn a_failed_post_hook_fails_the_revision_and_stands_through_health_checks() {
        let mut hooked = applied("1.0.0", 1, 1);
        let failure = "the post-install hook Job apps/check failed: the Job failed".to_string();
        hooked.health.hook_failed = Some(failure.clone());
        let mut deployment = deployment();
        let report = after_success(&deployment, &hooked, at(100), TIMEOUT);
        let status = report.status.unwrap();
        assert_eq!(status.conditions[0].status, "False");
        assert_eq!(status.conditions[0].reason, HOOK_FAILED);
        assert_eq!(status.conditions[0].message, failure);
        assert_eq!(status.history[0].outcome, history::FAILED);
        assert_eq!(status.inventory, [entry("a")], "the objects are applied");
        let event = report.event.unwrap();
        assert_eq!(
            (event.type_, event.reason),
            (EventType::Warning, HOOK_FAILED)
        );
        assert!(awaiting_health(&status));
        assert_eq!(carried_hook_failure(&status), Some(failure.clone()));
        deployment.status = Some(status);
        // A health check carries the failure: nothing new to say.
        let carried = Summary {
            hook_failed: Some(failure),
            ..applied("1.0.0", 1, 1).health
        };
        assert_eq!(
            after_health_check(&deployment, &carried, at(200), TIMEOUT),
            Report::default()
        );
        assert!(health_failure(&deployment, &carried, at(200), TIMEOUT).is_some());
        // A pre-install hook failure of a revision not applied is not the applied one's.
        let error = Error::HookFailed {
            hook: "Job apps/migrate".into(),
            phase: "pre-upgrade",
            message: "the Job failed".into(),
        };
        let next = after_failure(&deployment, &error, Some(&revision("1.1.0")), at(300));
        assert_eq!(carried_hook_failure(&next.status.unwrap()), None);
    }

    #[test]
    fn a_failure_keeps_the_applied_revision_and_is_reported_once() {
        let mut deployment = deployment();
        deployment.status =
            after_success(&deployment, &applied("1.0.0", 1, 1), at(100), TIMEOUT).status;
        let error = Error::Fetch {
            what: "chart hello".into(),
            source: Box::new(FetchError::Protocol("connection refused".into())),
        };
        let report = after_failure(&deployment, &error, Some(&revision("1.1.0")), at(200));
        let status = report.status.unwrap();
        assert_eq!(status.last_applied_revision, Some(revision("1.0.0")));
        assert_eq!(status.last_attempted_revision, Some(revision("1.1.0")));
        assert_eq!(status.inventory, [entry("a")]);
        assert_eq!(status.conditions[0].reason, "FetchFailed");
        assert_eq!(report.event.unwrap().type_, EventType::Warning);
        deployment.status = Some(status);
        let again = after_failure(&deployment, &error, Some(&revision("1.1.0")), at(300));
        assert_eq!(again, Report::default());
    }
}
