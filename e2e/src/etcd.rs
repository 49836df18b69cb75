//! Writing straight into etcd, around the API server's validation: how a test stores an object
//! the API server would refuse today, as one written before a validation existed would be.

use base64::Engine as _;
use capstan_api::ChartDeployment;
use kube::api::{Api, ApiResource, DynamicObject};
use serde_json::{Value, json};

use crate::operator::{TestResult, WAIT};
use crate::{Cluster, TestNamespace};

/// Stores `object` (a ChartDeployment as JSON, with its namespace and name) in etcd under the
/// API server's key for it, bypassing every validation.
pub async fn store_deployment(cluster: &Cluster, object: &Value) -> TestResult {
    let etcd = cluster.env().etcd.clone().ok_or(
        "CAPSTAN_E2E_ETCD is not set: the cluster was started by an older e2e/cluster; run \
         e2e/cluster down && e2e/cluster up",
    )?;
    let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let key = format!("/registry/capstan.dev/chartdeployments/{namespace}/{name}");
    let encode = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    let response = reqwest::Client::new()
        .post(format!("{etcd}/v3/kv/put"))
        .json(
            &json!({"key": encode(key.as_bytes()), "value": encode(object.to_string().as_bytes())}),
        )
        .send()
        .await?;
    if !response.status().is_success() {
        return Err(format!("etcd answered {} to the put of {key}", response.status()).into());
    }
    Ok(())
}

/// The stored form of deployment `name` in `namespace` with `spec.interval` replaced by
/// `interval`, ready for [`store_deployment`].
pub async fn with_interval(
    namespace: &TestNamespace,
    name: &str,
    interval: &str,
) -> TestResult<Value> {
    let deployment = namespace.api::<ChartDeployment>().get(name).await?;
    let mut object = serde_json::to_value(&deployment)?;
    object["metadata"]
        .as_object_mut()
        .ok_or("no metadata")?
        .remove("resourceVersion");
    object["spec"]["interval"] = json!(interval);
    Ok(object)
}

/// ChartDeployments of `namespace` as raw objects: the typed API cannot read an undecodable one.
pub fn raw_deployments(namespace: &TestNamespace) -> Api<DynamicObject> {
    Api::namespaced_with(
        namespace.client(),
        namespace.name(),
        &ApiResource::erase::<ChartDeployment>(&()),
    )
}

/// Waits until deployment `name` reports `Ready=False` with reason `InvalidSpec`; its message.
pub async fn wait_reported_invalid(namespace: &TestNamespace, name: &str) -> TestResult<String> {
    let raw = raw_deployments(namespace);
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let object = raw.get(name).await?;
        let ready = object.data["status"]["conditions"]
            .as_array()
            .and_then(|conditions| conditions.iter().find(|c| c["type"] == "Ready"))
            .cloned();
        if let Some(ready) = ready
            && ready["status"] == "False"
            && ready["reason"] == "InvalidSpec"
        {
            return Ok(ready["message"].as_str().unwrap_or_default().to_string());
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!(
                "{name} was not reported InvalidSpec: {:?}",
                object.data["status"]
            )
            .into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}
