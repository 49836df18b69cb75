//! Times one `capstan template` process on the `capstan create` scaffold chart, the way an author
//! or a CI step runs it. Aim: under 10 ms per process on a warm cache (release build).

use std::process::Command;
use std::time::{Duration, Instant};

const RUNS: u32 = 20;

fn main() {
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
    let mut timings: Vec<Duration> = (0..RUNS)
        .map(|_| {
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
        })
        .collect();
    timings.sort();
    println!(
        "capstan template (scaffold chart), {RUNS} processes: min {:?}, median {:?}, max {:?}",
        timings[0],
        timings[timings.len() / 2],
        timings[timings.len() - 1]
    );
}
