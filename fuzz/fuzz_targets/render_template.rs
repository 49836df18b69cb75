//! Renders arbitrary text as a chart's only template, next to a small helper library and values,
//! under tight render limits: the render must return manifests or an error, never panic, and
//! whatever it returns must respect the limits (no more objects than allowed).
//!
//! The input is split at the first NUL byte: before it the template, after it a library file
//! (`templates/_lib.tpl`) the template can import or `include` from.
//!
//! Run with `cargo +nightly fuzz run render_template` from `fuzz/`.

#![no_main]

use capstan_chart::model::{Chart, ChartFile, ChartMetadata, ENGINE_ANNOTATION};
use capstan_chart::render::{RenderLimits, RenderOptions, render_with_limits};
use capstan_chart::values::Values;
use libfuzzer_sys::fuzz_target;

/// Small enough that every input renders quickly and well under libFuzzer's memory limit, large
/// enough for real templates. Fuel also bounds the text a serializing filter may build (64 bytes
/// per unit): at 200,000 the `tojson` bomb of the seeds built 12.8 MB before stopping and took
/// 13 s in the instrumented build, so a short smoke ran it and little else.
fn limits() -> RenderLimits {
    RenderLimits {
        template_fuel: 20_000,
        chart_fuel: 40_000,
        max_output_bytes: 1 << 20,
        max_objects: 50,
        max_yaml_nodes: 20_000,
    }
}

fn chart(template: &[u8], library: &[u8]) -> Chart {
    let mut metadata = ChartMetadata {
        api_version: "v2".into(),
        name: "fuzz".into(),
        version: "1.0.0".into(),
        ..Default::default()
    };
    metadata
        .annotations
        .insert(ENGINE_ANNOTATION.into(), "jinja".into());
    let file = |path: &str, data: &[u8]| ChartFile {
        path: path.into(),
        data: data.to_vec(),
    };
    Chart {
        metadata,
        templates: vec![
            file("templates/x.yaml", template),
            file("templates/_lib.tpl", library),
        ],
        files: vec![file("conf/app.ini", b"key=value\nother=1\n")],
        ..Default::default()
    }
}

fn values() -> Values {
    serde_json::from_str(r#"{"name": "web", "replicas": 2, "tags": ["a", "b"], "env": {"A": "1"}}"#)
        .expect("the fuzz values are JSON")
}

fuzz_target!(|data: &[u8]| {
    let (template, library) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let limits = limits();
    if let Ok(rendered) = render_with_limits(
        &chart(template, library),
        &values(),
        &RenderOptions::default(),
        &limits,
    ) {
        assert!(rendered.manifests.len() <= limits.max_objects);
        let output: usize = rendered.manifests.iter().map(|m| m.yaml.len()).sum();
        assert!(output <= limits.max_output_bytes);
    }
});
