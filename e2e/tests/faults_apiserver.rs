//! The control plane stopped and started again in the middle of a rollout: the API server alone
//! (`e2e/cluster restart-apiserver`) while 20 deployments install, then etcd with it
//! (`restart-apiserver --with-etcd`) while they upgrade. The operator is not restarted, finds the
//! API server again by itself, and every deployment converges to Ready at the right version with
//! no orphaned object.
//!
//! It failed until the controllers' shared trigger back-off was turned off
//! (`capstan_operator::watch::EachWatchBacksOff`): each watch is answered `410 Expired` once after
//! the outage, and kube-runtime's default back-off over all of a controller's watches together
//! paused every one of them for up to a minute per 410, so the ChartDeployments' deletion after the
//! rollout went unseen for minutes.
//!
//! The cluster's own controllers (kube-controller-manager, the scheduler, kwok) are restarted with
//! the API server, as a control plane restarts its components together: after an outage this
//! kube-controller-manager can miss events for minutes (see `e2e/cluster`).
//!
//! This test has a binary of its own: the outage would otherwise hit the tests running beside it.
//! It prints what it did and never asserts on time.

use std::process::Command;
use std::time::Duration;

use capstan_api::ChartDeployment;
use capstan_e2e::Cluster;
use capstan_e2e::operator::{Setup, TestResult};
use capstan_e2e::orphans::orphans;
use capstan_e2e::scale::bench::{all_ready_at, is_ready_at};
use capstan_e2e::scale::chart::{CHART, package_jinja_chart};
use kube::api::ListParams;
use serde_json::json;

const DEPLOYMENTS: usize = 20;
/// How long the API server stays down each time.
const OUTAGE_SECONDS: &str = "5";
/// How long the deployments get to converge after an outage.
const CONVERGE: Duration = Duration::from_secs(300);

/// What is stopped for an outage.
#[derive(Clone, Copy, Debug)]
enum Outage {
    ApiServer,
    ApiServerAndEtcd,
}

/// Stops the API server (and etcd), keeps it down for [`OUTAGE_SECONDS`], starts it again.
fn restart_control_plane(cluster: &Cluster, outage: Outage) -> TestResult {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/cluster");
    let mut args = vec!["restart-apiserver", OUTAGE_SECONDS];
    if let Outage::ApiServerAndEtcd = outage {
        args.push("--with-etcd");
    }
    let status = Command::new(script)
        .args(args)
        .env("CAPSTAN_E2E_DIR", &cluster.env().state_dir)
        .status()?;
    if !status.success() {
        return Err(format!("{script} restart-apiserver failed ({status})").into());
    }
    Ok(())
}

/// Waits until at least one deployment and not all are Ready at `version`, so the outage lands
/// in the middle of the rollout; returns how many were.
async fn mid_rollout(setup: &Setup, version: &str) -> TestResult<usize> {
    let api = setup.namespace.api::<ChartDeployment>();
    for _ in 0..600 {
        let ready = api
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .filter(|deployment| is_ready_at(deployment, version))
            .count();
        if ready > 0 {
            return Ok(ready);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("no deployment became Ready at {version}").into())
}

async fn converge(setup: &Setup, version: &str) -> TestResult {
    let api = setup.namespace.api::<ChartDeployment>();
    if let Err(error) = all_ready_at(&api, DEPLOYMENTS, version, CONVERGE).await {
        return Err(format!("{error}; operator log: {}", setup.operator_log().display()).into());
    }
    Ok(())
}

#[tokio::test]
async fn the_operator_rides_out_control_plane_restarts_mid_rollout() -> TestResult {
    let cluster = Cluster::shared()?;
    let mut setup = Setup::new("fault-api").await?;
    let pid = setup.operator_pid().ok_or("the operator has no pid")?;
    let scratch = tempfile::tempdir()?;
    package_jinja_chart(scratch.path(), "1.0.0", &setup.repo_dir)?;
    setup.reindex()?;
    setup
        .apply_repository_with("charts", json!({"url": setup.repo_url, "interval": "2s"}))
        .await?;
    for index in 0..DEPLOYMENTS {
        setup
            .apply_deployment(&format!("app-{index}"), CHART, "^1.0", json!({}))
            .await?;
    }

    for (version, outage) in [
        ("1.0.0", Outage::ApiServer),
        ("1.1.0", Outage::ApiServerAndEtcd),
    ] {
        if version != "1.0.0" {
            package_jinja_chart(scratch.path(), version, &setup.repo_dir)?;
            setup.reindex()?;
        }
        let ready = mid_rollout(&setup, version).await?;
        eprintln!("faults: {ready} of {DEPLOYMENTS} Ready at {version}; restarting: {outage:?}");
        restart_control_plane(cluster, outage)?;
        converge(&setup, version).await?;
    }

    assert_eq!(
        setup.operator_exited()?,
        None,
        "the operator exited during the outages; log: {}",
        setup.operator_log().display()
    );
    assert_eq!(
        setup.operator_pid(),
        Some(pid),
        "the operator was restarted"
    );
    let orphans = orphans(&setup).await?;
    assert!(orphans.is_empty(), "{orphans:#?}");
    eprintln!(
        "faults: an outage of {OUTAGE_SECONDS}s of the API server mid-install, and of the API \
         server and etcd mid-upgrade; {DEPLOYMENTS} deployments Ready at each version with the \
         same operator process, 0 orphans"
    );
    setup.finish().await?;
    Ok(())
}
