//! Chart archives: from a package stored in a ConfigMap or Secret, or downloaded from a chart
//! repository and checked against the digest its index lists (registries: [`super::oci`]).

use capstan_api::PackageSource;
use capstan_sources::catalogue::ResolvedChart;
use capstan_sources::http::{DownloadLimits, HttpError};
use capstan_sources::s3::{S3Error, S3Repository};
use sha2::{Digest, Sha256};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::object_data::DataObject;
use crate::repository::index_cache::CachedIndex;

use super::package_cache::PackageCache;

/// Largest chart archive accepted from a ConfigMap or Secret (their own limit is about 1 MiB).
const MAX_PACKAGE_BYTES: usize = 4 * 1024 * 1024;

/// A chart archive and its provenance file, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Package {
    pub archive: Vec<u8>,
    pub provenance: Option<Vec<u8>>,
}

impl Package {
    /// `sha256:<hex>` of the archive.
    pub fn digest(&self) -> String {
        sha256(&self.archive)
    }
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
    Ok(Package {
        archive: archive.to_vec(),
        provenance: holder.get(source.provenance_key()).map(<[u8]>::to_vec),
    })
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
    Ok(Package {
        archive,
        provenance,
    })
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
    Ok(Package {
        archive,
        provenance,
    })
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
