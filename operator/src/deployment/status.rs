//! Step 4 of a reconcile: the new status and event, computed without a client from what the
//! attempt came to ([`after_success`], [`after_failure`]), and written by one function
//! ([`publish`]). A status that would say what it already says is not written.

use capstan_api::{
    ChartDeployment, ChartDeploymentStatus, InventoryEntry, ProvenanceStatus, Revision,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::Resource;
use kube::runtime::events::EventType;

use crate::conditions::{Outcome, conditions, same};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::report;

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
/// conditions do; re-applying the same revision to undo drift only publishes an event.
pub fn after_success(deployment: &ChartDeployment, applied: &Applied, now: Timestamp) -> Report {
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
    let outcome = Outcome::Ready {
        reason: "Applied".into(),
        message: message.clone(),
    };
    let same_revision = previous.last_applied_revision.as_ref() == Some(revision);
    // The time moves only when the revision does, so re-applying the same revision (to undo
    // drift) writes nothing new.
    let last_applied_time = if same_revision {
        previous.last_applied_time.clone()
    } else {
        None
    };
    let status = ChartDeploymentStatus {
        conditions: conditions(
            &previous.conditions,
            &outcome,
            deployment.meta().generation,
            now,
        ),
        observed_generation: deployment.meta().generation,
        last_attempted_revision: Some(revision.clone()),
        last_applied_revision: Some(revision.clone()),
        last_applied_time: last_applied_time.or(Some(Time(now))),
        release_number: Some(i64::try_from(applied.release_number).unwrap_or(i64::MAX)),
        provenance: applied.provenance.clone(),
        inventory: applied.inventory.clone(),
    };
    if says_the_same(&previous, &status) {
        let event = (applied.patched > 0).then(|| Note {
            type_: EventType::Normal,
            reason: "DriftCorrected",
            message: format!(
                "Re-applied {} of {} objects that had drifted from {} {}",
                applied.patched,
                applied.inventory.len(),
                revision.chart,
                revision.version
            ),
        });
        return Report {
            status: None,
            event,
        };
    }
    Report {
        status: Some(status),
        event: Some(Note {
            type_: EventType::Normal,
            reason: "Applied",
            message,
        }),
    }
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
        }
    }

    #[test]
    fn an_install_writes_the_revision_release_and_inventory() {
        let report = after_success(&deployment(), &applied("1.0.0", 1, 1), at(100));
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
        deployment.status = after_success(&deployment, &applied("1.0.0", 1, 1), at(100)).status;
        let quiet = after_success(&deployment, &applied("1.0.0", 1, 0), at(700));
        assert_eq!(quiet, Report::default());
        let drifted = after_success(&deployment, &applied("1.0.0", 1, 1), at(700));
        assert!(drifted.status.is_none());
        assert_eq!(drifted.event.unwrap().reason, "DriftCorrected");
        let upgraded = after_success(&deployment, &applied("1.1.0", 2, 1), at(800));
        let status = upgraded.status.unwrap();
        assert_eq!(status.release_number, Some(2));
        assert_eq!(status.last_applied_time, Some(Time(at(800))));
    }

    #[test]
    fn a_failure_keeps_the_applied_revision_and_is_reported_once() {
        let mut deployment = deployment();
        deployment.status = after_success(&deployment, &applied("1.0.0", 1, 1), at(100)).status;
        let error = Error::Fetch {
            what: "chart hello".into(),
            source: FetchError::Protocol("connection refused".into()),
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
