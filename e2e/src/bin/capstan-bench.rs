//! `e2e/bench`: the same chart deployed N times by the server-side-apply floor, Helm and Capstan on
//! the local control plane, printed as one table per N.
//!
//! Usage: `capstan-bench [N...]` (default 100), e.g. `capstan-bench 100 1000`. Set
//! `CAPSTAN_BENCH_SKIP_HELM_SERIAL=1` to leave out the serial Helm run (it takes about a second per
//! deployment).

use capstan_e2e::Cluster;
use capstan_e2e::operator::TestResult;
use capstan_e2e::scale::bench::{Bench, HELM_PARALLEL, table};

#[tokio::main]
async fn main() -> TestResult {
    let counts: Vec<usize> = std::env::args()
        .skip(1)
        .map(|arg| {
            arg.parse().map_err(|_| {
                format!("`{arg}` is not a number of deployments; usage: capstan-bench [N...]")
            })
        })
        .collect::<Result<_, _>>()?;
    let counts = if counts.is_empty() { vec![100] } else { counts };
    let skip_helm_serial = std::env::var_os("CAPSTAN_BENCH_SKIP_HELM_SERIAL").is_some();
    let cluster = Cluster::shared()?;
    for deployments in counts {
        let bench = Bench::new(cluster, deployments)?;
        let mut rows = Vec::new();
        eprintln!("[bench] N={deployments}: floor, one apply per deployment");
        rows.push(bench.floor_per_deployment().await?);
        eprintln!("[bench] N={deployments}: floor, one batch");
        let floor = bench.floor_batch().await?;
        let floor_time = floor.elapsed;
        rows.push(floor);
        if !skip_helm_serial {
            eprintln!("[bench] N={deployments}: Helm, serial");
            rows.push(bench.helm(1).await?);
        }
        eprintln!("[bench] N={deployments}: Helm, {HELM_PARALLEL} in parallel");
        rows.push(bench.helm(HELM_PARALLEL).await?);
        eprintln!("[bench] N={deployments}: Capstan");
        rows.extend(bench.capstan().await?);
        println!("{}", table(deployments, &rows, floor_time));
    }
    Ok(())
}
