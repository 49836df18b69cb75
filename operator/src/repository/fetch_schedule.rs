//! When each repository's index is due to be fetched again.
//!
//! A ChartRepository is reconciled far more often than its index needs fetching: its own status
//! write, a relist of the watch or a restart of the watch all wake it. The schedule tells those
//! wakes apart from a fetch that is due, after a success (`interval` later) and after a failure
//! (when the back-off ends) alike, so neither a good nor a failing repository is fetched, or its
//! status written, more than once per period.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::object_key::ObjectKey;

#[derive(Default)]
pub struct FetchSchedule {
    due: Mutex<HashMap<ObjectKey, Due>>,
}

/// The next fetch of one repository object, valid while its URL and generation stay the same.
struct Due {
    uid: Option<String>,
    url: String,
    generation: Option<i64>,
    at: Instant,
}

impl FetchSchedule {
    /// How long to wait before fetching the index of `key` (the object `uid`, at `url`, spec
    /// `generation`), or `None` when a fetch is due now: the time has come, nothing was
    /// scheduled (a new repository, or a restarted operator), the spec changed since, or the
    /// repository was deleted and created again.
    pub fn wait(
        &self,
        key: &ObjectKey,
        uid: Option<&str>,
        url: &str,
        generation: Option<i64>,
        now: Instant,
    ) -> Option<Duration> {
        let due = self.lock();
        let due = due.get(key)?;
        if due.uid.as_deref() != uid || due.url != url || due.generation != generation {
            return None;
        }
        due.at
            .checked_duration_since(now)
            .filter(|wait| !wait.is_zero())
    }

    /// Schedules the next fetch of `key` at `at`, for the object `uid` and the spec (`url`,
    /// `generation`) fetched now.
    pub fn set(
        &self,
        key: ObjectKey,
        uid: Option<&str>,
        url: &str,
        generation: Option<i64>,
        at: Instant,
    ) {
        self.lock().insert(
            key,
            Due {
                uid: uid.map(str::to_string),
                url: url.to_string(),
                generation,
                at,
            },
        );
    }

    /// Forgets `key`: a suspended repository, or one that is now an OCI registry.
    pub fn forget(&self, key: &ObjectKey) {
        self.lock().remove(key);
    }

    /// Forgets `key` if it was scheduled for the object `uid`: a deleted repository.
    pub fn forget_if_scheduled_for(&self, key: &ObjectKey, uid: Option<&str>) {
        let mut due = self.lock();
        if due.get(key).is_some_and(|due| due.uid.as_deref() == uid) {
            due.remove(key);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ObjectKey, Due>> {
        self.due.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const UID: Option<&str> = Some("u1");

    fn key() -> ObjectKey {
        ObjectKey::new("apps", "charts")
    }

    #[test]
    fn a_fetch_is_due_only_when_its_time_has_come() {
        let schedule = FetchSchedule::default();
        let now = Instant::now();
        let url = "https://charts.example";
        assert_eq!(schedule.wait(&key(), UID, url, Some(1), now), None);
        schedule.set(key(), UID, url, Some(1), now + Duration::from_secs(60));
        assert_eq!(
            schedule.wait(&key(), UID, url, Some(1), now + Duration::from_secs(15)),
            Some(Duration::from_secs(45))
        );
        assert_eq!(
            schedule.wait(&key(), UID, url, Some(1), now + Duration::from_secs(60)),
            None
        );
        assert_eq!(
            schedule.wait(&key(), UID, url, Some(1), now + Duration::from_secs(90)),
            None
        );
    }

    #[test]
    fn a_changed_spec_a_new_object_or_a_forgotten_repository_is_fetched_at_once() {
        let schedule = FetchSchedule::default();
        let now = Instant::now();
        let url = "https://charts.example";
        let later = now + Duration::from_secs(60);
        schedule.set(key(), UID, url, Some(1), later);
        assert_eq!(schedule.wait(&key(), UID, url, Some(2), now), None);
        assert_eq!(
            schedule.wait(&key(), UID, "https://other.example", Some(1), now),
            None
        );
        // Deleted and created again under the same name: a new uid, fetched at once.
        assert_eq!(schedule.wait(&key(), Some("u2"), url, Some(1), now), None);
        let other = ObjectKey::new("apps", "other");
        assert_eq!(schedule.wait(&other, UID, url, Some(1), now), None);
        schedule.forget(&key());
        assert_eq!(schedule.wait(&key(), UID, url, Some(1), now), None);

        // The deletion of an older object of that name leaves the schedule of the new one.
        schedule.set(key(), UID, url, Some(1), later);
        schedule.forget_if_scheduled_for(&key(), Some("u0"));
        assert!(schedule.wait(&key(), UID, url, Some(1), now).is_some());
        schedule.forget_if_scheduled_for(&key(), UID);
        assert_eq!(schedule.wait(&key(), UID, url, Some(1), now), None);
    }
}
