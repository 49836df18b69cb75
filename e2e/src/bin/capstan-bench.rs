//! `e2e/bench`: the same chart deployed N times by the server-side-apply floor, Helm and Capstan on
//! the local control plane, printed as one table per N.
//!
//! Usage: `capstan-bench [N...]` (default 100), e.g. `capstan-bench 100 1000`. The serial Helm run
//! takes one to two seconds per deployment: `CAPSTAN_BENCH_HELM_SERIAL_UP_TO=100` runs it only for
//! N up to 100, and `CAPSTAN_BENCH_SKIP_HELM_SERIAL=1` leaves it out. `CAPSTAN_BENCH_ROWS`, a
//! comma-separated list of [`ROWS`], runs only those (the batched floor, every ratio's reference,
//! always runs, and runs again right before each tool after the first: every ratio is to the floor
//! measured last before it), e.g. `CAPSTAN_BENCH_ROWS=capstan` for a run of 10,000. `capstan` is the rollout
//! from a repository and the no-op resync; `capstan-upgrade` the upgrade wave after them.
//!
//! Interrupted (Ctrl-C, or SIGTERM as from `timeout`), it stops the measurement under way: the
//! operator it started is killed and its namespace deleted, so nothing it started outlives it.

use capstan_e2e::Cluster;
use capstan_e2e::operator::TestResult;
use capstan_e2e::scale::bench::{Bench, HELM_PARALLEL, Row, table};
use tokio::signal::unix::{SignalKind, signal};

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
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    // Dropping the benchmark's future drops what it holds: the operator process (killed on drop)
    // and the measurement's namespace (deleted on drop).
    tokio::select! {
        result = run(counts) => result,
        _ = interrupt.recv() => Err("interrupted (SIGINT): the measurement under way was stopped".into()),
        _ = terminate.recv() => Err("terminated (SIGTERM): the measurement under way was stopped".into()),
    }
}

/// The measurements `CAPSTAN_BENCH_ROWS` can name.
const ROWS: [&str; 6] = [
    "floor-each",
    "helm-serial",
    "helm-parallel",
    "capstan",
    "capstan-upgrade",
    "capstan-oci",
];

/// The measurements to run: `CAPSTAN_BENCH_ROWS`, else all.
fn selected_rows() -> TestResult<Vec<String>> {
    let Ok(list) = std::env::var("CAPSTAN_BENCH_ROWS") else {
        return Ok(ROWS.map(String::from).to_vec());
    };
    list.split(',')
        .map(|name| match name.trim() {
            name if ROWS.contains(&name) => Ok(name.to_string()),
            other => Err(format!(
                "CAPSTAN_BENCH_ROWS names `{other}`, which is not one of {}",
                ROWS.join(", ")
            )
            .into()),
        })
        .collect()
}

async fn run(counts: Vec<usize>) -> TestResult {
    let rows_to_run = selected_rows()?;
    let runs = |name: &str| rows_to_run.iter().any(|row| row == name);
    let skip_helm_serial =
        std::env::var_os("CAPSTAN_BENCH_SKIP_HELM_SERIAL").is_some() || !runs("helm-serial");
    let helm_serial_up_to = match std::env::var("CAPSTAN_BENCH_HELM_SERIAL_UP_TO") {
        Ok(value) => value.parse::<usize>().map_err(|_| {
            format!("CAPSTAN_BENCH_HELM_SERIAL_UP_TO={value:?} is not a number of deployments")
        })?,
        Err(_) => usize::MAX,
    };
    let cluster = Cluster::shared()?;
    for deployments in counts {
        let bench = Bench::new(cluster, deployments)?;
        let mut rows = Vec::new();
        if runs("floor-each") {
            eprintln!("[bench] N={deployments}: floor, one apply per deployment");
            record(&mut rows, [bench.floor_per_deployment().await?]);
        }
        eprintln!("[bench] N={deployments}: floor, one batch");
        record(&mut rows, [bench.floor_batch().await?]);
        // Every tool is measured right after a batched floor, its reference: the first
        // measurement after the floor above, and each later one after a floor of its own.
        let mut floor_is_last = true;
        let mut after_floor = async |rows: &mut Vec<Row>, what: &str| -> TestResult {
            if !floor_is_last {
                eprintln!("[bench] N={deployments}: floor, one batch, again before {what}");
                record(rows, [bench.floor_batch().await?]);
            }
            floor_is_last = false;
            eprintln!("[bench] N={deployments}: {what}");
            Ok(())
        };
        if !skip_helm_serial && deployments <= helm_serial_up_to {
            after_floor(&mut rows, "Helm, serial").await?;
            record(&mut rows, [bench.helm(1).await?]);
        }
        if runs("helm-parallel") {
            after_floor(&mut rows, &format!("Helm, {HELM_PARALLEL} in parallel")).await?;
            record(&mut rows, [bench.helm(HELM_PARALLEL).await?]);
        }
        if runs("capstan") || runs("capstan-upgrade") {
            after_floor(&mut rows, "Capstan, one repository").await?;
            record(&mut rows, bench.capstan(runs("capstan-upgrade")).await?);
        }
        if runs("capstan-oci") {
            after_floor(&mut rows, "Capstan, one OCI registry").await?;
            record(&mut rows, [bench.capstan_oci().await?]);
        }
        println!("{}", table(deployments, &rows, cluster.controllers_pace()));
    }
    Ok(())
}

/// Keeps measured rows for the table and prints each at once, so a failure later in a long run
/// (a namespace that takes too long to go, say) does not lose what was measured.
fn record(rows: &mut Vec<Row>, measured: impl IntoIterator<Item = Row>) {
    for row in measured {
        let usage = row.usage.map_or(String::new(), |usage| {
            format!(
                ", operator peak RSS {:.1} MiB, CPU {:.1} s",
                usage.peak_rss_kib as f64 / 1024.0,
                usage.cpu.as_secs_f64()
            )
        });
        let requests = row.requests.as_ref().map_or(String::new(), |requests| {
            format!(", requests: {}", requests.summary())
        });
        let control_plane = row.control_plane.map_or(String::new(), |cpu| {
            format!(", control plane CPU: {}", cpu.summary())
        });
        eprintln!(
            "[bench]   {}: {}{usage}{requests}{control_plane}",
            row.what,
            row.time()
        );
        rows.push(row);
    }
}
