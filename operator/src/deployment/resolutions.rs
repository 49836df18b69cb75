//! What a registry last answered to "which manifest is this chart version?", shared by every
//! deployment that asks the same question with the same credentials.
//!
//! Without it every pass of every deployment from a registry asks again: a tag list for a
//! constraint and a manifest read, even on the passes that only look at health while objects
//! become ready. 1,000 deployments of one chart are then thousands of registry reads during a
//! rollout. A ChartRepository's index is the same kind of answer and is already shared and polled
//! on the repository's interval; this does the same for registries.
//!
//! An answer is reused for at most the asking deployment's interval and never more than
//! [`REUSE_AT_MOST`], so a new tag is seen as soon as the interval says it should be, give or take
//! those seconds; a spec not reported on yet takes answers at most [`REUSE_FOR_A_NEW_SPEC`] old
//! (see `plan::resolution_reuse`). The key holds a digest of the connection settings and credentials, so a tenant
//! is never handed what the registry answered someone else's credentials; failures are not kept,
//! so a registry that failed is asked again on the next pass.
//!
//! Deployments asking the same question at once take turns (see [`super::turns`]): the first asks
//! the registry and the others take its answer.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use capstan_sources::oci::Resolved;

use super::turns::Turns;

/// The longest an answer is reused, whatever the deployment's interval.
pub const REUSE_AT_MOST: Duration = Duration::from_secs(10);
/// The longest an answer is reused for a spec not reported on yet (new, or changed): a chart
/// pushed a moment before the change is found, within the same seconds as a push racing it.
pub const REUSE_FOR_A_NEW_SPEC: Duration = Duration::from_secs(2);
/// Questions remembered at once; past that, answers older than [`REUSE_AT_MOST`] are dropped,
/// and when every answer is fresh, a new one is not kept.
pub const MAX_ENTRIES: usize = 1024;
/// A chart URL or version longer than this is not kept (the spec bounds neither tightly), so the
/// memory held stays under [`MAX_ENTRIES`] times about a kilobyte.
const MAX_KEY_BYTES: usize = 512;

/// The question: which registry settings and credentials, which chart, which version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Question {
    /// A digest of the connection settings and credentials (see
    /// [`capstan_sources::oci::options_digest`]).
    pub credentials: [u8; 32],
    pub chart_url: String,
    /// A constraint, an exact version or a digest; `None` for the newest stable version.
    pub version: Option<String>,
}

/// Answers by question, with when each was given.
#[derive(Default)]
pub struct Resolutions {
    answers: Mutex<HashMap<Question, (Instant, Resolved)>>,
    /// Whose turn it is to ask the registry each question being asked right now.
    asking: Turns<Question>,
}

impl Resolutions {
    /// The answer to `question`: one given less than `reuse_for` ago (at most
    /// [`REUSE_AT_MOST`]), else `ask`'s, after waiting for anyone asking the same already.
    pub async fn answer<E, Ask, Asked>(
        &self,
        question: Question,
        reuse_for: Duration,
        ask: Ask,
    ) -> Result<Resolved, E>
    where
        Ask: FnOnce() -> Asked,
        Asked: Future<Output = Result<Resolved, E>>,
    {
        // Wanting a new answer, nobody's answer will do: no point waiting in line.
        if reuse_for.is_zero() {
            let resolved = ask().await?;
            self.remember(question, resolved.clone(), Instant::now());
            return Ok(resolved);
        }
        if let Some(resolved) = self.fresh(&question, reuse_for, Instant::now()) {
            return Ok(resolved);
        }
        let turn = self.asking.enter(&question);
        let _asking = turn.wait().await;
        if let Some(resolved) = self.fresh(&question, reuse_for, Instant::now()) {
            return Ok(resolved);
        }
        let resolved = ask().await?;
        self.remember(question, resolved.clone(), Instant::now());
        Ok(resolved)
    }

    /// The answer to `question` given less than `reuse_for` (at most [`REUSE_AT_MOST`]) before
    /// `now`, if any.
    fn fresh(&self, question: &Question, reuse_for: Duration, now: Instant) -> Option<Resolved> {
        let reuse_for = reuse_for.min(REUSE_AT_MOST);
        crate::context::lock(&self.answers)
            .get(question)
            .filter(|(at, _)| now.saturating_duration_since(*at) < reuse_for)
            .map(|(_, resolved)| resolved.clone())
    }

