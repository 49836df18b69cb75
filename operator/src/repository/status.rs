//! The status of a ChartRepository after a fetch, computed without a client, and what of it the
//! deployments that use the repository act on.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use capstan_api::{ChartRepository, ChartRepositoryStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use crate::conditions::{Outcome, conditions};
use crate::error::Error;

/// What the deployments that use a repository act on: which object it is, its spec, its index
/// and its conditions. The fetch times move with every fetch and wake nobody.
pub fn seen_by_deployments(repository: &ChartRepository) -> u64 {
    let mut hasher = DefaultHasher::new();
    repository.metadata.uid.hash(&mut hasher);
    repository.metadata.generation.hash(&mut hasher);
    if let Some(status) = &repository.status {
        status.observed_generation.hash(&mut hasher);
        status.index_digest.hash(&mut hasher);
        status.chart_count.hash(&mut hasher);
        for condition in &status.conditions {
            condition.type_.hash(&mut hasher);
            condition.status.hash(&mut hasher);
            condition.reason.hash(&mut hasher);
            condition.message.hash(&mut hasher);
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

/// Status after a successful fetch (or a 304 confirming the cached index) at `now`; the next
/// one is `interval` later.
pub fn fetched_status(
    previous: &ChartRepositoryStatus,
    generation: Option<i64>,
    digest: &str,
    count: usize,
    now: Timestamp,
    interval: Duration,
) -> ChartRepositoryStatus {
    let outcome = Outcome::Ready {
        reason: "IndexFetched".into(),
        message: format!("Fetched index with {count} chart versions"),
    };
    ChartRepositoryStatus {
        conditions: conditions(&previous.conditions, &outcome, generation, now),
        observed_generation: generation,
        index_digest: Some(digest.to_string()),
        chart_count: Some(i64::try_from(count).unwrap_or(i64::MAX)),
        last_fetch_time: Some(Time(now)),
        next_fetch_time: time_after(now, interval),
    }
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

    #[test]
    fn a_fetch_records_when_it_happened_and_when_the_next_is_due() {
        let interval = Duration::from_secs(600);
        let first = fetched_status(
            &ChartRepositoryStatus::default(),
            Some(3),
            "sha256:ab",
            7,
            at(1_000),
            interval,
        );
        assert_eq!(first.chart_count, Some(7));
        assert_eq!(first.last_fetch_time, Some(Time(at(1_000))));
        assert_eq!(first.next_fetch_time, Some(Time(at(1_600))));
        // The same index again: only the times move, the condition keeps its transition time.
        let again = fetched_status(&first, Some(3), "sha256:ab", 7, at(1_600), interval);
        assert_eq!(again.last_fetch_time, Some(Time(at(1_600))));
        assert_eq!(again.next_fetch_time, Some(Time(at(2_200))));
        assert_eq!(
            again.conditions[0].last_transition_time,
            first.conditions[0].last_transition_time
        );
    }

    #[test]
    fn a_failed_fetch_keeps_the_last_index_and_schedules_the_retry() {
        let interval = Duration::from_secs(600);
        let fetched = fetched_status(
            &ChartRepositoryStatus::default(),
            Some(3),
            "sha256:ab",
            7,
            at(1_000),
            interval,
        );
        let error = refused();
        let failed = failed_status(&fetched, Some(3), &error, at(1_600), Duration::from_secs(5));
        assert_eq!(failed.index_digest.as_deref(), Some("sha256:ab"));
        assert_eq!(failed.chart_count, Some(7));
        assert_eq!(failed.last_fetch_time, Some(Time(at(1_000))));
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
    fn deployments_see_a_new_index_or_condition_but_not_another_fetch_of_the_same() {
        let interval = Duration::from_secs(60);
        let first = fetched_status(
            &ChartRepositoryStatus::default(),
            Some(1),
            "sha256:ab",
            2,
            at(1_000),
            interval,
        );
        let seen = seen_by_deployments(&repository("u1", first.clone()));
        let refetched = fetched_status(&first, Some(1), "sha256:ab", 2, at(1_060), interval);
        assert_eq!(seen, seen_by_deployments(&repository("u1", refetched)));

        let new_index = fetched_status(&first, Some(1), "sha256:cd", 3, at(1_060), interval);
        assert_ne!(seen, seen_by_deployments(&repository("u1", new_index)));
        let error = refused();
        let failed = failed_status(&first, Some(1), &error, at(1_060), interval);
        assert_ne!(seen, seen_by_deployments(&repository("u1", failed)));
        assert_ne!(seen, seen_by_deployments(&repository("u2", first.clone())));
        let mut new_spec = repository("u1", first);
        new_spec.metadata.generation = Some(2);
        assert_ne!(seen, seen_by_deployments(&new_spec));
    }
}
