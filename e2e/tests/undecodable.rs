//! One tenant's undecodable resource stops nobody else: a ChartDeployment whose `interval` is
//! `banana` (or a duration too large for any clock), written straight into etcd as an object
//! stored before the CRD validated it would be, is reported on itself while the other
//! deployments are reconciled, across an operator restart, and is still cleaned up on deletion.

use capstan_api::ChartDeployment;
use capstan_e2e::Cluster;
use capstan_e2e::etcd::{raw_deployments, store_deployment, wait_reported_invalid, with_interval};
use capstan_e2e::operator::{Setup, TestResult, WAIT, applied};
use capstan_e2e::wait::{wait_for, wait_for_deletion};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use kube::api::{DeleteParams, Patch, PatchParams};
use serde_json::json;

#[tokio::test]
async fn an_undecodable_deployment_is_reported_and_stops_no_other() -> TestResult {
    let mut setup = Setup::new("undecodable").await?;
    setup.publish_greet()?;
    setup.apply_repository().await?;
    setup
        .apply_deployment("good", "greet", "1.0.0", json!({}))
        .await?;
    setup
        .apply_deployment("bad", "greet", "1.0.0", json!({}))
        .await?;
    setup
        .apply_deployment("huge", "greet", "1.0.0", json!({}))
        .await?;
    for name in ["good", "bad", "huge"] {
        setup.wait_deployment(name, applied("1.0.0")).await?;
    }

    // The API server itself now refuses these values.
    for interval in ["banana", "99999999999999999999h", "8761h"] {
        let refused = setup
            .namespace
            .api::<ChartDeployment>()
            .patch(
                "bad",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"interval": interval}})),
            )
            .await;
        let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("must be a Go duration") || message.contains("must be at most"),
            "the API server accepted interval {interval:?}: {message}"
        );
    }

    let cluster = Cluster::shared()?;
    store_deployment(
        cluster,
        &with_interval(&setup.namespace, "bad", "banana").await?,
    )
    .await?;
    store_deployment(
        cluster,
        &with_interval(&setup.namespace, "huge", "99999999999999999999h").await?,
    )
    .await?;
    for name in ["bad", "huge"] {
        let message = wait_reported_invalid(&setup.namespace, name).await?;
        assert!(message.contains("is not a duration"), "{message}");
    }

    // Another tenant's deployment still upgrades and a new one installs, before and after the
    // operator restarts (its first list of deployments holds the undecodable ones).
    setup
        .patch_spec("good", json!({"values": {"greeting": "still here"}}))
        .await?;
    let config_maps = setup.namespace.api::<ConfigMap>();
    let greeting_is = |wanted: &'static str| {
        move |cm: Option<&ConfigMap>| {
            cm.and_then(|cm| cm.data.as_ref())
                .and_then(|data| data.get("greeting"))
                .is_some_and(|greeting| greeting == wanted)
        }
    };
    wait_for(
        &config_maps,
        "good-main",
        "ConfigMap",
        WAIT,
        greeting_is("still here"),
    )
    .await?;
    setup.stop_operator().await?;
    setup.start_operator()?;
    setup
        .apply_deployment("later", "greet", "1.0.0", json!({}))
        .await?;
    setup.wait_deployment("later", applied("1.0.0")).await?;
    setup
        .patch_spec("good", json!({"values": {"greeting": "after restart"}}))
        .await?;
    wait_for(
        &config_maps,
        "good-main",
        "ConfigMap",
        WAIT,
        greeting_is("after restart"),
    )
    .await?;

    // Deleting the undecodable deployment still deletes what it applied, from its status.
    let applied_uid = config_maps.get("bad-main").await?.uid().unwrap_or_default();
    let raw = raw_deployments(&setup.namespace);
    raw.delete("bad", &DeleteParams::default()).await?;
    wait_for_deletion(&config_maps, "bad-main", &applied_uid, WAIT).await?;
    let mut gone = false;
    for _ in 0..60 {
        if raw.get_opt("bad").await?.is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    assert!(
        gone,
        "the finalizer of the undecodable deployment was released"
    );
    setup.finish().await
}
