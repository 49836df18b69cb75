//! The operator's watches: kube-runtime's watcher, started afresh when the API server answers the
//! start of a watch with `410 Gone`.
//!
//! The watcher resumes a dropped watch from the last resource version it saw. When the API
//! server answers that request itself with 410 (the version is older than it keeps, as after a
//! restart), kube-runtime 5's watcher keeps asking for the same version, with back-off, for as
//! long as the API server refuses it: the watch is dead until the operator restarts. A 410 that
//! arrives as an event of a started watch is handled by the watcher itself (it lists again).
//! Starting a new watcher lists afresh, and a reflector fed by it replaces its store with the
//! new list when it is complete.

use std::fmt::Debug;

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use kube::Resource;
use kube::api::Api;
use kube::runtime::watcher;
use serde::de::DeserializeOwned;
use tracing::info;

type Events<K> = BoxStream<'static, watcher::Result<watcher::Event<K>>>;

/// The controllers' back-off over all their watches together: none. kube-runtime's default puts
/// one exponential back-off (up to a minute with jitter) on the merged stream of a controller's
/// watches, so an error of any one watch pauses all of them, and after an API server restart,
/// where each watch is answered 410 once in turn, the pauses grew to a minute each and held the
/// controller's watches back for minutes. Each watch has a back-off of its own
/// ([`watch`]), which paces its own retries only.
#[derive(Clone, Copy, Debug, Default)]
pub struct EachWatchBacksOff;

impl Iterator for EachWatchBacksOff {
    type Item = std::time::Duration;

    fn next(&mut self) -> Option<Self::Item> {
        Some(std::time::Duration::ZERO)
    }
}

impl kube::runtime::utils::Backoff for EachWatchBacksOff {
    fn reset(&mut self) {}
}

/// A watch of the operator: [`relisting`], with a back-off of its own that paces only its own
/// retries (the controllers take [`EachWatchBacksOff`]).
pub fn watch<K>(
    api: Api<K>,
    config: watcher::Config,
) -> impl Stream<Item = watcher::Result<watcher::Event<K>>> + Send + 'static
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    use kube::runtime::WatchStreamExt;
    relisting(api, config).default_backoff()
}

/// [`watcher::watcher`] over `api`, replaced by a new one (which lists again) whenever the API
/// server refuses to resume a watch with 410. The error is still passed on, so a back-off after
/// this stream applies to the new list as to any failure.
pub fn relisting<K>(
    api: Api<K>,
    config: watcher::Config,
) -> impl Stream<Item = watcher::Result<watcher::Event<K>>> + Send + 'static
where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let watched = api.resource_url().to_string();
    futures::stream::unfold(None::<Events<K>>, move |running| {
        let (api, config, watched) = (api.clone(), config.clone(), watched.clone());
        async move {
            let mut events = running.unwrap_or_else(|| watcher::watcher(api, config).boxed());
            let event = events.next().await?;
            if resume_refused(&event) {
                info!(%watched, "the API server no longer has the resource version this watch resumes from (410); listing again");
                return Some((event, None));
            }
            Some((event, Some(events)))
        }
    })
}

/// Whether `event` is the API server's 410 to a request that resumes a watch.
fn resume_refused<K>(event: &watcher::Result<watcher::Event<K>>) -> bool {
    matches!(
        event,
        Err(watcher::Error::WatchStartFailed(kube::Error::Api(status))) if status.code == 410
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::Client;
    use kube::client::Body;
    use std::sync::{Arc, Mutex};

    /// A client whose API server lists one ConfigMap at resource version 5 and answers every
    /// watch request with 410; counts the lists.
    fn expiring_api_server() -> (Api<ConfigMap>, Arc<Mutex<usize>>) {
        let lists = Arc::new(Mutex::new(0));
        let counted = lists.clone();
        let service = tower::service_fn(move |request: http::Request<Body>| {
            let watch = request
                .uri()
                .query()
                .unwrap_or_default()
                .contains("watch=true");
            if !watch {
                *counted.lock().unwrap() += 1;
            }
            let (status, body) = if watch {
                (
                    410,
                    serde_json::json!({"apiVersion": "v1", "kind": "Status", "status": "Failure",
                        "message": "too old resource version: 5 (80)", "reason": "Expired", "code": 410}),
                )
            } else {
                (
                    200,
                    serde_json::json!({"apiVersion": "v1", "kind": "ConfigMapList",
                        "metadata": {"resourceVersion": "5"},
                        "items": [{"metadata": {"name": "a", "namespace": "apps", "resourceVersion": "5"}}]}),
                )
            };
            async move {
                http::Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(Body::from(serde_json::to_vec(&body).unwrap_or_default()))
            }
        });
        (Api::namespaced(Client::new(service, "apps"), "apps"), lists)
    }

    #[tokio::test]
    async fn a_watch_whose_resume_is_refused_with_410_lists_again() {
        let (api, lists) = expiring_api_server();
        let events: Vec<_> = relisting(api, watcher::Config::default())
            .take(12)
            .collect()
            .await;
        assert!(events.iter().any(resume_refused), "{events:?}");
        assert!(*lists.lock().unwrap() >= 2, "listed once only: {events:?}");
    }

    /// Why [`relisting`] exists: kube-runtime's own watcher asks again and again to resume from
    /// the version the API server refused, and never lists again.
    #[tokio::test]
    async fn the_plain_watcher_never_lists_again_after_a_refused_resume() {
        let (api, lists) = expiring_api_server();
        let events: Vec<_> = watcher::watcher(api, watcher::Config::default())
            .take(12)
            .collect()
            .await;
        assert_eq!(
            events.iter().filter(|event| resume_refused(event)).count(),
            9
        );
        assert_eq!(*lists.lock().unwrap(), 1);
    }

    fn api_error(code: u16) -> kube::Error {
        let status: kube::core::Status = serde_json::from_value(serde_json::json!({
            "status": "Failure", "message": "too old resource version", "reason": "Expired",
            "code": code,
        }))
        .unwrap();
        kube::Error::Api(status.into())
    }

    #[test]
    fn only_a_refused_resume_starts_the_watch_again() {
        let refused: watcher::Result<watcher::Event<ConfigMap>> =
            Err(watcher::Error::WatchStartFailed(api_error(410)));
        assert!(resume_refused(&refused));
        // Any other failure to start is retried by the watcher with the version it has.
        let unavailable: watcher::Result<watcher::Event<ConfigMap>> =
            Err(watcher::Error::WatchStartFailed(api_error(503)));
        assert!(!resume_refused(&unavailable));
        // A 410 inside a started watch, or of a list, the watcher handles by listing again.
        let in_stream: watcher::Result<watcher::Event<ConfigMap>> =
            Err(watcher::Error::InitialListFailed(api_error(410)));
        assert!(!resume_refused(&in_stream));
        let event: watcher::Result<watcher::Event<ConfigMap>> = Ok(watcher::Event::Init);
        assert!(!resume_refused(&event));
    }
}
