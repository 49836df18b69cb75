//! Retries and remediation of failed installs and upgrades against the real API server, KWOK
//! running the pods (`spec.install.remediation`, `spec.upgrade.remediation`):
//!
//! - an upgrade whose Deployment never becomes available is tried again after a back-off, then
//!   rolled back once its retries are used up, the count in `status.failures`;
//! - an upgrade with an object the API server rejects as invalid is rolled back (a failure on
//!   the way, not only a failed health check), recorded as a failed release in the history;
//! - an install whose post-install hook does not finish is tried again, then uninstalled: what
//!   it applied is deleted, the ChartDeployment stays, and a change of the values installs
//!   afresh with no count left over;
//! - the operator killed with SIGKILL in the middle of a rollback converges once restarted: the
//!   release rolled back to runs healthy, the history is right and a new version upgrades as
//!   usual.

use std::time::Duration;

use capstan_api::ChartDeployment;
use capstan_e2e::operator::{Setup, TestResult, WEB_WORKLOAD, applied, ready_is, ready_message};
use capstan_e2e::wait::wait_for_deployment_available;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ListParams;
use kube::runtime::wait::Condition;
use serde_json::json;

const CONFIG: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-config\n\
                      data:\n  version: \"{{ chart.version }}\"\n";

/// A ConfigMap whose data key the API server refuses.
const INVALID: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-invalid\n\
                       data:\n  \"not a valid key!\": x\n";

const HEALTHY: &str = "nodeSelector: {}\n";
const UNSCHEDULABLE: &str = "nodeSelector: {capstan.dev/no-such-node: \"true\"}\n";

fn chart(name: &str, version: &str) -> serde_json::Value {
    json!({"repository": {"repositoryRef": {"name": "charts"}, "name": name, "version": version}})
}

/// `(release number, outcome)` of each history entry, newest first.
fn outcomes(deployment: &ChartDeployment) -> Vec<(i64, String)> {
    deployment
        .status
        .iter()
        .flat_map(|status| &status.history)
        .map(|entry| (entry.release_number, entry.outcome.clone()))
        .collect()
}

fn history(expected: &[(i64, &str)]) -> Vec<(i64, String)> {
    expected
        .iter()
        .map(|(number, outcome)| (*number, outcome.to_string()))
        .collect()
}

/// `status.failures.count`, when the status counts failures.
fn failure_count(deployment: Option<&ChartDeployment>) -> Option<u32> {
    deployment?
        .status
        .as_ref()?
        .failures
        .as_ref()
        .map(|f| f.count)
}

async fn config_version(setup: &Setup, name: &str) -> TestResult<Option<String>> {
    let config = setup.namespace.api::<ConfigMap>().get_opt(name).await?;
    Ok(config.and_then(|config| config.data?.get("version").cloned()))
}

