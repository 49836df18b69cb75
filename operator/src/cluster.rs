//! What the operator knows about the cluster: served kinds (discovery) and version, cached.
//!
//! Discovery costs one request per API group, so it is shared by every reconcile and refreshed
//! only when it is old or when a kind is missing (a chart's CRD was just installed), and then at
//! most once per [`MIN_REFRESH`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::Client;
use kube::api::{Api, DynamicObject};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, ApiResource, Discovery, Scope as DiscoveryScope};
use tokio::sync::RwLock;

use crate::deployment::desired::Scope;
use crate::error::{Error, Result};

/// Discovery older than this is refreshed before use.
const MAX_AGE: Duration = Duration::from_secs(300);
/// A missing kind triggers a refresh at most this often.
const MIN_REFRESH: Duration = Duration::from_secs(5);

struct Snapshot {
    discovery: Arc<Discovery>,
    kube_version: String,
    taken: Instant,
}

/// Cached discovery and version of the cluster.
pub struct ClusterInfo {
    client: Client,
    snapshot: RwLock<Option<Arc<Snapshot>>>,
}

impl ClusterInfo {
    pub fn new(client: Client) -> Self {
        ClusterInfo {
            client,
            snapshot: RwLock::new(None),
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn snapshot(&self, refresh_if_older_than: Duration) -> Result<Arc<Snapshot>> {
        if let Some(snapshot) = self.snapshot.read().await.as_ref()
            && snapshot.taken.elapsed() < refresh_if_older_than
        {
            return Ok(snapshot.clone());
        }
        let mut slot = self.snapshot.write().await;
        if let Some(snapshot) = slot.as_ref()
            && snapshot.taken.elapsed() < refresh_if_older_than
        {
            return Ok(snapshot.clone());
        }
        let discovery = Discovery::new(self.client.clone())
            .run_aggregated()
            .await
            .map_err(Error::kube("discovering the kinds the cluster serves"))?;
        let version = self
            .client
            .apiserver_version()
            .await
            .map_err(Error::kube("reading the cluster's version"))?;
        let snapshot = Arc::new(Snapshot {
            discovery: Arc::new(discovery),
            kube_version: version.git_version,
            taken: Instant::now(),
        });
        *slot = Some(snapshot.clone());
        Ok(snapshot)
    }

    /// Forgets discovery, so that kinds added since (by applied CRDs) are seen.
    pub async fn invalidate(&self) {
        *self.snapshot.write().await = None;
    }

    /// The API resource and scope serving `kind` in `api_version`, refreshing discovery once if
    /// the kind is not (yet) known. `None` when the cluster does not serve it.
    pub async fn resolve(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<Option<(ApiResource, ApiCapabilities)>> {
        let gvk = gvk(api_version, kind);
        let snapshot = self.snapshot(MAX_AGE).await?;
        if let Some(found) = snapshot.discovery.resolve_gvk(&gvk) {
            return Ok(Some(found));
        }
        let snapshot = self.snapshot(MIN_REFRESH).await?;
        Ok(snapshot.discovery.resolve_gvk(&gvk))
    }

    /// The scope of every kind the cluster serves, as a lookup for [`crate::deployment::desired::build`].
    pub async fn scopes(&self) -> Result<impl Fn(&str, &str) -> Option<Scope> + use<>> {
        let snapshot = self.snapshot(MAX_AGE).await?;
        Ok(move |api_version: &str, kind: &str| {
            snapshot
                .discovery
                .resolve_gvk(&gvk(api_version, kind))
                .map(|(_, capabilities)| match capabilities.scope {
                    DiscoveryScope::Cluster => Scope::Cluster,
                    DiscoveryScope::Namespaced => Scope::Namespaced,
                })
        })
    }

    /// A dynamic API for one object's kind and namespace, whose requests `client` makes (the
    /// identity a deployment acts as); `None` if the kind is not served.
    pub async fn dynamic_api(
        &self,
        client: &Client,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> Result<Option<Api<DynamicObject>>> {
        let Some((resource, capabilities)) = self.resolve(api_version, kind).await? else {
            return Ok(None);
        };
        let client = client.clone();
        Ok(Some(match (capabilities.scope, namespace) {
            (DiscoveryScope::Namespaced, Some(namespace)) => {
                Api::namespaced_with(client, namespace, &resource)
            }
            _ => Api::all_with(client, &resource),
        }))
    }

    /// The cluster's version (`v1.36.3`) and served API versions (`apps/v1` and
    /// `apps/v1/Deployment`), the capabilities a chart sees while rendering.
    pub async fn capabilities(&self) -> Result<(String, Vec<String>)> {
        let snapshot = self.snapshot(MAX_AGE).await?;
        let mut api_versions = Vec::new();
        for group in snapshot.discovery.groups() {
            for version in group.versions() {
                let group_version = if group.name().is_empty() {
                    version.to_string()
                } else {
                    format!("{}/{version}", group.name())
                };
                for (resource, _) in group.versioned_resources(version) {
                    api_versions.push(format!("{group_version}/{}", resource.kind));
                }
                api_versions.push(group_version);
            }
        }
        api_versions.sort();
        api_versions.dedup();
        Ok((snapshot.kube_version.clone(), api_versions))
    }
}

fn gvk(api_version: &str, kind: &str) -> GroupVersionKind {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    GroupVersionKind::gvk(group, version, kind)
}
