//! Leader election against the real control plane: of two operators sharing a Lease only one
//! reconciles; when it is killed the other takes over once the Lease expires, and one that shuts
//! down cleanly releases the Lease at once. Both serve /metrics and /healthz all along, the
//! standby included.

use capstan_api::ChartRepository;
use capstan_e2e::Cluster;
use capstan_e2e::operator::{OperatorProcess, Setup, TestResult, WAIT, applied};
use capstan_e2e::wait::wait_for;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::Api;
use serde_json::json;

const LEASE_NAMESPACE: &str = "default";

/// Deletes the test's Lease at the end, passed or failed (with kubectl: a drop cannot wait for
/// the test's own client).
struct DeleteOnDrop {
    cluster: &'static Cluster,
    name: String,
}

impl Drop for DeleteOnDrop {
    fn drop(&mut self) {
        let env = self.cluster.env();
        let _ = std::process::Command::new(&env.kubectl)
            .env("KUBECONFIG", &env.kubeconfig)
            .args([
                "delete",
                "lease",
                &self.name,
                "--namespace",
                LEASE_NAMESPACE,
            ])
            .args(["--ignore-not-found", "--request-timeout=20s"])
            .stdout(std::process::Stdio::null())
            .status();
    }
}

fn holder(lease: Option<&Lease>) -> Option<&str> {
    lease
        .and_then(|lease| lease.spec.as_ref())
        .and_then(|spec| spec.holder_identity.as_deref())
}

/// Waits until the Lease `name` names `wanted` as its holder (`None`: released).
async fn wait_holder(
    leases: &Api<Lease>,
    name: &str,
    wanted: Option<&'static str>,
) -> TestResult<Lease> {
    let lease = wait_for(leases, name, "Lease", WAIT, move |lease: Option<&Lease>| {
        lease.is_some() && holder(lease).filter(|h| !h.is_empty()) == wanted
    })
    .await?;
    Ok(lease.ok_or("the Lease disappeared")?)
}

