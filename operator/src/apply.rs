//! Server-side apply of the desired objects, in install order, with ownership checks.
//!
//! Ownership is checked for every object before anything is applied, so a conflict with another
//! ChartDeployment applies nothing. When the revision was applied before, an object whose live
//! state already holds every desired field is not patched again: a reconcile that finds nothing
//! to correct sends no write.

use std::time::Duration;

use capstan_api::InventoryEntry;
use capstan_api::labels::FIELD_MANAGER;
use k8s_openapi::ByteString;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};
use serde_json::Value;

use crate::cluster::ClusterInfo;
use crate::desired::DesiredObject;
use crate::error::{Error, Result};
use crate::owner::{Owner, Ownership, ownership};

/// How long a CRD of the chart may take to become Established.
const CRD_ESTABLISHED_TIMEOUT: Duration = Duration::from_secs(60);

/// How [`apply_all`] treats objects whose live state already matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A new revision: apply every object, so fields the chart no longer sets are dropped.
    All,
    /// The revision last applied: patch only objects that drifted from it.
    OnlyDrifted,
}

/// What [`apply_all`] did.
#[derive(Debug)]
pub struct Applied {
    /// Every desired object, in install order.
    pub inventory: Vec<InventoryEntry>,
    /// How many objects were patched (all of them in [`Mode::All`]).
    pub patched: usize,
}

/// Applies every object, CRDs first (each waited for until Established, then discovery is
/// refreshed so their kinds resolve). First reads every live object the cluster can already
/// resolve and fails with a conflict, before writing anything, when another ChartDeployment owns
/// one. Stops at the first failure: what was applied so far stays, and the next attempt applies
/// everything again.
pub async fn apply_all(
    cluster: &ClusterInfo,
    owner: &Owner,
    objects: &[DesiredObject],
    mode: Mode,
) -> Result<Applied> {
    let mut live = Vec::with_capacity(objects.len());
    for object in objects {
        let found = match api_for(cluster, object).await {
            Ok(api) => Some(read_live(&api, object, owner).await?),
            // A kind defined by a CRD of this same chart resolves once that CRD is applied.
            Err(Error::UnknownKind { .. }) => None,
            Err(error) => return Err(error),
        };
        live.push(found);
    }
    let mut applied = Applied {
        inventory: Vec::with_capacity(objects.len()),
        patched: 0,
    };
    let mut crds_applied = false;
    for (object, live) in objects.iter().zip(live) {
        if crds_applied && !object.is_crd {
            cluster.invalidate().await;
            crds_applied = false;
        }
        let api = api_for(cluster, object).await?;
        let live = match live {
            Some(live) => live,
            None => read_live(&api, object, owner).await?,
        };
        let up_to_date = mode == Mode::OnlyDrifted
            && live
                .as_ref()
                .is_some_and(|live| holds(&live.object, &comparable(&object.object)));
        if !up_to_date {
            let ours = live.as_ref().is_some_and(|live| live.ours);
            apply_one(&api, owner, object, ours).await?;
            applied.patched += 1;
        }
        if object.is_crd {
            wait_established(cluster, &object.entry.name).await?;
            crds_applied = true;
        }
        applied.inventory.push(object.entry.clone());
    }
    Ok(applied)
}

async fn api_for(cluster: &ClusterInfo, object: &DesiredObject) -> Result<Api<DynamicObject>> {
    let entry = &object.entry;
    cluster
        .dynamic_api(&entry.api_version, &entry.kind, entry.namespace.as_deref())
        .await?
        .ok_or_else(|| Error::UnknownKind {
            api_version: entry.api_version.clone(),
            kind: entry.kind.clone(),
        })
}

/// An object as it is in the cluster.
struct Live {
    object: Value,
    /// Claimed by this ChartDeployment (not merely unclaimed).
    ours: bool,
}

/// The live object (`None` when it does not exist); a conflict when another ChartDeployment
/// owns it.
async fn read_live(
    api: &Api<DynamicObject>,
    object: &DesiredObject,
    owner: &Owner,
) -> Result<Option<Live>> {
    let live = api
        .get_opt(&object.entry.name)
        .await
        .map_err(|error| apply_error(object, error))?;
    let Some(live) = live else {
        return Ok(None);
    };
    let ours = match ownership(live.metadata.annotations.as_ref(), owner) {
        Ownership::OtherDeployment(claimant) => {
            return Err(Error::Conflict(format!(
                "{} belongs to ChartDeployment {claimant}; remove it from one of the two charts \
                 or delete that deployment first",
                object.describe()
            )));
        }
        Ownership::Ours => true,
        Ownership::Unclaimed => false,
    };
    let object = serde_json::to_value(&live).map_err(|error| apply_error(object, error))?;
    Ok(Some(Live { object, ours }))
}

fn apply_error(object: &DesiredObject, error: impl std::fmt::Display) -> Error {
    Error::Apply {
        object: object.describe(),
        message: error.to_string(),
    }
}

