//! Orphan checks after faults: every object labelled as a deployment's is in that deployment's
//! inventory, and every inventory entry exists. Covers the kinds of the scale chart
//! ([`crate::scale::chart`]): Deployments, Services, HorizontalPodAutoscalers and ConfigMaps.

use std::collections::{BTreeMap, BTreeSet};

use capstan_api::ChartDeployment;
use capstan_api::labels::{DEPLOYMENT_ANNOTATION, DEPLOYMENT_LABEL};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{ConfigMap, Service};
use kube::api::ListParams;
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::operator::{Setup, TestResult};

/// Every mismatch between the labelled objects and the inventories, described.
pub async fn orphans(setup: &Setup) -> TestResult<Vec<String>> {
    let namespace = setup.namespace.name();
    let mut inventories: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for deployment in setup
        .namespace
        .api::<ChartDeployment>()
        .list(&ListParams::default())
        .await?
    {
        let entries = deployment
            .status
            .iter()
            .flat_map(|status| &status.inventory)
            .map(|entry| (entry.kind.clone(), entry.name.clone()))
            .collect();
        inventories.insert(format!("{namespace}/{}", deployment.name_any()), entries);
    }
    let mut labelled: BTreeSet<(String, String, String)> = BTreeSet::new();
    labelled.extend(owned(setup.namespace.api::<Deployment>()).await?);
    labelled.extend(owned(setup.namespace.api::<Service>()).await?);
    labelled.extend(owned(setup.namespace.api::<HorizontalPodAutoscaler>()).await?);
    labelled.extend(owned(setup.namespace.api::<ConfigMap>()).await?);

    let mut problems = Vec::new();
    for (owner, kind, name) in &labelled {
        let listed = inventories
            .get(owner)
            .is_some_and(|entries| entries.contains(&(kind.clone(), name.clone())));
        if !listed {
            problems.push(format!(
                "{kind} {name} is labelled as {owner}'s but not in its inventory"
            ));
        }
    }
    for (owner, entries) in &inventories {
        for (kind, name) in entries {
            if !labelled.contains(&(owner.clone(), kind.clone(), name.clone())) {
                problems.push(format!(
                    "{owner}'s inventory lists {kind} {name}, which does not exist"
                ));
            }
        }
    }
    Ok(problems)
}

/// `(owner, kind, name)` of every object of `api` carrying the deployment label.
async fn owned<K>(api: Api<K>) -> TestResult<Vec<(String, String, String)>>
where
    K: Resource<DynamicType = ()> + Clone + std::fmt::Debug + DeserializeOwned,
{
    let objects = api
        .list(&ListParams::default().labels(DEPLOYMENT_LABEL))
        .await?;
    Ok(objects
        .items
        .iter()
        .map(|object| {
            let owner = object
                .annotations()
                .get(DEPLOYMENT_ANNOTATION)
                .cloned()
                .unwrap_or_else(|| format!("(no {DEPLOYMENT_ANNOTATION} annotation)"));
            (owner, K::kind(&()).into_owned(), object.name_any())
        })
        .collect())
}
