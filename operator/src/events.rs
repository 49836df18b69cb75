//! Events about the operator's own resources, as `events.k8s.io/v1` Events: a new occurrence
//! creates one, and the same event about the same object again within [`SERIES_WINDOW`] counts
//! on the first one's `series` instead of creating another (as `kubectl events` shows them).
//!
//! kube-runtime's recorder does the same, but it keeps every event it published, whole, for six
//! minutes, and scans all of them on every publish under one lock: at a thousand deployments (two
//! events each on install, two more on an upgrade) that was several MiB of the operator's memory,
//! and at ten thousand a scan of tens of thousands of entries per event. This one remembers a
//! digest, the event's name and its count per occurrence, expires them in the order they were
//! last seen, and remembers at most [`MAX_REMEMBERED`].

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};

use crate::context::lock;

/// How long a repeat counts on the first occurrence's series.
pub const SERIES_WINDOW: SignedDuration = SignedDuration::from_mins(6);

/// Most occurrences remembered; past it the least recently seen is forgotten (its next repeat
/// creates a new Event). About 100 bytes each.
pub const MAX_REMEMBERED: usize = 10_000;

/// The API server refuses a longer `note`.
pub const MAX_NOTE_BYTES: usize = 1024;

/// Whether an event reports the normal course of things or a problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    Normal,
    Warning,
}

impl EventType {
    fn as_str(self) -> &'static str {
        match self {
            EventType::Normal => "Normal",
            EventType::Warning => "Warning",
        }
    }
}

/// Publishes Events as one reporting controller (and instance).
pub struct Recorder {
    client: Client,
    controller: String,
    instance: String,
    occurrences: Mutex<Occurrences>,
}

impl Recorder {
    /// `instance` defaults to the controller's name.
    pub fn new(client: Client, controller: &str, instance: Option<String>) -> Self {
        Recorder {
            client,
            controller: controller.to_string(),
            instance: instance.unwrap_or_else(|| controller.to_string()),
            occurrences: Mutex::default(),
        }
    }

    /// Publishes an event about `regarding`, or counts a repeat of one published within
    /// [`SERIES_WINDOW`] on its series. A `note` longer than the API server takes is cut.
    pub async fn publish(
        &self,
        regarding: &ObjectReference,
        type_: EventType,
        reason: &str,
        note: &str,
    ) -> Result<(), kube::Error> {
        let now = Timestamp::now();
        let note = cut(note, MAX_NOTE_BYTES);
        let key = occurrence_key(regarding, type_, reason, note);
        let namespace = regarding.namespace.as_deref().unwrap_or("default");
        let events: Api<Event> = Api::namespaced(self.client.clone(), namespace);
        let repeat = lock(&self.occurrences).repeat(key, now);
        if let Some((name, count)) = repeat {
            let series = serde_json::json!({
                "series": {"count": count, "lastObservedTime": MicroTime(now)},
            });
            match events
                .patch(&name, &PatchParams::default(), &Patch::Merge(&series))
                .await
            {
                Ok(_) => return Ok(()),
                // Gone (the API server keeps events an hour): a new one is created below.
                Err(kube::Error::Api(status)) if status.code == 404 => {}
                Err(error) => return Err(error),
            }
        }
        let event = self.event(regarding, type_, reason, note, now);
        let name = event.metadata.name.clone().unwrap_or_default();
        events.create(&PostParams::default(), &event).await?;
        lock(&self.occurrences).first(key, name, now);
        Ok(())
    }

    fn event(
        &self,
        regarding: &ObjectReference,
        type_: EventType,
        reason: &str,
        note: &str,
        now: Timestamp,
    ) -> Event {
        let about = regarding.name.as_deref().unwrap_or(&self.controller);
        Event {
            metadata: ObjectMeta {
                name: Some(format!("{about}.{:x}", now.as_nanosecond())),
                namespace: regarding.namespace.clone(),
                ..ObjectMeta::default()
            },
            action: Some("Reconcile".into()),
            reason: Some(reason.to_string()),
            note: Some(note.to_string()),
            type_: Some(type_.as_str().into()),
            event_time: Some(MicroTime(now)),
            regarding: Some(regarding.clone()),
            reporting_controller: Some(self.controller.clone()),
            reporting_instance: Some(self.instance.clone()),
            ..Event::default()
        }
    }
}

/// `note` cut to at most `max` bytes, on a character boundary.
fn cut(note: &str, max: usize) -> &str {
    if note.len() <= max {
        return note;
    }
    let mut end = max;
    while !note.is_char_boundary(end) {
        end -= 1;
    }
    &note[..end]
}

/// What makes two events the same occurrence: the object (its uid too, so one created again
/// under the same name is another), the type, the reason and the note. Not the object's
/// resourceVersion, which every status write moves.
fn occurrence_key(regarding: &ObjectReference, type_: EventType, reason: &str, note: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    regarding.api_version.hash(&mut hasher);
    regarding.kind.hash(&mut hasher);
    regarding.namespace.hash(&mut hasher);
    regarding.name.hash(&mut hasher);
    regarding.uid.hash(&mut hasher);
    type_.hash(&mut hasher);
    reason.hash(&mut hasher);
    note.hash(&mut hasher);
    hasher.finish()
}

/// The occurrences seen within the window: their Event's name and count, and the order they
/// were last seen in (a key may be listed more than once; only its last listing counts).
#[derive(Default)]
struct Occurrences {
    seen: HashMap<u64, Occurrence>,
    order: VecDeque<(u64, Timestamp)>,
}

struct Occurrence {
    name: String,
    count: i32,
    last: Timestamp,
}

