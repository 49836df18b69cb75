//! Chart values: parsing values files, merging layers, `--set` expressions, and resolving the full
//! values tree of a chart and its subcharts for rendering.
//!
//! Values are JSON-shaped (`serde_json::Map`) whatever file format they came from, so templates,
//! schemas and the operator's custom resources all see the same types.

mod resolve;
mod set;

pub use resolve::{GLOBAL_KEY, combine_user_layers, resolve};
pub use set::{MAX_INDEX, MAX_NESTING, MAX_SET_FILE_BYTES, SetKind, apply_set};

use crate::schema::{SchemaError, SchemaViolation};

use serde_json::Value;

/// A values tree: the top level of a values file is always a map.
pub type Values = serde_json::Map<String, Value>;

/// Why values could not be parsed, set or resolved. Messages name the file, expression, chart or
/// values path concerned.
#[derive(Debug, thiserror::Error)]
pub enum ValuesError {
    /// `message` names the line and column and the kind of problem, never the text: values may
    /// come from a Secret.
    #[error("{file} is not valid YAML at {message}")]
    Parse { file: String, message: String },
    #[error("{file}: the top level must be a map of keys to values, but it is {found}")]
    NotAMap { file: String, found: &'static str },
    /// Only the key is quoted: the value of a `--set` may be a secret.
    #[error("cannot set key `{key}` (column {column} of the expression): {reason}")]
    Set {
        key: String,
        column: usize,
        reason: String,
    },
    #[error(
        "chart {chart}: the values for subchart `{key}` must be a map, but they are {found}; fix the values given for `{key}`"
    )]
    NotATable {
        chart: String,
        key: String,
        found: &'static str,
    },
    #[error("chart {chart}: import-values of dependency {dependency}: {reason}")]
    ImportValues {
        chart: String,
        dependency: String,
        reason: String,
    },
    #[error("the values do not match the charts' schemas:{}", list_violations(.violations))]
    Schema { violations: Vec<SchemaViolation> },
    #[error(transparent)]
    SchemaUnusable(#[from] SchemaError),
}

fn list_violations(violations: &[SchemaViolation]) -> String {
    violations.iter().map(|v| format!("\n  {v}")).collect()
}

/// Parses a values file (YAML, which includes JSON). An empty file or one holding only `null` is an
/// empty map; any other non-map top level is an error naming `file`. A UTF-8 byte-order mark is
/// ignored.
pub fn parse_values_file(file: &str, bytes: &[u8]) -> Result<Values, ValuesError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let parsed: Option<Value> =
        serde_saphyr::from_slice(bytes).map_err(|error| ValuesError::Parse {
            file: file.to_string(),
            message: redacted_yaml_error(&error, bytes),
        })?;
    match parsed {
        None | Some(Value::Null) => Ok(Values::new()),
        Some(Value::Object(map)) => Ok(map),
        Some(other) => Err(ValuesError::NotAMap {
            file: file.to_string(),
            found: kind_of(&other),
        }),
    }
}

/// Merges `overlay` into `base`: maps merge key by key at every depth, lists and scalars replace,
/// and a `null` in the overlay deletes the key from `base` (Helm's way to drop a chart default).
pub fn merge(base: &mut Values, overlay: Values) {
    for (key, value) in overlay {
        match value {
            Value::Null => {
                base.remove(&key);
            }
            Value::Object(overlay_map) => match base.get_mut(&key) {
                Some(Value::Object(base_map)) => merge(base_map, overlay_map),
                _ => {
                    // Nothing below to delete from: nulls in a fresh subtree only mean "absent".
                    base.insert(key, Value::Object(without_nulls(overlay_map)));
                }
            },
            other => {
                base.insert(key, other);
            }
        }
    }
}

fn without_nulls(map: Values) -> Values {
    map.into_iter()
        .filter_map(|(key, value)| match value {
            Value::Null => None,
            Value::Object(inner) => Some((key, Value::Object(without_nulls(inner)))),
            other => Some((key, other)),
        })
        .collect()
}

