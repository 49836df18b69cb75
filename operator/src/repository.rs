//! The ChartRepository controller: fetches each repository's index once per interval into the
//! shared [`IndexCache`](crate::index_cache::IndexCache) and reports it in status. The status
//! write is also what wakes the ChartDeployments of the repository (they watch it).

use std::sync::Arc;
use std::time::{Duration, Instant};

use capstan_api::{ChartRepository, ChartRepositorySpec, ChartRepositoryStatus};
use capstan_chart::catalogue::CatalogueError;
use capstan_chart::http::{Credentials, Fetched, HttpClient, HttpError, HttpOptions, Validators};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use tracing::{info, warn};

use crate::context::Context;
use crate::error::{Error, Result};
use crate::fetch::sha256;
use crate::index_cache::{CachedIndex, RepositoryKey, chart_count, parse_catalogue};
use crate::report;
use crate::status::{Outcome, conditions, same};

/// Default `spec.interval`.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(600);
/// Default `spec.timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Key of the CA bundle in the `certSecretRef` Secret.
const CA_KEY: &str = "ca.crt";

/// Runs the ChartRepository controller until shutdown.
pub async fn run(ctx: Arc<Context>) {
    let repositories: Api<ChartRepository> = ctx.watched();
    Controller::new(repositories, watcher::Config::default())
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(error) = result {
                warn!(%error, "repository reconcile failed");
            }
        })
        .await;
}

pub fn key(repository: &ChartRepository) -> RepositoryKey {
    (
        repository.namespace().unwrap_or_default(),
        repository.name_any(),
    )
}

fn failure_key(repository: &ChartRepository) -> String {
    let (namespace, name) = key(repository);
    format!("ChartRepository/{namespace}/{name}")
}

fn interval(spec: &ChartRepositorySpec) -> Duration {
    spec.interval.map(Into::into).unwrap_or(DEFAULT_INTERVAL)
}

fn error_policy(repository: Arc<ChartRepository>, error: &Error, ctx: Arc<Context>) -> Action {
    let failures = ctx.record_failure(&failure_key(&repository));
    Action::requeue(error.retry_after(failures))
}

async fn reconcile(repository: Arc<ChartRepository>, ctx: Arc<Context>) -> Result<Action> {
    if repository.spec.suspend {
        return Ok(Action::await_change());
    }
    let key = key(&repository);
    let spec = &repository.spec;
    let interval = interval(spec);
    let generation = repository.meta().generation;
    let cached = ctx.indexes.get(&key);
    if let Some(cached) = &cached
        && cached.is_fresh(&spec.url, generation, interval)
    {
        // Woken by our own status write or a resync: the index is still current.
        return Ok(Action::requeue(
            interval.saturating_sub(cached.checked_at.elapsed()),
        ));
    }
    let previous = repository.status.clone().unwrap_or_default();
    match refresh(&repository, &ctx, cached.as_deref()).await {
        Ok(entry) => {
            ctx.clear_failures(&failure_key(&repository));
            let count = chart_count(&entry.catalogue);
            let digest = entry.digest.clone();
            let changed = previous.index_digest.as_deref() != Some(digest.as_str());
            ctx.indexes.insert(key, entry);
            let status = fetched_status(&previous, generation, &digest, count, interval);
            report::write_status(&ctx, &*repository, &status).await?;
            if changed {
                info!(repository = %failure_key(&repository), %digest, charts = count, "index changed");
                report::publish(
                    &ctx,
                    &*repository,
                    EventType::Normal,
                    "IndexChanged",
                    format!("Fetched index {digest} with {count} chart versions"),
                )
                .await;
            }
            Ok(Action::requeue(interval))
        }
        Err(error) => {
            let status = failed_status(&previous, generation, &error);
            if !same(&previous.conditions, &status.conditions) {
                report::write_status(&ctx, &*repository, &status).await?;
                report::publish(
                    &ctx,
                    &*repository,
                    EventType::Warning,
                    error.reason(),
                    error.to_string(),
                )
                .await;
            }
            Err(error)
        }
    }
}

/// Status after a successful fetch (or a 304 confirming the cached index).
fn fetched_status(
    previous: &ChartRepositoryStatus,
    generation: Option<i64>,
    digest: &str,
    count: usize,
    interval: Duration,
) -> ChartRepositoryStatus {
    let now = Timestamp::now();
    let outcome = Outcome::Ready {
        reason: "IndexFetched".into(),
        message: format!("Fetched index with {count} chart versions"),
    };
    ChartRepositoryStatus {
        conditions: conditions(&previous.conditions, &outcome, generation, now),
        observed_generation: generation,
        index_digest: Some(digest.to_string()),
        chart_count: Some(i64::try_from(count).unwrap_or(i64::MAX)),
        last_fetch_time: Some(Time(now)),
        next_fetch_time: now.checked_add(interval).ok().map(Time),
    }
}

