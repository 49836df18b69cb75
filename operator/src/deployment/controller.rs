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
use kube::ResourceExt;
use kube::api::Api;
use kube::api::ApiResource;
use kube::core::{DeserializeGuard, PartialObjectMeta};
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::reflector;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{PredicateConfig, WatchStreamExt, watcher};
use tokio::sync::broadcast;
use tracing::{Instrument, debug, warn};

use crate::context::{Context, watch_config};
use crate::error::{Error, Result};
use crate::finalizer::{self, Step};
use crate::logging::reconcile_span;
use crate::object_key::{KindKey, ObjectKey};
use crate::watch::{EachWatchBacksOff, watch};

use super::triggers::{
    RepositoryChanges, WatchedRepository, acted_on, dependents, forget_deleted, referencing,
    touched_repository, using_any_repository, using_repository, using_repository_at,
    using_repository_keyring,
};
use super::{cleanup, health_watch, invalid, reconcile};

/// Default `spec.interval`.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(600);

/// A ChartDeployment as the watch hands it over: one that cannot be decoded (written before
/// the CRD validated it, say) arrives as an error instead of failing the whole watch, so one
/// tenant's broken object never stops the others being reconciled.
pub type Watched = DeserializeGuard<ChartDeployment>;

/// How soon a deployment whose finalizer was just added is reconciled again, whatever its
/// watch says.
const AFTER_FINALIZER_ADDED: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs the ChartDeployment controller until shutdown.
pub async fn run(ctx: Arc<Context>) {
    // The controller's own store keeps every ChartDeployment of the share for as long as the
    // operator runs: kept without managedFields, which nothing here reads and which can be the
    // largest part of an object whose status the operator writes (a list of every status field).
    let (store, deployment_writer) = reflector::store::<Watched>();
    // Every change of a deployment is passed on to wake those that depend on it (below): from
    // this watch when it sees every deployment, so that no second watch of them is needed.
    let (changes, changed) = futures::channel::mpsc::unbounded::<ObjectKey>();
    let sees_every_deployment = ctx.settings.watch_label_selector.is_none();
    let deployments = watch(ctx.watched::<Watched>(), ctx.sharded_watch())
        .modify(|deployment| deployment.managed_fields_mut().clear())
        .reflect(deployment_writer)
        .inspect(move |event| {
            if sees_every_deployment {
                pass_on_change(&changes, event);
            }
        })
        .applied_objects()
        .predicate_filter(acted_on, PredicateConfig::default());
    let controller = Controller::for_stream(deployments, store.clone())
        .with_config(Config::default().concurrency(ctx.settings.max_concurrent_reconciles))
        .trigger_backoff(EachWatchBacksOff);
    let config_map_store = store.clone();
    let dependency_store = store.clone();
    let repository_store = store.clone();
    let arrival_store = store.clone();
    let repository_changes = RepositoryChanges::default();
    // One watch of the repositories keeps the store the Secret mapper below reads (a
    // repository's keyring Secret is read on behalf of the deployments that use the repository)
    // and wakes the deployments of a repository whose conditions or spec changed, or that was
    // deleted (a new index wakes them through the cache's arrivals, below).
    let (repositories, repository_writer) = reflector::store::<WatchedRepository>();
    // Only the first controller of a context sets it; a second would watch the same share.
    let _ = ctx.repositories.set(repositories.clone());
    let deletions = Arc::clone(&ctx);
    // Only this operator's share of the repositories (`--watch-label-selector`): a deployment
    // reads the index its own operator fetched, so it shares its repository's shard.
    let touched_repositories = watch(ctx.watched::<WatchedRepository>(), ctx.sharded_watch())
        .reflect(repository_writer)
        .filter_map(move |event| {
            if let Ok(watcher::Event::Delete(DeserializeGuard(Ok(repository)))) = &event {
                forget_deleted(&deletions, repository);
            }
            std::future::ready(touched_repository(event))
        });
    // ConfigMaps and Secrets are watched as metadata only: their contents are read only for
    // the objects a deployment names, when it is reconciled.
    let config_maps = watch(
        ctx.watched::<PartialObjectMeta<ConfigMap>>(),
        watch_config(),
    )
    .touched_objects();
    let secrets =
        watch(ctx.watched::<PartialObjectMeta<Secret>>(), watch_config()).touched_objects();
    // The applied workloads carrying a deployment's label: one that becomes healthy, fails or
    // goes wakes its deployment to read its health again.
    let workloads = health_watch::health_watches(&ctx);
    controller
        .watches_stream_with(
            workloads,
            |object| object.owner(),
            // The kind of the watched objects matters only to the mapper, which reads their
            // annotation; any of them stands for all.
            ApiResource::erase::<k8s_openapi::api::apps::v1::Deployment>(&()),
        )
        .reconcile_on(
            dependency_changes(&ctx, sees_every_deployment, changed).flat_map(move |changed| {
                futures::stream::iter(dependents(&dependency_store, &changed))
            }),
        )
        .reconcile_on(index_arrivals(&ctx, arrival_store))
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

/// Passes on the deployment a watch event of the controller's own watch is about.
fn pass_on_change(
    changes: &futures::channel::mpsc::UnboundedSender<ObjectKey>,
    event: &Result<watcher::Event<Watched>, watcher::Error>,
) {
    if let Ok(
        watcher::Event::Apply(deployment)
        | watcher::Event::InitApply(deployment)
        | watcher::Event::Delete(deployment),
    ) = event
    {
        // Closed only when the controller stops.
        let _ = changes.unbounded_send(ObjectKey::of(deployment));
    }
}

/// The deployments that changed, as far as the ones depending on them need to know: `changed`,
/// from the controller's own watch, when that watch `sees_every_deployment`. A shard's watch
/// sees only its share, while a deployment may depend on one of another shard, so a shard
/// watches every deployment for this, as metadata (only names are read).
fn dependency_changes(
    ctx: &Context,
    sees_every_deployment: bool,
    changed: futures::channel::mpsc::UnboundedReceiver<ObjectKey>,
) -> futures::stream::BoxStream<'static, ObjectKey> {
    if sees_every_deployment {
        return changed.boxed();
    }
    watch(
        ctx.watched::<PartialObjectMeta<ChartDeployment>>(),
        watch_config(),
    )
    .touched_objects()
    .filter_map(|changed| {
        std::future::ready(match changed {
            Ok(deployment) => Some(ObjectKey::of(&deployment)),
            Err(error) => {
                debug!(%error, "the watch of every deployment failed; it is tried again");
                None
            }
        })
    })
    .boxed()
}

