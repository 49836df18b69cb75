//! kstatus conditions: `Ready`, `Reconciling` and `Stalled`, and when they changed.

use capstan_api::ConditionStatus;
use capstan_api::common::{READY, RECONCILING, STALLED};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

/// The outcome of a reconcile, as conditions describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Everything applied: `Ready=True`, no `Reconciling`, no `Stalled`.
    Ready { reason: String, message: String },
    /// A failure that retrying may fix: `Ready=False`, `Reconciling=True`.
    Retrying { reason: String, message: String },
    /// A failure only a change can fix: `Ready=False`, `Stalled=True`.
    Stalled { reason: String, message: String },
    /// Applied and on its way: `Ready=Unknown`, `Reconciling=True`.
    Progressing { reason: String, message: String },
}

impl Outcome {
    /// The outcome of a failed reconcile: stalled when only a change can fix `error`.
    pub fn from_error(error: &crate::error::Error) -> Self {
        let reason = error.reason().to_string();
        let message = error.to_string();
        if error.is_stalled() {
            Outcome::Stalled { reason, message }
        } else {
            Outcome::Retrying { reason, message }
        }
    }
}

/// The conditions for `outcome`, keeping `lastTransitionTime` of conditions whose status did not
/// change (kstatus and `kubectl wait` rely on stable transitions).
pub fn conditions(
    previous: &[Condition],
    outcome: &Outcome,
    generation: Option<i64>,
    now: Timestamp,
) -> Vec<Condition> {
    let (ready, reason, message, extra) = match outcome {
        Outcome::Ready { reason, message } => (ConditionStatus::True, reason, message, None),
        Outcome::Retrying { reason, message } => {
            (ConditionStatus::False, reason, message, Some(RECONCILING))
        }
        Outcome::Stalled { reason, message } => {
            (ConditionStatus::False, reason, message, Some(STALLED))
        }
        Outcome::Progressing { reason, message } => {
            (ConditionStatus::Unknown, reason, message, Some(RECONCILING))
        }
    };
    let make = |type_: &str, status: ConditionStatus| {
        let last_transition_time = previous
            .iter()
            .find(|c| c.type_ == type_ && c.status == status.as_str())
            .map(|c| c.last_transition_time.clone())
            .unwrap_or(Time(now));
        Condition {
            type_: type_.to_string(),
            status: status.as_str().to_string(),
            reason: reason.clone(),
            message: message.clone(),
            observed_generation: generation,
            last_transition_time,
        }
    };
    let mut conditions = vec![make(READY, ready)];
    if let Some(extra) = extra {
        conditions.push(make(extra, ConditionStatus::True));
    }
    conditions
}

/// Whether two condition lists say the same thing (ignoring transition times), so an unchanged
/// outcome writes nothing.
pub fn same(a: &[Condition], b: &[Condition]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(a, b)| {
            a.type_ == b.type_
                && a.status == b.status
                && a.reason == b.reason
                && a.message == b.message
                && a.observed_generation == b.observed_generation
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(seconds).unwrap()
    }

    #[test]
    fn failures_set_reconciling_or_stalled() {
        let retrying = Outcome::Retrying {
            reason: "FetchFailed".into(),
            message: "down".into(),
        };
        let types: Vec<_> = conditions(&[], &retrying, Some(2), at(1))
            .into_iter()
            .map(|c| (c.type_, c.status))
            .collect();
        assert_eq!(
            types,
            [
                ("Ready".into(), "False".into()),
                ("Reconciling".into(), "True".into())
            ]
        );
        let stalled = Outcome::Stalled {
            reason: "RenderFailed".into(),
            message: "x".into(),
        };
        let stalled = conditions(&[], &stalled, Some(2), at(1));
        assert_eq!(stalled[1].type_, "Stalled");
        assert_eq!(stalled[0].observed_generation, Some(2));
    }

    #[test]
    fn transition_times_only_move_when_the_status_changes() {
        let failed = Outcome::Retrying {
            reason: "A".into(),
            message: "a".into(),
        };
        let first = conditions(&[], &failed, Some(1), at(10));
        let again = conditions(
            &first,
            &Outcome::Retrying {
                reason: "B".into(),
                message: "b".into(),
            },
            Some(1),
            at(20),
        );
        assert_eq!(again[0].last_transition_time, Time(at(10)));
        assert!(!same(&first, &again));
        let ready = conditions(
            &again,
            &Outcome::Ready {
                reason: "Applied".into(),
                message: "ok".into(),
            },
            Some(1),
            at(30),
        );
        assert_eq!(ready[0].last_transition_time, Time(at(30)));
        assert_eq!(ready.len(), 1);
        assert!(same(&ready, &ready.clone()));
    }
}
