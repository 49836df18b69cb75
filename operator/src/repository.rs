//! The ChartRepository controller: fetches each repository's index once per interval into the
//! shared [`IndexCache`](crate::index_cache::IndexCache) and reports it in status, with the times
//! of the last and the next fetch. A status write that changes the index or the conditions is
//! also what wakes the ChartDeployments of the repository (they watch it; see
//! [`seen_by_deployments`]); one that only records another fetch wakes none of them.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::{Duration, Instant};

use capstan_api::{ChartRepository, ChartRepositorySpec, ChartRepositoryStatus};
use capstan_sources::catalogue::CatalogueError;
use capstan_sources::http::{Fetched, HttpClient, HttpError, HttpOptions, Validators};
use capstan_sources::s3::S3Error;
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use tracing::{info, warn};

use crate::access::{Access, AccessSpec};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::fetch::sha256;
use crate::index_cache::{CachedIndex, RepositoryKey, chart_count, parse_catalogue};
use crate::metrics::IndexFetch;
use crate::report;
use crate::status::{Outcome, conditions, same};

/// Default `spec.interval`.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(600);
/// Default `spec.timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

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

/// A failed fetch is handled in the reconcile (status, event, the retry scheduled); what lands
/// here is a failure to write the status, retried with back-off.
fn error_policy(repository: Arc<ChartRepository>, error: &Error, ctx: Arc<Context>) -> Action {
    let failures = ctx.record_failure(&failure_key(&repository));
    Action::requeue(error.retry_after(failures))
}

async fn reconcile(repository: Arc<ChartRepository>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    let result = reconcile_repository(&repository, &ctx).await;
    let succeeded = matches!(
        result,
        Ok(Reconciled {
            fetch_failed: false,
            ..
        })
    );
    ctx.metrics
        .reconciled("ChartRepository", succeeded, started.elapsed());
    result.map(|reconciled| reconciled.action)
}

/// What a reconcile came to. A failed fetch is fully handled in the reconcile (status, event,
/// the retry scheduled), so it is not an `Err` for the controller, but it counts as an error.
struct Reconciled {
    action: Action,
    fetch_failed: bool,
}

impl From<Action> for Reconciled {
    fn from(action: Action) -> Self {
        Reconciled {
            action,
            fetch_failed: false,
        }
    }
}

async fn reconcile_repository(repository: &ChartRepository, ctx: &Context) -> Result<Reconciled> {
    let key = key(repository);
    let spec = &repository.spec;
    let previous = repository.status.clone().unwrap_or_default();
    if spec.suspend {
        ctx.fetch_schedule.forget(&key);
        if previous.next_fetch_time.is_some() {
            let status = ChartRepositoryStatus {
                next_fetch_time: None,
                ..previous
            };
            report::write_status(ctx, repository, &status).await?;
        }
        return Ok(Action::await_change().into());
    }
    if spec.url.starts_with("oci://") {
        ctx.indexes.remove(&key);
        ctx.fetch_schedule.forget(&key);
        return reconcile_registry(repository, ctx).await.map(Into::into);
    }
    let generation = repository.meta().generation;
    let uid = repository.metadata.uid.as_deref();
    if let Some(wait) = ctx
        .fetch_schedule
        .wait(&key, uid, &spec.url, generation, Instant::now())
    {
        // Woken by our own status write, a relist or a resync: the next fetch is not due yet.
        return Ok(Action::requeue(wait).into());
    }
    let cached = ctx.indexes.get(&key);
    let fetched = refresh(repository, ctx, cached.as_deref()).await;
    ctx.metrics.index_fetched(match &fetched {
        Ok((_, true)) => IndexFetch::Downloaded,
        Ok((_, false)) => IndexFetch::NotModified,
        Err(_) => IndexFetch::Failed,
    });
    let fetched = fetched.map(|(entry, _)| entry);
    let (fetched_at, now) = (Instant::now(), Timestamp::now());
    match fetched {
        Ok(entry) => {
            let interval = interval(spec);
            let count = chart_count(&entry.catalogue);
            let digest = entry.digest.clone();
            let changed = previous.index_digest.as_deref() != Some(digest.as_str());
            ctx.indexes.insert(key.clone(), entry);
            let status = fetched_status(&previous, generation, &digest, count, now, interval);
            report::write_status(ctx, repository, &status).await?;
            ctx.fetch_schedule
                .set(key, uid, &spec.url, generation, fetched_at + interval);
            ctx.clear_failures(&failure_key(repository));
            if changed {
                info!(repository = %failure_key(repository), %digest, charts = count, "index changed");
                report::publish(
                    ctx,
                    repository,
                    EventType::Normal,
                    "IndexChanged",
                    format!("Fetched index {digest} with {count} chart versions"),
                )
                .await;
            }
            Ok(Action::requeue(interval).into())
        }
        Err(error) => {
            let failures = ctx.record_failure(&failure_key(repository));
            let retry = error.retry_after(failures);
            let status = failed_status(&previous, generation, &error, now, retry);
            report::write_status(ctx, repository, &status).await?;
            ctx.fetch_schedule
                .set(key, uid, &spec.url, generation, fetched_at + retry);
            warn!(repository = %failure_key(repository), %error, retry_in = ?retry, "fetching the index failed");
            if !same(&previous.conditions, &status.conditions) {
                report::publish(
                    ctx,
                    repository,
                    EventType::Warning,
                    error.reason(),
                    error.to_string(),
                )
                .await;
            }
            Ok(Reconciled {
                action: Action::requeue(retry),
                fetch_failed: true,
            })
        }
    }
}