#[tokio::test]
async fn a_failed_upgrade_is_retried_after_a_back_off_then_rolled_back() -> TestResult {
    let setup = Setup::new("retry").await?;
    for (version, values) in [("1.0.0", HEALTHY), ("1.1.0", UNSCHEDULABLE)] {
        setup.publish(
            "web",
            version,
            &[
                ("values.yaml", values),
                ("templates/web.yaml", WEB_WORKLOAD),
                ("templates/config.yaml", CONFIG),
            ],
        )?;
    }
    setup.apply_repository().await?;
    setup
        .apply_deployment_with(
            "app",
            json!({"chart": chart("web", "1.0.0"), "timeout": "8s",
                   "upgrade": {"remediation": {"retries": 1, "strategy": "Rollback"}}}),
        )
        .await?;
    setup.wait_deployment("app", applied("1.0.0")).await?;

    setup
        .patch_spec("app", json!({"chart": chart("web", "1.1.0")}))
        .await?;
    // The first failure: counted, and tried again after 10s.
    let first = setup
        .wait_deployment("app", |d: Option<&ChartDeployment>| {
            failure_count(d) == Some(1)
                && ready_is("False", |reason| reason == "HealthCheckFailed").matches_object(d)
        })
        .await?;
    let message = ready_message(&first);
    assert!(
        message.contains("Upgrade to web 1.1.0 failed (attempt 1 of 2)")
            && message.contains("trying again in 10s"),
        "{message}"
    );
    let reconciling = first
        .status
        .iter()
        .flat_map(|s| &s.conditions)
        .any(|c| c.type_ == "Reconciling" && c.status == "True");
    assert!(reconciling, "a failure that is retried is Reconciling");
    let first_failure = first
        .status
        .as_ref()
        .and_then(|s| s.failures.clone())
        .ok_or("no status.failures")?;
    assert_eq!(first_failure.revision.version, "1.1.0");
    assert!(first_failure.remediation.is_none());

    // The retry fails too: the retries are used up and the rollback runs once.
    let rolled = setup
        .wait_deployment("app", ready_is("False", |reason| reason == "RolledBack"))
        .await?;
    let message = ready_message(&rolled);
    assert!(
        message.contains("Rolled back to web 1.0.0")
            && message.contains("web 1.1.0 failed (2 attempts)"),
        "{message}"
    );
    let failures = rolled
        .status
        .as_ref()
        .and_then(|s| s.failures.clone())
        .ok_or("no status.failures")?;
    assert_eq!(failures.count, 2);
    assert_eq!(failures.remediation.as_deref(), Some("RolledBack"));
    // The retry was made at least the back-off after the first failure.
    let waited = failures
        .last_failure_time
        .0
        .duration_since(first_failure.last_failure_time.0);
    assert!(
        waited.as_secs() >= 10,
        "the retry did not wait out its back-off: {waited:?}"
    );
    // A retry is the same release attempted again, not a new one.
    assert_eq!(
        outcomes(&rolled),
        history(&[(3, "RolledBack"), (2, "Failed"), (1, "Healthy")])
    );
    assert_eq!(
        config_version(&setup, "app-config").await?.as_deref(),
        Some("1.0.0")
    );
    setup.finish().await
}

#[tokio::test]
async fn an_upgrade_the_api_server_rejects_is_rolled_back() -> TestResult {
    let setup = Setup::new("rejected").await?;
    setup.publish(
        "web",
        "1.0.0",
        &[
            ("values.yaml", HEALTHY),
            ("templates/web.yaml", WEB_WORKLOAD),
            ("templates/config.yaml", CONFIG),
        ],
    )?;
    setup.publish(
        "web",
        "1.1.0",
        &[
            ("values.yaml", HEALTHY),
            ("templates/web.yaml", WEB_WORKLOAD),
            ("templates/config.yaml", CONFIG),
            ("templates/invalid.yaml", INVALID),
        ],
    )?;
    setup.apply_repository().await?;
    setup
        .apply_deployment_with(
            "app",
            json!({"chart": chart("web", "1.0.0"),
                   "upgrade": {"remediation": {"strategy": "Rollback"}}}),
        )
        .await?;
    setup.wait_deployment("app", applied("1.0.0")).await?;
    setup
        .patch_spec("app", json!({"chart": chart("web", "1.1.0")}))
        .await?;
    let rolled = setup
        .wait_deployment("app", ready_is("False", |reason| reason == "RolledBack"))
        .await?;
    let message = ready_message(&rolled);
    assert!(
        message.contains("Rolled back to web 1.0.0")
            && message.contains("web 1.1.0 failed (1 attempt)")
            && message.contains("-invalid"),
        "{message}"
    );
    let status = rolled.status.as_ref().ok_or("no status")?;
    assert_eq!(
        status.rolled_back_from.as_ref().map(|r| r.version.as_str()),
        Some("1.1.0")
    );
    // Refused before anything of it was written: a failed release of its own in the history.
    assert_eq!(
        outcomes(&rolled),
        history(&[(3, "RolledBack"), (2, "Failed"), (1, "Healthy")])
    );
    let versions: Vec<_> = status
        .history
        .iter()
        .map(|entry| entry.version.as_str())
        .collect();
    assert_eq!(versions, ["1.0.0", "1.1.0", "1.0.0"]);
    assert_eq!(
        config_version(&setup, "app-config").await?.as_deref(),
        Some("1.0.0")
    );
    assert!(
        setup
            .namespace
            .api::<ConfigMap>()
            .get_opt("app-invalid")
            .await?
            .is_none()
    );
    // Not retried while the spec stays.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let later = setup.namespace.api::<ChartDeployment>().get("app").await?;
    assert_eq!(
        outcomes(&later),
        outcomes(&rolled),
        "the failed upgrade was tried again"
    );
    setup.finish().await
}

