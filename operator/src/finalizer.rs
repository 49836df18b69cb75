//! The operator's finalizer on its own resources: added before anything is applied, removed only
//! after cleanup succeeded, so a resource is never gone while objects it applied remain.
//!
//! kube's `finalizer` helper needs the resource type to serialize, which a
//! [`kube::core::DeserializeGuard`] (an object that may not decode) cannot; these two steps work
//! on any resource through JSON patches that test what they change, so a concurrent edit makes
//! them fail and retry instead of dropping someone else's finalizer.

use std::str::FromStr;

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, PatchOperation, RemoveOperation, TestOperation};
use kube::api::{Api, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// What the finalizer says to do with an object.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Not being deleted and the finalizer is in place: reconcile it.
    Apply,
    /// Being deleted with the finalizer at this index: clean up, then [`release`].
    Cleanup { index: usize },
    /// Being deleted and not (or no longer) ours to clean up.
    Nothing,
    /// Not being deleted and the finalizer is missing: add it ([`add`]) first.
    Add,
}

/// Where `object` stands with respect to the finalizer `name`.
pub fn step<K: Resource>(object: &K, name: &str) -> Step {
    let index = object.finalizers().iter().position(|f| f == name);
    match (index, object.meta().deletion_timestamp.is_some()) {
        (Some(_), false) => Step::Apply,
        (Some(index), true) => Step::Cleanup { index },
        (None, true) => Step::Nothing,
        (None, false) => Step::Add,
    }
}

/// Adds the finalizer `name` to `object`.
pub async fn add<K>(api: &Api<K>, object: &K, name: &str) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let finalizers = object.finalizers();
    let operations = if finalizers.is_empty() {
        vec![
            test("/metadata/finalizers", serde_json::Value::Null),
            PatchOperation::Add(AddOperation {
                path: pointer("/metadata/finalizers"),
                value: serde_json::json!([name]),
            }),
        ]
    } else {
        vec![
            test("/metadata/finalizers", serde_json::json!(finalizers)),
            PatchOperation::Add(AddOperation {
                path: pointer("/metadata/finalizers/-"),
                value: name.into(),
            }),
        ]
    };
    patch(api, object, operations, "adding the finalizer to").await
}

/// Removes the finalizer `name`, found at `index`, from `object`.
pub async fn release<K>(api: &Api<K>, object: &K, name: &str, index: usize) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    let path = format!("/metadata/finalizers/{index}");
    let operations = vec![
        test(&path, name.into()),
        PatchOperation::Remove(RemoveOperation {
            path: pointer(&path),
        }),
    ];
    patch(api, object, operations, "removing the finalizer from").await
}

async fn patch<K>(
    api: &Api<K>,
    object: &K,
    operations: Vec<PatchOperation>,
    action: &str,
) -> Result<()>
where
    K: Resource + Clone + DeserializeOwned + std::fmt::Debug,
{
    api.patch(
        &object.name_any(),
        &PatchParams::default(),
        &Patch::Json::<()>(json_patch::Patch(operations)),
    )
    .await
    .map(drop)
    .map_err(Error::kube(format!(
        "{action} {}/{}",
        object.namespace().unwrap_or_default(),
        object.name_any()
    )))
}

fn test(path: &str, value: serde_json::Value) -> PatchOperation {
    PatchOperation::Test(TestOperation {
        path: pointer(path),
        value,
    })
}

fn pointer(path: &str) -> PointerBuf {
    PointerBuf::from_str(path).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    #[test]
    fn the_step_follows_deletion_and_the_finalizer() {
        let mut object = ConfigMap::default();
        assert_eq!(step(&object, "f"), Step::Add);
        object.metadata.finalizers = Some(vec!["other".into(), "f".into()]);
        assert_eq!(step(&object, "f"), Step::Apply);
        object.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::now()));
        assert_eq!(step(&object, "f"), Step::Cleanup { index: 1 });
        object.metadata.finalizers = Some(vec!["other".into()]);
        assert_eq!(step(&object, "f"), Step::Nothing);
    }
}
