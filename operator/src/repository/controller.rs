//! The ChartRepository controller: one watch, and a reconcile that fetches the index when it is
//! due and records the outcome in status.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::events::EventType;
use capstan_api::{ChartRepository, ChartRepositorySpec, ChartRepositoryStatus};
use futures::StreamExt;
use k8s_openapi::jiff::Timestamp;
use kube::Resource;
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::{WatchStreamExt, reflector};
use tracing::{Instrument, info, warn};

use crate::conditions::same;
use crate::context::Context;
use crate::deployment::invalid;
use crate::deployment::triggers::WatchedRepository;
use crate::error::{Error, Result};
use crate::logging::reconcile_span;
use crate::metrics::IndexFetch;
use crate::object_key::{KindKey, ObjectKey};
use crate::report;
use crate::watch::{EachWatchBacksOff, watch};

use super::fetch_index::refresh;
use super::index_cache::chart_count;
use super::registry::reconcile_registry;
use super::status::{failed_status, fetched_status, needs_write};

/// Default `spec.interval`.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(600);

/// Runs the ChartRepository controller until shutdown.
pub async fn run(ctx: Arc<Context>) {
    // An undecodable repository arrives as an error, reported on itself; the others go on.
    let (store, writer) = reflector::store::<WatchedRepository>();
    let repositories = watch(ctx.watched::<WatchedRepository>(), ctx.sharded_watch())
        .reflect(writer)
        .applied_objects();
    Controller::for_stream(repositories, store)
        .with_config(Config::default().concurrency(ctx.settings.max_concurrent_reconciles))
        .trigger_backoff(EachWatchBacksOff)
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(error) = result {
                warn!(%error, "repository reconcile failed");
            }
        })
        .await;
}

/// The repository's `spec.interval` (or the default), raised to the operator's floor
/// (`--min-interval`).
pub fn interval(spec: &ChartRepositorySpec, floor: Duration) -> Duration {
    spec.interval
        .as_ref()
        .map_or(DEFAULT_INTERVAL, Into::into)
        .max(floor)
}

/// A failed fetch is handled in the reconcile (status, event, the retry scheduled); what lands
/// here is a failure to write the status, retried with back-off.
fn error_policy(repository: Arc<WatchedRepository>, error: &Error, ctx: Arc<Context>) -> Action {
    let failures = ctx.record_failure(&KindKey::of(&*repository));
    Action::requeue(error.retry_after(failures))
}

async fn reconcile(watched: Arc<WatchedRepository>, ctx: Arc<Context>) -> Result<Action> {
    let span = reconcile_span(&KindKey::of(&*watched), None);
    reconcile_watched(&watched, &ctx).instrument(span).await
}

async fn reconcile_watched(watched: &WatchedRepository, ctx: &Context) -> Result<Action> {
    let repository = match &watched.0 {
        Ok(repository) => repository,
        Err(invalid) => return invalid::report(ctx, watched, invalid).await,
    };
    let started = Instant::now();
    let result = reconcile_repository(repository, ctx).await;
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
    let key = ObjectKey::of(repository);
    let kind_key = KindKey::of(repository);
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
        return reconcile_registry(repository, ctx, &kind_key)
            .await
            .map(Into::into);
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
            let interval = interval(spec, ctx.settings.min_interval);
            let count = chart_count(&entry.catalogue);
            let digest = entry.digest.clone();
            let changed = previous.index_digest.as_deref() != Some(digest.as_str());
            ctx.indexes.insert(key.clone(), entry);
            let status = fetched_status(&previous, generation, &digest, count, now);
            if needs_write(&previous, &status) {
                report::write_status(ctx, repository, &status).await?;
            }
            ctx.fetch_schedule
                .set(key, uid, &spec.url, generation, fetched_at + interval);
            ctx.clear_failures(&kind_key);
            if changed {
                info!(repository = %kind_key, %digest, charts = count, "index changed");
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
            let failures = ctx.record_failure(&kind_key);
            let retry = error.retry_after(failures);
            let status = failed_status(&previous, generation, &error, now, retry);
            if needs_write(&previous, &status) {
                report::write_status(ctx, repository, &status).await?;
            }
            ctx.fetch_schedule
                .set(key, uid, &spec.url, generation, fetched_at + retry);
            warn!(repository = %kind_key, %error, retry_in = ?retry, "fetching the index failed");
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
