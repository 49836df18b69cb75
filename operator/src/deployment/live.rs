//! Reading the live state of the objects a revision will apply: part of the dereference step,
//! kept apart because it needs the desired objects first.

use capstan_api::InventoryEntry;
use kube::api::{Api, DynamicObject};
use serde_json::Value;

use crate::error::{Error, Result};

use super::acting::Acting;
use super::desired::DesiredObject;
use super::owner::Owner;
use super::{apply, plan};

/// An object as it is in the cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct Live {
    /// The whole object, as JSON.
    pub object: Value,
}

impl Live {
    /// The object's annotations.
    pub fn annotations(&self) -> std::collections::BTreeMap<String, String> {
        self.object["metadata"]["annotations"]
            .as_object()
            .map(|map| {
                map.iter()
                    .filter_map(|(key, value)| Some((key.clone(), value.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// What was found of one desired object.
#[derive(Clone, Debug, PartialEq)]
pub enum Observed {
    /// The object does not exist.
    Absent,
    /// The object does not exist, and the API server's dry run of creating it passed: the
    /// object as it would be created. The dry run [`super::apply::apply_all`] sends before its
    /// first write is done for it already.
    Creatable(Value),
    Present(Live),
    /// Not read: an object of a first install, which the deployment has never listed and which
    /// most likely does not exist. [`super::apply::apply_all`] writes it create-only, which the
    /// API server refuses for any object of that name that exists, so no object is taken over
    /// unseen; the attempt reads it then.
    Unread,
    /// Its kind is not served yet: a CRD of this same revision defines it, and it is read once
    /// that CRD is established.
    NotYetServed,
}

/// How the objects a deployment did not list before are observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewObjects {
    /// Each is sent as the server-side dry run of its creation, which [`super::apply::apply_all`]
    /// would send anyway before its first write, and read only when that finds it exists or is
    /// refused.
    DryRun,
    /// None is sent anything ([`Observed::Unread`]): on a first install every object written is
    /// one created, so a refusal is undone by deleting them ([`super::undo`]) instead of foreseen
    /// by dry runs, and each object costs one request instead of two.
    Unread,
}

/// Observes every object the cluster can already resolve, in order, as the deployment's
/// identity. An object the deployment did not list before (`previous`, its inventory) is most
/// likely absent, on install every one of them: it is observed as `new_objects` says, so an
/// install costs no read per object. A CRD is always read.
pub async fn observe_all(
    acting: &Acting<'_>,
    owner: &Owner,
    objects: &[DesiredObject],
    previous: &[InventoryEntry],
    new_objects: NewObjects,
) -> Result<Vec<Observed>> {
    let new = plan::not_listed(objects, previous);
    let mut observed = Vec::with_capacity(objects.len());
    for (object, new) in objects.iter().zip(new) {
        let Some(api) = acting.api(&object.entry).await? else {
            observed.push(Observed::NotYetServed);
            continue;
        };
        if new && !object.is_crd && new_objects == NewObjects::Unread {
            observed.push(Observed::Unread);
            continue;
        }
        let created = if new && !object.is_crd {
            // A CRD is always read: a policy may leave one that exists, and the dry run of
            // creating it needs a permission reading it does not.
            apply::dry_run_creation(&api, owner, object).await
        } else {
            None
        };
        observed.push(match created {
            Some(answer) => Observed::Creatable(answer),
            None => read(acting, &api, object).await?,
        });
    }
    Ok(observed)
}

/// Reads `object` through `api`; a refused read names the identity and permission.
pub async fn read(
    acting: &Acting<'_>,
    api: &Api<DynamicObject>,
    object: &DesiredObject,
) -> Result<Observed> {
    let found = api
        .get_opt(&object.entry.name)
        .await
        .map_err(|source| match source {
            kube::Error::Api(ref status) if status.code == 403 => {
                acting.refused(object.describe(), source)
            }
            source => Error::ReadLive {
                object: object.describe(),
                source,
            },
        })?;
    Ok(match found {
        None => Observed::Absent,
        Some(live) => Observed::Present(Live {
            object: serde_json::to_value(&live).unwrap_or(Value::Null),
        }),
    })
}

/// Reads the object `entry` names; `None` when it (or its kind) is gone.
pub async fn read_entry(
    acting: &Acting<'_>,
    entry: &capstan_api::InventoryEntry,
) -> Result<Option<Value>> {
    let Some(api) = acting.api(entry).await? else {
        return Ok(None);
    };
    let object = super::desired::describe(entry);
    let found = api
        .get_opt(&entry.name)
        .await
        .map_err(|source| match source {
            kube::Error::Api(ref status) if status.code == 403 => acting.refused(object, source),
            source => Error::ReadLive { object, source },
        })?;
    Ok(found.map(|live| serde_json::to_value(&live).unwrap_or(Value::Null)))
}
