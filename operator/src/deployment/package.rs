//! Chart archives: from a package stored in a ConfigMap or Secret, or downloaded from a chart
//! repository and checked against the digest its index lists (registries: [`super::oci`]).

use capstan_api::PackageSource;
use capstan_sources::catalogue::ResolvedChart;
use capstan_sources::http::{DownloadLimits, HttpError};
use capstan_sources::s3::{S3Error, S3Repository};
use sha2::{Digest, Sha256};
use std::sync::{Arc, OnceLock};

use capstan_chart::load::{LoadError, load_archive};
use capstan_chart::model::Chart;

use crate::error::{Error, Result};
use crate::object_data::DataObject;
use crate::repository::index_cache::CachedIndex;

use super::package_cache::PackageCache;

/// Largest chart archive accepted from a ConfigMap or Secret (their own limit is about 1 MiB).
const MAX_PACKAGE_BYTES: usize = 4 * 1024 * 1024;

/// Largest chart, in bytes of its files once unpacked, kept parsed beside its package: a
/// podinfo-sized chart is tens of KiB, and the caches hold up to
/// [`super::package_cache::CACHE_ENTRIES`] packages.
pub const MAX_KEPT_CHART_BYTES: usize = 512 * 1024;

/// A chart archive and its provenance file, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    pub archive: Vec<u8>,
    pub provenance: Option<Vec<u8>>,
    parsed: Parsed,
}

impl Package {
    pub fn new(archive: Vec<u8>, provenance: Option<Vec<u8>>) -> Package {
        Package {
            archive,
            provenance,
            parsed: Parsed::default(),
        }
    }

    /// `sha256:<hex>` of the archive.
    pub fn digest(&self) -> String {
        sha256(&self.archive)
    }

    /// The chart in the archive. A package the caches share is parsed once for every
    /// deployment that installs it, not once per deployment: the first parse is kept when the
    /// chart is at most [`MAX_KEPT_CHART_BYTES`] unpacked, and later callers get a copy.
    pub fn chart(&self) -> std::result::Result<Chart, LoadError> {
        if let Some(chart) = self.parsed.0.get() {
            return Ok(Chart::clone(chart));
        }
        let chart = load_archive(&self.archive)?;
        if unpacked_bytes(&chart) <= MAX_KEPT_CHART_BYTES {
            // Another caller may have kept its parse first; both are the same chart.
            let _ = self.parsed.0.set(Arc::new(chart.clone()));
        }
        Ok(chart)
    }
}

/// The parse of a package's archive, once made (see [`Package::chart`]). It says nothing the
/// archive does not, so packages compare by their bytes alone.
#[derive(Clone, Default)]
struct Parsed(OnceLock<Arc<Chart>>);

impl PartialEq for Parsed {
    fn eq(&self, _: &Parsed) -> bool {
        true
    }
}

impl Eq for Parsed {}

impl std::fmt::Debug for Parsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "Parsed"
        } else {
            "NotParsed"
        })
    }
}

