//! State shared by every reconcile: the client, caches, the event recorder and failure counts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use capstan_api::labels::FIELD_MANAGER;
use k8s_openapi::NamespaceResourceScope;
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use kube::{Api, Client, Resource};
use tokio::sync::Semaphore;

use crate::cluster::ClusterInfo;
use crate::deployment::identity::Clients;
use crate::deployment::oci::OciCache;
use crate::deployment::package::Package;
use crate::deployment::package_cache::PackageCache;
use crate::deployment::resolutions::Resolutions;
use crate::deployment::triggers::WatchedRepository;
use crate::events::Recorder;
use crate::metrics::Metrics;
use crate::object_key::{KindKey, ObjectKey};
use crate::repository::fetch_schedule::FetchSchedule;
use crate::repository::index_cache::IndexCache;
use crate::settings::Settings;
use crate::values_key::ValuesKey;

/// How long the API server keeps one watch request open before the watcher opens the next
/// (from the last resource version it saw, so nothing is missed). Shorter than the client's
/// [`crate::operate::READ_TIMEOUT`], so a healthy watch always says something (an event, a
/// bookmark or its end) within it, and a watch that went silent, as one opened while the API
/// server restarts can, is dropped and opened again after that timeout.
pub const WATCH_TIMEOUT_SECONDS: u32 = 60;

/// The settings of every watch the operator opens.
pub fn watch_config() -> watcher::Config {
    watcher::Config::default().timeout(WATCH_TIMEOUT_SECONDS)
}

/// The object (uid) and spec (generation) an undecodable resource was reported for.
type Reported = (Option<String>, Option<i64>);

pub struct Context {
    /// The client; no request waits for an answer longer than
    /// [`crate::operate::READ_TIMEOUT`].
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
    /// Which manifest each registry last named for a chart version, shared by the deployments
    /// that ask the same registry the same way: their passes within a few seconds ask once.
    pub oci_resolutions: Resolutions,
    /// Archives downloaded from repositories, by repository, URL and indexed digest: a chart
    /// version is downloaded once, not once per deployment.
    pub repository_archives: PackageCache<Arc<Package>>,
    /// The process's flags.
    pub settings: Settings,
    /// Permits to render: rendering runs on blocking threads, at most this many at once.
    pub render_slots: Arc<Semaphore>,
    /// Clients that act as the ServiceAccounts deployments name.
    pub clients: Clients,
    /// This operator's share of the ChartRepositories as its deployment controller's watch last
    /// saw them (set when that controller starts). A deployment reads its repository here
    /// instead of asking the API server on every reconcile; one not found here is asked for.
    pub repositories: OnceLock<Store<WatchedRepository>>,
    /// Keys the digest of each revision's values.
    pub values_key: ValuesKey,
    /// Consecutive failures per object, for exponential back-off.
    failures: Mutex<HashMap<KindKey, u32>>,
    /// When each deployment was last applied in full, and under which verification policy. A
    /// reconcile with an unchanged revision and policy writes nothing until its interval has
    /// passed since then; then it applies again to undo drift (see [`Context::applied_within`]).
    applied_at: Mutex<HashMap<ObjectKey, (Instant, String)>>,
    /// Undecodable objects already reported, with the uid and generation reported.
    invalid_reported: Mutex<HashMap<KindKey, Reported>>,
    /// The release this operator last applied of each deployment, when no post hook of it
    /// waits: its health checks then need not read the release's snapshot to find that out (see
    /// [`Context::without_post_hooks`]).
    without_post_hooks: Mutex<HashMap<ObjectKey, u64>>,
}

impl Context {
    pub fn new(
        client: Client,
        settings: Settings,
        metrics: Arc<Metrics>,
        values_key: ValuesKey,
    ) -> Self {
        Context {
            cluster: ClusterInfo::new(client.clone()),
            recorder: Recorder::new(
                client.clone(),
                FIELD_MANAGER,
                std::env::var("POD_NAME").ok(),
            ),
            metrics,
            indexes: IndexCache::default(),
            fetch_schedule: FetchSchedule::default(),
            oci_charts: OciCache::default(),
            oci_resolutions: Resolutions::default(),
            repository_archives: PackageCache::default(),
            render_slots: Arc::new(Semaphore::new(usize::from(settings.render_workers.max(1)))),
            clients: Clients::default(),
            repositories: OnceLock::new(),
            values_key,
            settings,
            client,
            failures: Mutex::default(),
            applied_at: Mutex::default(),
            invalid_reported: Mutex::default(),
            without_post_hooks: Mutex::default(),
        }
    }