    /// Keeps the registry's answer to `question`, given at `now`.
    fn remember(&self, question: Question, resolved: Resolved, now: Instant) {
        let too_long = question.chart_url.len()
            + question.version.as_ref().map_or(0, String::len)
            + resolved.reference.len()
            + resolved.digest.len()
            > MAX_KEY_BYTES;
        if too_long {
            return;
        }
        let mut answers = crate::context::lock(&self.answers);
        if answers.len() >= MAX_ENTRIES && !answers.contains_key(&question) {
            answers.retain(|_, (at, _)| now.saturating_duration_since(*at) < REUSE_AT_MOST);
            if answers.len() >= MAX_ENTRIES {
                return;
            }
        }
        answers.insert(question, (now, resolved));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        crate::context::lock(&self.answers).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn question(credentials: u8, version: &str) -> Question {
        Question {
            credentials: [credentials; 32],
            chart_url: "oci://registry.test/charts/greet".into(),
            version: Some(version.into()),
        }
    }

    fn answer(digest: &str) -> Resolved {
        Resolved {
            reference: "registry.test/charts/greet:1.0.0".into(),
            digest: format!("sha256:{digest}"),
        }
    }

    #[test]
    fn an_answer_is_reused_within_the_interval_and_never_past_the_cap() {
        let resolutions = Resolutions::default();
        let start = Instant::now();
        resolutions.remember(question(1, "^1"), answer("a"), start);
        let later = |seconds| start + Duration::from_secs(seconds);
        let reused = |interval, at| {
            resolutions.fresh(&question(1, "^1"), Duration::from_secs(interval), later(at))
        };
        assert_eq!(reused(60, 0), Some(answer("a")));
        assert_eq!(reused(60, 9), Some(answer("a")));
        assert_eq!(reused(60, 10), None, "the cap holds for a long interval");
        assert_eq!(reused(2, 1), Some(answer("a")));
        assert_eq!(reused(2, 2), None, "a short interval asks again sooner");
        assert_eq!(reused(0, 0), None, "no interval, no reuse");
    }

    #[test]
    fn other_credentials_or_another_version_is_another_question() {
        let resolutions = Resolutions::default();
        let now = Instant::now();
        resolutions.remember(question(1, "^1"), answer("a"), now);
        let minute = Duration::from_secs(60);
        assert_eq!(resolutions.fresh(&question(2, "^1"), minute, now), None);
        assert_eq!(resolutions.fresh(&question(1, "^2"), minute, now), None);
        let mut latest = question(1, "^1");
        latest.version = None;
        assert_eq!(resolutions.fresh(&latest, minute, now), None);
        let mut elsewhere = question(1, "^1");
        elsewhere.chart_url.push_str("-fork");
        assert_eq!(resolutions.fresh(&elsewhere, minute, now), None);
    }

    #[test]
    fn a_newer_answer_replaces_the_older() {
        let resolutions = Resolutions::default();
        let now = Instant::now();
        resolutions.remember(question(1, "^1"), answer("a"), now);
        resolutions.remember(question(1, "^1"), answer("b"), now);
        let minute = Duration::from_secs(60);
        assert_eq!(
            resolutions.fresh(&question(1, "^1"), minute, now),
            Some(answer("b"))
        );
        assert_eq!(resolutions.len(), 1);
    }

    #[tokio::test]
    async fn those_asking_at_once_take_one_answer_and_each_asks_after_a_failure() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let resolutions = Arc::new(Resolutions::default());
        let asked = Arc::new(AtomicUsize::new(0));
        let ask_all = |fails: bool| {
            (0..8)
                .map(|_| {
                    let (resolutions, asked) = (resolutions.clone(), asked.clone());
                    tokio::spawn(async move {
                        let ask = || async {
                            asked.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            if fails {
                                Err("refused")
                            } else {
                                Ok(answer("a"))
                            }
                        };
                        let minute = Duration::from_secs(60);
                        resolutions.answer(question(1, "^1"), minute, ask).await
                    })
                })
                .collect::<Vec<_>>()
        };

        for task in ask_all(true) {
            assert_eq!(task.await.unwrap(), Err("refused"));
        }
        assert_eq!(asked.load(Ordering::SeqCst), 8, "a failure is not shared");
        for task in ask_all(false) {
            assert_eq!(task.await.unwrap(), Ok(answer("a")));
        }
        assert_eq!(
            asked.load(Ordering::SeqCst),
            9,
            "one asked, seven took its answer"
        );
        assert_eq!(resolutions.asking.in_use(), 0);
    }

    #[tokio::test]
    async fn a_turn_given_up_half_way_leaves_no_lock_behind() {
        let resolutions = Resolutions::default();
        let minute = Duration::from_secs(60);
        let hangs = resolutions.answer(question(1, "^1"), minute, || {
            std::future::pending::<Result<Resolved, ()>>()
        });
        let given_up = tokio::time::timeout(Duration::from_millis(10), hangs).await;
        assert!(given_up.is_err());
        assert_eq!(resolutions.asking.in_use(), 0);
        let answered = resolutions
            .answer(question(1, "^1"), minute, || async {
                Ok::<_, ()>(answer("b"))
            })
            .await;
        assert_eq!(answered, Ok(answer("b")));
    }

    #[test]
    fn entries_and_their_size_are_bounded() {
        let resolutions = Resolutions::default();
        let start = Instant::now();
        for n in 0..MAX_ENTRIES {
            resolutions.remember(question(1, &n.to_string()), answer("a"), start);
        }
        assert_eq!(resolutions.len(), MAX_ENTRIES);
        // All fresh: a new question is answered but not kept.
        resolutions.remember(question(1, "new"), answer("a"), start);
        assert_eq!(resolutions.len(), MAX_ENTRIES);
        let minute = Duration::from_secs(60);
        assert_eq!(resolutions.fresh(&question(1, "new"), minute, start), None);
        // Once they are stale, they make room.
        let later = start + REUSE_AT_MOST;
        resolutions.remember(question(1, "new"), answer("a"), later);
        assert_eq!(resolutions.len(), 1);
        assert!(
            resolutions
                .fresh(&question(1, "new"), minute, later)
                .is_some()
        );

        let long = "1".repeat(MAX_KEY_BYTES);
        resolutions.remember(question(1, &long), answer("a"), later);
        assert_eq!(resolutions.fresh(&question(1, &long), minute, later), None);
    }
}
