//! Retries and remediation of failed installs and upgrades (`spec.install.remediation`,
//! `spec.upgrade.remediation`), decided from the status and the spec alone.
//!
//! A failed attempt (its objects failed their health check or were not healthy in time, the
//! API server rejected one of them as invalid, a hook failed or did not finish) is counted in
//! `status.failures`, keyed to the revision attempted and the spec's generation, so that any
//! change of the spec, the values or the chart starts afresh. While attempts remain, the
//! revision is tried again after a back-off (10s, doubling, at most 5m) counted from the time
//! of the last failure in the status; once they are used up the strategy runs once (`Rollback`
//! for an upgrade, `Uninstall` for an install, or nothing) and the revision is not tried again.
//! Nothing here is kept in memory: an operator that restarts decides the same from the status.
//! The writes of a strategy are [`super::remediate`]'s.

use std::time::Duration;

use capstan_api::deployment::{
    Failures, InstallRemediationStrategy, ReleaseAction, RemediationStrategy,
};
use capstan_api::{ChartDeployment, Revision};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::Resource;

use crate::error::Error;

use super::hooks::Phase;

/// What to do once the retries are used up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Apply again the last healthy release (upgrades).
    Rollback,
    /// Delete what the failed install applied (installs).
    Uninstall,
}

/// The remediation the spec asks for on a failed install or upgrade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// How many times a failed attempt is made again.
    pub retries: u32,
    /// What runs once they are used up; `None` leaves the failed revision in place.
    pub strategy: Option<Strategy>,
}

/// The remediation of a failed `action`; `None` when the spec sets none, in which case failures
/// are not counted (errors are retried with the operator's back-off, a failed health check is
/// reported and left).
pub fn policy(deployment: &ChartDeployment, action: ReleaseAction) -> Option<Policy> {
    match action {
        ReleaseAction::Install => {
            let remediation = deployment.spec.install.as_ref()?.remediation.as_ref()?;
            Some(Policy {
                retries: remediation.retries.unwrap_or(0),
                strategy: remediation.strategy.map(|strategy| match strategy {
                    InstallRemediationStrategy::Uninstall => Strategy::Uninstall,
                }),
            })
        }
        ReleaseAction::Upgrade => {
            let remediation = deployment.spec.upgrade.as_ref()?.remediation.as_ref()?;
            Some(Policy {
                retries: remediation.retries.unwrap_or(0),
                strategy: remediation.strategy.map(|strategy| match strategy {
                    RemediationStrategy::Rollback => Strategy::Rollback,
                }),
            })
        }
    }
}

/// Whether applying a new revision now installs (nothing is applied) or upgrades.
pub fn action_of_new_revision(deployment: &ChartDeployment) -> ReleaseAction {
    let applied = deployment
        .status
        .as_ref()
        .and_then(|status| status.last_applied_revision.as_ref());
    if applied.is_none() {
        ReleaseAction::Install
    } else {
        ReleaseAction::Upgrade
    }
}

/// Whether the revision applied last was an install: the first release (an uninstall after a
/// failed install starts the numbering again).
pub fn action_of_applied(deployment: &ChartDeployment) -> ReleaseAction {
    let release = deployment
        .status
        .as_ref()
        .and_then(|status| status.release_number);
    if release == Some(1) {
        ReleaseAction::Install
    } else {
        ReleaseAction::Upgrade
    }
}

/// The failures the status counts for `revision` under the current spec.
pub fn failures_of<'a>(
    deployment: &'a ChartDeployment,
    revision: &Revision,
) -> Option<&'a Failures> {
    deployment
        .status
        .as_ref()?
        .failures
        .as_ref()
        .filter(|failures| {
            &failures.revision == revision && failures.generation == deployment.meta().generation
        })
}

/// Whether an attempt at a revision may start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Nothing failed (or the retry is already under way): proceed as usual.
    Proceed,
    /// An earlier attempt failed and its back-off is over: attempt it again in full (hooks,
    /// every object, a new wait for health), even when it is the revision applied.
    Retry,
    /// An earlier attempt failed; the next may start after this long.
    Wait(Duration),
    /// The attempts are used up and the remediation ran: not again until something changes.
    GivenUp,
}

