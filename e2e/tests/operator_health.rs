//! Ready means healthy: a deployment whose Deployment cannot get its pods scheduled is not Ready
//! (it says what it waits for), turns `HealthCheckFailed` when its timeout runs out, and Ready
//! once a new revision makes the pods run (KWOK plays the kubelet on the fake node).

use capstan_e2e::operator::{Setup, TestResult, ready_is, ready_message};
use serde_json::json;

/// A Deployment `<release>-web` with one replica, scheduled by `values.nodeSelector`.
const WORKLOAD: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ release.name }}-web
spec:
  replicas: 1
  selector:
    matchLabels: {app: {{ release.name }}-web}
  template:
    metadata:
      labels: {app: {{ release.name }}-web}
    spec:
      nodeSelector: {{ values.nodeSelector | tojson }}
      containers:
        - name: web
          image: registry.example/web:1
"#;

#[tokio::test]
async fn ready_waits_for_healthy_objects_and_says_what_it_waits_for() -> TestResult {
    let setup = Setup::new("health").await?;
    setup.publish(
        "web",
        "1.0.0",
        &[
            ("values.yaml", "nodeSelector: {}\n"),
            ("templates/web.yaml", WORKLOAD),
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
    assert!(message.contains("not healthy within spec.timeout (20s)"), "{message}");

    // A new revision that schedules: healthy, so Ready.
    setup
        .patch_spec("app", json!({"values": {"nodeSelector": null}}))
        .await?;
    let ready = setup
        .wait_deployment("app", ready_is("True", |_| true))
        .await?;
    assert!(ready_message(&ready).contains("all healthy"), "{}", ready_message(&ready));
    setup.finish().await
}
