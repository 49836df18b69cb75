//! Writing what happened where users look: the resource's status and its Events.

use capstan_api::labels::FIELD_MANAGER;
use k8s_openapi::NamespaceResourceScope;
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::warn;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::events::EventType;
use crate::object_key::ObjectKey;

/// Replaces `object`'s status by server-side apply with the operator's field manager, so the
/// status has one owner and no read-modify-write race.
pub async fn write_status<K>(ctx: &Context, object: &K, status: &impl Serialize) -> Result<()>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &object.namespace().unwrap_or_default());
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    api.patch_status(
        &object.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(Error::kube(format!(
        "writing the status of {} {}",
        K::kind(&()),
        ObjectKey::of(object)
    )))?;
    Ok(())
}

/// Publishes an Event about `object`. A failure to publish is logged, never fatal: the status
/// already carries the outcome.
pub async fn publish<K>(ctx: &Context, object: &K, type_: EventType, reason: &str, note: String)
where
    K: Resource<DynamicType = ()>,
{
    let reference = object.object_ref(&());
    if let Err(error) = ctx.recorder.publish(&reference, type_, reason, &note).await {
        warn!(%error, "publishing an event failed");
    }
}

/// [`publish`] about the object `key` names (one of the operator's own kinds), for when only
/// its key is at hand.
pub async fn publish_about(
    ctx: &Context,
    key: &crate::object_key::KindKey,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let reference = k8s_openapi::api::core::v1::ObjectReference {
        api_version: Some(format!("{}/{}", capstan_api::GROUP, capstan_api::VERSION)),
        kind: Some(key.kind.to_string()),
        namespace: Some(key.key.namespace.clone()),
        name: Some(key.key.name.clone()),
        ..Default::default()
    };
    if let Err(error) = ctx.recorder.publish(&reference, type_, reason, &note).await {
        warn!(%error, "publishing an event failed");
    }
}
