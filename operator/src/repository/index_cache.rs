//! The repository indexes the operator has fetched, shared by every ChartDeployment.
//!
//! The ChartRepository controller is the only writer: it fetches each repository's index once per
//! interval and replaces the entry here. Deployments only read, so a hundred deployments of one
//! repository cost one index download per interval, not a hundred.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tokio::sync::broadcast;

use capstan_sources::catalogue::{Catalogue, CatalogueError, CatalogueLimits, ResolvedChart};
use capstan_sources::http::{HttpClient, Validators};
use capstan_sources::s3::S3Repository;

use crate::error::{Error, Result};
use crate::object_key::ObjectKey;

/// Parses an index download into the compact catalogue every deployment of the repository
/// shares. `source` names it in errors (the repository URL); `max_bytes` is the operator's
/// index size limit.
pub fn parse_catalogue(
    bytes: &[u8],
    source: &str,
    max_bytes: u64,
) -> Result<Catalogue, CatalogueError> {
    let limits = CatalogueLimits {
        max_index_bytes: usize::try_from(max_bytes).unwrap_or(usize::MAX),
        ..CatalogueLimits::default()
    };
    Catalogue::from_named_index_bytes(bytes, source, &limits)
}

/// Number of chart versions in a catalogue, for `status.chartCount`.
pub fn chart_count(catalogue: &Catalogue) -> usize {
    catalogue.entry_count()
}

/// One repository's last fetched index and what is needed to download from it.
pub struct CachedIndex {
    /// `spec.url` the index was fetched from; a changed URL invalidates the entry.
    pub url: String,
    /// `metadata.uid` of the ChartRepository it was fetched for.
    pub uid: Option<String>,
    /// Shared: a 304 answer keeps the same parsed index without copying it.
    pub catalogue: Arc<Catalogue>,
    /// `sha256:<hex>` of the index as downloaded.
    pub digest: String,
    /// ETag and Last-Modified of the download, for the next conditional request.
    pub validators: Validators,
    /// A client with the repository's credentials and CA, for archive downloads from the
    /// repository's own origin.
    pub http: HttpClient,
    /// The same client without credentials (unless `passCredentials`), for archives the index
    /// places on other hosts.
    pub http_elsewhere: HttpClient,
    /// For an `s3://` repository: the bucket, whose objects are downloaded with signed URLs.
    /// Archive URLs that point elsewhere go through `http_elsewhere`, without the keys.
    pub s3: Option<S3Repository>,
}

impl CachedIndex {
    /// The client for downloading `url`: credentials go only to the repository's own origin.
    pub fn client_for(&self, url: &str) -> &HttpClient {
        if capstan_sources::http::same_origin(url, &self.url) {
            &self.http
        } else {
            &self.http_elsewhere
        }
    }

    /// The version of `chart` that `constraint` selects. An unknown chart or an unmatched
    /// constraint is the user's to fix (or the repository's next index), so it stalls.
    pub fn resolve(&self, chart: &str, constraint: &str) -> Result<ResolvedChart> {
        self.catalogue
            .resolve(chart, constraint)
            .map_err(|error| Error::ChartNotFound {
                source_name: format!("the index of {}", self.url),
                message: error.to_string(),
            })
    }

    /// Absolute URL of `entry`'s archive: its first URL, joined to the repository URL when it is
    /// relative (as `capstan repo index` writes them).
    pub fn archive_url(&self, chart: &ResolvedChart) -> Result<String> {
        let first = chart
            .entry
            .urls()
            .next()
            .ok_or_else(|| Error::ChartNotFound {
                source_name: format!("the index of {}", self.url),
                message: format!(
                    "chart {} {} has no download URL",
                    chart.name,
                    chart.entry.version()
                ),
            })?;
        Ok(if first.contains("://") {
            first.to_string()
        } else {
            capstan_chart::index::join_url(&self.url, first)
        })
    }
}

/// How many arrivals a slow listener may fall behind by before it misses some (it then only
/// waits for its next recheck).
const ARRIVALS_BUFFERED: usize = 256;

/// Every repository's cached index.
pub struct IndexCache {
    entries: RwLock<HashMap<ObjectKey, Arc<CachedIndex>>>,
    /// Tells the deployment controllers which repository has an index they have not seen: the
    /// first one after a start, or a new one. A fetch that finds the index the status already
    /// lists writes no status, so no watch event would wake the deployments waiting for it.
    arrivals: broadcast::Sender<ObjectKey>,
}

impl Default for IndexCache {
    fn default() -> Self {
        IndexCache {
            entries: RwLock::default(),
            arrivals: broadcast::Sender::new(ARRIVALS_BUFFERED),
        }
    }
}

impl IndexCache {
    /// The repositories whose index arrives in the cache from now on: cached where there was
    /// none, or with another digest than the one cached.
    pub fn arrivals(&self) -> broadcast::Receiver<ObjectKey> {
        self.arrivals.subscribe()
    }

    pub fn get(&self, key: &ObjectKey) -> Option<Arc<CachedIndex>> {
        self.entries
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .get(key)
            .cloned()
    }

    pub fn insert(&self, key: ObjectKey, entry: CachedIndex) {
        let digest = entry.digest.clone();
        let replaced = self
            .entries
            .write()
            .unwrap_or_else(|poison| poison.into_inner())
            .insert(key.clone(), Arc::new(entry));
        if replaced.is_none_or(|replaced| replaced.digest != digest) {
            // Nobody listening (no deployment controller runs) is not an error.
            let _ = self.arrivals.send(key);
        }
    }