/// Whether `revision` may be attempted at `now`.
pub fn gate(deployment: &ChartDeployment, revision: &Revision, now: Timestamp) -> Gate {
    let Some(failures) = failures_of(deployment, revision) else {
        return Gate::Proceed;
    };
    if failures.remediation.is_some() {
        return Gate::GivenUp;
    }
    if retried_since(deployment, failures) {
        return Gate::Proceed;
    }
    let due = add(failures.last_failure_time.0, back_off(failures.count));
    if now < due {
        Gate::Wait(due.duration_since(now).unsigned_abs())
    } else {
        Gate::Retry
    }
}

/// Whether the failed revision was applied again after its last failure (the retry is on its
/// way to healthy, or failed its health check again).
fn retried_since(deployment: &ChartDeployment, failures: &Failures) -> bool {
    deployment.status.as_ref().is_some_and(|status| {
        status.last_applied_revision.as_ref() == Some(&failures.revision)
            && status
                .last_applied_time
                .as_ref()
                .is_some_and(|applied| applied.0 > failures.last_failure_time.0)
    })
}

/// Whether the health failure of the applied revision is already counted: the status counts a
/// failure of it no older than its last attempt.
pub fn health_failure_counted(deployment: &ChartDeployment) -> bool {
    let Some(status) = deployment.status.as_ref() else {
        return false;
    };
    let Some(revision) = status.last_applied_revision.as_ref() else {
        return false;
    };
    failures_of(deployment, revision).is_some_and(|failures| !retried_since(deployment, failures))
}

/// The wait before attempt `failures + 1`: 10s after the first failure, doubling, at most 5m.
pub fn back_off(failures: u32) -> Duration {
    const FIRST: u64 = 10;
    const CAP: u64 = 300;
    let exponent = failures.saturating_sub(1).min(16);
    Duration::from_secs(FIRST.saturating_mul(1 << exponent).min(CAP))
}

fn add(time: Timestamp, wait: Duration) -> Timestamp {
    k8s_openapi::jiff::SignedDuration::try_from(wait)
        .ok()
        .and_then(|wait| time.checked_add(wait).ok())
        .unwrap_or(Timestamp::MAX)
}

/// The failures of `revision` once one more attempt (`action`) failed at `now` because `why`.
pub fn count(
    deployment: &ChartDeployment,
    revision: &Revision,
    action: ReleaseAction,
    why: String,
    now: Timestamp,
) -> Failures {
    let before = failures_of(deployment, revision).map_or(0, |failures| failures.count);
    Failures {
        revision: revision.clone(),
        generation: deployment.meta().generation,
        action,
        count: before.saturating_add(1),
        last_failure_time: Time(now),
        message: why,
        remediation: None,
    }
}

/// What follows a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Attempt it again after this long.
    Retry(Duration),
    /// The attempts are used up: run the strategy (`None`: leave the revision as it is).
    Remediate(Option<Strategy>),
}

/// What follows once `failures` attempts failed under `policy`.
pub fn next(policy: &Policy, failures: u32) -> Next {
    if failures <= policy.retries {
        Next::Retry(back_off(failures))
    } else {
        Next::Remediate(policy.strategy)
    }
}

/// Whether `error` is a failure of the revision itself, which remediation counts: an object the
/// API server rejected as invalid, a hook that failed or did not finish within `spec.timeout`.
/// Errors of the moment (the API server unreachable or overloaded, a conflict, a missing
/// permission, a slow download) are not, nor is a kind the cluster does not serve: its CRD may
/// have been installed a moment ago, by another deployment, and discovery not caught up yet.
pub fn is_failure_of_revision(error: &Error) -> bool {
    match error {
        Error::HookFailed { .. } => true,
        Error::UndoFailed { cause, .. } => is_failure_of_revision(cause),
        Error::Apply {
            source: kube::Error::Api(status),
            ..
        } => matches!(status.code, 400 | 422),
        Error::TimedOut { stage, .. } => [
            Phase::PreInstall,
            Phase::PostInstall,
            Phase::PreUpgrade,
            Phase::PostUpgrade,
        ]
        .iter()
        .any(|phase| phase.stage() == *stage),
        _ => false,
    }
}

/// What failed, as `status.failures` and the conditions say it: the error's own message, but
/// for a timeout, whose message advises waiting for a retry that remediation decides on.
pub fn cause(error: &Error) -> String {
    match error {
        Error::TimedOut { seconds, stage } => {
            format!("the attempt did not finish {stage} within spec.timeout ({seconds}s)")
        }
        other => other.to_string(),
    }
}

