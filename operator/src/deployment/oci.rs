//! Charts from OCI registries: the tag, version constraint or digest is resolved to a manifest
//! digest (one small request, with the source's credentials), and the chart layer and its
//! provenance layer are pulled only when no chart with that digest is cached yet.

use std::sync::Arc;
use std::time::Duration;

use capstan_sources::oci::{self, PullLimits, RegistryOptions};
use tracing::info;

use super::package::Package;
use super::package_cache::{HoldsPackage, PackageCache};
use super::resolutions::{Question, Resolutions};
use crate::error::{Error, Result};

/// A chart in a registry, and how to reach it.
#[derive(Debug, Clone)]
pub struct OciSource {
    /// `oci://host[:port]/path/name`, without tag or digest.
    pub chart_url: String,
    /// A constraint, an exact version or a digest (`sha256:...`); `None` for the latest stable.
    pub version: Option<String>,
    pub options: RegistryOptions,
}

impl OciSource {
    /// The chart named by `reference` (which may carry `:tag` or `@sha256:...`) and `version`.
    /// A reference with a tag or digest and a `version` as well is ambiguous.
    pub fn new(
        reference: &str,
        version: Option<&str>,
        options: RegistryOptions,
    ) -> Result<OciSource> {
        let (chart_url, pinned) = oci::split_chart_reference(reference);
        let version = version.map(str::trim).filter(|v| !v.is_empty());
        let version = match (pinned, version) {
            (Some(_), Some(_)) => {
                return Err(Error::InvalidSpec(format!(
                    "spec.chart.oci: the reference {reference} carries a tag or digest and \
                     `version` is set too; keep one of them"
                )));
            }
            (pinned, version) => pinned.or(version.map(str::to_string)),
        };
        oci::registry_host(&chart_url).map_err(|error| Error::InvalidSpec(error.to_string()))?;
        Ok(OciSource {
            chart_url,
            version,
            options,
        })
    }

    fn describe(&self) -> String {
        match &self.version {
            Some(version) => format!("chart {} ({version})", self.chart_url),
            None => format!("chart {}", self.chart_url),
        }
    }
}

/// What a pulled chart's archive says of itself, read once when it was pulled: a reconcile
/// that finds the same manifest digest knows its revision without unpacking the archive again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledChart {
    pub name: String,
    pub version: String,
    /// `sha256:<hex>` of the archive.
    pub archive_digest: String,
}

/// A pulled chart in the cache.
#[derive(Clone)]
pub struct Cached {
    package: Arc<Package>,
    chart: PulledChart,
}

/// Pulled charts by `<chart url>@<manifest digest>`. The key holds the chart URL, not only the
/// digest: a cached chart is only handed out after the registry answered, with the asking
/// source's credentials (just now, or for the same credentials within the last few seconds; see
/// [`super::resolutions`]), that this repository has this digest.
pub type OciCache = PackageCache<Cached>;

impl HoldsPackage for Cached {
    fn package(&self) -> &Package {
        &self.package
    }
}

/// A chart fetched from a registry.
pub struct FetchedChart {
    pub package: Arc<Package>,
    pub chart: PulledChart,
    /// `sha256:<hex>` of the manifest.
    pub manifest_digest: String,
}

/// The chart `source` names and its manifest digest: from the cache when the digest is known,
/// otherwise pulled (and cached; deployments wanting the same chart at once pull it once).
/// Which digest the version names is asked of the registry unless `resolutions` holds its
/// answer from less than `reuse_for` ago.
pub async fn fetch(
    cache: &OciCache,
    resolutions: &Resolutions,
    source: &OciSource,
    reuse_for: Duration,
) -> Result<FetchedChart> {
    let what = source.describe();
    let question = Question {
        credentials: oci::options_digest(&source.options),
        chart_url: source.chart_url.clone(),
        version: source.version.clone(),
    };
    let resolved = resolutions
        .answer(question, reuse_for, || {
            oci::resolve_digest(
                &source.chart_url,
                source.version.as_deref(),
                &source.options,
            )
        })
        .await
        .map_err(|error| Error::from_oci(what.clone(), error))?;
    let key = format!("{}@{}", source.chart_url, resolved.digest);
    let pull = || async {
        let pulled = oci::pull(
            &source.chart_url,
            Some(&resolved.digest),
            &source.options,
            PullLimits::default(),
        )
        .await
        .map_err(|error| Error::from_oci(what.clone(), error))?;
        info!(reference = %resolved.reference, digest = %resolved.digest, chart = %pulled.name, version = %pulled.version, "pulled chart");
        let package = Arc::new(Package::new(pulled.archive, pulled.prov));
        Ok(Cached {
            chart: PulledChart {
                name: pulled.name,
                version: pulled.version,
                archive_digest: package.digest(),
            },
            package,
        })
    };
    let cached = cache.get_or_fetch(key, pull).await?;
    Ok(FetchedChart {
        package: cached.package,
        chart: cached.chart,
        manifest_digest: resolved.digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_sources::oci::OciError;

    #[test]
    fn sources_take_a_tag_a_digest_or_a_version() {
        let options = RegistryOptions::default;
        let tagged = OciSource::new("oci://r:5000/c/greet:1.0.0_b", None, options()).unwrap();
        assert_eq!(tagged.chart_url, "oci://r:5000/c/greet");
        assert_eq!(tagged.version.as_deref(), Some("1.0.0+b"));
        let pinned = OciSource::new("oci://r/greet@sha256:ab", None, options()).unwrap();
        assert_eq!(pinned.version.as_deref(), Some("sha256:ab"));
        let constrained = OciSource::new("oci://r:5000/greet", Some("^1"), options()).unwrap();
        assert_eq!(constrained.chart_url, "oci://r:5000/greet");
        assert_eq!(constrained.version.as_deref(), Some("^1"));
        let latest = OciSource::new("oci://r:5000/greet", Some(" "), options()).unwrap();
        assert_eq!(latest.version, None);
        let error = OciSource::new("oci://r/greet:1.0.0", Some("^1"), options()).unwrap_err();
        assert!(error.is_stalled());
        assert!(error.to_string().contains("keep one"), "{error}");
    }

    #[test]
    fn registry_errors_map_to_reasons() {
        let unauthorized = Error::from_oci(
            "chart x".into(),
            OciError::Unauthorized {
                registry: "r".into(),
                reference: "r/x:1".into(),
                reason: "it needs credentials and none were given".into(),
            },
        );
        assert_eq!(unauthorized.reason(), "AuthenticationFailed");
        let missing = Error::from_oci(
            "chart x".into(),
            OciError::NoMatchingVersion {
                reference: "oci://r/x".into(),
                constraint: "^9".into(),
                available: "1.0.0".into(),
            },
        );
        assert_eq!(missing.reason(), "ChartNotFound");
        assert!(missing.is_stalled());
    }
}
