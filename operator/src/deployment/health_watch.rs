//! The health watches: the applied objects whose health a deployment awaits, decoded only as far
//! as their health and their deployment need, and passed on only when they can end its wait.

use std::borrow::Cow;
use std::collections::BTreeMap;

use capstan_api::labels::{DEPLOYMENT_ANNOTATION, DEPLOYMENT_LABEL};
use futures::StreamExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::Resource;
use kube::api::{Api, ApiResource};
use kube::core::DynamicResourceScope;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::context::{Context, watch_config};
use crate::watch::watch;

use super::controller::Watched;
use super::health;

/// Objects per page of a health watch's list: a page is decoded at once, and a smaller one
/// keeps the operator's memory down when it lists thousands of workloads at a start.
const LIST_PAGE: u32 = 100;

/// An applied object as a health watch reads it: its name, namespace, resource version,
/// generation and annotations, the spec fields health reads and its status. The pod template and
/// the managed fields, most of a workload's bytes, are skipped while decoding.
#[derive(Clone, Debug, Deserialize)]
#[serde(from = "Decoded")]
pub struct Workload {
    metadata: ObjectMeta,
    spec: WorkloadSpec,
    status: Value,
    /// Its kind's `apiVersion` and `kind`: set by its watch, as the items of a list lack them.
    #[serde(skip)]
    kind: Option<(String, String)>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Decoded {
    #[serde(default)]
    metadata: DecodedMeta,
    #[serde(default)]
    spec: WorkloadSpec,
    #[serde(default)]
    status: Value,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DecodedMeta {
    name: Option<String>,
    namespace: Option<String>,
    resource_version: Option<String>,
    generation: Option<i64>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

/// What health reads of a workload's spec.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WorkloadSpec {
    replicas: Option<i64>,
    update_strategy: Option<UpdateStrategy>,
}

#[derive(Clone, Debug, Deserialize)]
struct UpdateStrategy {
    #[serde(rename = "type")]
    type_: Option<String>,
}

impl From<Decoded> for Workload {
    fn from(decoded: Decoded) -> Self {
        let DecodedMeta {
            name,
            namespace,
            resource_version,
            generation,
            mut annotations,
        } = decoded.metadata;
        // Only the deployment's annotation is read; others can be large.
        annotations.retain(|key, _| key == DEPLOYMENT_ANNOTATION);
        Workload {
            metadata: ObjectMeta {
                name,
                namespace,
                resource_version,
                generation,
                annotations: Some(annotations),
                ..ObjectMeta::default()
            },
            spec: decoded.spec,
            status: decoded.status,
            kind: None,
        }
    }
}

impl Workload {
    /// The object as [`health::of`] reads it.
    fn live(&self) -> Value {
        let (api_version, kind) = self.kind.clone().unwrap_or_default();
        json!({
            "apiVersion": api_version,
            "kind": kind,
            "metadata": {"generation": self.metadata.generation},
            "spec": {
                "replicas": self.spec.replicas,
                "updateStrategy": {
                    "type": self.spec.update_strategy.as_ref().and_then(|s| s.type_.clone()),
                },
            },
            "status": self.status,
        })
    }

    /// The deployment its annotation names.
    pub fn owner(&self) -> Option<ObjectRef<Watched>> {
        let owner = self
            .metadata
            .annotations
            .as_ref()?
            .get(DEPLOYMENT_ANNOTATION)?;
        let (namespace, name) = owner.split_once('/')?;
        Some(ObjectRef::new(name).within(namespace))
    }
}

impl Resource for Workload {
    type DynamicType = ApiResource;
    type Scope = DynamicResourceScope;

    fn group(resource: &ApiResource) -> Cow<'_, str> {
        resource.group.as_str().into()
    }

    fn version(resource: &ApiResource) -> Cow<'_, str> {
        resource.version.as_str().into()
    }

    fn kind(resource: &ApiResource) -> Cow<'_, str> {
        resource.kind.as_str().into()
    }

    fn api_version(resource: &ApiResource) -> Cow<'_, str> {
        resource.api_version.as_str().into()
    }

    fn plural(resource: &ApiResource) -> Cow<'_, str> {
        resource.plural.as_str().into()
    }

    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// One watch per kind whose health is read from its status ([`health::watched_kinds`]), of the
