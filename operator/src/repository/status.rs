//! The status of a ChartRepository after a fetch, computed without a client, and what of it the
//! deployments that use the repository act on.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use capstan_api::{ChartRepository, ChartRepositoryStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::conditions::{Outcome, conditions};
use crate::error::Error;

/// What the deployments that use a repository act on in its object: which object it is, its
/// spec, and its conditions, with the message of one that is not True (a failed fetch, which
/// they report). A new index is not in it: the index reaching this operator's cache wakes them
/// in-process ([`crate::repository::index_cache::IndexCache::arrivals`]), and counting its
/// digest here too woke each of them a second time for the same index. The times in its status
/// wake nobody.
pub fn seen_by_deployments(repository: &ChartRepository) -> u64 {
    let mut hasher = DefaultHasher::new();
    repository.metadata.uid.hash(&mut hasher);
    repository.metadata.generation.hash(&mut hasher);
    if let Some(status) = &repository.status {
        status.observed_generation.hash(&mut hasher);
        for condition in &status.conditions {
            condition.type_.hash(&mut hasher);
            condition.status.hash(&mut hasher);
            condition.reason.hash(&mut hasher);
            if condition.status != "True" {
                condition.message.hash(&mut hasher);
            }
            condition.observed_generation.hash(&mut hasher);
        }
    }
    hasher.finish()
}

/// `now + wait`, for the status's `nextFetchTime`.
fn time_after(now: Timestamp, wait: Duration) -> Option<Time> {
    let wait = SignedDuration::try_from(wait).ok()?;
    now.checked_add(wait).ok().map(Time)
}

/// Status after a successful fetch (or a 304 confirming the cached index) at `now`. It holds no
/// poll times, so a fetch that finds the same index with the same outcome gives back `previous`
/// unchanged, and the caller writes nothing (see [`needs_write`]).
pub fn fetched_status(
    previous: &ChartRepositoryStatus,
    generation: Option<i64>,
    digest: &str,
    count: usize,
    now: Timestamp,
) -> ChartRepositoryStatus {
    let outcome = Outcome::Ready {
        reason: "IndexFetched".into(),
        message: format!("Fetched index with {count} chart versions"),
    };
    let index_changed = previous.index_digest.as_deref() != Some(digest);
    ChartRepositoryStatus {
        conditions: conditions(&previous.conditions, &outcome, generation, now),
        observed_generation: generation,
        index_digest: Some(digest.to_string()),
        chart_count: Some(i64::try_from(count).unwrap_or(i64::MAX)),
        index_change_time: if index_changed || previous.index_change_time.is_none() {
            Some(Time(now))
        } else {
            previous.index_change_time.clone()
        },
        next_fetch_time: None,
    }
}

/// Whether `status` says anything `previous` does not: a reconcile that changes nothing sends
/// no write.
pub fn needs_write(previous: &ChartRepositoryStatus, status: &ChartRepositoryStatus) -> bool {
    previous != status
}

