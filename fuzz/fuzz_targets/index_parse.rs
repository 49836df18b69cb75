//! Feeds arbitrary bytes to the repository index parser: it must return an index or an error,
//! never panic, and whatever it accepts must serialise and read back with the same entries.
//!
//! Run with `cargo +nightly fuzz run index_parse` from `fuzz/`.

#![no_main]

use capstan_chart::index::IndexFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(loaded) = IndexFile::parse(data, "fuzz input") else {
        return;
    };
    let index = loaded.index;
    for (name, versions) in &index.entries {
        let _ = index.resolve(name, "");
        let _ = index.resolve(name, ">=0.0.0-0");
        let _ = versions.first().map(|v| index.resolve(name, &v.version));
    }
    let Ok(text) = index.to_yaml() else {
        return;
    };
    let again = IndexFile::parse(text.as_bytes(), "round trip")
        .expect("a written index reads back");
    let count = |index: &IndexFile| index.entries.values().map(Vec::len).sum::<usize>();
    assert_eq!(count(&again.index), count(&index));
});
