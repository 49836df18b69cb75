//! Faults in the middle of work: the operator killed with SIGKILL at seeded pseudo-random moments
//! while many deployments roll out and then upgrade. Afterwards every deployment is Ready at the
//! new version and no object is orphaned: every object labelled as a deployment's is in that
//! deployment's inventory, and every inventory entry exists.
//!
//! The run prints its seed and how many kills it made (`CAPSTAN_FAULT_SEED`, `CAPSTAN_FAULT_KILLS`
//! and `CAPSTAN_FAULT_DEPLOYMENTS` repeat or resize a run); it never asserts on time.

use std::time::Duration;

use capstan_api::ChartDeployment;
use capstan_e2e::operator::{Setup, TestResult};
use capstan_e2e::orphans::orphans;
use capstan_e2e::scale::bench::all_ready_at;
use capstan_e2e::scale::chart::{CHART, package_jinja_chart};
use serde_json::json;

/// How long the deployments get to converge after the last kill.
const CONVERGE: Duration = Duration::from_secs(240);

/// A small deterministic generator (xorshift64*): the same seed gives the same kill moments.
struct Moments(u64);

impl Moments {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A pause of 200 ms to 3 s before the next kill.
    fn pause(&mut self) -> Duration {
        Duration::from_millis(200 + self.next() % 2_800)
    }
}

fn setting(name: &str, default: u64) -> TestResult<u64> {
    match std::env::var(name) {
        Ok(value) => Ok(value
            .parse()
            .map_err(|_| format!("{name}={value} is not a number"))?),
        Err(_) => Ok(default),
    }
}

#[tokio::test]
async fn killed_operator_converges_without_orphans() -> TestResult {
    let deployments = setting("CAPSTAN_FAULT_DEPLOYMENTS", 100)? as usize;
    let kills = setting("CAPSTAN_FAULT_KILLS", 20)?;
    let seed = match std::env::var("CAPSTAN_FAULT_SEED") {
        Ok(seed) => seed.parse()?,
        Err(_) => {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_nanos() as u64
                | 1
        }
    };
    eprintln!(
        "faults: seed {seed} (CAPSTAN_FAULT_SEED={seed} repeats it), {kills} kills, {deployments} deployments"
    );
    let mut moments = Moments(seed);

    let mut setup = Setup::new("faults").await?;
    let scratch = tempfile::tempdir()?;
    package_jinja_chart(scratch.path(), "1.0.0", &setup.repo_dir)?;
    setup.reindex()?;
    setup
        .apply_repository_with("charts", json!({"url": setup.repo_url, "interval": "2s"}))
        .await?;
    for index in 0..deployments {
        setup
            .apply_deployment(&format!("app-{index}"), CHART, "^1.0", json!({}))
            .await?;
    }

    let mut made = 0;
    for kill in 0..kills {
        // Halfway, a new version: the second half of the kills lands in the upgrade.
        if kill == kills / 2 {
            package_jinja_chart(scratch.path(), "1.1.0", &setup.repo_dir)?;
            setup.reindex()?;
            eprintln!("faults: published 1.1.0 after {made} kills");
        }
        tokio::time::sleep(moments.pause()).await;
        setup.stop_operator().await?;
        made += 1;
        setup.start_operator()?;
    }
    if kills == 0 {
        package_jinja_chart(scratch.path(), "1.1.0", &setup.repo_dir)?;
        setup.reindex()?;
    }
    eprintln!("faults: {made} SIGKILLs made; waiting for convergence");

    let api = setup.namespace.api::<ChartDeployment>();
    if let Err(error) = all_ready_at(&api, deployments, "1.1.0", CONVERGE).await {
        return Err(format!(
            "{error} (seed {seed}); operator log: {}",
            setup.operator_log().display()
        )
        .into());
    }

    let orphans = orphans(&setup).await?;
    assert!(orphans.is_empty(), "seed {seed}: {orphans:#?}");
    eprintln!("faults: {made} kills, {deployments} deployments Ready at 1.1.0, 0 orphans");
    Ok(())
}