/// What the deployments that use a repository act on: which object it is, its spec, its index
/// and its conditions. The fetch times move with every fetch and wake nobody.
pub fn seen_by_deployments(repository: &ChartRepository) -> u64 {
    let mut hasher = DefaultHasher::new();
    repository.metadata.uid.hash(&mut hasher);
    repository.metadata.generation.hash(&mut hasher);
    if let Some(status) = &repository.status {
        status.observed_generation.hash(&mut hasher);
        status.index_digest.hash(&mut hasher);
        status.chart_count.hash(&mut hasher);
        for condition in &status.conditions {
            condition.type_.hash(&mut hasher);
            condition.status.hash(&mut hasher);
            condition.reason.hash(&mut hasher);
            condition.message.hash(&mut hasher);
            condition.observed_generation.hash(&mut hasher);
        }
    }
    hasher.finish()
}

/// `now + wait`, for the status's `nextFetchTime`.
fn time_after(now: Timestamp, wait: Duration) -> Option<Time> {
    let wait = SignedDuration::try_from(wait).ok()?;
    now.checked_add(wait).ok().map(Time)
}

/// An `oci://` repository has no index: its charts resolve over their tags when a deployment
/// needs them. Its status says whether the URL and the Secrets it names are usable.
async fn reconcile_registry(repository: &ChartRepository, ctx: &Context) -> Result<Action> {
    let spec = &repository.spec;
    let generation = repository.meta().generation;
    let previous = repository.status.clone().unwrap_or_default();
    let checked = check_registry(repository, ctx).await;
    let outcome = match &checked {
        Ok(()) => Outcome::Ready {
            reason: "RegistryConfigured".into(),
            message: format!(
                "OCI registry: chart versions resolve over the tags under {}",
                spec.url
            ),
        },
        Err(error) => Outcome::from_error(error),
    };
    let status = ChartRepositoryStatus {
        conditions: conditions(&previous.conditions, &outcome, generation, Timestamp::now()),
        observed_generation: generation,
        ..ChartRepositoryStatus::default()
    };
    if previous != status {
        report::write_status(ctx, repository, &status).await?;
        if let Err(error) = &checked {
            report::publish(
                ctx,
                repository,
                EventType::Warning,
                error.reason(),
                error.to_string(),
            )
            .await;
        }
    }
    checked?;
    ctx.clear_failures(&failure_key(repository));
    Ok(Action::requeue(interval(spec)))
}

async fn check_registry(repository: &ChartRepository, ctx: &Context) -> Result<()> {
    let spec = &repository.spec;
    let host = capstan_sources::oci::registry_host(&spec.url)
        .map_err(|error| Error::InvalidSpec(format!("spec.url: {error}")))?;
    let namespace = repository.namespace().unwrap_or_default();
    let access = Access::read(ctx, &namespace, &access_spec(spec)).await?;
    access.registry_options(&host, spec.plain_http)?;
    Ok(())
}

/// Status after a successful fetch (or a 304 confirming the cached index) at `now`; the next
/// one is `interval` later.
fn fetched_status(
    previous: &ChartRepositoryStatus,
    generation: Option<i64>,
    digest: &str,
    count: usize,
    now: Timestamp,
    interval: Duration,
) -> ChartRepositoryStatus {
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
        next_fetch_time: time_after(now, interval),
    }
}

