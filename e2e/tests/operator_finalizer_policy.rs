//! `config/finalizer-on-create` against the real control plane: the API server adds the
//! operator's finalizer to a ChartDeployment as it is created, so the operator installs it without
//! patching the object first (shown by the audit log), and its deletion still cleans up.
//!
//! The chart's `finalizerOnCreate` renders the same objects.
//!
//! The policy is cluster-scoped: its binding is narrowed to this test's namespace
//! ([`FinalizerPolicy`]), and its own test binary keeps it from the other tests' way.

mod support;

use capstan_api::ChartDeployment;
use capstan_api::labels::FINALIZER;
use std::collections::BTreeMap;

use capstan_e2e::finalizer_policy::FinalizerPolicy;
use capstan_e2e::operator::{Setup, WAIT, applied};
use capstan_e2e::wait::wait_for_deletion;
use capstan_e2e::{Cluster, ToolCommand, workspace_binary};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::DeleteParams;
use serde_json::{Value, json};
use support::{AuditLog, Outcome, TestResult};

#[tokio::test]
async fn the_api_server_adds_the_finalizer_so_the_operator_installs_without_patching_it_first()
-> TestResult {
    let cluster = Cluster::shared()?;
    let audit = AuditLog::of(cluster)?;
    let setup = Setup::new("finalizer-policy").await?;
    let namespace = setup.namespace.name().to_string();
    let deployments = setup.namespace.api::<ChartDeployment>();
    let policy = FinalizerPolicy::install(cluster, &namespace).await?;

    // Added to the author's own, which stay.
    let finalizers = policy.wait_effective(&deployments).await?;
    assert_eq!(finalizers, ["example.com/theirs", FINALIZER]);

    setup.publish_greet()?;
    setup.apply_repository().await?;
    let start = audit.position()?;
    setup
        .apply_deployment("web", "greet", "1.0.0", json!({}))
        .await?;
    let installed = setup.wait_deployment("web", applied("1.0.0")).await?;
    // The audit log records a request once it completed, and may lag the watch that saw it: wait
    // for the status write of the install, which comes after any write of the finalizer.
    let status_writes = |writes: &[support::AuditedRequest]| {
        writes
            .iter()
            .filter(|w| w.resource == "chartdeployments" && w.uri.contains("/status"))
            .count()
    };
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    let writes = loop {
        let writes = audit.writes_since(start, &namespace)?;
        if status_writes(&writes) >= 1 || tokio::time::Instant::now() > deadline {
            break writes;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(status_writes(&writes) >= 1, "{writes:#?}");
    let to_the_object: Vec<_> = writes
        .iter()
        .filter(|w| w.resource == "chartdeployments" && w.name == "web")
        .filter(|w| !w.uri.contains("/status"))
        .map(|w| format!("{} {}", w.verb, w.uri))
        .collect();
    // Only the test's own create: no patch adding the finalizer.
    assert_eq!(to_the_object.len(), 1, "{to_the_object:#?}");
    assert!(
        to_the_object[0].starts_with("create "),
        "{to_the_object:#?}"
    );

    // Deletion still runs the operator's cleanup before the finalizer goes.
    let config_maps = setup.namespace.api::<ConfigMap>();
    assert!(config_maps.get_opt("web-main").await?.is_some());
    deployments.delete("web", &DeleteParams::default()).await?;
    let uid = installed.metadata.uid.unwrap_or_default();
    wait_for_deletion(&deployments, "web", &uid, WAIT).await?;
    assert!(config_maps.get_opt("web-main").await?.is_none());
    setup.finish().await
}

/// The `spec` of each object in `yaml` (a stream of documents), by kind, with the binding's
/// `policyName` taken out (it follows the release name in the chart).
fn specs_by_kind(yaml: &str) -> Outcome<BTreeMap<String, Value>> {
    let mut specs = BTreeMap::new();
    for document in yaml.split("\n---") {
        let object: Value = serde_saphyr::from_str(document).unwrap_or(Value::Null);
        let kind = object["kind"].as_str().unwrap_or_default().to_string();
        if !kind.starts_with("MutatingAdmissionPolicy") {
            continue;
        }
        let mut spec = object["spec"].clone();
        if let Some(spec) = spec.as_object_mut() {
            spec.remove("policyName");
        }
        specs.insert(kind, spec);
    }
    Ok(specs)
}

#[tokio::test]
async fn the_chart_renders_the_same_policy_as_config_and_only_on_request() -> TestResult {
    let chart = concat!(env!("CARGO_MANIFEST_DIR"), "/../charts/capstan");
    let render = |extra: &[&str]| {
        let command = ToolCommand::new(workspace_binary("CAPSTAN_BIN", "capstan"))
            .args(["template", "--name", "capstan"])
            .args(["--namespace", "capstan-system"])
            .args(extra.iter().copied())
            .arg(chart);
        async move { command.run().await }
    };
    let default = render(&[]).await?.stdout;
    assert!(specs_by_kind(&default)?.is_empty(), "{default}");

    let enabled = render(&["--set", "finalizerOnCreate=true"]).await?;
    let from_chart = specs_by_kind(&enabled.stdout)?;
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/finalizer-on-create/policy.yaml"
    ))?;
    let from_config = specs_by_kind(&shipped)?;
    assert_eq!(from_config.len(), 2, "{from_config:#?}");
    assert_eq!(from_chart, from_config);
    Ok(())
}