/// Whether parsing stopped because a budget (nodes, events, aliases) was used up, however the
/// parser wrapped the error.
pub(crate) fn yaml_budget_breached(error: &serde_saphyr::Error) -> bool {
    let mut error = error;
    loop {
        match error {
            serde_saphyr::Error::AliasError { error: inner, .. }
            | serde_saphyr::Error::WithSnippet { error: inner, .. } => error = inner,
            serde_saphyr::Error::Budget { .. } => return true,
            _ => return false,
        }
    }
}

/// The longest description of a YAML problem kept in a message.
const MAX_PROBLEM_CHARS: usize = 120;

/// Pieces of text that, when a parser message repeats them from the input, are too short to
/// carry a secret.
const MAX_QUOTED_INPUT_CHARS: usize = 3;

/// `line L, column C: problem` for a YAML error in `input`, which may hold secrets: the parser's
/// words are kept only where they are its own. Quoted parts of its message and what follows a
/// `:` in it are dropped (that is where parsers repeat the input), and if the rest still repeats
/// eight or more characters of the lines around the error, only the place is given.
pub(crate) fn redacted_yaml_error(error: &serde_saphyr::Error, input: &[u8]) -> String {
    let location = error.location();
    let place = match location {
        Some(location) => format!("line {}, column {}", location.line(), location.column()),
        None => "an unknown place".to_string(),
    };
    let full = yaml_error_message(error);
    let mut problem = full.as_str();
    if let Some(at) = problem.rfind(" at line ") {
        problem = &problem[..at];
    }
    if let Some((head, _)) = problem.split_once(": ") {
        problem = head;
    }
    let problem = without_long_quotes(problem);
    let nearby = lines_around(input, location.map_or(0, |l| l.line() as usize));
    let repeats_input = problem
        .as_bytes()
        .windows(8)
        .any(|window| nearby.windows(8).any(|candidate| candidate == window));
    let problem: String = problem.chars().take(MAX_PROBLEM_CHARS).collect();
    if repeats_input || problem.trim().is_empty() {
        place
    } else {
        format!("{place}: {}", problem.trim())
    }
}

