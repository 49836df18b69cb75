//! Step 3 of a reconcile: the writes. Server-side apply of the desired objects in install order,
//! each with the right over its fields that [`plan::write_for`] decided.
//!
//! Every object whose live state is known is checked before anything is written, so a conflict
//! with another ChartDeployment applies nothing. When the revision was applied before, an object
//! whose live state already holds every desired field is not written again: a reconcile that
//! finds nothing to correct sends no write.

use std::time::Duration;

use capstan_api::InventoryEntry;
use capstan_api::labels::FIELD_MANAGER;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};

use crate::cluster::ClusterInfo;
use crate::error::{Error, Result};

use super::desired::DesiredObject;
use super::live::{self, Observed};
use super::owner::Owner;
use super::plan::{self, Mode, Write};

/// How long a CRD of the chart may take to become Established.
const CRD_ESTABLISHED_TIMEOUT: Duration = Duration::from_secs(60);

/// What [`apply_all`] did.
#[derive(Debug)]
pub struct Applied {
    /// Every desired object, in install order.
    pub inventory: Vec<InventoryEntry>,
    /// How many objects were written (all of them in [`Mode::All`]).
    pub patched: usize,
}

/// Applies every object, CRDs first (each waited for until Established, then discovery is
/// refreshed so their kinds resolve). `observed` is the live state [`live::observe_all`] read;
/// objects of kinds not served yet are read once their CRD is established. Stops at the first
/// failure: what was applied so far stays, and the next attempt applies everything again.
pub async fn apply_all(
    cluster: &ClusterInfo,
    owner: &Owner,
    objects: &[DesiredObject],
    observed: Vec<Observed>,
    mode: Mode,
) -> Result<Applied> {
    plan::check_before_writing(objects, &observed, owner, mode)?;
    let mut applied = Applied {
        inventory: Vec::with_capacity(objects.len()),
        patched: 0,
    };
    let mut crds_applied = false;
    for (object, observed) in objects.iter().zip(observed) {
        if crds_applied && !object.is_crd {
            cluster.invalidate().await;
            crds_applied = false;
        }
        let api = live::api_for(cluster, object).await?;
        let observed = match observed {
            Observed::NotYetServed => live::read(&api, object).await?,
            known => known,
        };
        let live = match &observed {
            Observed::Present(live) => Some(live),
            Observed::Absent | Observed::NotYetServed => None,
        };
        if let Write::Apply { force } = plan::write_for(object, live, owner, mode)? {
            apply_one(&api, owner, object, force).await?;
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

/// Applies one object. With `force` (an object this deployment owns) fields someone else
/// changed are taken back; without, fields managed by someone else make the apply fail instead
/// of being taken.
async fn apply_one(
    api: &Api<DynamicObject>,
    owner: &Owner,
    object: &DesiredObject,
    force: bool,
) -> Result<()> {
    let mut params = PatchParams::apply(FIELD_MANAGER);
    if force {
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
            source => Error::Apply {
                object: object.describe(),
                source,
            },
        })
}

async fn wait_established(cluster: &ClusterInfo, name: &str) -> Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(cluster.client().clone());
    let established = await_condition(api, name, conditions::is_crd_established());
    match tokio::time::timeout(CRD_ESTABLISHED_TIMEOUT, established).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(Error::CrdWatch {
            name: name.to_string(),
            source: error,
        }),
        Err(_) => Err(Error::CrdNotEstablished {
            name: name.to_string(),
            seconds: CRD_ESTABLISHED_TIMEOUT.as_secs(),
        }),
    }
}