/// Applies one object. `ours` (claimed by this deployment) is applied with force, taking back
/// fields someone else changed; an unclaimed one without, so that fields managed by someone else
/// make the apply fail instead of being taken.
async fn apply_one(
    api: &Api<DynamicObject>,
    owner: &Owner,
    object: &DesiredObject,
    ours: bool,
) -> Result<()> {
    let mut params = PatchParams::apply(FIELD_MANAGER);
    if ours {
        params = params.force();
    }
    api.patch(&object.entry.name, &params, &Patch::Apply(&object.object))
        .await
        .map(drop)
        .map_err(|error| match error {
            kube::Error::Api(status) if status.code == 409 => Error::Conflict(format!(
                "{} exists and its fields are managed by someone else ({}); delete it or annotate \
                 it with capstan.dev/deployment: {} to hand it over",
                object.describe(),
                status.message,
                owner.annotation_value()
            )),
            other => apply_error(object, other),
        })
}

/// The desired object as the API server stores it, for comparison with the live one: a
/// Secret's `stringData` becomes base64 `data`, and `status` (never applied) is left out.
fn comparable(desired: &Value) -> Value {
    let mut object = desired.clone();
    let Some(map) = object.as_object_mut() else {
        return object;
    };
    map.remove("status");
    let is_secret = map.get("apiVersion").and_then(Value::as_str) == Some("v1")
        && map.get("kind").and_then(Value::as_str) == Some("Secret");
    if is_secret && let Some(Value::Object(strings)) = map.remove("stringData") {
        let data = map
            .entry("data")
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        if let Some(data) = data.as_object_mut() {
            for (key, value) in strings {
                let bytes = match value {
                    Value::String(text) => text.into_bytes(),
                    other => other.to_string().into_bytes(),
                };
                let encoded = serde_json::to_value(ByteString(bytes)).unwrap_or(Value::Null);
                data.insert(key, encoded);
            }
        }
    }
    object
}

/// Whether `live` holds every field of `desired` with the same value: maps may have more keys,
/// lists must match element by element, numbers compare by value, and a desired `null` matches
/// an absent field.
fn holds(live: &Value, desired: &Value) -> bool {
    match (live, desired) {
        (Value::Object(live), Value::Object(desired)) => {
            desired.iter().all(|(key, wanted)| match live.get(key) {
                Some(found) => holds(found, wanted),
                None => wanted.is_null(),
            })
        }
        (Value::Array(live), Value::Array(desired)) => {
            live.len() == desired.len() && live.iter().zip(desired).all(|(l, d)| holds(l, d))
        }
        (Value::Number(live), Value::Number(desired)) => {
            live == desired || live.as_f64() == desired.as_f64()
        }
        _ => live == desired,
    }
}

async fn wait_established(cluster: &ClusterInfo, name: &str) -> Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(cluster.client().clone());
    let established = await_condition(api, name, conditions::is_crd_established());
    match tokio::time::timeout(CRD_ESTABLISHED_TIMEOUT, established).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(Error::Apply {
            object: format!("CustomResourceDefinition {name}"),
            message: error.to_string(),
        }),
        Err(_) => Err(Error::CrdNotEstablished {
            name: name.to_string(),
            seconds: CRD_ESTABLISHED_TIMEOUT.as_secs(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn live_objects_with_extra_fields_hold_the_desired_ones() {
        let live = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "uid": "u", "resourceVersion": "7",
                         "labels": {"capstan.dev/deployment": "ns.web", "other": "x"}},
            "data": {"greeting": "hello"},
            "spec": {"ports": [{"port": 80, "protocol": "TCP"}], "replicas": 2}
        });
        let desired = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "labels": {"capstan.dev/deployment": "ns.web"}},
            "data": {"greeting": "hello"},
            "spec": {"ports": [{"port": 80}], "replicas": 2.0, "paused": null}
        });
        assert!(holds(&live, &desired));
    }

    #[test]
    fn changed_missing_or_reordered_fields_are_drift() {
        let live = json!({"data": {"greeting": "hello"}, "list": [1, 2]});
        assert!(!holds(&live, &json!({"data": {"greeting": "hola"}})));
        assert!(!holds(&live, &json!({"data": {"farewell": "bye"}})));
        assert!(!holds(&live, &json!({"list": [2, 1]})));
        assert!(!holds(&live, &json!({"list": [1]})));
        assert!(!holds(&live, &json!({"data": "x"})));
    }

    #[test]
    fn secrets_compare_by_their_stored_form() {
        let desired = json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "stringData": {"password": "hunter2"}, "data": {"user": "YWRtaW4="},
            "status": {"ignored": true}
        });
        let live = json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"password": "aHVudGVyMg==", "user": "YWRtaW4="}, "type": "Opaque"
        });
        assert!(holds(&live, &comparable(&desired)));
        let changed = json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"password": "b3RoZXI=", "user": "YWRtaW4="}
        });
        assert!(!holds(&changed, &comparable(&desired)));
    }
}
