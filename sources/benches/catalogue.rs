//! Cost of turning a large public-repository index into a shared [`Catalogue`]: parse time,
//! heap peak while parsing, heap the finished catalogue retains, and resolve latency.
//!
//! Targets: under 30 MB retained for a 15,000-entry (~20 MB) index and under 1 ms per resolve.
//! Run with `cargo bench -p capstan-sources --bench catalogue`.

use capstan_sources::catalogue::{Catalogue, CatalogueLimits};
use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

/// The system allocator, keeping a count of the bytes in use and their high-water mark.
struct CountingAllocator;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static HIGH_WATER: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the layout is passed on to the system allocator as received.
        let block = unsafe { System.alloc(layout) };
        if !block.is_null() {
            let now = IN_USE.fetch_add(layout.size(), Relaxed) + layout.size();
            HIGH_WATER.fetch_max(now, Relaxed);
        }
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: the block came from `alloc` above with this layout.
        unsafe { System.dealloc(block, layout) };
        IN_USE.fetch_sub(layout.size(), Relaxed);
    }
}

#[global_allocator]
static COUNTER: CountingAllocator = CountingAllocator;

const CHART_COUNT: usize = 600;
const VERSIONS_PER_CHART: usize = 25;

/// 600 charts × 25 versions with the fields busy public repositories fill in: long
/// descriptions, maintainers, keywords, image annotations, dependencies and absolute URLs.
fn realistic_index() -> String {
    let mut yaml = String::with_capacity(21 * 1024 * 1024);
    yaml.push_str("apiVersion: v1\nentries:\n");
    for chart in 0..CHART_COUNT {
        let name = format!("service-{chart:03}");
        let _ = writeln!(yaml, "  {name}:");
        for release in (0..VERSIONS_PER_CHART).rev() {
            let version = format!("{}.{}.{}", release / 8, release % 8, chart % 3);
            let app_version = format!("{}.{}", 10 + release / 5, release % 5);
            let _ = write!(
                yaml,
                concat!(
                    "  - annotations:\n",
                    "      category: Infrastructure\n",
                    "      licenses: Apache-2.0\n",
                    "      images: |\n",
                    "        - name: {name}\n          image: registry.example.org/library/{name}:{app}-debian-12-r{chart}\n",
                    "        - name: metrics-exporter\n          image: registry.example.org/library/metrics-exporter:0.15.{release}\n",
                    "    apiVersion: v2\n",
                    "    appVersion: \"{app}\"\n",
                    "    created: \"2026-0{month}-1{day}T08:15:30.{chart:03}{release:03}123Z\"\n",
                    "    dependencies:\n",
                    "    - name: common\n      repository: oci://registry.example.org/charts\n      tags:\n      - common-library\n      version: 2.x.x\n",
                    "    - condition: cache.enabled\n      name: cache\n      repository: oci://registry.example.org/charts\n      version: 19.x.x\n",
                    "    description: {name} packaged for Kubernetes, with production defaults, metrics, network policies, \n",
                    "      pod disruption budgets and optional autoscaling; maintained by the platform team.\n",
                    "    digest: {digest:064x}\n",
                    "    home: https://charts.example.org/{name}\n",
                    "    icon: https://charts.example.org/icons/{name}.svg\n",
                    "    keywords:\n    - {name}\n    - backend\n    - http\n    - platform\n",
                    "    kubeVersion: \">=1.{kube}-0\"\n",
                    "    maintainers:\n    - name: Platform Team\n      url: https://github.com/example/charts\n",
                    "    name: {name}\n",
                    "    sources:\n    - https://github.com/example/charts/tree/main/{name}\n    - https://github.com/example/{name}\n",
                    "    urls:\n    - https://charts.example.org/releases/{name}-{version}.tgz\n",
                    "    version: {version}\n",
                ),
                name = name,
                app = app_version,
                chart = chart,
                release = release,
                month = 1 + release % 9,
                day = release % 10,
                digest = chart * 1_000_003 + release,
                kube = 23 + release % 5,
                version = version,
            );
        }
    }
    yaml.push_str("generated: \"2026-06-01T00:00:00Z\"\n");
    yaml
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() {
    let index = realistic_index();
    println!(
        "index: {} charts, {} entries, {:.1} MB",
        CHART_COUNT,
        CHART_COUNT * VERSIONS_PER_CHART,
        index.len() as f64 / 1e6
    );

    let before = IN_USE.load(Relaxed);
    HIGH_WATER.store(before, Relaxed);
    let started = Instant::now();
    let catalogue = Catalogue::from_index_bytes(index.as_bytes(), &CatalogueLimits::default())
        .expect("the generated index is valid");
    let parse_time = started.elapsed();
    let peak = HIGH_WATER.load(Relaxed) - before;
    let retained = IN_USE.load(Relaxed) - before;
    assert_eq!(catalogue.entry_count(), CHART_COUNT * VERSIONS_PER_CHART);
    println!(
        "parse into catalogue: {:.0} ms",
        parse_time.as_secs_f64() * 1e3
    );
    println!("peak heap during parse: {:.1} MiB", mib(peak));
    println!("catalogue retains: {:.1} MiB", mib(retained));

    // Constraints of the kinds deployments use: empty (newest), ranges, caret/tilde, exact.
    let constraints = ["", ">=1.2 <2", "^2", "~0.3", "1.1.0", "2.x"];
    let rounds = 20_000;
    let mut timings: Vec<Duration> = (0..rounds)
        .map(|round| {
            let name = format!("service-{:03}", (round * 7) % CHART_COUNT);
            let constraint = constraints[round % constraints.len()];
            let started = Instant::now();
            black_box(catalogue.resolve(&name, constraint).ok());
            started.elapsed()
        })
        .collect();
    timings.sort_unstable();
    let micros = |at: usize| timings[at].as_secs_f64() * 1e6;
    let mean = timings.iter().sum::<Duration>() / rounds as u32;
    println!(
        "resolve over {rounds} queries: mean {:.1} µs, median {:.1} µs, p99 {:.1} µs, max {:.1} µs (max includes scheduler noise)",
        mean.as_secs_f64() * 1e6,
        micros(rounds / 2),
        micros(rounds * 99 / 100),
        micros(rounds - 1)
    );
}
