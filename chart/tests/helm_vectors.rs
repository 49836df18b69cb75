//! Runs the `helm` test vectors of `gotemplate/tests/vectors/*.jsonl` through Capstan's Helm
//! engine. Each vector was rendered by Helm v3.22.0's own engine (`helm.sh/helm/v3/pkg/engine`,
//! see `gotemplate/oracle/README.md`): a chart named `oracle` with the vector's templates and
//! files, `.Values` from its data, and the recorded output of one file or the error Helm returned.
//!
//! The vectors are part of the repository, so this runs in a fresh clone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use capstan_chart::helm::{Strictness, render_files};
use capstan_chart::model::{Chart, ChartFile, ChartMetadata};
use capstan_chart::render::RenderOptions;
use capstan_chart::values::resolve;
use serde_json::Value as Json;

fn vector_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../gotemplate/tests/vectors");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "jsonl"))
        .collect();
    files.sort();
    files
}

struct HelmVector {
    name: String,
    chart: Chart,
    values: serde_json::Map<String, Json>,
    opts: RenderOptions,
    strict: bool,
    entry: String,
    expected: Result<String, String>,
}

fn text_of(json: &Json, key: &str) -> String {
    json.get(key)
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string()
}

fn files_of(json: Option<&Json>, prefix: &str) -> Vec<ChartFile> {
    let mut files: Vec<ChartFile> = json
        .and_then(Json::as_object)
        .map(|map| {
            map.iter()
                .map(|(path, text)| ChartFile {
                    path: format!("{prefix}{path}"),
                    data: text.as_str().unwrap_or_default().as_bytes().to_vec(),
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

fn object_of(json: Option<&Json>) -> serde_json::Map<String, Json> {
    json.and_then(Json::as_object).cloned().unwrap_or_default()
}

/// The subcharts the oracle put under `charts/`: name → templates, values and type.
fn subcharts_of(json: Option<&Json>, parent: &Json) -> Vec<Chart> {
    let Some(subcharts) = json.and_then(Json::as_object) else {
        return Vec::new();
    };
    subcharts
        .iter()
        .map(|(name, sub)| Chart {
            metadata: ChartMetadata {
                api_version: text_of(parent, "apiVersion"),
                name: name.clone(),
                version: text_of(parent, "version"),
                chart_type: Some(text_of(sub, "type")).filter(|t| !t.is_empty()),
                ..ChartMetadata::default()
            },
            values: object_of(sub.get("values")),
            templates: files_of(sub.get("templates"), ""),
            ..Chart::default()
        })
        .collect()
}

fn parse_vector(line: &str) -> Option<HelmVector> {
    let json: Json = serde_json::from_str(line).expect("a vector line is JSON");
    if json.get("funcs").and_then(Json::as_str) != Some("helm") {
        return None;
    }
    let helm = &json["helm"];
    let meta = &helm["chart"];
    let release = &helm["release"];
    let chart = Chart {
        metadata: ChartMetadata {
            api_version: text_of(meta, "apiVersion"),
            name: text_of(meta, "name"),
            version: text_of(meta, "version"),
            app_version: Some(text_of(meta, "appVersion")),
            chart_type: Some(text_of(meta, "type")),
            ..ChartMetadata::default()
        },
        values: object_of(helm.get("values")),
        templates: files_of(json.get("templates"), ""),
        files: files_of(helm.get("files"), ""),
        dependencies: subcharts_of(helm.get("subcharts"), meta),
        ..Chart::default()
    };
    let expected = match (json.get("output"), json.get("error")) {
        (Some(Json::String(output)), _) => Ok(output.clone()),
        (_, Some(Json::String(error))) => Err(error.clone()),
        _ => panic!(
            "{}: a helm vector has an output or an error",
            text_of(&json, "name")
        ),
    };
    Some(HelmVector {
        name: text_of(&json, "name"),
        chart,
        values: json
            .get("data")
            .and_then(Json::as_object)
            .cloned()
            .unwrap_or_default(),
        opts: RenderOptions {
            release_name: text_of(release, "name"),
            namespace: text_of(release, "namespace"),
            revision: release["revision"].as_u64().unwrap_or(1),
            is_install: release["isInstall"].as_bool().unwrap_or(true),
            kube_version: text_of(helm, "kube_version"),
            api_versions: Vec::new(),
        },
        strict: json.get("missingkey").and_then(Json::as_str) == Some("error"),
        entry: format!("{}/{}", text_of(meta, "name"), text_of(&json, "entry")),
        expected,
    })
}

/// What Helm's `engine.Render` gives: the first error in render order, or the entry's text.
fn run(vector: &HelmVector) -> Result<String, String> {
    let strictness = Strictness {
        missing_key_error: vector.strict,
        lint: false,
    };
    // As `helm template` does: the chart's defaults coalesced with the given values.
    let (chart, values) = resolve(&vector.chart, std::slice::from_ref(&vector.values))
        .map_err(|error| error.to_string())?;
    let outputs = render_files(&chart, &values, &vector.opts, strictness)
        .map_err(|error| error.to_string())?;
    let mut entry = None;
    for output in outputs {
        let text = output.result.map_err(|error| error.to_string())?;
        if output.source == vector.entry {
            entry = Some(text);
        }
    }
    entry.ok_or_else(|| format!("no output for {}", vector.entry))
}

/// Whether the result is Helm's. One deliberate difference: Helm stops an `include` that includes
/// itself after 1000 nested calls, Capstan at its nesting budget (150), with a budget error.
fn matches(expected: &Result<String, String>, got: &Result<String, String>) -> bool {
    match (expected, got) {
        (Err(want), Err(error))
            if want.ends_with(
                "rendering template has a nested reference name: loop: unable to execute template",
            ) =>
        {
            error.contains("templates nest deeper than the limit")
        }
        _ => expected == got,
    }
}

/// Helm vectors the engine does not reproduce yet, with the reason. Each must still differ, so a
/// fix shows up as a failure asking to shorten this list.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "to-yaml/03",
        "toYaml prints a negative zero float as -0 where Helm's JSON round trip reads it back as 0",
    ),
    (
        "from-yaml/02",
        "fromYaml keeps the key `n` where go-yaml v2 reads it as the boolean false (key \"false\")",
    ),
    (
        "from-yaml/04",
        "fromYaml's error text for unclosed flow collections is the Rust parser's, not go-yaml's",
    ),
    (
        "toml/5",
        "fromToml's error text is the Rust TOML parser's, not go-toml's",
    ),
];

/// Long error chains cut to their start and end.
fn shorten(text: &str) -> String {
    const KEEP: usize = 400;
    if text.len() <= 2 * KEEP {
        return text.to_string();
    }
    let start = text.char_indices().nth(KEEP).map_or(0, |(i, _)| i);
    let end = text
        .char_indices()
        .rev()
        .nth(KEEP)
        .map_or(text.len(), |(i, _)| i);
    format!("{} [...] {}", &text[..start], &text[end..])
}

#[test]
fn helm_engine_matches_helm_on_every_helm_vector() {
    let mut checked = 0;
    let mut failures = Vec::new();
    let mut by_file = BTreeMap::new();
    for path in vector_files() {
        let text = std::fs::read_to_string(&path).expect("vector file is readable");
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            let Some(vector) = parse_vector(line) else {
                continue;
            };
            checked += 1;
            *by_file.entry(file.clone()).or_insert(0) += 1;
            let got = run(&vector);
            let known = KNOWN_DIFFERENCES
                .iter()
                .any(|(name, _)| *name == vector.name);
            if known {
                if matches(&vector.expected, &got) {
                    failures.push(format!(
                        "{file}: {} now matches Helm: remove it from KNOWN_DIFFERENCES",
                        vector.name
                    ));
                }
                continue;
            }
            if !matches(&vector.expected, &got) {
                failures.push(format!(
                    "{file}: {}\n  templates: {:?}\n  expected: {}\n  got:      {}",
                    vector.name,
                    vector
                        .chart
                        .templates
                        .iter()
                        .map(|t| (t.path.as_str(), String::from_utf8_lossy(&t.data)))
                        .collect::<Vec<_>>(),
                    shorten(&format!("{:?}", vector.expected)),
                    shorten(&format!("{got:?}")),
                ));
            }
        }
    }
    eprintln!("helm vectors checked per file: {by_file:?}");
    assert!(checked > 100, "only {checked} helm vectors found");
    assert!(
        failures.is_empty(),
        "{} of {checked} helm vectors differ from Helm:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
