//! Times one `capstan template` process on the `capstan create` scaffold chart, the way an author
//! or a CI step runs it: spawn the release binary, wait for it, repeat. Prints the mean and the
//! 95th percentile in milliseconds. Aim: under 10 ms per process on a warm cache.
//!
//! Run with `cargo bench -p capstan-cli --bench template` (`CAPSTAN_BENCH_RUNS` sets the count).

use std::process::Command;
use std::time::{Duration, Instant};

const DEFAULT_RUNS: usize = 100;

fn main() {
    let runs = std::env::var("CAPSTAN_BENCH_RUNS")
        .ok()
        .and_then(|text| text.parse::<usize>().ok())
        .filter(|&runs| runs > 0)
        .unwrap_or(DEFAULT_RUNS);
    let tmp = tempfile::tempdir().expect("temp dir");
    let binary = env!("CARGO_BIN_EXE_capstan");
    let created = Command::new(binary)
        .args(["create", "web"])
        .current_dir(tmp.path())
        .output()
        .expect("capstan create runs");
    assert!(
        created.status.success(),
        "capstan create failed: {created:?}"
    );
    let template = || {
        let start = Instant::now();
        let output = Command::new(binary)
            .args(["template", "web"])
            .current_dir(tmp.path())
            .output()
            .expect("capstan template runs");
        let elapsed = start.elapsed();
        assert!(
            output.status.success(),
            "capstan template failed: {output:?}"
        );
        elapsed
    };
    // One unmeasured run brings the binary and the chart into the page cache.
    template();
    let mut timings: Vec<Duration> = (0..runs).map(|_| template()).collect();
    timings.sort();
    let ms = |duration: Duration| duration.as_secs_f64() * 1e3;
    let mean = timings.iter().sum::<Duration>() / runs as u32;
    let p95 = timings[(runs * 95).div_ceil(100) - 1];
    println!(
        "capstan template (scaffold chart), {runs} processes: mean {:.2} ms, p95 {:.2} ms, min {:.2} ms, max {:.2} ms",
        ms(mean),
        ms(p95),
        ms(timings[0]),
        ms(timings[runs - 1])
    );
}