/// The bytes of a chart's files and those of its subcharts, about what it holds in memory.
fn unpacked_bytes(chart: &Chart) -> usize {
    let files = chart
        .templates
        .iter()
        .chain(&chart.crds)
        .chain(&chart.files)
        .map(|file| file.path.len() + file.data.len())
        .sum::<usize>();
    chart.raw_metadata.len() + files + chart.dependencies.iter().map(unpacked_bytes).sum::<usize>()
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The package in a ConfigMap (`binaryData`, as `kubectl create configmap --from-file` writes
/// binary files, or `data` for the provenance file, which is text) or a Secret (`data`).
pub fn package_from(holder: DataObject<'_>, source: &PackageSource) -> Result<Package> {
    let archive = holder
        .get(source.archive_key())
        .ok_or_else(|| Error::InputMissing {
            what: format!("{} key {}", holder.describe(), source.archive_key()),
            message: "not found; the package must hold the chart archive under this key \
                      (capstan write deployment --from-package writes it)"
                .into(),
        })?;
    if archive.len() > MAX_PACKAGE_BYTES {
        return Err(Error::InvalidSpec(format!(
            "{} key {}: the archive has {} bytes, more than the {MAX_PACKAGE_BYTES} allowed",
            holder.describe(),
            source.archive_key(),
            archive.len()
        )));
    }
    Ok(Package::new(
        archive.to_vec(),
        holder.get(source.provenance_key()).map(<[u8]>::to_vec),
    ))
}

/// `sha256:<hex>` the index promises for `entry`, when it lists one.
pub fn indexed_digest(chart: &ResolvedChart) -> Option<String> {
    chart.entry.digest().map(|hex| format!("sha256:{hex}"))
}

/// Downloads `entry`'s archive from the repository and, when `with_provenance`, its `.prov`
/// (absent is not an error here: the verification policy decides). The archive must match the
/// index's digest: a mismatch means it changed after indexing, and nothing may be applied.
pub async fn download_package(
    repository: &CachedIndex,
    entry: &ResolvedChart,
    with_provenance: bool,
) -> Result<Package> {
    let url = repository.archive_url(entry)?;
    if let Some(s3) = &repository.s3
        && let Some(path) = s3.bucket_path(&url)
    {
        return download_from_bucket(s3, &path, &url, entry, with_provenance).await;
    }
    let http = repository.client_for(&url);
    let archive = http
        .get(&url)
        .await
        .map_err(|error| download_error(&entry.name, error))?;
    check_digest(&url, &archive, indexed_digest(entry).as_deref())?;
    let provenance = if with_provenance {
        match http
            .get_limited(
                &format!("{url}.prov"),
                DownloadLimits::default().provenance_bytes,
            )
            .await
        {
            Ok(bytes) => Some(bytes),
            Err(HttpError::Status { status: 404, .. }) => None,
            Err(error) => return Err(download_error(&entry.name, error)),
        }
    } else {
        None
    };
    Ok(Package::new(archive, provenance))
}

/// [`download_package`] through `cache`, so a chart version is downloaded once per repository
/// and not once per deployment. Only archives the index gives a digest for are kept (the
/// download is checked against it, so the key names the bytes), keyed by the ChartRepository's
/// uid as well: a deployment may name only a repository of its own namespace, so it is handed
/// only what its own repository's index lists. Archives wanted with their provenance are not
/// kept, so a re-signed `.prov` is always read afresh.
pub async fn download_shared(
    cache: &PackageCache<Arc<Package>>,
    repository: &CachedIndex,
    entry: &ResolvedChart,
    with_provenance: bool,
) -> Result<Arc<Package>> {
    let key = match (&repository.uid, indexed_digest(entry), with_provenance) {
        (Some(uid), Some(digest), false) => {
            Some(format!("{uid} {} {digest}", repository.archive_url(entry)?))
        }
        _ => None,
    };
    let download = || async {
        Ok(Arc::new(
            download_package(repository, entry, with_provenance).await?,
        ))
    };
    match key {
        Some(key) => cache.get_or_fetch(key, download).await,
        None => download().await,
    }
}

/// [`download_package`] for an archive in the repository's own bucket: signed GETs of `path`
/// (and `path.prov`); `url` names it in messages.
async fn download_from_bucket(
    s3: &S3Repository,
    path: &str,
    url: &str,
    entry: &ResolvedChart,
    with_provenance: bool,
) -> Result<Package> {
    let what = || format!("chart {}", entry.name);
    let archive = s3
        .get(path)
        .await
        .map_err(|error| Error::from_s3(what(), error))?;
    check_digest(url, &archive, indexed_digest(entry).as_deref())?;
    let provenance = if with_provenance {
        match s3
            .get_limited(
                &format!("{path}.prov"),
                DownloadLimits::default().provenance_bytes,
            )
            .await
        {
            Ok(bytes) => Some(bytes),
            Err(S3Error::NotFound { .. }) => None,
            Err(error) => return Err(Error::from_s3(what(), error)),
        }
    } else {
        None
    };
    Ok(Package::new(archive, provenance))
}

fn download_error(chart: &str, error: HttpError) -> Error {
    Error::from_http(format!("chart {chart}"), error)
}

/// Compares the archive's digest with the index's (`sha256:<hex>`); without an indexed digest
/// there is nothing to compare.
pub fn check_digest(url: &str, archive: &[u8], expected: Option<&str>) -> Result<()> {
    let Some(expected) = expected else {
        return Ok(());
    };
    let actual = sha256(archive);
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(Error::DigestMismatch {
            url: url.to_string(),
            expected: expected.to_string(),
            actual,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_api::deployment::LocalReference;
    use k8s_openapi::ByteString;
    use k8s_openapi::api::core::v1::{ConfigMap, Secret};
    use std::collections::BTreeMap;

    fn source() -> PackageSource {
        PackageSource {
            config_map_ref: Some(LocalReference { name: "pkg".into() }),
            ..PackageSource::default()
        }
    }

    /// A packaged chart whose one template holds `template_bytes` bytes.
    fn packaged(template_bytes: usize) -> Package {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Chart.yaml"),
            "apiVersion: v2\nname: web\nversion: 1.0.0\n",
        )
        .unwrap();
        std::fs::create_dir(dir.path().join("templates")).unwrap();
        let template = format!("# {}\n", "x".repeat(template_bytes));
        std::fs::write(dir.path().join("templates/a.yaml"), template).unwrap();
        let chart = capstan_chart::load::load_dir(dir.path()).unwrap();
        Package::new(
            capstan_chart::package::archive_chart(&chart, 0).unwrap(),
            None,
        )
    }

    #[test]
    fn a_small_chart_is_parsed_once_and_a_large_one_each_time() {
        let small = packaged(100);
        assert_eq!(format!("{:?}", small.parsed), "NotParsed");
        let first = small.chart().unwrap();
        assert_eq!(format!("{:?}", small.parsed), "Parsed");
        assert_eq!(small.chart().unwrap().templates, first.templates);
        assert_eq!(small, packaged(100), "packages compare by their bytes");

        let large = packaged(MAX_KEPT_CHART_BYTES);
        assert_eq!(large.chart().unwrap().name(), "web");
        assert_eq!(format!("{:?}", large.parsed), "NotParsed");

        let broken = Package::new(b"not gzip".to_vec(), None);
        assert!(broken.chart().is_err());
        assert_eq!(format!("{:?}", broken.parsed), "NotParsed");
    }

    #[test]
    fn packages_come_from_binary_data_and_text_provenance() {
        let config_map = ConfigMap {
            binary_data: Some(BTreeMap::from([(
                "chart.tgz".into(),
                ByteString(vec![1, 2, 3]),
            )])),
            data: Some(BTreeMap::from([("chart.tgz.prov".into(), "signed".into())])),
            ..ConfigMap::default()
        };
        let package = package_from(DataObject::ConfigMap(&config_map), &source()).unwrap();
        assert_eq!(package.archive, [1, 2, 3]);
        assert_eq!(package.provenance.as_deref(), Some(&b"signed"[..]));
    }

    #[test]
    fn a_missing_archive_key_is_named() {
        let secret = Secret::default();
        let error = package_from(DataObject::Secret(&secret), &source()).unwrap_err();
        assert!(error.to_string().contains("key chart.tgz"), "{error}");
    }

    #[test]
    fn archives_must_match_the_indexed_digest() {
        let archive = b"chart bytes";
        let good = sha256(archive);
        check_digest("http://repo/a.tgz", archive, Some(&good)).unwrap();
        check_digest("http://repo/a.tgz", archive, Some(&good.to_uppercase())).unwrap();
        check_digest("http://repo/a.tgz", archive, None).unwrap();
        let error = check_digest("http://repo/a.tgz", b"tampered", Some(&good)).unwrap_err();
        assert_eq!(error.reason(), "VerificationFailed");
        assert!(error.is_stalled());
        assert!(error.to_string().contains("digest mismatch"), "{error}");
        assert!(error.to_string().contains(&good), "{error}");
    }
}
