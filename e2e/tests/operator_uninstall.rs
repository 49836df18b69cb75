//! Deleting a ChartDeployment waits until what it applied is gone, as `helm uninstall --wait`
//! does: an object held by its own finalizer keeps the ChartDeployment until it goes, up to
//! `spec.timeout` (then a `UninstallTimedOut` event names it), or not at all with
//! `spec.uninstall.disableWait`.

use capstan_api::ChartDeployment;
use capstan_e2e::operator::{Setup, TestResult, WAIT, applied};
use capstan_e2e::wait::{wait_for, wait_for_deletion};
use k8s_openapi::api::core::v1::{ConfigMap, Event};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use serde_json::json;

/// A ConfigMap `<release>-held` that a finalizer of someone else holds once deleted.
const HELD: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-held\n  \
                    finalizers: [capstan.test/hold]\ndata:\n  a: b\n";

#[tokio::test]
async fn deletion_waits_for_finalizing_objects_up_to_the_timeout() -> TestResult {
    let setup = Setup::new("uninstall").await?;
    setup.publish("held", "1.0.0", &[("templates/held.yaml", HELD)])?;
    setup.apply_repository().await?;
    let chart = json!({"repository": {"repositoryRef": {"name": "charts"}, "name": "held",
                                      "version": "1.0.0"}});
    let deployments = setup.namespace.api::<ChartDeployment>();
    let config_maps = setup.namespace.api::<ConfigMap>();
    let release_hold = |name: String| {
        let config_maps = config_maps.clone();
        async move {
            config_maps
                .patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"metadata": {"finalizers": null}})),
                )
                .await
                .map(drop)
        }
    };
    let finalizing = |config_map: Option<&ConfigMap>| {
        config_map.is_some_and(|c| c.metadata.deletion_timestamp.is_some())
    };

    for (name, extra) in [
        ("waits", json!({})),
        ("quick", json!({"uninstall": {"disableWait": true}})),
        ("bounded", json!({"timeout": "5s"})),
    ] {
        let mut spec = json!({"chart": chart});
        spec.as_object_mut()
            .ok_or("spec")?
            .extend(extra.as_object().ok_or("extra")?.clone());
        setup.apply_deployment_with(name, spec).await?;
        setup.wait_deployment(name, applied("1.0.0")).await?;
    }

    // Default: the ChartDeployment stays until its ConfigMap is gone.
    let uid = |d: &ChartDeployment| d.metadata.uid.clone().unwrap_or_default();
    let waits = deployments.get("waits").await?;
    deployments
        .delete("waits", &DeleteParams::default())
        .await?;
    wait_for(&config_maps, "waits-held", "ConfigMap", WAIT, finalizing).await?;
    // The operator sent the delete and found it held: it cannot have let the deployment go.
    assert!(
        deployments.get_opt("waits").await?.is_some(),
        "the ChartDeployment went while its ConfigMap was still finalizing"
    );
    release_hold("waits-held".into()).await?;
    wait_for_deletion(&deployments, "waits", &uid(&waits), WAIT).await?;

    // disableWait: gone while the ConfigMap is still held.
    let quick = deployments.get("quick").await?;
    deployments
        .delete("quick", &DeleteParams::default())
        .await?;
    wait_for_deletion(&deployments, "quick", &uid(&quick), WAIT).await?;
    assert!(finalizing(
        config_maps.get_opt("quick-held").await?.as_ref()
    ));
    release_hold("quick-held".into()).await?;

    // spec.timeout bounds the wait; the event names what was left finalizing.
    let bounded = deployments.get("bounded").await?;
    deployments
        .delete("bounded", &DeleteParams::default())
        .await?;
    wait_for_deletion(&deployments, "bounded", &uid(&bounded), WAIT).await?;
    assert!(finalizing(
        config_maps.get_opt("bounded-held").await?.as_ref()
    ));
    let events = setup
        .namespace
        .api::<Event>()
        .list(&ListParams::default().fields("reason=UninstallTimedOut"))
        .await?;
    assert!(
        events.items.iter().any(
            |event| event.message.as_deref().is_some_and(
                |message| message.contains("ConfigMap") && message.contains("bounded-held")
            )
        ),
        "no UninstallTimedOut event names the ConfigMap: {:?}",
        events.items.iter().map(|e| &e.message).collect::<Vec<_>>()
    );
    release_hold("bounded-held".into()).await?;
    setup.finish().await
}
