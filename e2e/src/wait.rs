//! Waiting for objects to reach a state, with watches and a deadline.

use std::fmt::Debug;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use kube::runtime::wait::{self, Condition, await_condition, conditions};
use kube::runtime::watcher;
use kube::{Api, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{E2eError, Result};

/// Waits until the named object satisfies `condition`, watching it rather than polling.
/// Returns the object as it was when the condition held.
pub async fn wait_for<K>(
    api: &Api<K>,
    name: &str,
    what: &str,
    timeout: Duration,
    condition: impl Condition<K>,
) -> Result<Option<K>>
where
    K: Clone + Debug + Send + Serialize + DeserializeOwned + Resource + 'static,
{
    let description = format!("{what} {name}");
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let watch = await_condition(api.clone(), name, |object: Option<&K>| {
            condition.matches_object(object)
        });
        match tokio::time::timeout_at(deadline, watch).await {
            Ok(Ok(object)) => return Ok(object),
            // The API server dropped the watch's history (its watch cache was rebuilt, as when
            // another test applies the CRDs again): watch afresh, the condition is checked on
            // the current object first.
            Ok(Err(wait::Error::ProbeFailed(watcher::Error::WatchError(status))))
                if status.code == 410 => {}
            Ok(Err(source)) => {
                return Err(E2eError::Watch {
                    what: description,
                    source,
                });
            }
            Err(_) => {
                return Err(E2eError::Timeout {
                    what: description,
                    after: timeout,
                    last_seen: last_seen(api, name).await,
                });
            }
        }
    }
}

/// How much of an object a timeout quotes.
const LAST_SEEN_LIMIT: usize = 4000;

/// The named object's status as JSON (the whole object when it has no status), cut to
/// [`LAST_SEEN_LIMIT`] bytes, or why it could not be read.
async fn last_seen<K>(api: &Api<K>, name: &str) -> String
where
    K: Clone + Debug + Serialize + DeserializeOwned,
{
    let object = match api.get_opt(name).await {
        Ok(Some(object)) => object,
        Ok(None) => return "not found".to_string(),
        Err(error) => return format!("could not be read: {error}"),
    };
    let json = match serde_json::to_value(&object) {
        Ok(json) => json,
        Err(error) => return format!("could not be serialized: {error}"),
    };
    let shown = json.get("status").unwrap_or(&json).to_string();
    match shown.char_indices().nth(LAST_SEEN_LIMIT) {
        Some((cut, _)) => format!("{}…", &shown[..cut]),
        None => shown,
    }
}

/// Waits until the object with this uid is gone (deleted, or replaced by one with another uid).
pub async fn wait_for_deletion<K>(
    api: &Api<K>,
    name: &str,
    uid: &str,
    timeout: Duration,
) -> Result<()>
where
    K: Clone + Debug + Send + Serialize + DeserializeOwned + Resource + 'static,
{
    wait_for(
        api,
        name,
        "deletion of",
        timeout,
        conditions::is_deleted(uid),
    )
    .await
    .map(drop)
}

/// Waits until a Deployment reports `Available=True` for its current generation.
pub async fn wait_for_deployment_available(
    api: &Api<Deployment>,
    name: &str,
    timeout: Duration,
) -> Result<Deployment> {
    let available = wait_for(
        api,
        name,
        "availability of Deployment",
        timeout,
        is_deployment_available,
    )
    .await?;
    available.ok_or_else(|| E2eError::Unavailable(format!("Deployment {name} was deleted")))
}

/// True once the Deployment controller has seen the current spec and reports it Available.
pub fn is_deployment_available(deployment: Option<&Deployment>) -> bool {
    let Some(deployment) = deployment else {
        return false;
    };
    let Some(status) = &deployment.status else {
        return false;
    };
    let current = match (status.observed_generation, deployment.metadata.generation) {
        (Some(observed), Some(generation)) => observed >= generation,
        _ => false,
    };
    current
        && status
            .conditions
            .iter()
            .flatten()
            .any(|condition| condition.type_ == "Available" && condition.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentStatus};

    fn deployment(generation: i64, observed: i64, available: &str) -> Deployment {
        let mut deployment = Deployment::default();
        deployment.metadata.generation = Some(generation);
        deployment.status = Some(DeploymentStatus {
            observed_generation: Some(observed),
            conditions: Some(vec![DeploymentCondition {
                type_: "Available".into(),
                status: available.into(),
                ..DeploymentCondition::default()
            }]),
            ..DeploymentStatus::default()
        });
        deployment
    }

    #[test]
    fn available_only_for_the_current_generation() {
        assert!(is_deployment_available(Some(&deployment(2, 2, "True"))));
        assert!(!is_deployment_available(Some(&deployment(3, 2, "True"))));
        assert!(!is_deployment_available(Some(&deployment(2, 2, "False"))));
        assert!(!is_deployment_available(Some(&Deployment::default())));
        assert!(!is_deployment_available(None));
    }
}