/// A post-install hook Job scheduled by `values.nodeSelector`: it never runs on no node.
const POST_INSTALL: &str = r#"apiVersion: batch/v1
kind: Job
metadata:
  name: {{ release.name }}-check
  annotations:
    helm.sh/hook: post-install
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      nodeSelector: {{ values.nodeSelector | tojson }}
      containers:
        - name: check
          image: registry.example/check:1
"#;

#[tokio::test]
async fn a_failed_install_is_retried_then_uninstalled() -> TestResult {
    let setup = Setup::new("uninstall").await?;
    setup.publish(
        "checked",
        "1.0.0",
        &[
            ("values.yaml", HEALTHY),
            ("templates/config.yaml", CONFIG),
            ("templates/check.yaml", POST_INSTALL),
        ],
    )?;
    setup.apply_repository().await?;
    let no_node = json!({"capstan.dev/no-such-node": "true"});
    setup
        .apply_deployment_with(
            "app",
            json!({"chart": chart("checked", "1.0.0"), "timeout": "6s",
                   "values": {"nodeSelector": no_node},
                   "install": {"remediation": {"retries": 1, "strategy": "Uninstall"}}}),
        )
        .await?;
    // The objects are applied, then the post-install hook does not finish in time.
    let first = setup
        .wait_deployment("app", |d: Option<&ChartDeployment>| {
            failure_count(d) == Some(1)
        })
        .await?;
    let message = ready_message(&first);
    assert!(
        message.contains("Install of checked 1.0.0 failed (attempt 1 of 2)")
            && message.contains("post-install hook"),
        "{message}"
    );
    assert_eq!(
        config_version(&setup, "app-config").await?.as_deref(),
        Some("1.0.0"),
        "the install's objects are applied before its post-install hook"
    );

    let uninstalled = setup
        .wait_deployment("app", ready_is("False", |reason| reason == "Uninstalled"))
        .await?;
    let message = ready_message(&uninstalled);
    assert!(
        message.contains("Install of checked 1.0.0 failed (2 attempts)")
            && message.contains("uninstalled (deleted 1 object)"),
        "{message}"
    );
    let status = uninstalled.status.as_ref().ok_or("no status")?;
    assert_eq!(status.failures.as_ref().map(|f| f.count), Some(2));
    assert!(status.inventory.is_empty(), "{:?}", status.inventory);
    assert!(status.last_applied_revision.is_none());
    assert!(
        config_version(&setup, "app-config").await?.is_none(),
        "the failed install's ConfigMap was left"
    );

    // A change of the values is a new revision: installed afresh, nothing counted (with the
    // time the hook's pod takes to run).
    setup
        .patch_spec(
            "app",
            json!({"values": {"nodeSelector": null}, "timeout": "60s"}),
        )
        .await?;
    let installed = setup.wait_deployment("app", applied("1.0.0")).await?;
    let status = installed.status.as_ref().ok_or("no status")?;
    assert!(status.failures.is_none(), "{:?}", status.failures);
    assert_eq!(status.release_number, Some(1));
    assert_eq!(
        config_version(&setup, "app-config").await?.as_deref(),
        Some("1.0.0")
    );
    setup.finish().await
}

/// How many ConfigMaps the chart of the crash test renders: enough that a rollback takes a
/// while to write them back.
const MANY: usize = 100;

/// `MANY` ConfigMaps `<release>-c<i>` holding the chart's version.
const MANY_CONFIG_MAPS: &str = "{% for i in range(values.count) %}---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ release.name }}-c{{ i }}
data:
  version: \"{{ chart.version }}\"
{% endfor %}";

const EXTRA: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-extra\ndata: {}\n";

/// How many lines of `log` say a rollback started.
fn rollbacks_logged(log: &std::path::Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .matches("rolling back a failed upgrade")
        .count()
}

/// How many ConfigMaps hold version 1.0.0.
async fn back_at_1_0_0(config_maps: &kube::Api<ConfigMap>) -> TestResult<usize> {
    let listed = config_maps.list(&ListParams::default()).await?;
    Ok(listed
        .items
        .iter()
        .filter(|config_map| {
            config_map
                .data
                .as_ref()
                .and_then(|data| data.get("version"))
                .is_some_and(|version| version == "1.0.0")
        })
        .count())
}