/// Status after a failed fetch: the last good index (still served to deployments) stays listed.
fn failed_status(
    previous: &ChartRepositoryStatus,
    generation: Option<i64>,
    error: &Error,
) -> ChartRepositoryStatus {
    let outcome = Outcome::from_error(error);
    ChartRepositoryStatus {
        conditions: conditions(&previous.conditions, &outcome, generation, Timestamp::now()),
        observed_generation: generation,
        ..previous.clone()
    }
}

/// Fetches the index, conditionally when the cached entry is for the same URL.
async fn refresh(
    repository: &ChartRepository,
    ctx: &Context,
    cached: Option<&CachedIndex>,
) -> Result<CachedIndex> {
    let spec = &repository.spec;
    if !(spec.url.starts_with("https://") || spec.url.starts_with("http://")) {
        return Err(Error::InvalidSpec(format!(
            "spec.url {}: only https:// and http:// repositories are supported by this operator \
             build; use a ChartDeployment with spec.chart.package for other sources",
            spec.url
        )));
    }
    let namespace = repository.namespace().unwrap_or_default();
    let options = http_options(ctx, &namespace, spec).await?;
    let limit = ctx.max_index_bytes;
    let index_http = client(HttpOptions {
        max_body_bytes: limit,
        ..options.clone()
    })?;
    let http = client(options)?;
    let index_url = capstan_chart::index::join_url(&spec.url, "index.yaml");
    // Only an entry for the same URL may answer a conditional request.
    let cached = cached.filter(|cached| cached.url == spec.url);
    let validators = cached
        .map(|cached| cached.validators.clone())
        .unwrap_or_default();
    let name = repository.name_any();
    let fetch_error = |message: String| Error::Fetch {
        what: format!("the index of ChartRepository {name}"),
        message,
    };
    let too_large = || Error::IndexTooLarge {
        repository: name.clone(),
        limit,
    };
    let fetched = index_http
        .get_conditional(&index_url, &validators)
        .await
        .map_err(|error| match error {
            HttpError::TooLarge { .. } => too_large(),
            other => fetch_error(other.to_string()),
        })?;
    let generation = repository.meta().generation;
    match (fetched, cached) {
        (Fetched::NotModified, Some(cached)) => Ok(CachedIndex {
            url: spec.url.clone(),
            generation,
            catalogue: Arc::clone(&cached.catalogue),
            digest: cached.digest.clone(),
            validators: cached.validators.clone(),
            checked_at: Instant::now(),
            http,
        }),
        (Fetched::NotModified, None) => Err(fetch_error(
            "the server answered 304 Not Modified to an unconditional request".into(),
        )),
        (Fetched::Body { bytes, validators }, cached) => {
            let digest = sha256(&bytes);
            // A server without validators sends the same bytes again: keep the parsed catalogue.
            let catalogue = match cached.filter(|cached| cached.digest == digest) {
                Some(cached) => Arc::clone(&cached.catalogue),
                None => {
                    Arc::new(parse_catalogue(&bytes, &index_url, limit).map_err(
                        |error| match error {
                            CatalogueError::IndexTooLarge { .. } => too_large(),
                            other => Error::InvalidSpec(other.to_string()),
                        },
                    )?)
                }
            };
            drop(bytes);
            Ok(CachedIndex {
                url: spec.url.clone(),
                generation,
                catalogue,
                digest,
                validators: strong_validators(validators, Timestamp::now()),
                checked_at: Instant::now(),
                http,
            })
        }
    }
}

/// How long before the download a `Last-Modified` date must lie to be trusted for the next
/// conditional request.
const WEAK_DATE_SECONDS: i64 = 2;

/// The validators to send next time. A `Last-Modified` date less than a moment old is weak
/// (RFC 9110, section 8.8.2.2): dates have whole seconds, so the index may change again within
/// the same second and a server would answer 304 to that change forever. Such a date (or one
/// that does not parse) is dropped; the next fetch then downloads the index, and a repeated
/// download with the same digest is not parsed again.
fn strong_validators(validators: Validators, now: Timestamp) -> Validators {
    let last_modified = validators.last_modified.filter(|date| {
        let Some(rest) = date.strip_suffix(" GMT") else {
            return false;
        };
        k8s_openapi::jiff::fmt::strtime::parse("%a, %d %b %Y %H:%M:%S %z", format!("{rest} +0000"))
            .and_then(|parsed| parsed.to_timestamp())
            .is_ok_and(|modified| {
                now.duration_since(modified) >= SignedDuration::from_secs(WEAK_DATE_SECONDS)
            })
    });
    Validators {
        etag: validators.etag,
        last_modified,
    }
}

fn client(options: HttpOptions) -> Result<HttpClient> {
    HttpClient::new(options).map_err(|error| Error::InvalidSpec(error.to_string()))
}