/// The deployments of each repository whose index arrives in this operator's cache: the first
/// fetch after a start, which writes no status when it finds the index the status lists, and
/// every new index (the repository's watch does not wake them for it). A listener that falls
/// too far behind to know which repositories it missed wakes every deployment that takes its
/// chart from a repository instead, so none waits for its interval.
fn index_arrivals(
    ctx: &Context,
    store: Store<Watched>,
) -> impl futures::Stream<Item = ObjectRef<Watched>> + Send + 'static {
    futures::stream::unfold(ctx.indexes.arrivals(), |mut arrivals| async move {
        match arrivals.recv().await {
            Ok(key) => Some((Some(key), arrivals)),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                debug!(
                    missed,
                    "index arrivals missed; waking every repository's deployments"
                );
                Some((None, arrivals))
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    })
    .flat_map(move |arrived| {
        let woken = match arrived {
            Some(key) => using_repository_at(&store, &key),
            None => using_any_repository(&store),
        };
        futures::stream::iter(woken)
    })
}

/// Whether the API server refused a finalizer patch because its test of the current finalizers
/// failed (HTTP 422): the object changed since it was read.
fn is_stale(error: &Error) -> bool {
    matches!(error, Error::Kube { source: kube::Error::Api(status), .. } if status.code == 422)
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
        Step::Add => match finalizer::add(&api, watched, FINALIZER).await {
            // The write wakes the object again through its watch, and this requeue does too in
            // case the watch misses it: a watch opened while the API server restarts can stay
            // silent for minutes, and the object would wait that long.
            Ok(()) => Ok(Action::requeue(AFTER_FINALIZER_ADDED)),
            Err(error) if is_stale(&error) => {
                // The patch tests the finalizers it saw: a refusal means the controller's copy
                // is older than the object, which happens while its watch catches up after an
                // API server restart. Go on with the object as it is now instead of waiting.
                let current = api
                    .get(&kube::ResourceExt::name_any(watched))
                    .await
                    .map_err(Error::kube(format!("reading {}", ObjectKey::of(watched))))?;
                if finalizer::step(&current, FINALIZER) == Step::Add {
                    return Err(error);
                }
                Box::pin(reconcile_step(&current, ctx)).await
            }
            Err(error) => Err(error),
        },
        Step::Apply => match &watched.0 {
            Ok(deployment) => reconcile::reconcile(deployment, ctx).await,
            Err(invalid) => invalid::report(ctx, watched, invalid).await,
        },
        Step::Cleanup { .. } => {
            // The controller's copy can predate the pass that released the finalizer (its
            // watch has not caught up yet): cleaning up from it would run the delete hooks
            // again after the resource is gone. A quorum read says whether it is still ours.
            let key = ObjectKey::of(watched);
            let Some(current) = api
                .get_opt(&key.name)
                .await
                .map_err(Error::kube(format!("reading {key}")))?
            else {
                return Ok(Action::await_change());
            };
            let Step::Cleanup { index } = finalizer::step(&current, FINALIZER) else {
                return Ok(Action::await_change());
            };
            let cleanup = match &current.0 {
                Ok(deployment) => cleanup::cleanup(deployment, ctx).await?,
                Err(_) => cleanup::cleanup_undecodable(&current, ctx).await?,
            };
            if cleanup == cleanup::Cleanup::Waiting {
                return Ok(Action::requeue(cleanup::WAIT_POLL));
            }
            finalizer::release(&api, &current, FINALIZER, index).await?;
            Ok(Action::await_change())
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

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use kube::Client;

    use super::*;
    use crate::fake_api::{answering, status};
    use crate::metrics::Metrics;
    use crate::settings::Settings;
    use crate::values_key::ValuesKey;

    fn being_deleted(uid: &str) -> ChartDeployment {
        let mut deployment: ChartDeployment = serde_json::from_value(serde_json::json!({
            "apiVersion": "capstan.dev/v1alpha1",
            "kind": "ChartDeployment",
            "metadata": {"name": "web", "namespace": "apps", "uid": uid,
                         "finalizers": [FINALIZER]},
            "spec": {"chart": {"repository": {"repositoryRef": {"name": "charts"},
                                              "name": "web"}}},
            "status": {"releaseNumber": 1, "inventory": [
                {"apiVersion": "v1", "kind": "ConfigMap", "namespace": "apps", "name": "web"}]}
        }))
        .unwrap();
        deployment.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::now()));
        deployment
    }

    fn context(client: Client) -> Context {
        Context::new(
            client,
            Settings::default(),
            Arc::new(Metrics::default()),
            ValuesKey::from_bytes(b"test"),
        )
    }

    #[tokio::test]
    async fn a_stale_copy_of_a_deployment_already_let_go_is_not_cleaned_up_again() {
        // The previous pass released the finalizer and the resource is gone; the controller's
        // copy still shows it being deleted with the finalizer.
        let (client, asked) = answering(404, status(404, "NotFound"));
        let stale = DeserializeGuard(Ok(being_deleted("old")));
        let ctx = context(client);
        let step = tokio::time::timeout(Duration::from_secs(10), reconcile_step(&stale, &ctx));
        let action = step.await.map_err(|_| asked.lock().unwrap().clone());
        assert_eq!(action.unwrap().unwrap(), Action::await_change());
        assert_eq!(
            *asked.lock().unwrap(),
            ["GET /apis/capstan.dev/v1alpha1/namespaces/apps/chartdeployments/web"],
            "anything but the read means the hooks or deletes ran again"
        );
    }

    #[tokio::test]
    async fn a_new_deployment_of_the_same_name_is_not_cleaned_up_for_the_old_one() {
        let mut new = being_deleted("new");
        new.metadata.deletion_timestamp = None;
        let (client, asked) = answering(200, serde_json::to_value(&new).unwrap());
        let stale = DeserializeGuard(Ok(being_deleted("old")));
        let ctx = context(client);
        let step = tokio::time::timeout(Duration::from_secs(10), reconcile_step(&stale, &ctx));
        let action = step.await.map_err(|_| asked.lock().unwrap().clone());
        assert_eq!(action.unwrap().unwrap(), Action::await_change());
        let asked = asked.lock().unwrap().clone();
        assert_eq!(asked.len(), 1, "{asked:?}");
    }
}
