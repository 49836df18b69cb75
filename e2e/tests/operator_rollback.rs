//! Remediation against the real API server, with KWOK running the pods: an upgrade whose
//! Deployment never becomes available is rolled back to the last healthy release
//! (`spec.upgrade.remediation.strategy: Rollback`): its objects are applied again, what the
//! failed one added is pruned, the status says what happened, and a new chart version is
//! applied as usual. The `pre-rollback` and `post-rollback` hooks of the release rolled back to
//! run around it, and an upgrade whose `post-upgrade` hook fails once it is healthy is rolled
//! back too.

use capstan_api::ChartDeployment;
use capstan_e2e::operator::{Setup, TestResult, WEB_WORKLOAD, applied, ready_is, ready_message};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::wait::Condition;
use serde_json::json;

const CONFIG: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-config\n\
                      data:\n  version: \"{{ chart.version }}\"\n";

/// A rollback hook of `phase` (only in 1.0.0, the release rolled back to): a ConfigMap naming
/// the chart version it came from.
fn rollback_hook(phase: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{{{ release.name }}}}-{phase}\n  \
         annotations:\n    helm.sh/hook: {phase}\ndata:\n  version: \"{{{{ chart.version }}}}\"\n"
    )
}

/// A post-upgrade Job whose pod cannot be scheduled, so it fails at its `activeDeadlineSeconds`.
const FAILING_SMOKE_TEST: &str = r#"apiVersion: batch/v1
kind: Job
metadata:
  name: {{ release.name }}-smoke
  annotations:
    helm.sh/hook: post-upgrade
    helm.sh/hook-delete-policy: hook-failed
spec:
  backoffLimit: 0
  activeDeadlineSeconds: 2
  template:
    spec:
      restartPolicy: Never
      nodeSelector: {capstan.dev/no-such-node: "true"}
      containers:
        - name: smoke
          image: registry.example/smoke:1
"#;

const EXTRA: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-extra\ndata: {}\n";

