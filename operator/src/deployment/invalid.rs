//! Resources that cannot be decoded: stored before the CRD validated them (an older CRD, or one
//! applied with validation off), or written by a newer operator. They are reported on the object
//! itself (a `Ready=False` condition with reason `InvalidSpec`, and an event) while every other
//! resource keeps being reconciled.

use crate::events::EventType;
use kube::api::{Api, Patch, PatchParams};
use kube::core::error_boundary::InvalidObject;
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use serde_json::json;

use capstan_api::labels::FIELD_MANAGER;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::object_key::KindKey;
use crate::report;

use k8s_openapi::NamespaceResourceScope;
use serde::de::DeserializeOwned;

/// Reports `invalid` on the object `watched`, once per generation.
pub async fn report<K>(ctx: &Context, watched: &K, invalid: &InvalidObject) -> Result<Action>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let key = KindKey::of(watched);
    let generation = watched.meta().generation;
    if !ctx.first_report_of_invalid(&key, watched.meta().uid.as_deref(), generation) {
        return Ok(Action::await_change());
    }
    let message = format!(
        "the spec cannot be read, so nothing of it is applied: {}; correct it (kubectl edit \
         {} {})",
        invalid.error,
        key.kind.to_lowercase(),
        key.key.name
    );
    tracing::warn!(object = %key, error = %invalid.error, "undecodable resource");
    // A merge patch of the conditions only: the rest of the status (a deployment's inventory and
    // revisions) stays, so what was applied is still pruned and deleted correctly.
    let patch = json!({
        "status": {
            "observedGeneration": generation,
            "conditions": [
                condition("Ready", "False", &message),
                condition("Stalled", "True", &message),
            ],
        }
    });
    Api::<K>::namespaced(ctx.client.clone(), &key.key.namespace)
        .patch_status(
            &watched.name_any(),
            &PatchParams::apply(FIELD_MANAGER),
            &Patch::Merge(&patch),
        )
        .await
        .map_err(Error::kube(format!("writing the status of {key}")))?;
    report::publish(ctx, watched, EventType::Warning, "InvalidSpec", message).await;
    Ok(Action::await_change())
}

fn condition(type_: &str, status: &str, message: &str) -> serde_json::Value {
    json!({
        "type": type_,
        "status": status,
        "reason": "InvalidSpec",
        "message": message,
        "lastTransitionTime": k8s_openapi::jiff::Timestamp::now().to_string(),
    })
}
