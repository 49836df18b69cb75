//! Any bytes given as a chart archive must load or fail with an error, never panic, hang or use
//! unbounded memory. Small limits keep each run fast while still exercising every check.
#![no_main]

use capstan_chart::load::{LoadLimits, load_archive_with};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = LoadLimits {
        max_archive_bytes: 1 << 20,
        max_file_bytes: 256 << 10,
        max_total_bytes: 1 << 20,
        max_entries: 256,
        max_depth: 4,
    };
    let _ = load_archive_with(data, &limits);
});
