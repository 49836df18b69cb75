//! What an operator process is told at start-up (its flags), as one value the library takes.

use std::net::SocketAddr;
use std::time::Duration;

use crate::leader::LeaseSettings;

/// Default `--max-index-bytes`: 100 MiB, twice the largest public indexes.
pub const DEFAULT_MAX_INDEX_BYTES: u64 = 100 * 1024 * 1024;
/// Default `--max-concurrent-reconciles`, per controller. A reconcile spends most of its time
/// waiting on the API server; at 1,000 deployments on 2 cores (e2e/bench) 16 at once kept the API
/// server busier than 8 and rolled out sooner, and 32 no sooner than 16.
pub const DEFAULT_MAX_CONCURRENT_RECONCILES: u16 = 16;
/// Default `--render-workers`: rendering is CPU-bound, so about one per core.
pub const DEFAULT_RENDER_WORKERS: u16 = 2;
/// Default `--min-interval`: the shortest `spec.interval` honoured.
pub const DEFAULT_MIN_INTERVAL: Duration = Duration::from_secs(10);

/// The operator's settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Only resources in this namespace are watched; all namespaces when `None`.
    pub watch_namespace: Option<String>,
    /// Only ChartDeployments and ChartRepositories whose labels match this selector are
    /// watched (a Kubernetes label selector, e.g. `sharding.fluxcd.io/key=shard1`), so that
    /// several operators can split them between them; all of them when `None`.
    pub watch_label_selector: Option<String>,
    /// Largest repository index downloaded, in bytes.
    pub max_index_bytes: u64,
    /// Where `/metrics`, `/healthz` and `/readyz` are served, if anywhere.
    pub metrics_bind_address: Option<SocketAddr>,
    /// The Lease to hold while reconciling, when electing a leader.
    pub lease: Option<LeaseSettings>,
    /// Reconciles that may run at once, per controller.
    pub max_concurrent_reconciles: u16,
    /// Charts rendered at once; further renders wait their turn off the async runtime.
    pub render_workers: u16,
    /// The shortest interval honoured; a shorter `spec.interval` is raised to it.
    pub min_interval: Duration,
    /// The ServiceAccount deployments without `serviceAccountName` act as (lockdown): with it
    /// set, nothing is ever applied with the operator's own identity.
    pub default_service_account: Option<String>,
    /// Refuse a `targetNamespace` other than the deployment's own namespace.
    pub no_cross_namespace_refs: bool,
}

impl Settings {
    /// The namespace the operator keeps its values digest key in: its own (the Lease's, or
    /// `POD_NAMESPACE`), else the one it watches.
    pub fn key_namespace(&self) -> Option<String> {
        self.lease
            .as_ref()
            .map(|lease| lease.namespace.clone())
            .or_else(|| {
                std::env::var("POD_NAMESPACE")
                    .ok()
                    .filter(|ns| !ns.is_empty())
            })
            .or_else(|| self.watch_namespace.clone())
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            watch_namespace: None,
            watch_label_selector: None,
            max_index_bytes: DEFAULT_MAX_INDEX_BYTES,
            metrics_bind_address: None,
            lease: None,
            max_concurrent_reconciles: DEFAULT_MAX_CONCURRENT_RECONCILES,
            render_workers: DEFAULT_RENDER_WORKERS,
            min_interval: DEFAULT_MIN_INTERVAL,
            default_service_account: None,
            no_cross_namespace_refs: false,
        }
    }
}
