//! Times and peak heap use of repository operations at the scale of large public repositories:
//! packaging a chart of 200 templates and a subchart, and parsing and querying a generated
//! 15,000-entry (about 17 MB) `index.yaml`.
//!
//! Run with `cargo bench -p capstan-chart --bench repository`.

use capstan_chart::index::IndexFile;
use capstan_chart::package::{PackageOptions, package_dir};
use std::alloc::{GlobalAlloc, Layout, System};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

/// Counts live heap bytes and remembers the highest value since the last reset.
struct PeakTracking;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for PeakTracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged to the system allocator.
        let pointer = unsafe { System.alloc(layout) };
        if !pointer.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        pointer
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(pointer, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: PeakTracking = PeakTracking;

/// Runs `work` and prints its wall time and the heap peak above what was live before it.
fn measure<T>(label: &str, work: impl FnOnce() -> T) -> T {
    let baseline = LIVE.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let started = Instant::now();
    let result = work();
    let elapsed = started.elapsed();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(baseline);
    println!(
        "{label}: {:.1} ms, peak heap +{:.1} MiB",
        elapsed.as_secs_f64() * 1000.0,
        peak as f64 / (1024.0 * 1024.0)
    );
    result
}

const CHARTS: usize = 500;
const VERSIONS_PER_CHART: usize = 30;

/// An index shaped like a busy public repository: 500 charts × 30 versions, each entry with
/// the metadata, maintainers, dependencies and annotations such repositories carry.
fn generate_index() -> String {
    let mut text = String::from("apiVersion: v1\nentries:\n");
    for chart in 0..CHARTS {
        let name = format!("chart-{chart:04}");
        let _ = writeln!(text, "  {name}:");
        for version in 0..VERSIONS_PER_CHART {
            let (major, minor) = (version / 10, version % 10);
            let _ = write!(
                text,
                "  - apiVersion: v2\n    appVersion: {major}.{minor}.7\n    created: \"2026-01-0{}T10:20:30.123456789Z\"\n    \
                 description: A generated chart number {chart} used to measure how long parsing a large repository index takes, \
                 with a description about as long as the ones real charts carry in public repositories.\n    \
                 digest: {:064x}\n    home: https://example.com/charts/{name}\n    icon: https://example.com/icons/{name}.png\n    \
                 keywords:\n    - generated\n    - benchmark\n    - {name}\n    maintainers:\n    - email: team-{chart}@example.com\n      name: Team {chart}\n    \
                 - email: oncall@example.com\n      name: On call\n    name: {name}\n    sources:\n    - https://github.com/example/{name}\n    \
                 dependencies:\n    - name: common\n      repository: https://example.com/charts\n      version: 2.x.x\n    \
                 annotations:\n      category: Infrastructure\n      licenses: Apache-2.0\n      images: |\n        - name: app\n          image: registry.example.com/{name}:{major}.{minor}.7\n    \
                 type: application\n    urls:\n    - https://example.com/charts/{name}-{major}.{minor}.0.tgz\n    version: {major}.{minor}.0\n",
                1 + version % 9,
                chart * 1000 + version
            );
        }
    }
    let _ = writeln!(text, "generated: \"2026-01-10T00:00:00Z\"");
    text
}

/// Writes a chart named `bench` with many templates, a README and a subchart under `root`.
fn write_chart(root: &Path) {
    let write = |path: &str, text: &str| {
        let full = root.join(path);
        std::fs::create_dir_all(full.parent().expect("chart paths have a parent"))
            .expect("create chart directory");
        std::fs::write(full, text).expect("write chart file");
    };
    write(
        "Chart.yaml",
        "apiVersion: v2\nname: bench\nversion: 1.0.0\ndescription: Packaging benchmark\n\
         annotations:\n  capstan.dev/engine: jinja\n",
    );
    write("values.yaml", "replicas: 2\nimage: example/app:1.0\n");
    write("README.md", &"Documentation line.\n".repeat(2_000));
    for number in 0..200 {
        write(
            &format!("templates/configmap-{number:03}.yaml"),
            &format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{{{ release.name }}}}-{number}\ndata:\n  replicas: \"{{{{ values.replicas }}}}\"\n"
            ),
        );
    }
    write(
        "charts/sub/Chart.yaml",
        "apiVersion: v2\nname: sub\nversion: 0.1.0\ndescription: Subchart\n\
         annotations:\n  capstan.dev/engine: jinja\n",
    );
    write("charts/sub/values.yaml", "enabled: true\n");
}

fn main() {
    let workspace = tempfile::tempdir().expect("temporary directory");
    let chart_dir = workspace.path().join("bench");
    write_chart(&chart_dir);
    let (name, archive) = measure("package a 200-template chart", || {
        package_dir(&chart_dir, &PackageOptions::default()).expect("benchmark chart packages")
    });
    println!("package: {name}, {} bytes", archive.len());

    let text = measure("generate index", generate_index);
    println!(
        "index: {} entries, {:.1} MB",
        CHARTS * VERSIONS_PER_CHART,
        text.len() as f64 / 1e6
    );
    let loaded = measure("parse index.yaml", || {
        IndexFile::parse(text.as_bytes(), "generated index.yaml").expect("generated index parses")
    });
    assert_eq!(
        loaded.index.entries.values().map(Vec::len).sum::<usize>(),
        CHARTS * VERSIONS_PER_CHART
    );
    let found = measure("resolve 10,000 queries", || {
        (0..10_000)
            .filter(|query| {
                let name = format!("chart-{:04}", query % CHARTS);
                loaded.index.resolve(&name, "^1.2 || ~0.5").is_ok()
            })
            .count()
    });
    assert_eq!(found, 10_000);
    measure("write index.yaml", || {
        loaded.index.to_yaml().expect("index serialises").len()
    });
}
