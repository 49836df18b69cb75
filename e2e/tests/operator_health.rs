//! Releases, not just applies: Ready means healthy (a Deployment that cannot get its pods
//! scheduled is not Ready, says what it waits for, turns `HealthCheckFailed` when its timeout
//! runs out, and Ready once a new revision makes the pods run: KWOK plays the kubelet on the fake
//! node); `dependsOn` waits; drift shows in status; `status.history` keeps the revisions.

use capstan_api::ChartDeployment;
use capstan_e2e::operator::{
    Setup, TestResult, WAIT, WEB_WORKLOAD, applied, config_map, ready_is, ready_message,
};
use capstan_e2e::wait::wait_for;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams};
use serde_json::json;

#[tokio::test]
async fn ready_waits_for_healthy_objects_and_says_what_it_waits_for() -> TestResult {
    let setup = Setup::new("health").await?;
    setup.publish(
        "web",
        "1.0.0",
        &[
            ("values.yaml", "nodeSelector: {}\n"),
            ("templates/web.yaml", WEB_WORKLOAD),
        ],
    )?;
    setup.apply_repository().await?;
    // No node has this label: the pod stays Pending and the Deployment unavailable.
    setup
        .apply_deployment_with(
            "app",
            json!({
                "chart": {"repository": {"repositoryRef": {"name": "charts"}, "name": "web",
                                         "version": "1.0.0"}},
                "values": {"nodeSelector": {"capstan.dev/no-such-node": "true"}},
                "timeout": "20s",
            }),
        )
        .await?;
    let waiting = setup
        .wait_deployment("app", ready_is("Unknown", |reason| reason == "Progressing"))
        .await?;
    let message = ready_message(&waiting);
    assert!(
        message.contains("0 of 1 objects healthy")
            && message.contains(&format!("Deployment {}/app-web", setup.namespace.name()))
            && message.contains(" of 1 replicas "),
        "{message}"
    );
    let failed = setup
        .wait_deployment(
            "app",
            ready_is("False", |reason| reason == "HealthCheckFailed"),
        )
        .await?;
    let message = ready_message(&failed);
    assert!(
        message.contains("not healthy within spec.timeout (20s)"),
        "{message}"
    );

    // A new revision that schedules: healthy, so Ready.
    setup
        .patch_spec("app", json!({"values": {"nodeSelector": null}}))
        .await?;
    let ready = setup
        .wait_deployment("app", ready_is("True", |_| true))
        .await?;
    assert!(
        ready_message(&ready).contains("all healthy"),
        "{}",
        ready_message(&ready)
    );
    setup.finish().await
}

#[tokio::test]
async fn dependencies_history_and_drift_in_status() -> TestResult {
    let setup = Setup::new("release").await?;
    setup.publish_greet()?;
    setup.publish(
        "greet",
        "1.1.0",
        &[
            ("values.yaml", "greeting: hello\n"),
            ("templates/main.yaml", &config_map("main")),
        ],
    )?;
    setup.apply_repository().await?;
    let chart = |version: &str| json!({"repositoryRef": {"name": "charts"}, "name": "greet", "version": version});

    // dependsOn: waits, naming what it waits for, until the dependency is Ready.
    setup
        .apply_deployment_with(
            "app",
            json!({"chart": {"repository": chart("1.0.0")}, "dependsOn": [{"name": "db"}],
                   "interval": "2s", "driftDetection": {"mode": "Warn"}}),
        )
        .await?;
    let waiting = setup
        .wait_deployment(
            "app",
            ready_is("False", |reason| reason == "DependencyNotReady"),
        )
        .await?;
    assert!(
        ready_message(&waiting).contains("db"),
        "{}",
        ready_message(&waiting)
    );
    setup
        .apply_deployment_with("db", json!({"chart": {"repository": chart("1.0.0")}}))
        .await?;
    setup.wait_deployment("db", applied("1.0.0")).await?;
    setup.wait_deployment("app", applied("1.0.0")).await?;

    // Drift in Warn mode: reported in status with the field, and left alone.
    let config_maps = setup.namespace.api::<ConfigMap>();
    config_maps
        .patch(
            "app-main",
            &PatchParams::apply("someone-else").force(),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                                 "data": {"greeting": "changed by hand"}})),
        )
        .await?;
    let drifted = setup
        .wait_deployment("app", |d: Option<&ChartDeployment>| {
            d.and_then(|d| d.status.as_ref())
                .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "Drifted"))
        })
        .await?;
    let status = drifted.status.unwrap_or_default();
    assert_eq!(status.drift.len(), 1, "{:?}", status.drift);
    assert!(
        status.drift[0].object.ends_with("/app-main"),
        "{:?}",
        status.drift
    );
    assert_eq!(status.drift[0].paths, ["/data/greeting"]);
    let greeting = |cm: ConfigMap| cm.data.unwrap_or_default().get("greeting").cloned();
    assert_eq!(
        greeting(config_maps.get("app-main").await?).as_deref(),
        Some("changed by hand"),
        "Warn leaves the drift alone"
    );
    // Enabled: corrected, and no longer reported.
    setup
        .patch_spec("app", json!({"driftDetection": {"mode": "Enabled"}}))
        .await?;
    setup
        .wait_deployment("app", |d: Option<&ChartDeployment>| {
            d.and_then(|d| d.status.as_ref()).is_some_and(|s| {
                s.drift.is_empty() && !s.conditions.iter().any(|c| c.type_ == "Drifted")
            })
        })
        .await?;
    wait_for(
        &config_maps,
        "app-main",
        "ConfigMap",
        WAIT,
        |cm: Option<&ConfigMap>| {
            cm.and_then(|cm| cm.data.as_ref())
                .and_then(|data| data.get("greeting"))
                .is_some_and(|greeting| greeting == "hello")
        },
    )
    .await?;

    // History: newest first, with the release numbers the templates saw.
    setup
        .patch_spec(
            "app",
            json!({"chart": {"repository": {"version": "1.1.0"}}}),
        )
        .await?;
    let upgraded = setup.wait_deployment("app", applied("1.1.0")).await?;
    let history = upgraded.status.unwrap_or_default().history;
    let seen: Vec<_> = history
        .iter()
        .map(|entry| {
            (
                entry.version.as_str(),
                entry.release_number,
                entry.outcome.as_str(),
            )
        })
        .collect();
    assert_eq!(seen, [("1.1.0", 2, "Healthy"), ("1.0.0", 1, "Healthy")]);
    setup.finish().await
}
