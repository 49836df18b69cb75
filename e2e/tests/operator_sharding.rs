//! Sharding against the real control plane: two operators watch the same namespace, one with
//! `--watch-label-selector '!sharding.fluxcd.io/key'` (the unlabelled objects) and one with
//! `sharding.fluxcd.io/key=shard1`. Each reconciles only its share, nothing is applied twice, and
//! a deployment relabelled into the other shard is taken over there. Both log JSON
//! (`--log-format json`), whose per-object fields are what the test reads.

use std::path::Path;

use capstan_api::{ChartDeployment, ChartRepository};
use capstan_e2e::operator::{OperatorProcess, Setup, TestResult, applied, operator_binary};
use capstan_e2e::{Cluster, ToolCommand};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::wait::Condition;
use serde_json::{Value, json};

const SHARD_KEY: &str = "sharding.fluxcd.io/key";

/// The JSON lines an operator logged (lines that are not JSON, if any, are skipped).
fn log_lines(log: &Path) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

/// `(kind, name, message)` of every line an operator logged while reconciling an object of
/// `namespace`.
fn reconciled(log: &Path, namespace: &str) -> Vec<(String, String, String)> {
    log_lines(log)
        .iter()
        .filter(|line| line["namespace"] == namespace)
        .map(|line| {
            let text = |key: &str| line[key].as_str().unwrap_or_default().to_string();
            (text("kind"), text("name"), text("message"))
        })
        .collect()
}

/// How many times `name` was applied according to the log.
fn applies_of(lines: &[(String, String, String)], name: &str) -> usize {
    lines
        .iter()
        .filter(|(kind, object, message)| {
            kind == "ChartDeployment" && object == name && message == "applied"
        })
        .count()
}

/// The objects an operator's log names, as `Kind/name`.
fn names(lines: &[(String, String, String)]) -> std::collections::BTreeSet<String> {
    lines
        .iter()
        .map(|(kind, name, _)| format!("{kind}/{name}"))
        .collect()
}

async fn create_repository(setup: &Setup, name: &str, labels: Value) -> TestResult {
    let repository: ChartRepository = serde_json::from_value(json!({
        "apiVersion": "capstan.dev/v1alpha1", "kind": "ChartRepository",
        "metadata": {"name": name, "labels": labels},
        "spec": {"url": setup.repo_url, "interval": "5s"},
    }))?;
    setup
        .namespace
        .api::<ChartRepository>()
        .create(&PostParams::default(), &repository)
        .await?;
    Ok(())
}

async fn create_deployment(
    setup: &Setup,
    name: &str,
    labels: Value,
    repository: &str,
    greeting: &str,
) -> TestResult {
    let deployment: ChartDeployment = serde_json::from_value(json!({
        "apiVersion": "capstan.dev/v1alpha1", "kind": "ChartDeployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "chart": {"repository": {"repositoryRef": {"name": repository},
                "name": "greet", "version": "1.0.0"}},
            "values": {"greeting": greeting},
        },
    }))?;
    setup
        .namespace
        .api::<ChartDeployment>()
        .create(&PostParams::default(), &deployment)
        .await?;
    Ok(())
}

async fn greeting(setup: &Setup, release: &str) -> TestResult<String> {
    let config_map = setup
        .namespace
        .api::<ConfigMap>()
        .get(&format!("{release}-main"))
        .await?;
    Ok(config_map
        .data
        .and_then(|data| data.get("greeting").cloned())
        .unwrap_or_default())
}

