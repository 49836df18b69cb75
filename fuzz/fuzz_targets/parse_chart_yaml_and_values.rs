//! Chart.yaml and values files are parsed from untrusted charts and `--set` expressions come
//! from users: all of them must fail cleanly on any input. The input is split at the first NUL:
//! the first part is used as a YAML document, the second as a `--set` expression.
#![no_main]

use capstan_chart::load::parse_chart_yaml;
use capstan_chart::values::{SetKind, Values, apply_set, merge, parse_values_file};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (yaml, expr) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[][..]),
    };
    let _ = parse_chart_yaml(yaml, "Chart.yaml");
    let parsed = parse_values_file("values.yaml", yaml);
    let Ok(expr) = std::str::from_utf8(expr) else {
        return;
    };
    let mut values = Values::new();
    for kind in [SetKind::Typed, SetKind::String, SetKind::Json] {
        let _ = apply_set(&mut values, expr, kind);
    }
    if let Ok(parsed) = parsed {
        merge(&mut values, parsed);
    }
});
