//! Step 1 of a reconcile: every read a ChartDeployment needs, gathered into plain values.
//!
//! [`inputs`] reads what the spec names (the chart source, the keyring of its verification
//! policy, the `valuesFrom` ConfigMaps and Secrets); [`archive`] then fetches the chart archive,
//! but only once [`super::plan`] has decided that the revision may have changed. Nothing here
//! decides anything beyond what the reads themselves fail on.

use std::sync::Arc;
use std::time::Duration;

use capstan_api::deployment::ValuesSourceKind;
use capstan_api::{ChartDeployment, ChartRepository, ChartRepositoryStatus, RepositoryChart};
use capstan_chart::values::Values;
use capstan_sources::catalogue::ResolvedChart;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Client;
use kube::ResourceExt;
use kube::api::Api;
use kube::core::DeserializeGuard;
use kube::runtime::reflector::ObjectRef;

use crate::access::Access;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::object_data::DataObject;
use crate::object_key::ObjectKey;
use crate::repository::index_cache::CachedIndex;

use super::acting::Acting;
use super::oci::{self, OciSource};
use super::package::{self, Package};
use super::policy::Policy;
use super::values;

/// Where this attempt's archive comes from, known before anything is downloaded.
pub enum Source {
    /// Already in hand, read from a ConfigMap or Secret.
    Package(Package),
    /// In a registry: resolved to a manifest digest, pulled unless that digest is cached.
    Oci(Box<OciSource>),
    /// In a repository: downloaded only when the revision it names is not already applied.
    Repository {
        index: Arc<CachedIndex>,
        entry: Box<ResolvedChart>,
    },
}

/// What the spec names, read for one reconcile.
pub struct Inputs {
    pub source: Source,
    pub policy: Policy,
    /// The keyring Secret, when provenance is checked and the Secret exists. The policy tag
    /// and the verification use this same read.
    pub keyring: Option<Secret>,
    /// The user's values: `valuesFrom` in order, then `values`.
    pub values: Values,
}

/// Reads the chart source, the policy's keyring and the values. What the deployment names
/// (its package, `valuesFrom`, registry credentials, keyring) is read as `acting`, the
/// deployment's identity (a refusal is [`Error::Forbidden`] naming it), so a tenant cannot have the operator read a Secret its own
/// ServiceAccount may not; the ChartRepository and what it names are the operator's to read.
pub async fn inputs(
    deployment: &ChartDeployment,
    ctx: &Context,
    acting: &Acting<'_>,
) -> Result<Inputs> {
    let namespace = ObjectKey::of(deployment).namespace;
    let (source, policy) = resolve_source(deployment, ctx, acting, &namespace).await?;
    let keyring = match policy.keyring_to_read() {
        Some(name) => get_opt_as::<Secret>(acting, &namespace, name).await?,
        None => None,
    };
    let values = read_values(deployment, acting, &namespace).await?;
    Ok(Inputs {
        source,
        policy,
        keyring,
        values,
    })
}

/// A chart archive in hand, with the registry manifest it came from.
pub struct Fetched {
    pub package: Arc<Package>,
    /// `sha256:<hex>` of the OCI manifest (registry sources only).
    pub manifest_digest: Option<String>,
    /// What the archive says of itself, when known without unpacking it (registry sources).
    pub pulled: Option<oci::PulledChart>,
}

/// Fetches the archive `source` names (and its `.prov` when `policy` looks at provenance). A
/// registry's answer to which manifest the version names is reused for up to `reuse_for` (see
/// [`super::plan::resolution_reuse`] and [`super::resolutions`]).
pub async fn archive(
    ctx: &Context,
    source: Source,
    policy: &Policy,
    reuse_for: Duration,
) -> Result<Fetched> {
    Ok(match source {
        Source::Package(package) => Fetched {
            package: Arc::new(package),
            manifest_digest: None,
            pulled: None,
        },
        Source::Repository { index, entry } => {
            let package = package::download_shared(
                &ctx.repository_archives,
                &index,
                &entry,
                policy.wants_provenance(),
            )
            .await?;
            Fetched {
                package,
                manifest_digest: None,
                pulled: None,
            }
        }
        Source::Oci(source) => {
            let fetched =
                oci::fetch(&ctx.oci_charts, &ctx.oci_resolutions, &source, reuse_for).await?;
            Fetched {
                package: fetched.package,
                manifest_digest: Some(fetched.manifest_digest),
                pulled: Some(fetched.chart),
            }
        }
    })
}

