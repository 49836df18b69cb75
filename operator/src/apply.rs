//! Server-side apply of the desired objects, in install order, with ownership checks.

use std::time::Duration;

use capstan_api::InventoryEntry;
use capstan_api::labels::FIELD_MANAGER;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};

use crate::cluster::ClusterInfo;
use crate::desired::DesiredObject;
use crate::error::{Error, Result};
use crate::owner::{Owner, Ownership, ownership};

/// How long a CRD of the chart may take to become Established.
const CRD_ESTABLISHED_TIMEOUT: Duration = Duration::from_secs(60);

/// Applies every object, CRDs first (each waited for until Established, then discovery is
/// refreshed so their kinds resolve). Stops at the first failure: what was applied so far stays,
/// and the next attempt applies everything again. Returns the inventory of what was applied.
pub async fn apply_all(
    cluster: &ClusterInfo,
    owner: &Owner,
    objects: &[DesiredObject],
) -> Result<Vec<InventoryEntry>> {
    let mut applied = Vec::with_capacity(objects.len());
    let mut crds_applied = false;
    for object in objects {
        if crds_applied && !object.is_crd {
            cluster.invalidate().await;
            crds_applied = false;
        }
        apply_one(cluster, owner, object).await?;
        if object.is_crd {
            wait_established(cluster, &object.entry.name).await?;
            crds_applied = true;
        }
        applied.push(object.entry.clone());
    }
    Ok(applied)
}

async fn apply_one(cluster: &ClusterInfo, owner: &Owner, object: &DesiredObject) -> Result<()> {
    let entry = &object.entry;
    let api = cluster
        .dynamic_api(&entry.api_version, &entry.kind, entry.namespace.as_deref())
        .await?
        .ok_or_else(|| Error::UnknownKind {
            api_version: entry.api_version.clone(),
            kind: entry.kind.clone(),
        })?;
    let apply_error = |error: kube::Error| Error::Apply {
        object: object.describe(),
        message: error.to_string(),
    };
    let live = api
        .get_metadata_opt(&entry.name)
        .await
        .map_err(apply_error)?;
    let decision = ownership(
        live.as_ref()
            .and_then(|live| live.metadata.annotations.as_ref()),
        owner,
    );
    let mut params = PatchParams::apply(FIELD_MANAGER);
    match decision {
        Ownership::OtherDeployment(claimant) => {
            return Err(Error::Conflict(format!(
                "{} belongs to ChartDeployment {claimant}; remove it from one of the two charts \
                 or delete that deployment first",
                object.describe()
            )));
        }
        Ownership::Ours => params = params.force(),
        Ownership::Unclaimed => {}
    }
    apply_patch(&api, &entry.name, &object.object, &params)
        .await
        .map_err(|error| match error {
            kube::Error::Api(status) if status.code == 409 => Error::Conflict(format!(
                "{} exists and its fields are managed by someone else ({}); delete it or annotate \
                 it with capstan.dev/deployment: {} to hand it over",
                object.describe(),
                status.message,
                owner.annotation_value()
            )),
            other => apply_error(other),
        })
}

async fn apply_patch(
    api: &Api<DynamicObject>,
    name: &str,
    object: &serde_json::Value,
    params: &PatchParams,
) -> Result<(), kube::Error> {
    api.patch(name, params, &Patch::Apply(object))
        .await
        .map(drop)
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