/// HTTP options with the repository's timeout, credentials and CA.
async fn http_options(
    ctx: &Context,
    namespace: &str,
    spec: &ChartRepositorySpec,
) -> Result<HttpOptions> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let mut options = HttpOptions {
        total_timeout: spec.timeout.map(Into::into).unwrap_or(DEFAULT_TIMEOUT),
        ..HttpOptions::default()
    };
    if let Some(reference) = &spec.secret_ref {
        let secret = get_secret(&secrets, &reference.name, "spec.secretRef").await?;
        options.credentials = Some(credentials(&secret, &reference.name)?);
    }
    if let Some(reference) = &spec.cert_secret_ref {
        let secret = get_secret(&secrets, &reference.name, "spec.certSecretRef").await?;
        let ca = secret_value(&secret, CA_KEY).ok_or_else(|| Error::InputMissing {
            what: format!("Secret {} key {CA_KEY}", reference.name),
            message: "not found; spec.certSecretRef must name a Secret with a PEM ca.crt".into(),
        })?;
        options.ca_pem = Some(ca.to_vec());
    }
    Ok(options)
}

async fn get_secret(secrets: &Api<Secret>, name: &str, field: &str) -> Result<Secret> {
    secrets
        .get_opt(name)
        .await?
        .ok_or_else(|| Error::InputMissing {
            what: format!("Secret {name} ({field})"),
            message: "not found; create it in the namespace of the ChartRepository".into(),
        })
}

fn secret_value<'a>(secret: &'a Secret, key: &str) -> Option<&'a [u8]> {
    secret
        .data
        .as_ref()
        .and_then(|data| data.get(key))
        .map(|bytes| bytes.0.as_slice())
}

/// Basic credentials from `username` + `password`, or a bearer `token`. Messages name the keys,
/// never their values.
pub fn credentials(secret: &Secret, name: &str) -> Result<Credentials> {
    let text = |key: &str| -> Result<Option<String>> {
        secret_value(secret, key)
            .map(|bytes| {
                String::from_utf8(bytes.to_vec()).map_err(|_| {
                    Error::InvalidSpec(format!("Secret {name} key {key} is not UTF-8 text"))
                })
            })
            .transpose()
    };
    match (text("username")?, text("password")?, text("token")?) {
        (Some(username), Some(password), _) => Ok(Credentials::Basic { username, password }),
        (None, None, Some(token)) => Ok(Credentials::Bearer { token }),
        _ => Err(Error::InvalidSpec(format!(
            "Secret {name} (spec.secretRef) must hold `username` and `password`, or `token`"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use std::collections::BTreeMap;

    fn secret(pairs: &[(&str, &str)]) -> Secret {
        Secret {
            data: Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Secret::default()
        }
    }

    #[test]
    fn credentials_come_from_username_password_or_token() {
        let basic = credentials(&secret(&[("username", "u"), ("password", "p")]), "auth");
        assert_eq!(
            basic.unwrap(),
            Credentials::Basic {
                username: "u".into(),
                password: "p".into()
            }
        );
        let bearer = credentials(&secret(&[("token", "t")]), "auth").unwrap();
        assert_eq!(bearer, Credentials::Bearer { token: "t".into() });
        let error = credentials(&secret(&[("username", "u")]), "auth").unwrap_err();
        assert!(error.to_string().contains("Secret auth"), "{error}");
        assert!(!error.to_string().contains(": u"), "{error}");
    }

    #[test]
    fn fresh_or_unreadable_modification_dates_are_not_sent_back() {
        let now = Timestamp::from_second(1_764_675_936).unwrap(); // Tue, 02 Dec 2025 11:45:36 GMT
        let with = |date: &str| Validators {
            etag: Some("\"e\"".into()),
            last_modified: Some(date.into()),
        };
        let old = strong_validators(with("Tue, 02 Dec 2025 11:45:30 GMT"), now);
        assert_eq!(
            old.last_modified.as_deref(),
            Some("Tue, 02 Dec 2025 11:45:30 GMT")
        );
        for weak in [
            "Tue, 02 Dec 2025 11:45:36 GMT",
            "Tue, 02 Dec 2025 11:45:35 GMT",
            "Tue, 02 Dec 2025 11:46:00 GMT",
            "yesterday",
        ] {
            let kept = strong_validators(with(weak), now);
            assert_eq!(kept.last_modified, None, "{weak}");
            assert_eq!(kept.etag.as_deref(), Some("\"e\""));
        }
    }

    #[test]
    fn a_failed_fetch_keeps_the_last_index_in_status() {
        let fetched = fetched_status(
            &ChartRepositoryStatus::default(),
            Some(3),
            "sha256:ab",
            7,
            Duration::from_secs(60),
        );
        assert_eq!(fetched.chart_count, Some(7));
        let next = fetched.next_fetch_time.as_ref().unwrap().0;
        let last = fetched.last_fetch_time.as_ref().unwrap().0;
        assert_eq!(next.duration_since(last).as_secs(), 60);
        let error = Error::Fetch {
            what: "the index".into(),
            message: "connection refused".into(),
        };
        let failed = failed_status(&fetched, Some(3), &error);
        assert_eq!(failed.index_digest.as_deref(), Some("sha256:ab"));
        assert_eq!(failed.conditions[0].status, "False");
        assert_eq!(failed.conditions[0].reason, "FetchFailed");
        assert_eq!(failed.conditions[1].type_, "Reconciling");
    }
}