    /// An API over the watched namespace (or all namespaces), for the controllers' watches.
    pub fn watched<K>(&self) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        match &self.settings.watch_namespace {
            Some(namespace) => Api::namespaced(self.client.clone(), namespace),
            None => Api::all(self.client.clone()),
        }
    }

    /// The watch of this operator's share of ChartDeployments and ChartRepositories: those
    /// matching `--watch-label-selector`, or all of them. The API server filters, so an object
    /// outside the share is never seen (and one relabelled out of it is seen as deleted, then
    /// picked up by the operator whose selector it now matches).
    pub fn sharded_watch(&self) -> watcher::Config {
        let config = watch_config();
        match &self.settings.watch_label_selector {
            Some(selector) => config.labels(selector),
            None => config,
        }
    }

    /// Counts one more failure of `key` and returns the count.
    pub fn record_failure(&self, key: &KindKey) -> u32 {
        let mut failures = lock(&self.failures);
        let count = failures.entry(key.clone()).or_default();
        *count = count.saturating_add(1);
        *count
    }

    pub fn clear_failures(&self, key: &KindKey) {
        lock(&self.failures).remove(key);
    }

    /// Records that the deployment `key` was applied in full just now, verified under `policy`
    /// (an opaque tag).
    pub fn mark_applied(&self, key: &ObjectKey, policy: &str) {
        lock(&self.applied_at).insert(key.clone(), (Instant::now(), policy.to_string()));
    }

    /// Records that this operator just applied release `release` of the deployment `key`,
    /// and whether post hooks of it wait for its objects to be healthy.
    pub fn applied_release(&self, key: &ObjectKey, release: u64, post_hooks: bool) {
        let mut without = lock(&self.without_post_hooks);
        if post_hooks {
            without.remove(key);
        } else {
            without.insert(key.clone(), release);
        }
    }

    /// Whether release `release` of the deployment `key` is known to have no post hooks: this
    /// operator applied it and saw none. Unknown (`false`) after a restart, or for a release
    /// applied otherwise (a rollback): then its snapshot says.
    pub fn without_post_hooks(&self, key: &ObjectKey, release: u64) -> bool {
        lock(&self.without_post_hooks).get(key) == Some(&release)
    }

    /// Forgets everything kept for the deployment `key` (it was deleted).
    pub fn forget(&self, key: &KindKey) {
        self.clear_failures(key);
        lock(&self.without_post_hooks).remove(&key.key);
        lock(&self.applied_at).remove(&key.key);
        lock(&self.invalid_reported).remove(key);
    }

    /// Whether the undecodable object `key` (object `uid`, spec `generation`) is to be reported
    /// now: the first time, and again only after its spec changed. Reporting writes its status,
    /// which wakes it again; this keeps that from becoming a loop.
    pub fn first_report_of_invalid(
        &self,
        key: &KindKey,
        uid: Option<&str>,
        generation: Option<i64>,
    ) -> bool {
        let marker = (uid.map(str::to_string), generation);
        lock(&self.invalid_reported).insert(key.clone(), marker.clone()) != Some(marker)
    }

    /// Whether the deployment `key` was applied in full less than `interval` ago by this
    /// process, under the same verification `policy`. A policy that changed (a repository or
    /// deployment now asking for provenance, or another keyring) must be checked against the
    /// applied chart at once, not at the next interval.
    pub fn applied_within(&self, key: &ObjectKey, interval: Duration, policy: &str) -> bool {
        lock(&self.applied_at)
            .get(key)
            .is_some_and(|(at, applied_policy)| at.elapsed() < interval && applied_policy == policy)
    }
}

/// Locks `mutex`, recovering the data after a panic elsewhere (the maps stay consistent: every
/// update is a single insert or remove).
pub fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> Context {
        let (client, _) = crate::fake_api::answering(404, crate::fake_api::status(404, "NotFound"));
        Context::new(
            client,
            Settings::default(),
            Arc::new(Metrics::default()),
            ValuesKey::from_bytes(b"test"),
        )
    }

    #[tokio::test]
    async fn only_the_release_last_applied_without_post_hooks_is_known_to_have_none() {
        let ctx = context();
        let web = ObjectKey {
            namespace: "apps".into(),
            name: "web".into(),
        };
        assert!(!ctx.without_post_hooks(&web, 1), "nothing applied yet");
        ctx.applied_release(&web, 1, false);
        assert!(ctx.without_post_hooks(&web, 1));
        assert!(
            !ctx.without_post_hooks(&web, 2),
            "a later release, by a rollback"
        );
        ctx.applied_release(&web, 2, true);
        assert!(!ctx.without_post_hooks(&web, 1) && !ctx.without_post_hooks(&web, 2));
        ctx.applied_release(&web, 3, false);
        ctx.forget(&KindKey {
            kind: "ChartDeployment",
            key: web.clone(),
        });
        assert!(
            !ctx.without_post_hooks(&web, 3),
            "forgotten with the deployment"
        );
    }
}
