//! Helm's function map against Go on a broad grid of calls: every string, list, math,
//! conversion, serialisation, regex, date-in-zone, dict, URL and semver function applied to
//! strings (ASCII, accented, CJK, control characters), integers, floats, booleans, nil, lists,
//! maps and values from `.Values` (where YAML numbers are `float64`).
//!
//! `tests/data/sprig-helm-functions.jsonl` holds what a Go program (Go 1.26's text/template with
//! Helm v3.22.0's function map: Sprig v3.3.0, sigs.k8s.io/yaml v1.6.0, BurntSushi/toml v1.6.0)
//! rendered for each template, with `missingkey=zero` and fresh [`VALUES`] below as `.Values`:
//! the output, or the error text. Calls whose result depends on the clock, the machine's zone or
//! randomness are not in it.

use capstan_gotemplate::{Funcs, MissingKey, Options, Templates, Value};
use std::sync::Arc;

/// The values every case sees as `.Values` (as Helm reads YAML: numbers are `float64`).
const VALUES: &str = r#"{"replicas": 3, "resources": {"limits": {"memory": "128Mi"}}, "list": [1, "two", null], "ratio": 0.75, "big": 1000000, "neg": -4}"#;

struct Case {
    template: String,
    expected: Result<String, String>,
}

fn cases() -> Vec<Case> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/sprig-helm-functions.jsonl"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let json: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{path}: {e}: {line}"));
            let field = |key: &str| json.get(key).and_then(|v| v.as_str()).map(str::to_string);
            let template = field("template").unwrap_or_else(|| panic!("no template: {line}"));
            let expected = match (field("output"), field("error")) {
                (Some(output), _) => Ok(output),
                (None, Some(error)) => Err(error),
                _ => panic!("{path}: a case without a result: {line}"),
            };
            Case { template, expected }
        })
        .collect()
}

#[test]
fn helm_function_map_matches_go_on_the_grid() {
    let mut funcs = Funcs::new();
    capstan_gotemplate::sprig::register(&mut funcs);
    let funcs = Arc::new(funcs);
    let values: serde_json::Value = serde_json::from_str(VALUES).expect("VALUES is JSON");
    let values = serde_json::json!({ "Values": values });
    let cases = cases();
    assert!(cases.len() > 2000, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        let options = Options {
            missing_key: MissingKey::Zero,
            ..Options::default()
        };
        // Fresh values for each case: `merge` and `set` change the maps they are given.
        let data = Value::from_json(&values);
        let mut set = Templates::with_options(funcs.clone(), options);
        let got = set
            .parse("t", &case.template)
            .map_err(|e| e.to_string())
            .and_then(|_| set.render("t", &data).map_err(|e| e.to_string()));
        let same = match (&case.expected, &got) {
            (Ok(want), Ok(out)) => want == out,
            (Err(want), Err(error)) => want == error,
            _ => false,
        };
        if !same {
            failures.push(format!(
                "{}\n  expected: {:?}\n  got:      {got:?}",
                case.template, case.expected
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from Go:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