/// `text` without quoted parts longer than [`MAX_QUOTED_INPUT_CHARS`] characters.
fn without_long_quotes(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find(['\'', '"', '`']) {
        let quote = rest[start..].chars().next().unwrap_or('"');
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find(quote) {
            Some(end) if after[..end].chars().count() <= MAX_QUOTED_INPUT_CHARS => {
                out.push_str(&rest[start..start + end + 2]);
                rest = &after[end + 1..];
            }
            Some(end) => {
                out.push_str("...");
                rest = &after[end + 1..];
            }
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The bytes of lines `line - 1` to `line + 1` (1-based) of `input`; all of it when the line is
/// not known.
fn lines_around(input: &[u8], line: usize) -> Vec<u8> {
    if line == 0 {
        return input.to_vec();
    }
    input
        .split(|&b| b == b'\n')
        .skip(line.saturating_sub(2))
        .take(3)
        .flat_map(|l| l.iter().copied().chain(std::iter::once(b'\n')))
        .collect()
}

/// A one-line YAML error ("line 2 column 1: missing field `version`"), without the source
/// excerpt that would repeat file content in logs.
pub(crate) fn yaml_error_message(error: &serde_saphyr::Error) -> String {
    let message = error.without_snippet().to_string();
    message
        .strip_prefix("error: ")
        .unwrap_or(&message)
        .to_string()
}

/// A human name for a value's type, for error messages ("expected integer, got string").
pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a map",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Values {
        match value {
            Value::Object(map) => map,
            other => panic!("test values must be a map, not {other}"),
        }
    }

    #[test]
    fn parses_yaml_maps_and_treats_empty_files_as_empty() {
        let values = parse_values_file("values.yaml", b"a: 1\nb:\n  c: [x, z]\n").unwrap();
        assert_eq!(
            Value::Object(values),
            json!({"a": 1, "b": {"c": ["x", "z"]}})
        );
        assert!(parse_values_file("values.yaml", b"").unwrap().is_empty());
        assert!(
            parse_values_file("values.yaml", b"# only a comment\n")
                .unwrap()
                .is_empty()
        );
        assert!(parse_values_file("values.yaml", b"~\n").unwrap().is_empty());
        let with_bom = parse_values_file("values.yaml", b"\xEF\xBB\xBFa: b\n").unwrap();
        assert_eq!(Value::Object(with_bom), json!({"a": "b"}));
    }

    #[test]
    fn a_non_map_top_level_is_an_error_naming_the_file() {
        let err = parse_values_file("prod.yaml", b"- a\n- b\n").unwrap_err();
        assert!(matches!(err, ValuesError::NotAMap { .. }));
        assert!(err.to_string().contains("prod.yaml"), "{err}");
        assert!(err.to_string().contains("a list"), "{err}");
        let err = parse_values_file("bad.yaml", b"a: [\n").unwrap_err();
        assert!(
            err.to_string().starts_with("bad.yaml is not valid YAML"),
            "{err}"
        );
    }

    /// A value that could come from a Secret.
    const CANARY: &str = "canary-3e9d71-secret";

    #[test]
    fn parse_errors_name_the_place_but_never_the_content() {
        let broken = [
            "a: CANARY\n b: [",
            "a: \"CANARY\\q\"\n",
            "a: CANARY\na: CANARY\n",
            "CANARY: 1\nCANARY: 2\n",
            "a: *CANARY\n",
            "a: 'CANARY\n",
            "a: !!int CANARY\n",
            "CANARY: [a\n",
            "- CANARY\nb: c\n",
            "a: b: CANARY\n",
            "key: CANARY\n\tother: 1\n",
            "{CANARY",
            "a: &CANARY x\nb: &CANARY y\nc: *CANARY\n[",
        ];
        for text in broken {
            let text = text.replace("CANARY", CANARY);
            let error = parse_values_file("Secret s key values.yaml", text.as_bytes())
                .expect_err(&text)
                .to_string();
            println!("{error}");
            assert!(
                error.starts_with("Secret s key values.yaml is not valid YAML at line "),
                "{error}"
            );
            assert!(!error.contains("canary"), "{text:?}: {error}");
        }
    }

    #[test]
    fn numeric_and_boolean_keys_become_strings() {
        let values = parse_values_file("v.yaml", b"1: one\ntrue: yes\n").unwrap();
        assert_eq!(values.get("1"), Some(&json!("one")));
        assert!(values.contains_key("true"));
    }

    #[test]
    fn merge_is_deep_for_maps_and_replaces_lists_and_scalars() {
        let mut base = map(json!({
            "image": {"repository": "nginx", "tag": "1.0", "pull": "IfNotPresent"},
            "ports": [80, 443],
            "replicas": 1,
        }));
        merge(
            &mut base,
            map(json!({"image": {"tag": "2.0"}, "ports": [8080], "replicas": {"min": 2}})),
        );
        assert_eq!(
            Value::Object(base),
            json!({
                "image": {"repository": "nginx", "tag": "2.0", "pull": "IfNotPresent"},
                "ports": [8080],
                "replicas": {"min": 2},
            })
        );
    }

    #[test]
    fn null_in_an_overlay_deletes_the_key_at_any_depth() {
        let mut base = map(json!({"a": 1, "b": {"c": 2, "d": 3}}));
        merge(
            &mut base,
            map(json!({"a": null, "b": {"c": null}, "e": {"f": null, "g": 1}})),
        );
        assert_eq!(Value::Object(base), json!({"b": {"d": 3}, "e": {"g": 1}}));
    }
}