/// The ChartRepository `name` in `namespace`: as the watch last saw it, else (not seen yet,
/// gone, or undecodable) as the API server has it now, `None` when it does not exist.
async fn repository(ctx: &Context, namespace: &str, name: &str) -> Result<Option<ChartRepository>> {
    let watched = ctx
        .repositories
        .get()
        .and_then(|store| store.get(&ObjectRef::new(name).within(namespace)));
    if let Some(DeserializeGuard(Ok(repository))) = watched.as_deref() {
        return Ok(Some(repository.clone()));
    }
    get_opt::<ChartRepository>(&ctx.client, namespace, name).await
}

/// The object `name` of kind `K` in `namespace`, or `None` when it does not exist.
async fn get_opt<K>(client: &Client, namespace: &str, name: &str) -> Result<Option<K>>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    Api::<K>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(Error::kube(format!(
            "reading {} {namespace}/{name}",
            K::kind(&())
        )))
}

/// The object `name` of kind `K` in `namespace` read as the deployment's identity, or `None`
/// when it does not exist.
async fn get_opt_as<K>(acting: &Acting<'_>, namespace: &str, name: &str) -> Result<Option<K>>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    Api::<K>::namespaced(acting.client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|source| {
            acting.refused_read(format!("{} {namespace}/{name}", K::kind(&())), source)
        })
}

async fn resolve_source(
    deployment: &ChartDeployment,
    ctx: &Context,
    acting: &Acting<'_>,
    namespace: &str,
) -> Result<(Source, Policy)> {
    let chart = &deployment.spec.chart;
    if let Some(source) = &chart.package {
        let policy = Policy::from_spec(source.verify.as_ref());
        let missing = |kind: &str, name: &str| Error::InputMissing {
            what: format!("{kind} {name}"),
            message: "not found; create it (capstan write deployment --from-package)".into(),
        };
        let package = if let Some(reference) = &source.config_map_ref {
            let config_map = get_opt_as::<ConfigMap>(acting, namespace, &reference.name)
                .await?
                .ok_or_else(|| missing("ConfigMap", &reference.name))?;
            package::package_from(DataObject::ConfigMap(&config_map), source)?
        } else if let Some(reference) = &source.secret_ref {
            let secret = get_opt_as::<Secret>(acting, namespace, &reference.name)
                .await?
                .ok_or_else(|| missing("Secret", &reference.name))?;
            package::package_from(DataObject::Secret(&secret), source)?
        } else {
            return Err(Error::InvalidSpec(
                "spec.chart.package: set configMapRef or secretRef".into(),
            ));
        };
        return Ok((Source::Package(package), policy));
    }
    if let Some(oci) = &chart.oci {
        let access =
            Access::read(&acting.client, namespace, &oci.connection, "spec.chart.oci").await?;
        let source = oci_source(&oci.reference, oci.version.as_deref(), &access)?;
        let policy = Policy::from_spec(oci.connection.verify.as_ref());
        return Ok((Source::Oci(Box::new(source)), policy));
    }
    if let Some(wanted) = &chart.repository {
        return from_repository(ctx, namespace, wanted).await;
    }
    Err(Error::InvalidSpec(
        "spec.chart: set one of repository, package or oci".into(),
    ))
}

/// A chart from a ChartRepository: an `oci://` one resolves over the registry's tags, any other
/// from the index the repository controller cached.
async fn from_repository(
    ctx: &Context,
    namespace: &str,
    wanted: &RepositoryChart,
) -> Result<(Source, Policy)> {
    let name = &wanted.repository_ref.name;
    let cache_key = ObjectKey::new(namespace, name.clone());
    let Some(repository) = repository(ctx, namespace, name).await? else {
        ctx.indexes.remove(&cache_key);
        return Err(Error::InputMissing {
            what: format!("ChartRepository {name}"),
            message: "not found; create it in the namespace of this ChartDeployment".into(),
        });
    };
    // The deployment's own policy, when it sets one, replaces the repository's.
    let policy = Policy::from_spec(
        wanted
            .verify
            .as_ref()
            .or(repository.spec.connection.verify.as_ref()),
    );
    if repository.spec.url.starts_with("oci://") {
        // A registry path: the chart is the repository `<path>/<name>`, its versions its tags.
        let access =
            Access::read(&ctx.client, namespace, &repository.spec.connection, "spec").await?;
        if wanted.name.is_empty()
            || wanted.name.starts_with('.')
            || wanted.name.contains([':', '@', '/'])
        {
            return Err(Error::InvalidSpec(format!(
                "spec.chart.repository.name {:?}: a chart name in an oci:// repository is one \
                 path segment, without tag or digest (set them in version)",
                wanted.name
            )));
        }
        let reference = capstan_chart::index::join_url(&repository.spec.url, &wanted.name);
        let source = oci_source(&reference, wanted.version.as_deref(), &access)?;
        return Ok((Source::Oci(Box::new(source)), policy));
    }
    let index = ctx
        .indexes
        .get(&cache_key)
        .filter(|index| index.url == repository.spec.url)
        .ok_or_else(|| index_not_fetched(&repository))?;
    let entry = index.resolve(&wanted.name, wanted.version.as_deref().unwrap_or_default())?;
    Ok((
        Source::Repository {
            index,
            entry: Box::new(entry),
        },
        policy,
    ))
}