    pub fn remove(&self, key: &ObjectKey) {
        self.entries
            .write()
            .unwrap_or_else(|poison| poison.into_inner())
            .remove(key);
    }

    /// Removes the entry of `key` if it was fetched for the repository object `uid`: a deleted
    /// repository's index leaves memory, a new one under the same name keeps its own.
    pub fn remove_if_fetched_for(&self, key: &ObjectKey, uid: Option<&str>) {
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        if entries
            .get(key)
            .is_some_and(|entry| entry.uid.as_deref() == uid)
        {
            entries.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_sources::http::{Credentials, HttpOptions};

    const INDEX: &str = "apiVersion: v1
entries:
  hello:
    - name: hello
      version: 0.2.0
      urls: [hello-0.2.0.tgz]
      digest: 1111
    - name: hello
      version: 0.1.0
      urls: [https://cdn.example.com/hello-0.1.0.tgz]
      digest: 2222
  shop:
    - name: shop
      version: 1.0.0
      urls: []
generated: \"2026-01-01T00:00:00Z\"
";

    fn cached() -> CachedIndex {
        CachedIndex {
            url: "http://127.0.0.1:8080/charts".into(),
            uid: Some("u1".into()),
            catalogue: Arc::new(parse_catalogue(INDEX.as_bytes(), "test", 1 << 20).unwrap()),
            digest: "sha256:00".into(),
            validators: Validators::default(),
            http: HttpClient::new(HttpOptions {
                credentials: Some(Credentials::Bearer { token: "t".into() }),
                ..HttpOptions::default()
            })
            .unwrap(),
            http_elsewhere: HttpClient::new(HttpOptions::default()).unwrap(),
            s3: None,
        }
    }

    #[test]
    fn counts_every_version() {
        assert_eq!(chart_count(&cached().catalogue), 3);
    }

    #[test]
    fn resolves_versions_and_archive_urls() {
        let index = cached();
        let latest = index.resolve("hello", "").unwrap();
        assert_eq!(latest.entry.version(), "0.2.0");
        assert_eq!(
            index.archive_url(&latest).unwrap(),
            "http://127.0.0.1:8080/charts/hello-0.2.0.tgz"
        );
        let old = index.resolve("hello", "<0.2").unwrap();
        assert_eq!(
            index.archive_url(&old).unwrap(),
            "https://cdn.example.com/hello-0.1.0.tgz"
        );
    }

    #[test]
    fn credentials_go_only_to_the_repository_origin() {
        let index = cached();
        let own = index.client_for("http://127.0.0.1:8080/charts/hello-0.2.0.tgz");
        assert!(own.options().credentials.is_some());
        let cdn = index.client_for("https://cdn.example.com/hello-0.1.0.tgz");
        assert!(cdn.options().credentials.is_none());
        let other_port = index.client_for("http://127.0.0.1:9090/charts/hello-0.2.0.tgz");
        assert!(other_port.options().credentials.is_none());
    }

    #[test]
    fn unknown_charts_and_missing_urls_stall_with_the_repository_named() {
        let index = cached();
        let error = index.resolve("helo", "").unwrap_err();
        assert!(error.is_stalled());
        assert!(error.to_string().contains("127.0.0.1:8080"), "{error}");
        let error = index.resolve("hello", ">=9").unwrap_err();
        assert!(error.to_string().contains("0.2.0"), "{error}");
        let shop = index.resolve("shop", "").unwrap();
        let error = index.archive_url(&shop).unwrap_err();
        assert!(error.to_string().contains("no download URL"), "{error}");
    }

    #[test]
    fn the_cache_replaces_and_forgets_entries() {
        let cache = IndexCache::default();
        let key = ObjectKey::new("apps", "charts");
        assert!(cache.get(&key).is_none());
        cache.insert(key.clone(), cached());
        assert_eq!(cache.get(&key).unwrap().digest, "sha256:00");
        cache.remove(&key);
        assert!(cache.get(&key).is_none());
    }

    #[test]
    fn a_first_or_new_index_is_announced_and_the_same_one_again_is_not() {
        let cache = IndexCache::default();
        let mut arrivals = cache.arrivals();
        let key = ObjectKey::new("apps", "charts");
        cache.insert(key.clone(), cached());
        assert_eq!(arrivals.try_recv().unwrap(), key);
        // Fetched again (a 304, or the same bytes): nothing new for the deployments.
        cache.insert(key.clone(), cached());
        assert!(arrivals.try_recv().is_err());
        let mut newer = cached();
        newer.digest = "sha256:01".into();
        cache.insert(key.clone(), newer);
        assert_eq!(arrivals.try_recv().unwrap(), key);
        // Forgotten, then fetched again (a restart does the same): announced again.
        cache.remove(&key);
        cache.insert(key.clone(), cached());
        assert_eq!(arrivals.try_recv().unwrap(), key);
    }

    #[test]
    fn a_deleted_repository_takes_only_its_own_index_along() {
        let cache = IndexCache::default();
        let key = ObjectKey::new("apps", "charts");
        cache.insert(key.clone(), cached());
        // A repository of the same name deleted before this one was created: not ours.
        cache.remove_if_fetched_for(&key, Some("u0"));
        assert!(cache.get(&key).is_some());
        cache.remove_if_fetched_for(&key, Some("u1"));
        assert!(cache.get(&key).is_none());
    }
}