/// The reason once the retries are used up and the revision was left as it is.
pub const RETRIES_EXHAUSTED: &str = "RetriesExhausted";
/// The reason once a failed install was uninstalled.
pub const UNINSTALLED: &str = "Uninstalled";
/// The reason once a failed upgrade was rolled back.
pub const ROLLED_BACK: &str = "RolledBack";

/// `install` or `upgrade`, for messages.
pub fn describe(action: ReleaseAction) -> &'static str {
    match action {
        ReleaseAction::Install => "install",
        ReleaseAction::Upgrade => "upgrade",
    }
}

/// `1 attempt` or `3 attempts`.
pub fn attempts(count: u32) -> String {
    if count == 1 {
        "1 attempt".to_string()
    } else {
        format!("{count} attempts")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap()
    }

    fn revision(version: &str) -> Revision {
        Revision {
            chart: "web".into(),
            version: version.into(),
            archive_digest: format!("sha256:{version}"),
            values_digest: "hmac-sha256:v".into(),
            manifest_digest: None,
        }
    }

    fn deployment(spec: serde_json::Value, generation: i64) -> ChartDeployment {
        let mut spec_with_chart = json!({"chart": {"package": {"configMapRef": {"name": "p"}}}});
        for (key, value) in spec.as_object().cloned().unwrap_or_default() {
            spec_with_chart[key] = value;
        }
        serde_json::from_value(json!({
            "apiVersion": "capstan.dev/v1alpha1", "kind": "ChartDeployment",
            "metadata": {"name": "web", "namespace": "apps", "generation": generation},
            "spec": spec_with_chart,
        }))
        .unwrap()
    }

    fn upgrade(retries: u32) -> ChartDeployment {
        deployment(
            json!({"upgrade": {"remediation": {"retries": retries, "strategy": "Rollback"}}}),
            1,
        )
    }

    #[test]
    fn the_policy_comes_from_the_spec_and_is_absent_when_unset() {
        let install = deployment(
            json!({"install": {"remediation": {"retries": 2, "strategy": "Uninstall"}}}),
            1,
        );
        assert_eq!(
            policy(&install, ReleaseAction::Install),
            Some(Policy {
                retries: 2,
                strategy: Some(Strategy::Uninstall)
            })
        );
        assert_eq!(policy(&install, ReleaseAction::Upgrade), None);
        let leave = deployment(json!({"upgrade": {"remediation": {}}}), 1);
        assert_eq!(
            policy(&leave, ReleaseAction::Upgrade),
            Some(Policy {
                retries: 0,
                strategy: None
            })
        );
        assert_eq!(
            policy(&deployment(json!({}), 1), ReleaseAction::Install),
            None
        );
    }

    #[test]
    fn retries_back_off_then_the_strategy_runs_once() {
        let policy = Policy {
            retries: 2,
            strategy: Some(Strategy::Rollback),
        };
        assert_eq!(next(&policy, 1), Next::Retry(Duration::from_secs(10)));
        assert_eq!(next(&policy, 2), Next::Retry(Duration::from_secs(20)));
        assert_eq!(next(&policy, 3), Next::Remediate(Some(Strategy::Rollback)));
        let none = Policy {
            retries: 0,
            strategy: None,
        };
        assert_eq!(next(&none, 1), Next::Remediate(None));
        let waits: Vec<u64> = (1..=7).map(|n| back_off(n).as_secs()).collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(back_off(u32::MAX).as_secs(), 300);
    }

    #[test]
    fn failures_count_per_revision_and_generation() {
        let mut deployment = upgrade(1);
        let first = count(
            &deployment,
            &revision("1.1.0"),
            ReleaseAction::Upgrade,
            "the pre-upgrade hook failed".into(),
            at(100),
        );
        assert_eq!(first.count, 1);
        deployment.status.get_or_insert_default().failures = Some(first);
        let second = count(
            &deployment,
            &revision("1.1.0"),
            ReleaseAction::Upgrade,
            "again".into(),
            at(200),
        );
        assert_eq!(second.count, 2);
        // Another revision (new values, a new chart) starts at one.
        let other = count(
            &deployment,
            &revision("1.2.0"),
            ReleaseAction::Upgrade,
            "x".into(),
            at(200),
        );
        assert_eq!(other.count, 1);
        // So does any change of the spec.
        deployment.metadata.generation = Some(2);
        assert!(failures_of(&deployment, &revision("1.1.0")).is_none());
        assert_eq!(
            gate(&deployment, &revision("1.1.0"), at(101)),
            Gate::Proceed
        );
    }

    #[test]
    fn the_gate_waits_out_the_back_off_from_the_status_then_retries() {
        let mut deployment = upgrade(2);
        let failed = revision("1.1.0");
        assert_eq!(gate(&deployment, &failed, at(100)), Gate::Proceed);
        let failures = count(
            &deployment,
            &failed,
            ReleaseAction::Upgrade,
            "rejected".into(),
            at(100),
        );
        deployment.status.get_or_insert_default().failures = Some(failures.clone());
        assert_eq!(
            gate(&deployment, &failed, at(104)),
            Gate::Wait(Duration::from_secs(6))
        );
        assert_eq!(gate(&deployment, &failed, at(110)), Gate::Retry);
        // Applied again after the failure: the retry is under way, proceed as usual.
        let status = deployment.status.get_or_insert_default();
        status.last_applied_revision = Some(failed.clone());
        status.last_applied_time = Some(Time(at(111)));
        assert_eq!(gate(&deployment, &failed, at(112)), Gate::Proceed);
        assert!(!health_failure_counted(&deployment));
        // The failure of that retry is counted once.
        let again = count(
            &deployment,
            &failed,
            ReleaseAction::Upgrade,
            "not healthy".into(),
            at(150),
        );
        assert_eq!(again.count, 2);
        deployment.status.get_or_insert_default().failures = Some(again.clone());
        assert!(health_failure_counted(&deployment));
        assert_eq!(
            gate(&deployment, &failed, at(151)),
            Gate::Wait(Duration::from_secs(19))
        );
        // Remediated: never again under this spec.
        deployment.status.get_or_insert_default().failures = Some(Failures {
            remediation: Some(ROLLED_BACK.into()),
            ..again
        });
        assert_eq!(gate(&deployment, &failed, at(10_000)), Gate::GivenUp);
    }

    #[test]
    fn install_or_upgrade_follows_what_is_applied() {
        let mut deployment = upgrade(0);
        assert_eq!(action_of_new_revision(&deployment), ReleaseAction::Install);
        let status = deployment.status.get_or_insert_default();
        status.last_applied_revision = Some(revision("1.0.0"));
        status.release_number = Some(1);
        assert_eq!(action_of_new_revision(&deployment), ReleaseAction::Upgrade);
        assert_eq!(action_of_applied(&deployment), ReleaseAction::Install);
        deployment.status.get_or_insert_default().release_number = Some(2);
        assert_eq!(action_of_applied(&deployment), ReleaseAction::Upgrade);
    }

    fn api_error(code: u16) -> kube::Error {
        kube::Error::Api(
            kube::core::Status::failure("refused", "Invalid")
                .with_code(code)
                .boxed(),
        )
    }

    #[test]
    fn only_failures_of_the_revision_count() {
        let apply = |code| Error::Apply {
            object: "ConfigMap apps/web".into(),
            source: api_error(code),
        };
        assert!(is_failure_of_revision(&apply(422)));
        assert!(is_failure_of_revision(&apply(400)));
        assert!(!is_failure_of_revision(&apply(500)));
        assert!(!is_failure_of_revision(&apply(503)));
        assert!(!is_failure_of_revision(&apply(429)));
        assert!(is_failure_of_revision(&Error::HookFailed {
            hook: "Job apps/migrate".into(),
            phase: "pre-upgrade",
            message: "BackoffLimitExceeded".into(),
        }));
        assert!(is_failure_of_revision(&Error::TimedOut {
            seconds: 30,
            stage: Phase::PostInstall.stage(),
        }));
        assert!(!is_failure_of_revision(&Error::TimedOut {
            seconds: 30,
            stage: "fetching the chart",
        }));
        assert_eq!(
            cause(&Error::TimedOut {
                seconds: 6,
                stage: Phase::PostInstall.stage(),
            }),
            "the attempt did not finish running the post-install hooks within spec.timeout (6s)"
        );
        assert!(!is_failure_of_revision(&Error::Conflict("taken".into())));
        assert!(!is_failure_of_revision(&Error::UnknownKind {
            api_version: "example.com/v1".into(),
            kind: "Cache".into(),
        }));
        assert!(!is_failure_of_revision(&Error::Kube {
            action: "reading Secret apps/v".into(),
            source: api_error(500),
        }));
        assert!(!is_failure_of_revision(&Error::Forbidden {
            object: "ConfigMap apps/web".into(),
            identity: "ServiceAccount apps/deployer".into(),
            message: "forbidden".into(),
        }));
    }
}
