//! The ChartDeployment controller's wiring: the watches and their triggers, the finalizer that
//! cleans up on deletion, and the error policy. The reconcile itself is
//! [`super::reconcile`].

use std::sync::Arc;
use std::time::Duration;

use capstan_api::ChartDeployment;
use capstan_api::deployment::ValuesSourceKind;
use capstan_api::labels::FINALIZER;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;
use kube::core::{DeserializeGuard, PartialObjectMeta};
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::reflector;
use kube::runtime::{WatchStreamExt, watcher};
use tracing::{Instrument, warn};

use crate::context::Context;
use crate::error::{Error, Result};
use crate::finalizer::{self, Step};
use crate::logging::reconcile_span;
use crate::object_key::{KindKey, ObjectKey};

use super::triggers::{
    RepositoryChanges, WatchedRepository, forget_deleted, referencing, touched_repository,
    using_repository, using_repository_keyring,
};
use super::{cleanup, invalid, reconcile};

/// Default `spec.interval`.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(600);

/// A ChartDeployment as the watch hands it over: one that cannot be decoded (written before
/// the CRD validated it, say) arrives as an error instead of failing the whole watch, so one
/// tenant's broken object never stops the others being reconciled.
pub type Watched = DeserializeGuard<ChartDeployment>;

/// Runs the ChartDeployment controller until shutdown.
pub async fn run(ctx: Arc<Context>) {
    let deployments: Api<Watched> = ctx.watched();
    let controller = Controller::new(deployments, ctx.sharded_watch())
        .with_config(Config::default().concurrency(ctx.settings.max_concurrent_reconciles));
    let store = controller.store();
    let config_map_store = store.clone();
    let repository_store = store.clone();
    let repository_changes = RepositoryChanges::default();
    // One watch of the repositories keeps the store the Secret mapper below reads (a
    // repository's keyring Secret is read on behalf of the deployments that use the repository)
    // and wakes the deployments of a repository whose index, conditions or spec changed, or
    // that was deleted.
    let (repositories, repository_writer) = reflector::store::<WatchedRepository>();
    let deletions = Arc::clone(&ctx);
    // Only this operator's share of the repositories (`--watch-label-selector`): a deployment
    // reads the index its own operator fetched, so it shares its repository's shard.
    let touched_repositories =
        watcher::watcher(ctx.watched::<WatchedRepository>(), ctx.sharded_watch())
            .default_backoff()
            .reflect(repository_writer)
            .filter_map(move |event| {
                if let Ok(watcher::Event::Delete(DeserializeGuard(Ok(repository)))) = &event {
                    forget_deleted(&deletions, repository);
                }
                std::future::ready(touched_repository(event))
            });
    // ConfigMaps and Secrets are watched as metadata only: their contents are read only for
    // the objects a deployment names, when it is reconciled.
    let config_maps = watcher::watcher(
        ctx.watched::<PartialObjectMeta<ConfigMap>>(),
        watcher::Config::default(),
    )
    .default_backoff()
    .touched_objects();
    let secrets = watcher::watcher(
        ctx.watched::<PartialObjectMeta<Secret>>(),
        watcher::Config::default(),
    )
    .default_backoff()
    .touched_objects();
    controller
        .watches_stream(touched_repositories, move |repository| {
            if repository_changes.changed(&repository) {
                using_repository(&repository_store, &repository)
            } else {
                Vec::new()
            }
        })
        .watches_stream(config_maps, move |config_map| {
            referencing(&config_map_store, &config_map, ValuesSourceKind::ConfigMap)
        })
        .watches_stream(secrets, move |secret| {
            let mut triggered = referencing(&store, &secret, ValuesSourceKind::Secret);
            triggered.extend(using_repository_keyring(&store, &repositories, &secret));
            triggered
        })
        .shutdown_on_signal()
        .run(reconcile_with_finalizer, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(error) = result {
                warn!(%error, "reconcile failed");
            }
        })
        .await;
}

async fn reconcile_with_finalizer(deployment: Arc<Watched>, ctx: Arc<Context>) -> Result<Action> {
    let started = std::time::Instant::now();
    let applied_release = deployment
        .0
        .as_ref()
        .ok()
        .and_then(|deployment| deployment.status.as_ref()?.release_number);
    let span = reconcile_span(&KindKey::of(&*deployment), applied_release);
    let result = reconcile_step(&deployment, &ctx).instrument(span).await;
    ctx.metrics
        .reconciled("ChartDeployment", result.is_ok(), started.elapsed());
    result
}

/// Adds the finalizer, reconciles, or cleans up and releases the finalizer; an object that
/// cannot be decoded is reported (or, when deleted, cleaned up from its status).
async fn reconcile_step(watched: &Watched, ctx: &Context) -> Result<Action> {
    let api: Api<Watched> = Api::namespaced(ctx.client.clone(), &ObjectKey::of(watched).namespace);
    match finalizer::step(watched, FINALIZER) {
        Step::Add => {
            // The write wakes the object again, with the finalizer in place.
            finalizer::add(&api, watched, FINALIZER).await?;
            Ok(Action::await_change())
        }
        Step::Apply => match &watched.0 {
            Ok(deployment) => reconcile::reconcile(deployment, ctx).await,
            Err(invalid) => invalid::report(ctx, watched, invalid).await,
        },
        Step::Cleanup { index } => {
            let action = match &watched.0 {
                Ok(deployment) => cleanup::cleanup(deployment, ctx).await?,
                Err(_) => cleanup::cleanup_undecodable(watched, ctx).await?,
            };
            finalizer::release(&api, watched, FINALIZER, index).await?;
            Ok(action)
        }
        Step::Nothing => Ok(Action::await_change()),
    }
}

fn error_policy(deployment: Arc<Watched>, error: &Error, ctx: Arc<Context>) -> Action {
    let failures = ctx.record_failure(&KindKey::of(&*deployment));
    Action::requeue(error.retry_after(failures))
}

/// The deployment's `spec.interval` (or the default), raised to the operator's floor
/// (`--min-interval`), so no tenant can make the operator reconcile in a tight loop.
pub fn interval(deployment: &ChartDeployment, floor: Duration) -> Duration {
    deployment
        .spec
        .interval
        .as_ref()
        .map_or(DEFAULT_INTERVAL, Into::into)
        .max(floor)
}