/// The lines `log` holds, as text (empty when the process has not written yet).
fn read_log(log: &std::path::Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

/// The address an operator logging to `log` serves its metrics on (it binds port 0).
async fn metrics_address(log: &std::path::Path) -> TestResult<String> {
    for _ in 0..200 {
        let text = read_log(log);
        let address = text
            .lines()
            .filter(|line| line.contains("serving /metrics"))
            .find_map(|line| line.split("address=").nth(1))
            .and_then(|rest| rest.split_whitespace().next());
        if let Some(address) = address {
            return Ok(address.to_string());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err(format!("{} never said where it serves metrics", log.display()).into())
}

/// GETs `path` from the operator's metrics server: the status and the body.
async fn scrape(address: &str, path: &str) -> TestResult<(u16, String)> {
    let response = reqwest::get(format!("http://{address}{path}")).await?;
    Ok((response.status().as_u16(), response.text().await?))
}

/// The value of the sample `series` (name and labels exactly as served), if it is there.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

#[tokio::test]
async fn one_of_two_operators_reconciles_and_the_other_takes_over() -> TestResult {
    let cluster = Cluster::shared()?;
    // The Lease lives outside the test's namespace (as it lives in the operator's own namespace
    // in a cluster), so deleting the test's namespace at the end does not take it away from the
    // operator that cleans up.
    let lease_name = format!(
        "capstan-e2e-leader-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .subsec_nanos()
    );
    let leases: Api<Lease> = Api::namespaced(cluster.client().await?, LEASE_NAMESPACE);
    let _lease = DeleteOnDrop {
        cluster,
        name: lease_name.clone(),
    };
    let elect = |name| {
        [
            ("CAPSTAN_LEADER_ELECT", "true"),
            ("POD_NAMESPACE", LEASE_NAMESPACE),
            ("CAPSTAN_LEASE_NAME", lease_name.as_str()),
            ("CAPSTAN_LEASE_DURATION_SECONDS", "4"),
            ("CAPSTAN_METRICS_BIND_ADDRESS", "127.0.0.1:0"),
            ("POD_NAME", name),
        ]
    };
    // Operator a, started by the setup, takes the Lease in the watched namespace.
    let mut setup = Setup::with_operator_env("op-leader", &elect("operator-a")).await?;
    let namespace = setup.namespace.name().to_string();
    wait_holder(&leases, &lease_name, Some("operator-a")).await?;

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
    // The leader also fetched the repository's index and reported it.
    setup
        .wait_repository("charts", |r: Option<&ChartRepository>| {
            r.and_then(|r| r.status.as_ref())
                .is_some_and(|s| s.index_digest.is_some())
        })
        .await?;
    // Several renewals later a still leads; b has only waited.
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let lease = leases.get(&lease_name).await?;
    assert_eq!(holder(Some(&lease)), Some("operator-a"));
    let standby_log = read_log(&log_b);
    assert!(
        standby_log.contains("waiting for the lease"),
        "{standby_log}"
    );
    assert!(!standby_log.contains("leading"), "{standby_log}");

    // The metrics say the same: a reconciled and fetched, b is a live standby that did nothing.
    let (address_a, address_b) = (
        metrics_address(setup.operator_log()).await?,
        metrics_address(&log_b).await?,
    );
    let (status, leader_metrics) = scrape(&address_a, "/metrics").await?;
    assert_eq!(status, 200);
    assert_eq!(sample(&leader_metrics, "capstan_leader"), Some(1.0));
    let reconciled = r#"capstan_reconciles_total{controller="ChartDeployment",result="success"}"#;
    assert!(
        sample(&leader_metrics, reconciled) >= Some(1.0),
        "{leader_metrics}"
    );
    let downloaded = r#"capstan_index_fetches_total{result="downloaded"}"#;
    assert!(
        sample(&leader_metrics, downloaded) >= Some(1.0),
        "{leader_metrics}"
    );
    let (status, standby_metrics) = scrape(&address_b, "/metrics").await?;
    assert_eq!(status, 200);
    assert_eq!(sample(&standby_metrics, "capstan_leader"), Some(0.0));
    assert_eq!(
        sample(&standby_metrics, reconciled),
        None,
        "{standby_metrics}"
    );
    assert_eq!(scrape(&address_b, "/healthz").await?.0, 200);
    assert_eq!(scrape(&address_b, "/readyz").await?.0, 200);

    // a is killed, as a crash or a lost node would: b takes over once the Lease expires, and
    // reconciles what comes next.
    setup.stop_operator().await?;
    let taken = wait_holder(&leases, &lease_name, Some("operator-b")).await?;
    let transitions = taken.spec.and_then(|spec| spec.lease_transitions);
    assert!(transitions >= Some(1), "{transitions:?}");
    setup
        .apply_deployment("second", "greet", "1.0.0", json!({"greeting": "from-b"}))
        .await?;
    setup.wait_deployment("second", applied("1.0.0")).await?;
    assert!(read_log(&log_b).contains("leading"));
    let (_, new_leader_metrics) = scrape(&address_b, "/metrics").await?;
    assert_eq!(sample(&new_leader_metrics, "capstan_leader"), Some(1.0));
    assert!(
        sample(&new_leader_metrics, reconciled) >= Some(1.0),
        "{new_leader_metrics}"
    );

    // b shuts down cleanly (SIGTERM, as Kubernetes stops a pod): it releases the Lease rather
    // than leave it to expire, and exits successfully.
    let exit = standby.terminate().await?;
    assert!(exit.success(), "{exit:?}");
    wait_holder(&leases, &lease_name, None).await?;
    assert!(read_log(&log_b).contains("released the lease"));

    // a comes back and leads again.
    setup.start_operator()?;
    wait_holder(&leases, &lease_name, Some("operator-a")).await?;
    setup.finish().await
}