/// Status after a fetch that failed at `now`, to be retried `retry` later: the last good index
/// (still served to deployments) stays listed, with the time it was fetched.
pub fn failed_status(
    previous: &ChartRepositoryStatus,
    generation: Option<i64>,
    error: &Error,
    now: Timestamp,
    retry: Duration,
) -> ChartRepositoryStatus {
    let outcome = Outcome::from_error(error);
    ChartRepositoryStatus {
        conditions: conditions(&previous.conditions, &outcome, generation, now),
        observed_generation: generation,
        next_fetch_time: time_after(now, retry),
        ..previous.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FetchError;
    use capstan_api::ChartRepositorySpec;

    fn refused() -> Error {
        Error::Fetch {
            what: "the index".into(),
            source: Box::new(FetchError::Protocol("connection refused".into())),
        }
    }

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap()
    }

    /// The first fetch of an index of 7 chart versions, at second 1000, of generation 3.
    fn first_fetch() -> ChartRepositoryStatus {
        fetched_status(
            &ChartRepositoryStatus::default(),
            Some(3),
            "sha256:ab",
            7,
            at(1_000),
        )
    }

    #[test]
    fn a_fetch_of_the_same_index_changes_nothing_and_a_new_index_is_recorded() {
        let first = first_fetch();
        assert_eq!(first.chart_count, Some(7));
        assert_eq!(first.index_change_time, Some(Time(at(1_000))));
        assert_eq!(first.next_fetch_time, None);
        assert!(needs_write(&ChartRepositoryStatus::default(), &first));
        // The same index again: nothing moves, nothing is written.
        let again = fetched_status(&first, Some(3), "sha256:ab", 7, at(1_600));
        assert_eq!(again, first);
        assert!(!needs_write(&first, &again));
        // A new index is written, with the time it was first seen.
        let changed = fetched_status(&first, Some(3), "sha256:cd", 8, at(2_200));
        assert!(needs_write(&first, &changed));
        assert_eq!(changed.index_change_time, Some(Time(at(2_200))));
        assert_eq!(
            changed.conditions[0].last_transition_time,
            first.conditions[0].last_transition_time
        );
    }

    #[test]
    fn a_recovery_with_the_same_index_is_written_and_keeps_when_the_index_changed() {
        let fetched = first_fetch();
        let failed = failed_status(
            &fetched,
            Some(3),
            &refused(),
            at(1_600),
            Duration::from_secs(5),
        );
        let recovered = fetched_status(&failed, Some(3), "sha256:ab", 7, at(1_605));
        assert!(needs_write(&failed, &recovered));
        assert_eq!(recovered.conditions[0].status, "True");
        assert_eq!(recovered.next_fetch_time, None);
        assert_eq!(recovered.index_change_time, Some(Time(at(1_000))));
        // A new spec (generation) is written even when the index is the same.
        let respecified = fetched_status(&recovered, Some(4), "sha256:ab", 7, at(1_700));
        assert!(needs_write(&recovered, &respecified));
    }

    #[test]
    fn a_failed_fetch_keeps_the_last_index_and_schedules_the_retry() {
        let fetched = first_fetch();
        let error = refused();
        let failed = failed_status(&fetched, Some(3), &error, at(1_600), Duration::from_secs(5));
        assert_eq!(failed.index_digest.as_deref(), Some("sha256:ab"));
        assert_eq!(failed.chart_count, Some(7));
        assert_eq!(failed.index_change_time, Some(Time(at(1_000))));
        assert_eq!(failed.next_fetch_time, Some(Time(at(1_605))));
        assert_eq!(failed.conditions[0].status, "False");
        assert_eq!(failed.conditions[0].reason, "FetchFailed");
        assert_eq!(failed.conditions[1].type_, "Reconciling");
    }

    fn repository(uid: &str, status: ChartRepositoryStatus) -> ChartRepository {
        let spec: ChartRepositorySpec =
            serde_json::from_value(serde_json::json!({"url": "https://charts.example"})).unwrap();
        let mut repository = ChartRepository::new("charts", spec);
        repository.metadata.uid = Some(uid.into());
        repository.metadata.generation = Some(1);
        repository.status = Some(status);
        repository
    }

    #[test]
    fn deployments_see_a_condition_or_spec_change_but_not_a_new_index_or_another_fetch() {
        let interval = Duration::from_secs(60);
        let first = fetched_status(
            &ChartRepositoryStatus::default(),
            Some(1),
            "sha256:ab",
            2,
            at(1_000),
        );
        let seen = seen_by_deployments(&repository("u1", first.clone()));
        let refetched = fetched_status(&first, Some(1), "sha256:ab", 2, at(1_060));
        assert_eq!(seen, seen_by_deployments(&repository("u1", refetched)));

        // The cache's arrival wakes them for a new index, once.
        let new_index = fetched_status(&first, Some(1), "sha256:cd", 3, at(1_060));
        assert_eq!(seen, seen_by_deployments(&repository("u1", new_index)));
        let error = refused();
        let failed = failed_status(&first, Some(1), &error, at(1_060), interval);
        assert_ne!(seen, seen_by_deployments(&repository("u1", failed)));
        assert_ne!(seen, seen_by_deployments(&repository("u2", first.clone())));
        let mut new_spec = repository("u1", first);
        new_spec.metadata.generation = Some(2);
        assert_ne!(seen, seen_by_deployments(&new_spec));
    }
}