#[tokio::test]
async fn an_operator_killed_during_a_rollback_converges_after_a_restart() -> TestResult {
    let mut setup = Setup::new("rollback-kill").await?;
    let count = format!("count: {MANY}\n");
    for (version, values, extra) in [
        ("1.0.0", HEALTHY, false),
        ("1.1.0", UNSCHEDULABLE, true),
        ("1.2.0", HEALTHY, false),
    ] {
        let values = format!("{values}{count}");
        let mut files = vec![
            ("values.yaml", values.as_str()),
            ("templates/web.yaml", WEB_WORKLOAD),
            ("templates/many.yaml", MANY_CONFIG_MAPS),
        ];
        if extra {
            files.push(("templates/extra.yaml", EXTRA));
        }
        setup.publish("many", version, &files)?;
    }
    setup.apply_repository().await?;
    setup
        .apply_deployment_with(
            "app",
            json!({"chart": chart("many", "1.0.0"), "timeout": "30s",
                   "upgrade": {"remediation": {"strategy": "Rollback"}}}),
        )
        .await?;
    setup.wait_deployment("app", applied("1.0.0")).await?;

    // 1.1.0 fails its health check; once the rollback has started writing 1.0.0's objects back,
    // the operator is killed.
    let before = rollbacks_logged(setup.operator_log());
    setup
        .patch_spec("app", json!({"chart": chart("many", "1.1.0")}))
        .await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while rollbacks_logged(setup.operator_log()) == before {
        if tokio::time::Instant::now() > deadline {
            return Err("the rollback did not start within 90s".into());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let config_maps = setup.namespace.api::<ConfigMap>();
    while back_at_1_0_0(&config_maps).await? == 0 {
        if tokio::time::Instant::now() > deadline {
            return Err("the rollback wrote nothing within 90s".into());
        }
    }
    setup.stop_operator().await?;
    let api = setup.namespace.api::<ChartDeployment>();
    let at_kill = api.get("app").await?;
    assert!(
        !ready_is("False", |reason| reason == "RolledBack").matches_object(Some(&at_kill)),
        "the rollback was over before the kill; nothing was interrupted"
    );
    eprintln!(
        "rollback-kill: {} of {MANY} ConfigMaps back at 1.0.0 at the kill",
        back_at_1_0_0(&config_maps).await?
    );

    // Restarted, a normal reconcile finishes the job from the status alone.
    setup.start_operator()?;
    let rolled = setup
        .wait_deployment("app", ready_is("False", |reason| reason == "RolledBack"))
        .await?;
    assert_eq!(
        outcomes(&rolled),
        history(&[(3, "RolledBack"), (2, "Failed"), (1, "Healthy")])
    );
    let status = rolled.status.as_ref().ok_or("no status")?;
    assert_eq!(
        status
            .last_applied_revision
            .as_ref()
            .map(|r| r.version.as_str()),
        Some("1.0.0")
    );
    assert_eq!(status.failures.as_ref().map(|f| f.count), Some(1));
    assert_eq!(status.inventory.len(), MANY + 1);
    for index in 0..MANY {
        assert_eq!(
            config_version(&setup, &format!("app-c{index}"))
                .await?
                .as_deref(),
            Some("1.0.0"),
            "ConfigMap app-c{index}"
        );
    }
    assert!(config_maps.get_opt("app-extra").await?.is_none());
    // The release rolled back to runs: its Deployment is available again.
    let deployments = setup.namespace.api::<Deployment>();
    let web =
        wait_for_deployment_available(&deployments, "app-web", Duration::from_secs(60)).await?;
    let image = web
        .spec
        .and_then(|spec| spec.template.spec)
        .map(|pod| pod.containers[0].image.clone().unwrap_or_default());
    assert_eq!(image.as_deref(), Some("registry.example/web:1.0.0"));

    // Nothing stuck: a new version upgrades as usual and becomes healthy.
    setup
        .patch_spec("app", json!({"chart": chart("many", "1.2.0")}))
        .await?;
    let upgraded = setup
        .wait_deployment("app", |d: Option<&ChartDeployment>| {
            applied("1.2.0").matches_object(d)
                && d.and_then(|d| d.status.as_ref())
                    .is_some_and(|s| s.rolled_back_from.is_none() && s.failures.is_none())
        })
        .await?;
    assert_eq!(
        outcomes(&upgraded),
        history(&[
            (4, "Healthy"),
            (3, "RolledBack"),
            (2, "Failed"),
            (1, "Healthy")
        ])
    );
    setup.finish().await
}
