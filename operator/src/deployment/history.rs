//! `status.history`: the last revisions applied, newest first, each with its outcome. Bounded by
//! `spec.maxHistory` whatever the chart's size (the rendered objects are not kept). Client-free.

use capstan_api::deployment::HistoryEntry;
use capstan_api::{ChartDeployment, Revision};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

/// `spec.maxHistory` when unset.
pub const DEFAULT_MAX_HISTORY: usize = 10;

/// A revision on its way to healthy.
pub const PROGRESSING: &str = "Progressing";
/// A revision whose objects are all healthy.
pub const HEALTHY: &str = "Healthy";
/// A revision whose objects failed, or were not healthy in time.
pub const FAILED: &str = "Failed";
/// A revision replaced by a newer one before it was healthy.
pub const SUPERSEDED: &str = "Superseded";

/// The history after applying `revision` (release `release_number`, signed by `signer`) at
/// `now`, with `outcome`: a new entry on top when the revision is new, else the top entry's
/// outcome updated.
pub fn after_apply(
    deployment: &ChartDeployment,
    revision: &Revision,
    release_number: i64,
    signer: Option<&str>,
    plan_digest: Option<&str>,
    outcome: &str,
    now: Timestamp,
) -> Vec<HistoryEntry> {
    let mut history = previous(deployment);
    if let Some(top) = history.first_mut()
        && same_revision(top, revision)
    {
        top.outcome = outcome.to_string();
        return history;
    }
    if let Some(top) = history.first_mut()
        && top.outcome == PROGRESSING
    {
        top.outcome = SUPERSEDED.to_string();
    }
    history.insert(
        0,
        entry(revision, release_number, signer, plan_digest, outcome, now),
    );
    history.truncate(max_history(deployment));
    history
}

/// A revision applied again by a rollback.
pub const ROLLED_BACK: &str = "RolledBack";

/// The history after a rollback at `now` from `failed` to `revision`, applied again as
/// `release_number`: the failed revision marked `Failed` (added, as the release before the
/// rollback, when it failed before it was applied), the rollback on top.
pub fn after_rollback(
    deployment: &ChartDeployment,
    failed: &Revision,
    revision: &Revision,
    release_number: i64,
    now: Timestamp,
) -> Vec<HistoryEntry> {
    let mut history = previous(deployment);
    match history.first_mut() {
        Some(top) if same_revision(top, failed) => top.outcome = FAILED.to_string(),
        _ => history.insert(
            0,
            entry(failed, release_number - 1, None, None, FAILED, now),
        ),
    }
    history.insert(
        0,
        entry(revision, release_number, None, None, ROLLED_BACK, now),
    );
    history.truncate(max_history(deployment));
    history
}

/// A failed install whose objects were deleted (`spec.install.remediation.strategy: Uninstall`).
pub const UNINSTALLED: &str = "Uninstalled";

/// The history after a failed install of `failed` was uninstalled: its entry, when it was
/// applied, marked `Uninstalled`.
pub fn after_uninstall(deployment: &ChartDeployment, failed: &Revision) -> Vec<HistoryEntry> {
    let mut history = previous(deployment);
    if let Some(top) = history.first_mut()
        && same_revision(top, failed)
    {
        top.outcome = UNINSTALLED.to_string();
    }
    history
}

/// The entry of `revision`, applied as `release_number` at `now`.
fn entry(
    revision: &Revision,
    release_number: i64,
    signer: Option<&str>,
    plan_digest: Option<&str>,
    outcome: &str,
    now: Timestamp,
) -> HistoryEntry {
    HistoryEntry {
        chart: revision.chart.clone(),
        version: revision.version.clone(),
        archive_digest: revision.archive_digest.clone(),
        values_digest: revision.values_digest.clone(),
        manifest_digest: revision.manifest_digest.clone(),
        signer: signer.map(str::to_string),
        release_number,
        applied_time: Time(now),
        outcome: outcome.to_string(),
        plan_digest: plan_digest.map(str::to_string),
    }
}

/// The history with the top entry's outcome set to `outcome` (its health changed).
pub fn with_outcome(deployment: &ChartDeployment, outcome: &str) -> Vec<HistoryEntry> {
    let mut history = previous(deployment);
    if let Some(top) = history.first_mut() {
        top.outcome = outcome.to_string();
    }
    history
}

fn previous(deployment: &ChartDeployment) -> Vec<HistoryEntry> {
    deployment
        .status
        .as_ref()
        .map(|status| status.history.clone())
        .unwrap_or_default()
}

fn max_history(deployment: &ChartDeployment) -> usize {
    deployment
        .spec
        .max_history
        .and_then(|max| usize::try_from(max).ok())
        .unwrap_or(DEFAULT_MAX_HISTORY)
        .max(1)
}

