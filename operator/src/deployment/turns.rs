//! Taking turns at fetching the same thing. When a rollout starts, up to
//! `--max-concurrent-reconciles` deployments of one chart reconcile at once, and each would find
//! the shared caches empty and fetch the same archive or ask the same registry question. With a
//! turn per key, the first fetches while the others wait, then find its result in the cache.
//!
//! A waiter that finds nothing in the cache after its turn (the fetch before it failed) fetches
//! for itself, so each deployment reports its own error within its own timeout; nothing failed
//! is shared.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

/// A lock per key being fetched right now. Keys are removed when their last turn ends, so the
/// map holds at most one entry per fetch in progress.
pub struct Turns<K> {
    waiting: Mutex<HashMap<K, Arc<tokio::sync::Mutex<()>>>>,
}

impl<K> Default for Turns<K> {
    fn default() -> Self {
        Turns {
            waiting: Mutex::new(HashMap::new()),
        }
    }
}

/// A place in line for `key`; [`Turn::wait`] returns when it is this one's turn, which lasts
/// until the guard it returns is dropped. The last turn out removes the key's lock.
pub struct Turn<'a, K: Hash + Eq> {
    turns: &'a Turns<K>,
    key: K,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl<K: Hash + Eq + Clone> Turns<K> {
    /// Joins the line for `key`.
    pub fn enter(&self, key: &K) -> Turn<'_, K> {
        let lock = crate::context::lock(&self.waiting)
            .entry(key.clone())
            .or_default()
            .clone();
        Turn {
            turns: self,
            key: key.clone(),
            lock,
        }
    }

    /// Keys with a turn taken or awaited.
    #[cfg(test)]
    pub fn in_use(&self) -> usize {
        crate::context::lock(&self.waiting).len()
    }
}

impl<K: Hash + Eq> Turn<'_, K> {
    /// Waits until no earlier turn for the key is running.
    pub async fn wait(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.lock.lock().await
    }
}

impl<K: Hash + Eq> Drop for Turn<'_, K> {
    fn drop(&mut self) {
        let mut waiting = crate::context::lock(&self.turns.waiting);
        // The map's reference and this one: nobody else is in line (joining needs the map,
        // held here). A key is removed only then, so no turn outlives its key's lock.
        if Arc::strong_count(&self.lock) <= 2 {
            waiting.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn one_turn_at_a_time_per_key_and_no_key_left_behind() {
        let turns = Arc::new(Turns::<String>::default());
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..6)
            .map(|n| {
                let (turns, running, most) = (turns.clone(), running.clone(), most.clone());
                tokio::spawn(async move {
                    // Two keys: three tasks each.
                    let key = format!("key-{}", n % 2);
                    let turn = turns.enter(&key);
                    let _mine = turn.wait().await;
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    running.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(
            most.load(Ordering::SeqCst),
            2,
            "one per key, both keys at once"
        );
        assert_eq!(turns.in_use(), 0);
    }

    #[tokio::test]
    async fn a_wait_given_up_leaves_no_key_behind() {
        let turns = Turns::<&str>::default();
        let first = turns.enter(&"key");
        let mine = first.wait().await;
        {
            let second = turns.enter(&"key");
            let given_up = tokio::time::timeout(Duration::from_millis(10), second.wait()).await;
            assert!(given_up.is_err(), "the first turn still runs");
        }
        assert_eq!(turns.in_use(), 1);
        drop(mine);
        drop(first);
        assert_eq!(turns.in_use(), 0);
    }
}