/// Status after a fetch that failed at `now`, to be retried `retry` later: the last good index
/// (still served to deployments) stays listed, with the time it was fetched.
fn failed_status(
    previous: &ChartRepositoryStatus,
    generation: Option<i64>,
    error: &Error,
    now: Timestamp,
    retry: Duration,
) -> ChartRepositoryStatus {
    let outcome = Outcome::from_error(error);
    ChartRepositoryStatus {
        conditions: conditions(&previous.conditions, &outcome, generation, now),
        observed_generation: generation,
        next_fetch_time: time_after(now, retry),
        ..previous.clone()
    }
}

/// The spec fields that say how to reach the repository.
pub fn access_spec(spec: &ChartRepositorySpec) -> AccessSpec<'_> {
    AccessSpec {
        field: "spec.secretRef",
        secret_ref: spec.secret_ref.as_ref(),
        cert_secret_ref: spec.cert_secret_ref.as_ref(),
        insecure_skip_tls_verify: spec.insecure_skip_tls_verify,
    }
}

/// Fetches the index, conditionally when the cached entry is for the same URL: over HTTP, or
/// with a signed GET from an `s3://` bucket (S3 answers conditional requests too). Says also
/// whether the index was downloaded (`false`: the server answered that it had not changed).
async fn refresh(
    repository: &ChartRepository,
    ctx: &Context,
    cached: Option<&CachedIndex>,
) -> Result<(CachedIndex, bool)> {
    let spec = &repository.spec;
    let is_s3 = spec.url.starts_with("s3://");
    if !(is_s3 || spec.url.starts_with("https://") || spec.url.starts_with("http://")) {
        return Err(Error::InvalidSpec(format!(
            "spec.url {}: only https://, http://, s3:// and oci:// repositories are supported \
             by this operator build; use a ChartDeployment with spec.chart.package for other \
             sources",
            spec.url
        )));
    }
    let namespace = repository.namespace().unwrap_or_default();
    let timeout = spec.timeout.map(Into::into).unwrap_or(DEFAULT_TIMEOUT);
    let limit = ctx.max_index_bytes;
    // Only an entry for the same URL may answer a conditional request.
    let cached = cached.filter(|cached| cached.url == spec.url);
    let validators = cached
        .map(|cached| cached.validators.clone())
        .unwrap_or_default();
    let name = repository.name_any();
    let what = format!("the index of ChartRepository {name}");
    let fetch_error = |message: String| Error::Fetch {
        what: what.clone(),
        message,
    };
    let too_large = || Error::IndexTooLarge {
        repository: name.clone(),
        limit,
    };
    let (fetched, index_url, http, http_elsewhere, s3) = if is_s3 {
        let (bucket, options) = crate::s3::repository(ctx, &namespace, spec, timeout).await?;
        let index_bucket = bucket.with_http(client(HttpOptions {
            max_body_bytes: limit,
            ..options.clone()
        })?);
        let fetched = index_bucket
            .get_index_conditional(&validators)
            .await
            .map_err(|error| match error {
                S3Error::Http(HttpError::TooLarge { .. }) => too_large(),
                other => Error::from_s3(what.clone(), other),
            })?;
        // No request outside the bucket carries its keys: one client without credentials.
        let plain = client(options)?;
        let index_url = format!("{}/index.yaml", bucket.location());
        (fetched, index_url, plain.clone(), plain, Some(bucket))
    } else {
        let access = Access::read(ctx, &namespace, &access_spec(spec)).await?;
        let options = access.http_options(timeout)?;
        let http_elsewhere = if spec.pass_credentials {
            client(options.clone())?
        } else {
            access.without_credentials().http_client(timeout)?
        };
        let index_http = client(HttpOptions {
            max_body_bytes: limit,
            ..options.clone()
        })?;
        let http = client(options)?;
        let index_url = capstan_chart::index::join_url(&spec.url, "index.yaml");
        let fetched = index_http
            .get_conditional(&index_url, &validators)
            .await
            .map_err(|error| match error {
                HttpError::TooLarge { .. } => too_large(),
                other => Error::from_http(what.clone(), other),
            })?;
        (fetched, index_url, http, http_elsewhere, None)
    };
    match (fetched, cached) {
        (Fetched::NotModified, Some(cached)) => Ok((
            CachedIndex {
                url: spec.url.clone(),
                uid: repository.metadata.uid.clone(),
                catalogue: Arc::clone(&cached.catalogue),
                digest: cached.digest.clone(),
                validators: cached.validators.clone(),
                http,
                http_elsewhere,
                s3,
            },
            false,
        )),
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
            let entry = CachedIndex {
                url: spec.url.clone(),
                uid: repository.metadata.uid.clone(),
                catalogue,
                digest,
                validators: strong_validators(validators, Timestamp::now()),
                http,
                http_elsewhere,
                s3,
            };
            Ok((entry, true))
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

#[cfg(test)]
mod tests {
    use super::*;

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

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).unwrap()
    }

    #[test]
    fn a_fetch_records_when_it_happened_and_when_the_next_is_due() {
        let interval = Duration::from_secs(600);
        let first = fetched_status(
            &ChartRepositoryStatus::default(),
            Some(3),
            "sha256:ab",
            7,
            at(1_000),
            interval,
        );
        assert_eq!(first.chart_count, Some(7));
        assert_eq!(first.last_fetch_time, Some(Time(at(1_000))));
        assert_eq!(first.next_fetch_time, Some(Time(at(1_600))));
        // The same index again: only the times move, the condition keeps its transition time.
        let again = fetched_status(&first, Some(3), "sha256:ab", 7, at(1_600), interval);
        assert_eq!(again.last_fetch_time, Some(Time(at(1_600))));
        assert_eq!(again.next_fetch_time, Some(Time(at(2_200))));
        assert_eq!(
            again.conditions[0].last_transition_time,
            first.conditions[0].last_transition_time
        );
    }

    #[test]
    fn a_failed_fetch_keeps_the_last_index_and_schedules_the_retry() {
        let interval = Duration::from_secs(600);
        let fetched = fetched_status(
            &ChartRepositoryStatus::default(),
            Some(3),
            "sha256:ab",
            7,
            at(1_000),
            interval,
        );
        let error = Error::Fetch {
            what: "the index".into(),
            message: "connection refused".into(),
        };
        let failed = failed_status(&fetched, Some(3), &error, at(1_600), Duration::from_secs(5));
        assert_eq!(failed.index_digest.as_deref(), Some("sha256:ab"));
        assert_eq!(failed.chart_count, Some(7));
        assert_eq!(failed.last_fetch_time, Some(Time(at(1_000))));
        assert_eq!(failed.next_fetch_time, Some(Time(at(1_605))));
        assert_eq!(failed.conditions[0].status, "False");
        assert_eq!(failed.conditions[0].reason, "FetchFailed");
        assert_eq!(failed.conditions[1].type_, "Reconciling");
    }

    fn repository(uid: &str, status: ChartRepositoryStatus) -> ChartRepository {
        let spec: ChartRepositorySpec =
            serde_json::from_value(serde_json::json!({"url": "https://charts.example"})).unwrap();
        let mut repository = ChartRepository::new("charts", spec);
        repository.metadata.uid = Some(uid.into());
        repository.metadata.generation = Some(1);
        repository.status = Some(status);
        repository
    }

    #[test]
    fn deployments_see_a_new_index_or_condition_but_not_another_fetch_of_the_same() {
        let interval = Duration::from_secs(60);
        let first = fetched_status(
            &ChartRepositoryStatus::default(),
            Some(1),
            "sha256:ab",
            2,
            at(1_000),
            interval,
        );
        let seen = seen_by_deployments(&repository("u1", first.clone()));
        let refetched = fetched_status(&first, Some(1), "sha256:ab", 2, at(1_060), interval);
        assert_eq!(seen, seen_by_deployments(&repository("u1", refetched)));

        let new_index = fetched_status(&first, Some(1), "sha256:cd", 3, at(1_060), interval);
        assert_ne!(seen, seen_by_deployments(&repository("u1", new_index)));
        let error = Error::Fetch {
            what: "the index".into(),
            message: "connection refused".into(),
        };
        let failed = failed_status(&first, Some(1), &error, at(1_060), interval);
        assert_ne!(seen, seen_by_deployments(&repository("u1", failed)));
        assert_ne!(seen, seen_by_deployments(&repository("u2", first.clone())));
        let mut new_spec = repository("u1", first);
        new_spec.metadata.generation = Some(2);
        assert_ne!(seen, seen_by_deployments(&new_spec));
    }
}