fn same_revision(entry: &HistoryEntry, revision: &Revision) -> bool {
    entry.chart == revision.chart
        && entry.version == revision.version
        && entry.archive_digest == revision.archive_digest
        && entry.values_digest == revision.values_digest
        && entry.manifest_digest == revision.manifest_digest
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn revision(version: &str) -> Revision {
        Revision {
            chart: "web".into(),
            version: version.into(),
            archive_digest: format!("sha256:{version}"),
            values_digest: "hmac-sha256:v".into(),
            manifest_digest: None,
        }
    }

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap()
    }

    #[test]
    fn new_revisions_go_on_top_and_the_history_stays_bounded() {
        let mut deployment: ChartDeployment = serde_json::from_value(json!({
            "apiVersion": "capstan.dev/v1alpha1", "kind": "ChartDeployment",
            "metadata": {"name": "web", "namespace": "apps"},
            "spec": {"chart": {"package": {"configMapRef": {"name": "p"}}}, "maxHistory": 3},
        }))
        .unwrap();
        for (n, version) in ["1.0.0", "1.1.0", "1.2.0", "1.3.0"].into_iter().enumerate() {
            let number = i64::try_from(n).unwrap() + 1;
            let history = after_apply(
                &deployment,
                &revision(version),
                number,
                None,
                None,
                PROGRESSING,
                at(10),
            );
            deployment.status.get_or_insert_default().history = history;
        }
        let history = &deployment.status.as_ref().unwrap().history;
        let versions: Vec<_> = history.iter().map(|e| e.version.as_str()).collect();
        assert_eq!(versions, ["1.3.0", "1.2.0", "1.1.0"]);
        assert_eq!(history[0].outcome, PROGRESSING);
        assert_eq!(history[1].outcome, SUPERSEDED);
        assert_eq!(history[0].release_number, 4);
        let healthy = with_outcome(&deployment, HEALTHY);
        assert_eq!(healthy[0].outcome, HEALTHY);
        deployment.status.get_or_insert_default().history = healthy;
        // The same revision again (drift corrected): no new entry.
        let again = after_apply(
            &deployment,
            &revision("1.3.0"),
            4,
            None,
            None,
            HEALTHY,
            at(20),
        );
        assert_eq!(again.len(), 3);
        assert_eq!(again[0].applied_time, Time(at(10)));
    }

    #[test]
    fn a_rollback_marks_the_failed_release_or_records_one_that_never_applied() {
        let mut deployment: ChartDeployment = serde_json::from_value(json!({
            "apiVersion": "capstan.dev/v1alpha1", "kind": "ChartDeployment",
            "metadata": {"name": "web", "namespace": "apps"},
            "spec": {"chart": {"package": {"configMapRef": {"name": "p"}}}},
        }))
        .unwrap();
        let installed = after_apply(
            &deployment,
            &revision("1.0.0"),
            1,
            None,
            None,
            HEALTHY,
            at(10),
        );
        deployment.status.get_or_insert_default().history = installed;
        // Applied, then unhealthy: its entry turns Failed.
        let mut applied = deployment.clone();
        applied.status.get_or_insert_default().history = after_apply(
            &applied,
            &revision("1.1.0"),
            2,
            None,
            None,
            PROGRESSING,
            at(20),
        );
        let health = after_rollback(&applied, &revision("1.1.0"), &revision("1.0.0"), 3, at(30));
        let seen: Vec<_> = health
            .iter()
            .map(|e| (e.version.as_str(), e.release_number, e.outcome.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("1.0.0", 3, ROLLED_BACK),
                ("1.1.0", 2, FAILED),
                ("1.0.0", 1, HEALTHY)
            ]
        );
        // Refused before it was applied: recorded as the failed release before the rollback.
        let refused = after_rollback(
            &deployment,
            &revision("1.1.0"),
            &revision("1.0.0"),
            3,
            at(30),
        );
        let seen: Vec<_> = refused
            .iter()
            .map(|e| (e.version.as_str(), e.release_number, e.outcome.as_str()))
            .collect();
        assert_eq!(
            seen,
            [
                ("1.0.0", 3, ROLLED_BACK),
                ("1.1.0", 2, FAILED),
                ("1.0.0", 1, HEALTHY)
            ]
        );
        let uninstalled = after_uninstall(&deployment, &revision("1.0.0"));
        assert_eq!(uninstalled[0].outcome, UNINSTALLED);
        assert_eq!(
            after_uninstall(&deployment, &revision("2.0.0"))[0].outcome,
            HEALTHY
        );
    }
}