impl Occurrences {
    /// The Event to count a repeat of `key` on at `now`, and its new count; `None` for a new
    /// occurrence.
    fn repeat(&mut self, key: u64, now: Timestamp) -> Option<(String, i32)> {
        self.expire(now);
        let occurrence = self.seen.get_mut(&key)?;
        occurrence.count = occurrence.count.saturating_add(1);
        occurrence.last = now;
        self.order.push_back((key, now));
        Some((occurrence.name.clone(), occurrence.count))
    }

    /// Remembers the Event `name` created for `key` at `now`.
    fn first(&mut self, key: u64, name: String, now: Timestamp) {
        self.seen.insert(
            key,
            Occurrence {
                name,
                count: 1,
                last: now,
            },
        );
        self.order.push_back((key, now));
        while self.seen.len() > MAX_REMEMBERED {
            self.forget_oldest();
        }
    }

    /// Forgets the occurrences last seen longer than [`SERIES_WINDOW`] before `now`.
    fn expire(&mut self, now: Timestamp) {
        while let Some(&(_, listed)) = self.order.front() {
            if listed + SERIES_WINDOW > now {
                break;
            }
            self.forget_oldest();
        }
    }

    /// Takes the first listing off the order, and forgets its occurrence unless it was seen
    /// again since (a later listing stands for it).
    fn forget_oldest(&mut self) {
        if let Some((key, listed)) = self.order.pop_front()
            && self.seen.get(&key).is_some_and(|o| o.last == listed)
        {
            self.seen.remove(&key);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake_api::answering;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap()
    }

    #[test]
    fn a_repeat_within_the_window_counts_on_the_first_event() {
        let mut occurrences = Occurrences::default();
        assert_eq!(occurrences.repeat(7, at(1_000)), None);
        occurrences.first(7, "web.1".into(), at(1_000));
        assert_eq!(occurrences.repeat(7, at(1_100)), Some(("web.1".into(), 2)));
        // Seen again at 1100: the window runs from there.
        assert_eq!(occurrences.repeat(7, at(1_400)), Some(("web.1".into(), 3)));
        assert_eq!(occurrences.repeat(7, at(1_400 + 360)), None);
        assert_eq!(occurrences.len(), 0);
    }

    #[test]
    fn what_is_remembered_is_bounded_and_the_least_recent_goes_first() {
        let mut occurrences = Occurrences::default();
        for key in 0..MAX_REMEMBERED as u64 {
            occurrences.first(key, format!("e.{key}"), at(1_000));
        }
        // The first one is seen again, so it is now the most recent.
        assert!(occurrences.repeat(0, at(1_001)).is_some());
        occurrences.first(u64::MAX, "new".into(), at(1_002));
        assert_eq!(occurrences.len(), MAX_REMEMBERED);
        assert!(occurrences.seen.contains_key(&0));
        assert!(!occurrences.seen.contains_key(&1));
    }

    #[test]
    fn the_same_reason_with_another_note_or_object_is_another_occurrence() {
        let web = ObjectReference {
            kind: Some("ChartDeployment".into()),
            namespace: Some("apps".into()),
            name: Some("web".into()),
            uid: Some("u1".into()),
            resource_version: Some("1".into()),
            ..ObjectReference::default()
        };
        let refused = |about: &ObjectReference| {
            occurrence_key(about, EventType::Warning, "FetchFailed", "refused")
        };
        let key = refused(&web);
        let moved = ObjectReference {
            resource_version: Some("2".into()),
            ..web.clone()
        };
        assert_eq!(key, refused(&moved));
        assert_ne!(
            key,
            occurrence_key(&web, EventType::Warning, "FetchFailed", "timed out")
        );
        let recreated = ObjectReference {
            uid: Some("u2".into()),
            ..web.clone()
        };
        assert_ne!(key, refused(&recreated));
    }

    #[test]
    fn a_long_note_is_cut_on_a_character_boundary() {
        let note = "é".repeat(MAX_NOTE_BYTES);
        let cut = cut(&note, MAX_NOTE_BYTES);
        assert_eq!(cut.len(), MAX_NOTE_BYTES);
        assert_eq!(super::cut("short", MAX_NOTE_BYTES), "short");
        let odd = format!("a{note}");
        assert_eq!(super::cut(&odd, MAX_NOTE_BYTES).len(), MAX_NOTE_BYTES - 1);
    }

    #[tokio::test]
    async fn a_repeat_patches_the_series_of_the_event_it_repeats() {
        let event = serde_json::json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "web.1", "namespace": "apps"},
            "eventTime": "2026-12-07T10:00:00.000000Z"});
        let (client, asked) = answering(200, event);
        let recorder = Recorder::new(client, "capstan", None);
        let web = ObjectReference {
            api_version: Some("capstan.dev/v1alpha1".into()),
            kind: Some("ChartDeployment".into()),
            namespace: Some("apps".into()),
            name: Some("web".into()),
            ..ObjectReference::default()
        };
        for _ in 0..2 {
            recorder
                .publish(&web, EventType::Warning, "FetchFailed", "refused")
                .await
                .unwrap();
        }
        let asked = asked.lock().unwrap().clone();
        assert_eq!(asked.len(), 2, "{asked:?}");
        assert!(
            asked[0].starts_with("POST /apis/events.k8s.io/v1/namespaces/apps/events"),
            "{asked:?}"
        );
        assert!(
            asked[1].starts_with("PATCH /apis/events.k8s.io/v1/namespaces/apps/events/web."),
            "{asked:?}"
        );
    }
}
