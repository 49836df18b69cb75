//! Runs the engine against every test vector in `tests/vectors/*.jsonl`: cases rendered by real
//! Go (`text/template`, Sprig, Helm's engine; see `oracle/README.md`), each with the output or
//! the error text Go produced. `fuzz-go-seed7.jsonl` holds random templates with Go's results,
//! from `oracle fuzz -seed 7 -count 600 -funcs go`.
//!
//! Vectors need the functions they were made with: `go` (builtins only) and `sprig` vectors run
//! here; `helm` vectors need Helm's chart objects (`.Values`, `.Files`, `.Capabilities`...) and run
//! through Capstan's Helm engine in `chart/tests/helm_vectors.rs`, so they are reported here as not
//! run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use capstan_gotemplate::{Error, Funcs, Limit, MissingKey, Options, Templates, Value};

/// The functions a vector's `funcs` field asks for, or `None` if this crate cannot supply them.
fn funcs_for(kind: &str) -> Option<Funcs> {
    match kind {
        "go" => Some(Funcs::new()),
        "sprig" => {
            let mut funcs = Funcs::new();
            capstan_gotemplate::sprig::register_sprig(&mut funcs);
            Some(funcs)
        }
        _ => None,
    }
}

struct Vector {
    file: String,
    name: String,
    funcs: String,
    missing_key: MissingKey,
    templates: BTreeMap<String, String>,
    entry: String,
    data: Value,
    expected: Expected,
}

enum Expected {
    Output(String),
    /// Output that is not UTF-8 (a string cut inside a character): Rust strings cannot hold
    /// it, so the engine's output must be its lossy decoding.
    Bytes(Vec<u8>),
    Error(String),
}

fn vector_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn parse_vector(file: &str, line: &str) -> Vector {
    let json: serde_json::Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("{file}: bad vector line {line:?}: {e}"));
    let text = |key: &str| json.get(key).and_then(|v| v.as_str()).map(str::to_string);
    let missing_key = match text("missingkey").as_deref() {
        Some("zero") => MissingKey::Zero,
        Some("error") => MissingKey::Error,
        _ => MissingKey::Default,
    };
    let templates = json
        .get("templates")
        .and_then(|t| t.as_object())
        .map(|t| {
            t.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default();
    let expected = match (text("output"), text("error"), text("output_base64")) {
        (Some(out), _, _) => Expected::Output(out),
        (None, Some(err), _) => Expected::Error(err),
        (None, None, Some(b64)) => Expected::Bytes(decode_base64(&b64)),
        _ => panic!("{file}: vector without a result: {line}"),
    };
    Vector {
        file: file.to_string(),
        name: text("name").unwrap_or_default(),
        funcs: text("funcs").unwrap_or_else(|| "go".into()),
        missing_key,
        templates,
        entry: text("entry").unwrap_or_else(|| "main".into()),
        data: Value::from_json(json.get("data").unwrap_or(&serde_json::Value::Null)),
        expected,
    }
}

/// Parses the templates in name order into one set named after the first, as the oracle does,
/// and executes the entry.
fn run(vector: &Vector, funcs: Funcs) -> Result<String, Error> {
    let options = Options {
        missing_key: vector.missing_key,
        ..Options::default()
    };
    let mut set = Templates::with_options(Arc::new(funcs), options);
    if let Some(first) = vector.templates.keys().next() {
        set.set_name(first);
    }
    for (name, text) in &vector.templates {
        set.parse(name, text)?;
    }
    set.render(&vector.entry, &vector.data)
}

/// Vectors whose Go result the engine cannot reproduce by design, with the reason. The test
/// checks that each still differs, so a fix shows up as a failure asking to shorten this list.
const KNOWN_DIFFERENCES: &[(&str, &str, &str)] = &[
    (
        "sprig-crypto.jsonl",
        "aes/7",
        "b64dec of random bytes: Go strings hold any bytes, Rust strings only UTF-8, so `len` counts replacement characters",
    ),
    (
        "sprig-crypto.jsonl",
        "aes/8",
        "b64dec of random bytes (as aes/7)",
    ),
    (
        "sprig-crypto.jsonl",
        "random-shapes/1",
        "b64dec of random bytes (as aes/7)",
    ),
    (
        "sprig-dicts.jsonl",
        "get-set-unset-haskey/12",
        "nil passed for a map parameter arrives as an empty map (the value model has no nil map), so `set` cannot fail like Go's assignment to a nil map",
    ),
];

fn is_known_difference(vector: &Vector) -> bool {
    KNOWN_DIFFERENCES
        .iter()
        .any(|(file, name, _)| *file == vector.file && *name == vector.name)
}

/// Whether the engine's result is Go's. One deliberate difference: Go stops runaway recursion
/// only at 100000 nested templates, the engine at its depth budget, with a budget error at the
/// same place.
fn matches(expected: &Expected, got: &Result<String, Error>) -> bool {
    match (expected, got) {
        (Expected::Output(want), Ok(out)) => want == out,
        (Expected::Bytes(want), Ok(out)) => String::from_utf8_lossy(want) == *out,
        (Expected::Error(want), Err(Error::Budget(b)))
            if want.contains("exceeded maximum template depth") =>
        {
            let location = want.split(": exceeded").next().unwrap_or_default();
            b.limit == Limit::Depth && b.to_string().starts_with(location)
        }
        (Expected::Error(want), Err(e)) => *want == e.to_string(),
        _ => false,
    }
}

fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let digits: Vec<u8> = text.bytes().filter(|&c| c != b'=').map(value).collect();
    let mut out = Vec::new();
    for chunk in digits.chunks(4) {
        let mut acc = 0u32;
        for (i, d) in chunk.iter().enumerate() {
            acc |= (*d as u32) << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

#[test]
fn engine_matches_go_on_every_vector() {
    let files = vector_files();
    assert!(
        !files.is_empty(),
        "no vector files found in tests/vectors (0 files): the oracle's vectors are missing"
    );
    let mut checked = 0;
    let mut not_run: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for path in &files {
        let file = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{file}: {e}"));
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let vector = parse_vector(&file, line);
            let Some(funcs) = funcs_for(&vector.funcs) else {
                *not_run.entry(vector.funcs.clone()).or_default() += 1;
                continue;
            };
            checked += 1;
            let got = run(&vector, funcs);
            let same = matches(&vector.expected, &got);
            if is_known_difference(&vector) {
                if same {
                    failures.push(format!(
                        "{}: {} now matches Go: remove it from KNOWN_DIFFERENCES",
                        vector.file, vector.name
                    ));
                }
                continue;
            }
            if !same {
                let expected = match &vector.expected {
                    Expected::Output(s) => format!("{s:?}"),
                    Expected::Bytes(b) => format!("bytes {:?}", String::from_utf8_lossy(b)),
                    Expected::Error(e) => format!("error {e:?}"),
                };
                let got = match got {
                    Ok(s) => format!("{s:?}"),
                    Err(e) => format!("error {:?}", e.to_string()),
                };
                failures.push(format!(
                    "{}: {}\n  templates: {:?}\n  expected: {expected}\n  got:      {got}",
                    vector.file, vector.name, vector.templates
                ));
            }
        }
    }
    eprintln!(
        "{} vector files, {checked} vectors checked, not run (functions not registered here): {not_run:?}",
        files.len()
    );
    assert!(
        checked > 0,
        "{} vector files but no vector this crate can run",
        files.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} vectors (from {} files) differ from Go:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