/// objects deployments applied (those carrying a deployment's label), passing on only the
/// events that can end a deployment's wait ([`settled_or_gone`]).
pub fn health_watches(
    ctx: &Context,
) -> impl futures::Stream<Item = Result<Workload, watcher::Error>> + Send + 'static {
    let streams = health::watched_kinds().map(|resource| {
        let api: Api<Workload> = match &ctx.settings.watch_namespace {
            Some(namespace) => Api::namespaced_with(ctx.client.clone(), namespace, &resource),
            None => Api::all_with(ctx.client.clone(), &resource),
        };
        let config = watch_config().labels(DEPLOYMENT_LABEL).page_size(LIST_PAGE);
        let kind = (resource.api_version.clone(), resource.kind.clone());
        watch(api, config)
            .filter_map(move |event| std::future::ready(settled_or_gone(event, &kind)))
            .boxed()
    });
    futures::stream::select_all(streams)
}

/// The object of a health watch's event (of objects of `kind`: apiVersion and kind) when it can
/// end its deployment's wait: it was deleted, or it is healthy or failed ([`health::settled`]).
/// An object still on its way wakes nobody: a Deployment changes its status several times
/// before it is available, and each wake cost its deployment a reconcile, a read of the object
/// and often a status write only to report the same wait. What is awaited is still read again
/// at the recheck interval.
pub fn settled_or_gone(
    event: Result<watcher::Event<Workload>, watcher::Error>,
    kind: &(String, String),
) -> Option<Result<Workload, watcher::Error>> {
    match event {
        Ok(watcher::Event::Delete(object)) => Some(Ok(object)),
        Ok(watcher::Event::Apply(mut object) | watcher::Event::InitApply(mut object)) => {
            object.kind = Some(kind.clone());
            health::settled(&object.live()).then_some(Ok(object))
        }
        Ok(watcher::Event::Init | watcher::Event::InitDone) => None,
        Err(error) => Some(Err(error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment_kind() -> (String, String) {
        ("apps/v1".into(), "Deployment".into())
    }

    /// A Deployment as a list's item: no apiVersion or kind; a pod template and managed fields.
    fn workload(available: i64) -> Workload {
        serde_json::from_value(json!({
            "metadata": {"name": "web", "namespace": "apps", "generation": 1,
                         "resourceVersion": "7",
                         "annotations": {DEPLOYMENT_ANNOTATION: "apps/web",
                                         "note": "x".repeat(4096)},
                         "managedFields": [{"manager": "capstan", "fieldsV1": {"f:spec": {}}}]},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "web"}]}}},
            "status": {"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1,
                       "availableReplicas": available}
        }))
        .unwrap()
    }

    #[test]
    fn a_workload_keeps_only_what_its_health_and_owner_need() {
        let web = workload(1);
        assert_eq!(web.meta().resource_version.as_deref(), Some("7"));
        assert!(web.meta().managed_fields.is_none());
        assert_eq!(web.meta().annotations.as_ref().map(BTreeMap::len), Some(1));
        assert_eq!(web.owner(), Some(ObjectRef::new("web").within("apps")));
        let shown = serde_json::to_string(&web.live()).unwrap();
        assert!(!shown.contains("containers"), "{shown}");
    }

    #[test]
    fn a_workload_wakes_its_deployment_once_healthy_failed_or_gone() {
        let kind = deployment_kind();
        let woken = |event| settled_or_gone(Ok(event), &kind).map(|object| object.unwrap().owner());
        assert_eq!(woken(watcher::Event::Apply(workload(0))), None);
        assert_eq!(woken(watcher::Event::InitApply(workload(0))), None);
        let web = Some(Some(ObjectRef::new("web").within("apps")));
        assert_eq!(woken(watcher::Event::Apply(workload(1))), web);
        assert_eq!(woken(watcher::Event::InitApply(workload(1))), web);
        assert_eq!(woken(watcher::Event::Delete(workload(0))), web);
        assert_eq!(woken(watcher::Event::Init), None);
        assert_eq!(woken(watcher::Event::InitDone), None);
        // A failed watch is passed on, for the controller's back-off.
        let failed = settled_or_gone(Err(watcher::Error::NoResourceVersion), &kind);
        assert!(matches!(failed, Some(Err(_))));
    }

    #[test]
    fn an_unknown_kind_of_object_is_judged_by_its_ready_condition() {
        let kind = ("example.com/v1".to_string(), "Widget".to_string());
        let mut widget = workload(0);
        widget.status = json!({"conditions": [{"type": "Ready", "status": "False"}]});
        assert!(settled_or_gone(Ok(watcher::Event::Apply(widget.clone())), &kind).is_none());
        widget.status = json!({"conditions": [{"type": "Ready", "status": "True"}]});
        assert!(settled_or_gone(Ok(watcher::Event::Apply(widget)), &kind).is_some());
    }
}
