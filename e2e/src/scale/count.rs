//! Waiting until many objects reach a state, with one watch of their namespace: cheap for the API
//! server whatever their number, and exact to the event (no polling interval in the figures).

use std::collections::HashMap;
use std::fmt::Debug;
use std::time::Duration;

use futures::TryStreamExt;
use kube::runtime::watcher;
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::error::{E2eError, Result};

/// Waits until at least `wanted` objects of `api` satisfy `done`, or fails after `timeout` saying
/// how many did. Objects are told apart by name; a deleted one no longer counts.
pub async fn wait_until_count<K>(
    api: Api<K>,
    what: &str,
    wanted: usize,
    timeout: Duration,
    done: impl Fn(&K) -> bool,
) -> Result<()>
where
    K: Resource + Clone + Debug + DeserializeOwned + Send + 'static,
{
    let mut state: HashMap<String, bool> = HashMap::new();
    let counting =
        async {
            let mut events = std::pin::pin!(watcher(api, watcher::Config::default()));
            while let Some(event) = events.try_next().await.map_err(|error| {
                E2eError::Unavailable(format!("watching {what} failed: {error}"))
            })? {
                match event {
                    watcher::Event::Apply(object) | watcher::Event::InitApply(object) => {
                        state.insert(object.name_any(), done(&object));
                    }
                    watcher::Event::Delete(object) => {
                        state.remove(&object.name_any());
                    }
                    watcher::Event::Init | watcher::Event::InitDone => {}
                }
                if state.values().filter(|done| **done).count() >= wanted {
                    return Ok(());
                }
            }
            Err(E2eError::Unavailable(format!("the watch of {what} ended")))
        };
    match tokio::time::timeout(timeout, counting).await {
        Ok(result) => result,
        Err(_) => Err(E2eError::Unavailable(format!(
            "timed out after {timeout:?} waiting for {wanted} {what}: {} of {} seen were",
            state.values().filter(|done| **done).count(),
            state.len()
        ))),
    }
}

/// The names of the objects of `api` that do not satisfy `done` (for reporting what is stuck).
pub async fn not_done<K>(api: &Api<K>, done: impl Fn(&K) -> bool) -> Result<Vec<String>>
where
    K: Resource + Clone + Debug + DeserializeOwned,
{
    let objects = api.list(&Default::default()).await?;
    Ok(objects
        .items
        .iter()
        .filter(|object| !done(object))
        .map(ResourceExt::name_any)
        .collect())
}
