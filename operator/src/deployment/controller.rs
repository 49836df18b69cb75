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
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::finalizer::{Event, finalizer};
use kube::runtime::reflector;
use kube::runtime::{WatchStreamExt, watcher};
use tracing::warn;

use capstan_api::ChartRepository;

use crate::context::Context;
use crate::error::Error;
use crate::object_key::{KindKey, ObjectKey};

use super::triggers::{
    RepositoryChanges, forget_deleted, referencing, touched_repository, using_repository,
    using_repository_keyring,
};
use super::{cleanup, reconcile};

/// Default `spec.interval`.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(600);

type ReconcileError = kube::runtime::finalizer::Error<Error>;

/// Runs the ChartDeployment controller until shutdown.
pub async fn run(ctx: Arc<Context>) {
    let deployments: Api<ChartDeployment> = ctx.watched();
    let controller = Controller::new(deployments, watcher::Config::default())
        .with_config(Config::default().concurrency(ctx.settings.max_concurrent_reconciles));
    let store = controller.store();
    let config_map_store = store.clone();
    let repository_store = store.clone();
    let repository_changes = RepositoryChanges::default();
    // One watch of the repositories keeps the store the Secret mapper below reads (a
    // repository's keyring Secret is read on behalf of the deployments that use the repository)
    // and wakes the deployments of a repository whose index, conditions or spec changed, or
    // that was deleted.
    let (repositories, repository_writer) = reflector::store::<ChartRepository>();
    let deletions = Arc::clone(&ctx);
    let touched_repositories =
        watcher::watcher(ctx.watched::<ChartRepository>(), watcher::Config::default())
            .default_backoff()
            .reflect(repository_writer)
            .filter_map(move |event| {
                if let Ok(watcher::Event::Delete(repository)) = &event {
                    forget_deleted(&deletions, repository);
                }
                std::future::ready(touched_repository(event))
            });
    controller
        .watches_stream(touched_repositories, move |repository| {
            if repository_changes.changed(&repository) {
                using_repository(&repository_store, &repository)
            } else {
                Vec::new()
            }
        })
        .watches(
            ctx.watched::<ConfigMap>(),
            watcher::Config::default(),
            move |config_map| {
                referencing(&config_map_store, &config_map, ValuesSourceKind::ConfigMap)
            },
        )
        .watches(
            ctx.watched::<Secret>(),
            watcher::Config::default(),
            move |secret| {
                let mut triggered = referencing(&store, &secret, ValuesSourceKind::Secret);
                triggered.extend(using_repository_keyring(&store, &repositories, &secret));
                triggered
            },
        )
        .shutdown_on_signal()
        .run(reconcile_with_finalizer, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(error) = result {
                warn!(%error, "reconcile failed");
            }
        })
        .await;
}

async fn reconcile_with_finalizer(
    deployment: Arc<ChartDeployment>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let started = std::time::Instant::now();
    let namespace = ObjectKey::of(&*deployment).namespace;
    let api: Api<ChartDeployment> = Api::namespaced(ctx.client.clone(), &namespace);
    let result = finalizer(&api, FINALIZER, deployment, |event| async {
        match event {
            Event::Apply(deployment) => reconcile::reconcile(deployment, &ctx).await,
            Event::Cleanup(deployment) => cleanup::cleanup(deployment, &ctx).await,
        }
    })
    .await;
    ctx.metrics
        .reconciled("ChartDeployment", result.is_ok(), started.elapsed());
    result
}

fn error_policy(
    deployment: Arc<ChartDeployment>,
    error: &ReconcileError,
    ctx: Arc<Context>,
) -> Action {
    let failures = ctx.record_failure(&KindKey::of(&*deployment));
    let wait = match error {
        ReconcileError::ApplyFailed(error) | ReconcileError::CleanupFailed(error) => {
            error.retry_after(failures)
        }
        _ => Duration::from_secs(5),
    };
    Action::requeue(wait)
}

/// The deployment's `spec.interval`, or the default.
pub fn interval(deployment: &ChartDeployment) -> Duration {
    deployment
        .spec
        .interval
        .map(Into::into)
        .unwrap_or(DEFAULT_INTERVAL)
}