/// The registry source for `reference` (with an optional tag or digest) and `version`.
fn oci_source(reference: &str, version: Option<&str>, access: &Access) -> Result<OciSource> {
    let (chart_url, _) = capstan_sources::oci::split_chart_reference(reference);
    let host = capstan_sources::oci::registry_host(&chart_url)
        .map_err(|error| Error::InvalidSpec(error.to_string()))?;
    OciSource::new(reference, version, access.registry_options(&host)?)
}

/// Why the index of `repository` is not in the cache: a failing or suspended repository is
/// reported (the deployment says why it has no chart), a healthy one is only waited for.
fn index_not_fetched(repository: &ChartRepository) -> Error {
    let missing = |message: String| Error::InputMissing {
        what: format!("ChartRepository {}", repository.name_any()),
        message,
    };
    if repository.spec.suspend {
        return missing("its index has not been fetched yet: the repository is suspended".into());
    }
    match ready_message(repository.status.as_ref()) {
        failing if !failing.is_empty() => {
            missing(format!("its index has not been fetched yet{failing}"))
        }
        _ => Error::IndexPending {
            repository: repository.name_any(),
        },
    }
}

/// `: <message>` of a repository's failing Ready condition, so a deployment says why its
/// repository has no index.
fn ready_message(status: Option<&ChartRepositoryStatus>) -> String {
    status
        .into_iter()
        .flat_map(|status| &status.conditions)
        .find(|c| c.type_ == capstan_api::common::READY && c.status != "True")
        .map(|c| format!(": {}", c.message))
        .unwrap_or_default()
}

/// Reads every `valuesFrom` entry (a missing object or key is `None`) and merges them with
/// `values`.
async fn read_values(
    deployment: &ChartDeployment,
    acting: &Acting<'_>,
    namespace: &str,
) -> Result<Values> {
    let references = &deployment.spec.values_from;
    let mut fetched = Vec::with_capacity(references.len());
    for reference in references {
        let key = reference.key();
        let content = match reference.kind {
            ValuesSourceKind::ConfigMap => {
                get_opt_as::<ConfigMap>(acting, namespace, &reference.name)
                    .await?
                    .and_then(|object| DataObject::ConfigMap(&object).get(key).map(<[u8]>::to_vec))
            }
            ValuesSourceKind::Secret => get_opt_as::<Secret>(acting, namespace, &reference.name)
                .await?
                .and_then(|object| DataObject::Secret(&object).get(key).map(<[u8]>::to_vec)),
        };
        fetched.push(content);
    }
    values::merge_user_values(references, fetched, deployment.spec.values.as_ref())
}

#[cfg(test)]
mod tests {
    use capstan_api::ChartRepositorySpec;
    use serde_json::json;

    use super::*;

    fn repository(spec: serde_json::Value, status: serde_json::Value) -> ChartRepository {
        let spec: ChartRepositorySpec = serde_json::from_value(spec).unwrap();
        let mut repository = ChartRepository::new("charts", spec);
        repository.status = serde_json::from_value(status).unwrap();
        repository
    }

    fn ready(status: &str, message: &str) -> serde_json::Value {
        json!({"conditions": [{"type": "Ready", "status": status, "reason": "R",
                               "message": message, "lastTransitionTime": "2026-01-01T00:00:00Z"}]})
    }

    #[test]
    fn a_healthy_repository_not_yet_fetched_by_this_operator_is_waited_for_quietly() {
        let url = json!({"url": "https://charts.example"});
        for status in [serde_json::Value::Null, ready("True", "fetched")] {
            let error = index_not_fetched(&repository(url.clone(), status));
            assert!(
                matches!(&error, Error::IndexPending { repository } if repository == "charts"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_failing_or_suspended_repository_is_reported_with_its_reason() {
        let failing = index_not_fetched(&repository(
            json!({"url": "https://charts.example"}),
            ready(
                "False",
                "GET https://charts.example/index.yaml returned HTTP 500",
            ),
        ));
        assert_eq!(failing.reason(), "InputMissing");
        assert!(failing.to_string().contains("HTTP 500"), "{failing}");

        let suspended = index_not_fetched(&repository(
            json!({"url": "https://charts.example", "suspend": true}),
            ready("True", "fetched"),
        ));
        assert_eq!(suspended.reason(), "InputMissing");
        assert!(suspended.to_string().contains("suspended"), "{suspended}");
    }
}