#[tokio::test]
async fn a_failed_upgrade_is_rolled_back_to_the_last_healthy_release() -> TestResult {
    let setup = Setup::new("rollback").await?;
    let healthy = "nodeSelector: {}\n";
    let unschedulable = "nodeSelector: {capstan.dev/no-such-node: \"true\"}\n";
    let (pre_rollback, post_rollback) = (
        rollback_hook("pre-rollback"),
        rollback_hook("post-rollback"),
    );
    setup.publish(
        "web",
        "1.0.0",
        &[
            ("values.yaml", healthy),
            ("templates/web.yaml", WEB_WORKLOAD),
            ("templates/config.yaml", CONFIG),
            ("templates/pre-rollback.yaml", &pre_rollback),
            ("templates/post-rollback.yaml", &post_rollback),
        ],
    )?;
    setup.publish(
        "web",
        "1.1.0",
        &[
            ("values.yaml", unschedulable),
            ("templates/web.yaml", WEB_WORKLOAD),
            ("templates/config.yaml", CONFIG),
            ("templates/extra.yaml", EXTRA),
        ],
    )?;
    setup.publish(
        "web",
        "1.2.0",
        &[
            ("values.yaml", healthy),
            ("templates/web.yaml", WEB_WORKLOAD),
            ("templates/config.yaml", CONFIG),
        ],
    )?;
    setup.publish(
        "web",
        "1.3.0",
        &[
            ("values.yaml", healthy),
            ("templates/web.yaml", WEB_WORKLOAD),
            ("templates/config.yaml", CONFIG),
            ("templates/smoke.yaml", FAILING_SMOKE_TEST),
        ],
    )?;
    setup.apply_repository().await?;
    let chart = |version: &str| json!({"repository": {"repositoryRef": {"name": "charts"}, "name": "web", "version": version}});
    setup
        .apply_deployment_with(
            "app",
            json!({"chart": chart("1.0.0"), "timeout": "15s",
                   "upgrade": {"remediation": {"strategy": "Rollback"}}}),
        )
        .await?;
    let installed = setup.wait_deployment("app", applied("1.0.0")).await?;
    assert!(ready_message(&installed).contains("all healthy"));
    let config_maps = setup.namespace.api::<ConfigMap>();
    assert!(
        config_maps.get_opt("app-pre-rollback").await?.is_none(),
        "a rollback hook ran on install"
    );

    // 1.1.0 cannot schedule its pod: not healthy within the timeout, so rolled back.
    setup
        .patch_spec("app", json!({"chart": chart("1.1.0")}))
        .await?;
    let rolled = setup
        .wait_deployment("app", ready_is("False", |reason| reason == "RolledBack"))
        .await?;
    let message = ready_message(&rolled);
    assert!(
        message.contains("Rolled back to web 1.0.0") && message.contains("web 1.1.0 failed"),
        "{message}"
    );
    let status = rolled.status.as_ref().ok_or("no status")?;
    assert_eq!(
        status.rolled_back_from.as_ref().map(|r| r.version.as_str()),
        Some("1.1.0")
    );
    assert_eq!(
        status
            .last_applied_revision
            .as_ref()
            .map(|r| r.version.as_str()),
        Some("1.0.0")
    );
    let outcomes: Vec<(i64, &str)> = status
        .history
        .iter()
        .map(|entry| (entry.release_number, entry.outcome.as_str()))
        .collect();
    assert_eq!(outcomes, [(3, "RolledBack"), (2, "Failed"), (1, "Healthy")]);

    // The objects are 1.0.0's again, and what 1.1.0 added is gone.
    let web = setup.namespace.api::<Deployment>().get("app-web").await?;
    let pod = web
        .spec
        .and_then(|spec| spec.template.spec)
        .ok_or("no pod spec")?;
    assert!(
        pod.node_selector.unwrap_or_default().is_empty(),
        "the nodeSelector of 1.1.0 stayed"
    );
    assert_eq!(
        pod.containers[0].image.as_deref(),
        Some("registry.example/web:1.0.0")
    );
    for hook in ["app-pre-rollback", "app-post-rollback"] {
        let data = config_maps.get(hook).await?.data.unwrap_or_default();
        assert_eq!(
            data.get("version").map(String::as_str),
            Some("1.0.0"),
            "{hook} is not the hook of the release rolled back to"
        );
    }
    let config = config_maps.get("app-config").await?;
    assert_eq!(
        config
            .data
            .unwrap_or_default()
            .get("version")
            .map(String::as_str),
        Some("1.0.0")
    );
    assert!(config_maps.get_opt("app-extra").await?.is_none());

    // A new version is applied as usual, and the rollback is behind it.
    setup
        .patch_spec("app", json!({"chart": chart("1.2.0")}))
        .await?;
    let upgraded = setup
        .wait_deployment("app", |d: Option<&ChartDeployment>| {
            applied("1.2.0").matches_object(d)
                && d.and_then(|d| d.status.as_ref())
                    .is_some_and(|s| s.rolled_back_from.is_none())
        })
        .await?;
    assert!(ready_message(&upgraded).contains("all healthy"));

    // 1.3.0 gets healthy, then its post-upgrade hook fails: rolled back to 1.2.0.
    setup
        .patch_spec("app", json!({"chart": chart("1.3.0")}))
        .await?;
    let rolled = setup
        .wait_deployment("app", |d: Option<&ChartDeployment>| {
            ready_is("False", |reason| reason == "RolledBack").matches_object(d)
                && d.and_then(|d| d.status.as_ref()).is_some_and(|s| {
                    s.rolled_back_from.as_ref().map(|r| r.version.as_str()) == Some("1.3.0")
                })
        })
        .await?;
    let message = ready_message(&rolled);
    assert!(
        message.contains("Rolled back to web 1.2.0")
            && message.contains("post-upgrade hook Job")
            && message.contains("app-smoke"),
        "{message}"
    );
    assert!(
        setup
            .namespace
            .api::<k8s_openapi::api::batch::v1::Job>()
            .get_opt("app-smoke")
            .await?
            .is_none(),
        "a failed hook-failed hook was kept"
    );
    setup.finish().await
}
