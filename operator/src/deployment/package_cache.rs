//! Chart archives kept in memory, so a chart version is downloaded once and not once per
//! deployment: a rollout of 1,000 deployments of one chart is one download. Bounded in entries
//! and in bytes; the oldest goes first.
//!
//! Keys must say whose the archive is as well as which it is: a cached archive is only handed
//! to a caller that has shown, with its own source and credentials, that its source names this
//! very archive (a registry's manifest digest, a repository index's digest).

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};

use super::package::Package;
use super::turns::Turns;

/// Archives kept, newest last.
pub const CACHE_ENTRIES: usize = 32;
/// Total archive and provenance bytes kept.
pub const CACHE_BYTES: usize = 64 * 1024 * 1024;

/// What a cache entry holds: a package, and whatever else its source learnt of it.
pub trait HoldsPackage: Clone {
    fn package(&self) -> &Package;
}

impl HoldsPackage for Arc<Package> {
    fn package(&self) -> &Package {
        self
    }
}

/// Entries by key, bounded by [`CACHE_ENTRIES`] and [`CACHE_BYTES`] (one entry larger than the
/// byte bound is still kept alone).
pub struct PackageCache<V> {
    entries: Mutex<VecDeque<(String, V)>>,
    /// Whose turn it is to fetch each key being fetched right now (see [`super::turns`]).
    fetching: Turns<String>,
}

impl<V> Default for PackageCache<V> {
    fn default() -> Self {
        PackageCache {
            entries: Mutex::new(VecDeque::new()),
            fetching: Turns::default(),
        }
    }
}

impl<V: HoldsPackage> PackageCache<V> {
    /// The entry for `key`, else what `fetch` returns (and kept). Callers asking for the same key
    /// at once take turns, so one fetches and the others take its entry.
    pub async fn get_or_fetch<E, Fetch, Fetched>(&self, key: String, fetch: Fetch) -> Result<V, E>
    where
        Fetch: FnOnce() -> Fetched,
        Fetched: Future<Output = Result<V, E>>,
    {
        if let Some(value) = self.get(&key) {
            return Ok(value);
        }
        let turn = self.fetching.enter(&key);
        let _fetching = turn.wait().await;
        if let Some(value) = self.get(&key) {
            return Ok(value);
        }
        let value = fetch().await?;
        self.insert(key, value.clone());
        Ok(value)
    }

    pub fn get(&self, key: &str) -> Option<V> {
        self.lock()
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, value)| value.clone())
    }

    pub fn insert(&self, key: String, value: V) {
        let mut entries = self.lock();
        entries.retain(|(k, _)| *k != key);
        entries.push_back((key, value));
        let size = |value: &V| {
            let package = value.package();
            package.archive.len() + package.provenance.as_ref().map_or(0, Vec::len)
        };
        while entries.len() > CACHE_ENTRIES
            || (entries.len() > 1
                && entries.iter().map(|(_, v)| size(v)).sum::<usize>() > CACHE_BYTES)
        {
            entries.pop_front();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<(String, V)>> {
        self.entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(bytes: usize) -> Arc<Package> {
        Arc::new(Package::new(vec![0; bytes], None))
    }

    #[test]
    fn the_cache_is_bounded_in_entries_and_bytes() {
        let cache = PackageCache::default();
        cache.insert("a".into(), package(10));
        assert!(cache.get("a").is_some());
        assert!(cache.get("b").is_none());
        for n in 0..CACHE_ENTRIES {
            cache.insert(format!("n{n}"), package(1));
        }
        assert!(cache.get("a").is_none(), "the oldest went first");
        assert!(cache.get("n0").is_some());
        cache.insert("big".into(), package(CACHE_BYTES));
        assert!(cache.get("big").is_some());
        assert!(cache.get("n0").is_none());
    }
}