#[tokio::test]
async fn two_shards_split_deployments_and_repositories_by_label() -> TestResult {
    let cluster = Cluster::shared()?;
    let shard = |selector| {
        [
            ("CAPSTAN_WATCH_LABEL_SELECTOR", selector),
            ("CAPSTAN_LOG_FORMAT", "json"),
        ]
    };
    // The operator the setup starts takes whatever carries no shard key.
    let setup = Setup::with_operator_env("op-shards", &shard("!sharding.fluxcd.io/key")).await?;
    let namespace = setup.namespace.name().to_string();
    let shard1_log = cluster
        .env()
        .state_dir
        .join("logs")
        .join(format!("operator-{namespace}-shard1.log"));
    let _shard1 = OperatorProcess::launch(
        &namespace,
        &cluster.env().kubeconfig,
        &shard("sharding.fluxcd.io/key=shard1"),
        Some(&shard1_log),
    )?;
    setup.publish_greet()?;
    let in_shard1 = json!({ SHARD_KEY: "shard1" });
    create_repository(&setup, "charts", json!({})).await?;
    create_repository(&setup, "charts-shard1", in_shard1.clone()).await?;
    create_deployment(&setup, "unlabelled", json!({}), "charts", "from-main").await?;
    create_deployment(
        &setup,
        "sharded",
        in_shard1.clone(),
        "charts-shard1",
        "from-shard1",
    )
    .await?;
    setup
        .wait_deployment("unlabelled", applied("1.0.0"))
        .await?;
    setup.wait_deployment("sharded", applied("1.0.0")).await?;
    assert_eq!(greeting(&setup, "unlabelled").await?, "from-main");
    assert_eq!(greeting(&setup, "sharded").await?, "from-shard1");

    // Each operator logged about its own objects only, and each deployment was applied once.
    let main = reconciled(setup.operator_log(), &namespace);
    let shard1 = reconciled(&shard1_log, &namespace);
    let expected = |objects: &[&str]| objects.iter().map(|o| o.to_string()).collect();
    assert_eq!(
        names(&main),
        expected(&["ChartDeployment/unlabelled", "ChartRepository/charts"]),
        "{main:?}"
    );
    assert_eq!(
        names(&shard1),
        expected(&["ChartDeployment/sharded", "ChartRepository/charts-shard1"]),
        "{shard1:?}"
    );
    assert_eq!(applies_of(&main, "unlabelled"), 1, "{main:?}");
    assert_eq!(applies_of(&shard1, "sharded"), 1, "{shard1:?}");

    // Moved into shard1 (with a repository of shard1, whose index only shard1 holds), the
    // unlabelled deployment is applied by shard1 from now on, and never again by the first.
    setup
        .namespace
        .api::<ChartDeployment>()
        .patch(
            "unlabelled",
            &PatchParams::default(),
            &Patch::Merge(json!({
                "metadata": {"labels": in_shard1},
                "spec": {
                    "chart": {"repository": {"repositoryRef": {"name": "charts-shard1"}}},
                    "values": {"greeting": "moved"},
                },
            })),
        )
        .await?;
    setup
        .wait_deployment("unlabelled", move |d: Option<&ChartDeployment>| {
            applied("1.0.0").matches_object(d)
                && d.and_then(|d| d.status.as_ref())
                    .is_some_and(|s| s.observed_generation == d.and_then(|d| d.metadata.generation))
        })
        .await?;
    assert_eq!(greeting(&setup, "unlabelled").await?, "moved");
    let main = reconciled(setup.operator_log(), &namespace);
    let shard1 = reconciled(&shard1_log, &namespace);
    assert_eq!(applies_of(&main, "unlabelled"), 1, "{main:?}");
    assert_eq!(applies_of(&shard1, "unlabelled"), 1, "{shard1:?}");
    setup.finish().await
}

#[tokio::test]
async fn a_selector_the_api_server_refuses_stops_the_operator_at_once() -> TestResult {
    let cluster = Cluster::shared()?;
    let output = ToolCommand::new(operator_binary())
        .args([
            "run",
            "--namespace",
            "default",
            "--watch-label-selector",
            "sharding.fluxcd.io/key in shard1",
        ])
        .env("KUBECONFIG", &cluster.env().kubeconfig)
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .await?;
    assert!(!output.status.success());
    assert!(
        output
            .stderr
            .contains("--watch-label-selector \"sharding.fluxcd.io/key in shard1\" was refused"),
        "{}",
        output.stderr
    );
    Ok(())
}
