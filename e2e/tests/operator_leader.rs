//! Leader election against the real control plane: of two operators sharing a Lease only one
//! reconciles; when it is killed the other takes over once the Lease expires, and one that shuts
//! down cleanly releases the Lease at once.

use capstan_api::ChartRepository;
use capstan_e2e::Cluster;
use capstan_e2e::operator::{OperatorProcess, Setup, TestResult, WAIT, applied};
use capstan_e2e::wait::wait_for;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use serde_json::json;

const LEASE: &str = "capstan-operator";

fn holder(lease: Option<&Lease>) -> Option<&str> {
    lease
        .and_then(|lease| lease.spec.as_ref())
        .and_then(|spec| spec.holder_identity.as_deref())
}

/// Waits until the Lease names `wanted` as its holder (`None`: released).
async fn wait_holder(leases: &Api<Lease>, wanted: Option<&'static str>) -> TestResult<Lease> {
    let lease = wait_for(
        leases,
        LEASE,
        "Lease",
        WAIT,
        move |lease: Option<&Lease>| {
            lease.is_some() && holder(lease).filter(|h| !h.is_empty()) == wanted
        },
    )
    .await?;
    Ok(lease.ok_or("the Lease disappeared")?)
}

/// The lines `log` holds, as text (empty when the process has not written yet).
fn read_log(log: &std::path::Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

#[tokio::test]
async fn one_of_two_operators_reconciles_and_the_other_takes_over() -> TestResult {
    let cluster = Cluster::shared()?;
    let elect = |name| {
        [
            ("CAPSTAN_LEADER_ELECT", "true"),
            ("CAPSTAN_LEASE_DURATION_SECONDS", "4"),
            ("POD_NAME", name),
        ]
    };
    // Operator a, started by the setup, takes the Lease in the watched namespace.
    let mut setup = Setup::with_operator_env("op-leader", &elect("operator-a")).await?;
    let namespace = setup.namespace.name().to_string();
    let leases = setup.namespace.api::<Lease>();
    wait_holder(&leases, Some("operator-a")).await?;

    // Operator b starts as a standby.
    let log_b = cluster
        .env()
        .state_dir
        .join("logs")
        .join(format!("operator-{namespace}-b.log"));
    let standby = OperatorProcess::launch(
        &namespace,
        &cluster.env().kubeconfig,
        &elect("operator-b"),
        Some(&log_b),
    )?;
    setup.publish_greet()?;
    setup.apply_repository().await?;
    setup
        .apply_deployment("first", "greet", "1.0.0", json!({}))
        .await?;
    setup.wait_deployment("first", applied("1.0.0")).await?;
    let repository = setup
        .namespace
        .api::<ChartRepository>()
        .get("charts")
        .await?;
    assert!(repository.status.is_some());
    // Several renewals later a still leads; b has only waited.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let lease = leases.get(LEASE).await?;
    assert_eq!(holder(Some(&lease)), Some("operator-a"));
    let standby_log = read_log(&log_b);
    assert!(
        standby_log.contains("waiting for the lease"),
        "{standby_log}"
    );
    assert!(!standby_log.contains("leading"), "{standby_log}");

    // a is killed, as a crash or a lost node would: b takes over once the Lease expires, and
    // reconciles what comes next.
    setup.stop_operator().await?;
    let taken = wait_holder(&leases, Some("operator-b")).await?;
    let transitions = taken.spec.and_then(|spec| spec.lease_transitions);
    assert!(transitions >= Some(1), "{transitions:?}");
    setup
        .apply_deployment("second", "greet", "1.0.0", json!({"greeting": "from-b"}))
        .await?;
    setup.wait_deployment("second", applied("1.0.0")).await?;
    assert!(read_log(&log_b).contains("leading"));

    // b shuts down cleanly (SIGTERM, as Kubernetes stops a pod): it releases the Lease rather
    // than leave it to expire, and exits successfully.
    let exit = standby.terminate().await?;
    assert!(exit.success(), "{exit:?}");
    wait_holder(&leases, None).await?;
    assert!(read_log(&log_b).contains("released the lease"));

    // a comes back and leads again.
    setup.start_operator()?;
    wait_holder(&leases, Some("operator-a")).await?;
    setup.finish().await
}
