//! Renders the fixture chart `tests/fixtures/golden` and compares the YAML stream and notes with
//! `tests/fixtures/golden.expected`. Set `CAPSTAN_UPDATE_GOLDEN=1` to rewrite the expectation after
//! an intended change, then review the diff.

use capstan_chart::load::load_dir;
use capstan_chart::render::{RenderOptions, render};
use capstan_chart::values::{Values, merge};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/golden");
const EXPECTED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/golden.expected"
);

/// The coalesced values for the fixture: the subchart's defaults under its name, overlaid with
/// what the parent sets for it, and the parent's `global` copied down.
fn coalesced_values(chart: &capstan_chart::model::Chart) -> Values {
    let mut values = chart.values.clone();
    for sub in &chart.dependencies {
        let mut sub_values = sub.values.clone();
        if let Some(serde_json::Value::Object(overrides)) = values.get(sub.name()) {
            merge(&mut sub_values, overrides.clone());
        }
        if let Some(global) = values.get("global") {
            sub_values.insert("global".into(), global.clone());
        }
        values.insert(
            sub.name().to_string(),
            serde_json::Value::Object(sub_values),
        );
    }
    values
}

#[test]
fn fixture_chart_renders_as_expected() {
    let chart = load_dir(FIXTURE).expect("the fixture chart loads");
    let opts = RenderOptions {
        release_name: "demo".into(),
        namespace: "shop".into(),
        ..Default::default()
    };
    let rendered = render(&chart, &coalesced_values(&chart), &opts).expect("the fixture renders");
    let actual = format!(
        "{}=== NOTES ===\n{}",
        rendered.to_yaml_stream(),
        rendered.notes.as_deref().unwrap_or("")
    );
    if std::env::var_os("CAPSTAN_UPDATE_GOLDEN").is_some() {
        std::fs::write(EXPECTED, &actual).expect("the expectation is writable");
    }
    let expected = std::fs::read_to_string(EXPECTED).expect("the expectation exists");
    assert_eq!(actual, expected, "render output changed; see {EXPECTED}");
    let again = render(&chart, &coalesced_values(&chart), &opts).unwrap();
    assert_eq!(
        again.to_yaml_stream(),
        rendered.to_yaml_stream(),
        "renders are deterministic"
    );
}
