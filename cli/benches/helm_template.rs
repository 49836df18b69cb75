//! `capstan template` against `helm template` on real Helm charts, side by side in one run: the
//! wall time of each process (spawned, waited for, output read) for podinfo and Bitnami's
//! PostgreSQL, after warm-up runs, alternating the two tools so both see the same machine load.
//! Prints the mean and 95th percentile of each and the speed-up. Then renders podinfo in this
//! process under a counting allocator and reports the bytes allocated against the bytes of output.
//!
//! Needs `../shared/corpus/helm` and a Helm binary (`CAPSTAN_E2E_HELM`, or the one `e2e/cluster
//! build` caches): an ignored test, which fails saying what is missing without them.
//!
//! `cargo test --release -p capstan-cli --bench helm_template -- --ignored --nocapture` (`CAPSTAN_BENCH_RUNS` sets the runs per
//! tool and chart, default 30).

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use capstan_chart::expand::{ExpandInput, expand};
use capstan_chart::load::load_path;
use capstan_chart::render::RenderOptions;

const DEFAULT_RUNS: usize = 30;
const WARM_UP_RUNS: usize = 3;
const KUBE_VERSION: &str = "v1.36.0";
const CHARTS: &[&str] = &["podinfo", "postgresql"];

/// Counts what the process allocates, so one in-process render can be measured.
struct CountingAllocator;

static ALLOCATED_BYTES: AtomicUsize = AtomicUsize::new(0);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static PEAK_LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED_BYTES.fetch_add(layout.size(), Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        let live = LIVE_BYTES.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK_LIVE_BYTES.fetch_max(live, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn shared_corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/helm")
}

fn helm_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CAPSTAN_E2E_HELM").filter(|p| !p.is_empty()) {
        return Some(path.into());
    }
    let home = std::env::var_os("HOME")?;
    let cached = Path::new(&home).join(".cache/capstan/bin/helm-v3.22.0/helm");
    cached.is_file().then_some(cached)
}

/// One timed process: spawn, wait, read its output. Fails the bench if the tool fails.
fn time_once(command: &mut Command) -> Duration {
    let start = Instant::now();
    let output = command.output().expect("the tool runs");
    let elapsed = start.elapsed();
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    elapsed
}

struct Timings(Vec<Duration>);

impl Timings {
    fn mean_ms(&self) -> f64 {
        self.0.iter().sum::<Duration>().as_secs_f64() * 1e3 / self.0.len() as f64
    }

    fn p95_ms(&self) -> f64 {
        let mut sorted = self.0.clone();
        sorted.sort();
        sorted[(sorted.len() * 95).div_ceil(100) - 1].as_secs_f64() * 1e3
    }
}

/// Ignored by default because a fresh clone has no `../shared`; CI runs it once with `--ignored`,
/// and `cargo test --release -p capstan-cli --bench helm_template -- --ignored --nocapture`
/// measures (libtest's bench mode runs no tests).
#[test]
#[ignore = "needs ../shared/corpus/helm and a Helm binary"]
fn capstan_template_against_helm_template() {
    let corpus = shared_corpus();
    let helm =
        helm_binary().expect("no Helm binary: set CAPSTAN_E2E_HELM or run e2e/cluster build");
    assert!(
        corpus.is_dir(),
        "{} is missing: put the project's shared/ directory beside the repository",
        corpus.display()
    );
    // A release build measures; a debug build (CI's `--ignored` pass) runs once to check it works.
    let benchmarking = !cfg!(debug_assertions);
    let runs = std::env::var("CAPSTAN_BENCH_RUNS")
        .ok()
        .and_then(|text| text.parse::<usize>().ok())
        .filter(|&runs| runs > 0)
        .unwrap_or(if benchmarking { DEFAULT_RUNS } else { 1 });
    let capstan = env!("CARGO_BIN_EXE_capstan");
    let scratch = tempfile::tempdir().expect("scratch directory");
    let helm_home = scratch.path().join("helm");

    println!(
        "template of unmodified Helm charts, {runs} processes per tool and chart (after {WARM_UP_RUNS} warm-up runs)"
    );
    println!(
        "{:<12} {:>16} {:>16} {:>16} {:>16} {:>9}",
        "chart", "capstan mean ms", "capstan p95 ms", "helm mean ms", "helm p95 ms", "speed-up"
    );
    for chart in CHARTS {
        let path = corpus.join(chart);
        let capstan_command = || {
            let mut command = Command::new(capstan);
            command
                .arg("template")
                .arg("bench")
                .arg(&path)
                .args(["--kube-version", KUBE_VERSION]);
            command
        };
        let helm_command = || {
            let mut command = Command::new(&helm);
            command
                .arg("template")
                .arg("bench")
                .arg(&path)
                .args(["--kube-version", KUBE_VERSION])
                .env("HOME", &helm_home)
                .env("HELM_CONFIG_HOME", helm_home.join("config"))
                .env("HELM_CACHE_HOME", helm_home.join("cache"))
                .env("HELM_DATA_HOME", helm_home.join("data"));
            command
        };
        for _ in 0..WARM_UP_RUNS {
            time_once(&mut capstan_command());
            time_once(&mut helm_command());
        }
        let mut ours = Vec::with_capacity(runs);
        let mut theirs = Vec::with_capacity(runs);
        for _ in 0..runs {
            ours.push(time_once(&mut capstan_command()));
            theirs.push(time_once(&mut helm_command()));
        }
        let (ours, theirs) = (Timings(ours), Timings(theirs));
        println!(
            "{:<12} {:>16.2} {:>16.2} {:>16.2} {:>16.2} {:>8.1}x",
            chart,
            ours.mean_ms(),
            ours.p95_ms(),
            theirs.mean_ms(),
            theirs.p95_ms(),
            theirs.mean_ms() / ours.mean_ms()
        );
    }
    measure_allocation(&corpus.join("podinfo"));
}

/// Loads and renders podinfo in this process and reports what the render allocated.
fn measure_allocation(path: &Path) {
    let chart = load_path(path).expect("podinfo loads");
    let input = ExpandInput {
        chart,
        user_values: Vec::new(),
        opts: RenderOptions {
            release_name: "bench".into(),
            kube_version: KUBE_VERSION.into(),
            ..RenderOptions::default()
        },
    };
    // One render first, so one-time work (the function table) is not counted.
    expand(&input).expect("podinfo renders");
    let before_bytes = ALLOCATED_BYTES.load(Ordering::Relaxed);
    let before_count = ALLOCATIONS.load(Ordering::Relaxed);
    let live_before = LIVE_BYTES.load(Ordering::Relaxed);
    PEAK_LIVE_BYTES.store(live_before, Ordering::Relaxed);
    let start = Instant::now();
    let rendered = expand(&input).expect("podinfo renders");
    let elapsed = start.elapsed();
    let output = rendered
        .helm_template_output(false, false)
        .expect("podinfo is a Go-template chart");
    let allocated = ALLOCATED_BYTES.load(Ordering::Relaxed) - before_bytes;
    let count = ALLOCATIONS.load(Ordering::Relaxed) - before_count;
    let peak = PEAK_LIVE_BYTES.load(Ordering::Relaxed) - live_before;
    println!();
    println!(
        "podinfo rendered in process: {:.2} ms, output {} bytes; {count} allocations, {} bytes allocated ({:.1}x the output), peak {} bytes live ({:.1}x the output)",
        elapsed.as_secs_f64() * 1e3,
        output.len(),
        allocated,
        allocated as f64 / output.len() as f64,
        peak,
        peak as f64 / output.len() as f64,
    );
}
