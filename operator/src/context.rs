//! State shared by every reconcile: the client, caches, the event recorder and failure counts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use capstan_api::labels::FIELD_MANAGER;
use k8s_openapi::NamespaceResourceScope;
use kube::runtime::events::{Recorder, Reporter};
use kube::{Api, Client, Resource};

use crate::cluster::ClusterInfo;
use crate::fetch::oci::OciCache;
use crate::fetch_schedule::FetchSchedule;
use crate::index_cache::IndexCache;
use crate::metrics::Metrics;

pub struct Context {
    pub client: Client,
    pub cluster: ClusterInfo,
    pub recorder: Recorder,
    /// Counters and timings served on `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Repository indexes, written by the ChartRepository controller, read by deployments.
    pub indexes: IndexCache,
    /// When each repository's index is due to be fetched again.
    pub fetch_schedule: FetchSchedule,
    /// Charts pulled from registries, by manifest digest: an unchanged digest is not pulled again.
    pub oci_charts: OciCache,
    /// Only resources in this namespace are watched (`--namespace`); all namespaces when `None`.
    pub watch_namespace: Option<String>,
    /// Largest repository index downloaded (`--max-index-bytes`).
    pub max_index_bytes: u64,
    /// Consecutive failures per object (`<namespace>/<name>`), for exponential back-off.
    failures: Mutex<HashMap<String, u32>>,
    /// When each deployment was last applied in full, and under which verification policy. A
    /// reconcile with an unchanged revision and policy writes nothing until its interval has
    /// passed since then; then it applies again to undo drift (see [`Context::applied_within`]).
    applied_at: Mutex<HashMap<String, (Instant, String)>>,
}

impl Context {
    pub fn new(
        client: Client,
        watch_namespace: Option<String>,
        max_index_bytes: u64,
        metrics: Arc<Metrics>,
    ) -> Self {
        let reporter = Reporter {
            controller: FIELD_MANAGER.into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Context {
            cluster: ClusterInfo::new(client.clone()),
            recorder: Recorder::new(client.clone(), reporter),
            metrics,
            indexes: IndexCache::default(),
            fetch_schedule: FetchSchedule::default(),
            oci_charts: OciCache::default(),
            watch_namespace,
            max_index_bytes,
            client,
            failures: Mutex::default(),
            applied_at: Mutex::default(),
        }
    }

    /// An API over the watched namespace (or all namespaces), for the controllers' watches.
    pub fn watched<K>(&self) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        match &self.watch_namespace {
            Some(namespace) => Api::namespaced(self.client.clone(), namespace),
            None => Api::all(self.client.clone()),
        }
    }

    /// Counts one more failure of `key` and returns the count.
    pub fn record_failure(&self, key: &str) -> u32 {
        let mut failures = self
            .failures
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let count = failures.entry(key.to_string()).or_default();
        *count = count.saturating_add(1);
        *count
    }

    pub fn clear_failures(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .remove(key);
    }

    /// Records that `key` was applied in full just now, verified under `policy` (an opaque tag).
    pub fn mark_applied(&self, key: &str, policy: &str) {
        self.applied_at
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .insert(key.to_string(), (Instant::now(), policy.to_string()));
    }

    pub fn forget(&self, key: &str) {
        self.clear_failures(key);
        self.applied_at
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .remove(key);
    }

    /// Whether `key` was applied in full less than `interval` ago by this process, under the
    /// same verification `policy`. A policy that changed (a repository or deployment now asking
    /// for provenance, or another keyring) must be checked against the applied chart at once,
    /// not at the next interval.
    pub fn applied_within(&self, key: &str, interval: Duration, policy: &str) -> bool {
        self.applied_at
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .get(key)
            .is_some_and(|(at, applied_policy)| at.elapsed() < interval && applied_policy == policy)
    }
}
