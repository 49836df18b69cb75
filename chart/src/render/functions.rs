//! The helpers chart authors reach for in Helm, with Jinja-style names.
//!
//! Semantics follow Helm's (sprig's) where authors rely on them: `default` treats empty values as
//! unset, `indent` pads every line including the first, `to_yaml` has no trailing newline so it
//! pipes into `nindent`. Functions that would make renders depend on anything but their inputs
//! (`lookup`, `now`, `uuid`, random strings) are deliberately absent: a render is reproducible
//! offline, which is what lets the operator diff and the CLI preview.

use base64::Engine as _;
use heck::{ToKebabCase, ToLowerCamelCase, ToSnakeCase};
use minijinja::value::{Kwargs, Rest, Serde, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

use super::charge::{
    BoundedText, NODE_BYTES, charge_bytes, counted_yaml_options, ensure_room, room,
};

/// Registers every helper on `env`.
pub(crate) fn register(env: &mut Environment<'static>) {
    env.add_filter("to_yaml", to_yaml);
    env.add_filter("to_json", to_json);
    env.add_filter("to_pretty_json", to_pretty_json);
    env.add_filter("from_yaml", from_yaml);
    env.add_filter("from_json", from_json);
    env.add_filter("indent", indent);
    env.add_filter("nindent", nindent);
    env.add_filter("b64encode", b64encode);
    env.add_filter("b64decode", b64decode);
    env.add_filter("sha256", sha256);
    env.add_filter("required", required);
    env.add_filter("default", helm_default);
    env.add_filter("d", helm_default);
    env.add_filter("quote", quote);
    env.add_filter("squote", squote);
    env.add_filter("trunc", trunc);
    env.add_filter("trim_suffix", trim_suffix);
    env.add_filter("trim_prefix", trim_prefix);
    env.add_filter("kebab", |state: &State, s: &str| {
        recased(state, s, ToKebabCase::to_kebab_case)
    });
    env.add_filter("snake", |state: &State, s: &str| {
        recased(state, s, ToSnakeCase::to_snake_case)
    });
    env.add_filter("camel", |state: &State, s: &str| {
        recased(state, s, ToLowerCamelCase::to_lower_camel_case)
    });
    env.add_filter("contains", contains);
    env.add_test("contains", contains);
    env.add_filter("has_key", has_key);
    env.add_test("has_key", has_key);
    env.add_filter("merge", merge);
    env.add_function("merge", merge);
    env.add_filter("keys", keys);
    env.add_filter("uniq", uniq);
    env.add_function("list", list);
    env.add_function("fail", fail);
    env.add_function("semver_compare", semver_compare);
}

/// Prints values the way YAML reads them back: `true`/`false` (not Python's `True`) and `null`
/// for none, so `enabled: {{ values.enabled }}` stays a boolean.
///
/// Printing is bounded like everything else: a string is only written when the remaining fuel
/// can pay for it, and a list or map, whose text may be far larger than its weight (one list can
/// hold the same large list many times over), is printed into a bounded text first.
pub(crate) fn format_for_yaml(
    out: &mut minijinja::Output,
    state: &mut State,
    value: &Value,
) -> Result<(), Error> {
    let write_failed = |_| Error::from(ErrorKind::WriteFailure);
    match value.kind() {
        ValueKind::Bool | ValueKind::None => {
            let text = display_text(state, value)?;
            state.consume_fuel(0)?;
            out.write_str(&text).map_err(write_failed)
        }
        ValueKind::String => {
            ensure_room(state, value.as_str().map_or(0, str::len) as u64)?;
            minijinja::escape_formatter(out, state, value)
        }
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable | ValueKind::Plain => {
            let text = display_text(state, value)?;
            out.write_str(&text).map_err(write_failed)
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

/// A value as text, with YAML spellings for booleans and none. Lists and maps are printed into a
/// text bounded by the remaining fuel: their text can be far larger than their weight.
fn display_text(state: &State, value: &Value) -> Result<String, Error> {
    Ok(match value.kind() {
        ValueKind::Bool if value.is_true() => "true".to_string(),
        ValueKind::Bool => "false".to_string(),
        ValueKind::None => "null".to_string(),
        _ => match value.as_str() {
            Some(text) => text.to_string(),
            None => {
                let mut text = BoundedText::for_state(state);
                let written = write!(text, "{value}");
                text.finish(state, written, |_| Error::from(ErrorKind::WriteFailure))?
            }
        },
    })
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// Refuses undefined values, which with strict undefined would otherwise turn into `null`
/// silently.
fn defined<'a>(value: &'a Value, filter: &str) -> Result<&'a Value, Error> {
    if value.is_undefined() {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            format!("{filter} was given an undefined value"),
        ));
    }
    Ok(value)
}

/// Converts a template value to JSON data. The value is serialized into a bounded text and read
/// back, because its data can be far larger than its weight (one list may hold the same large
/// list many times over), and an unbounded copy would be built before anything could be charged.
fn to_json_value(state: &State, value: &Value, filter: &str) -> Result<serde_json::Value, Error> {
    let text = json_text(state, defined(value, filter)?, false, filter)?;
    charge_bytes(state, text.len() as u64)?;
    let data: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| invalid(format!("{filter}: value cannot be serialized: {e}")))?;
    charge_tree(state, &data)?;
    Ok(data)
}

/// YAML text for `data`, without the trailing newline. It is written into a text bounded by the
/// remaining fuel, so a value whose YAML would be huge (deep nesting multiplies indentation, a
/// list may hold one large list many times) stops the render instead of being built first.
pub(crate) fn yaml_text(state: &State, data: &impl serde::Serialize) -> Result<Value, Error> {
    let mut text = BoundedText::for_state(state);
    let written = serde_saphyr::to_fmt_writer(&mut text, data);
    let text = text.finish(state, written, |e| {
        invalid(format!("to_yaml: value cannot be written as YAML: {e}"))
    })?;
    Ok(Value::from(text.trim_end_matches('\n')))
}

fn to_yaml(state: &State, value: Value) -> Result<Value, Error> {
    yaml_text(state, defined(&value, "to_yaml")?)
}

/// JSON text for `data`, bounded like [`yaml_text`].
fn json_text(
    state: &State,
    data: &impl serde::Serialize,
    pretty: bool,
    filter: &str,
) -> Result<String, Error> {
    let mut text = BoundedText::for_state(state);
    let written = if pretty {
        serde_json::to_writer_pretty(&mut text, data)
    } else {
        serde_json::to_writer(&mut text, data)
    };
    text.finish(state, written, |e| {
        invalid(format!("{filter}: value cannot be serialized: {e}"))
    })
}

fn to_json(state: &State, value: Value) -> Result<String, Error> {
    json_text(state, defined(&value, "to_json")?, false, "to_json")
}

fn to_pretty_json(state: &State, value: Value) -> Result<String, Error> {
    json_text(
        state,
        defined(&value, "to_pretty_json")?,
        true,
        "to_pretty_json",
    )
}

/// What parsing one YAML node costs in memory while it is parsed (events, the tree, anchors kept
/// for replay), in bytes: measured at about 250.
const PARSED_NODE_BYTES: u64 = 256;

/// Parses YAML text into a template value. The tree is charged by its nodes, and the parser is
/// told to stop at as many nodes as the remaining fuel can pay for, so anchors and aliases cannot
/// expand a short text into a huge tree.
fn from_yaml(state: &State, text: &str) -> Result<Value, Error> {
    let max_nodes = room(state).map_or(usize::MAX, |room| {
        usize::try_from(room / PARSED_NODE_BYTES).unwrap_or(usize::MAX)
    });
    let nodes = std::rc::Rc::new(std::cell::Cell::new(0usize));
    let max_events = text.len().saturating_mul(8).saturating_add(1024);
    let options = counted_yaml_options(max_nodes, max_events, &nodes);
    let parsed: Result<serde_json::Value, _> = serde_saphyr::from_str_with_options(text, options);
    charge_bytes(state, nodes.get() as u64 * PARSED_NODE_BYTES)?;
    let data = parsed.map_err(|e| {
        if crate::values::yaml_budget_breached(&e) {
            invalid(
                "from_yaml: the text stands for more YAML nodes than the render has left \
                 (anchors and aliases replaying too much, or a very large text)",
            )
        } else {
            invalid(format!(
                "from_yaml: the text is not valid YAML at {}",
                crate::values::redacted_yaml_error(&e, text.as_bytes())
            ))
        }
    })?;
    charge_tree(state, &data)?;
    Ok(Value::from(Serde(data)))
}

/// Parses JSON text into a template value. A JSON text has at most one node per separator, so
/// the tree's size is checked against the remaining fuel before parsing.
fn from_json(state: &State, text: &str) -> Result<Value, Error> {
    let most_nodes = text
        .bytes()
        .filter(|b| matches!(b, b',' | b':' | b'[' | b'{'))
        .count() as u64
        + 1;
    ensure_room(state, text.len() as u64 + most_nodes * NODE_BYTES)?;
    let data: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| invalid(format!("from_json: the text is not valid JSON: {e}")))?;
    charge_tree(state, &data)?;
    Ok(Value::from(Serde(data)))
}

/// Charges a tree built outside the engine's sight by its nodes and string bytes.
fn charge_tree(state: &State, data: &serde_json::Value) -> Result<(), Error> {
    charge_bytes(state, tree_bytes(data))
}

/// About how many bytes a JSON tree occupies: its strings plus a fixed cost per node.
fn tree_bytes(data: &serde_json::Value) -> u64 {
    let mut bytes = 0u64;
    let mut pending = vec![data];
    while let Some(node) = pending.pop() {
        bytes = bytes.saturating_add(NODE_BYTES);
        match node {
            serde_json::Value::String(text) => bytes = bytes.saturating_add(text.len() as u64),
            serde_json::Value::Array(items) => pending.extend(items),
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    bytes = bytes.saturating_add(key.len() as u64);
                    pending.push(value);
                }
            }
            _ => {}
        }
    }
    bytes
}

/// The largest `indent` width: wider is almost certainly a mistake, and it keeps one line of
/// padding small.
const MAX_INDENT: usize = 1024;

/// Pads every line, the first included, by `width` spaces (Helm's `indent`, not Jinja's). The
/// result's size is known beforehand (text plus one pad per line) and checked against the
/// remaining fuel before it is built.
fn indent(state: &State, text: &str, width: usize) -> Result<String, Error> {
    indented(state, text, width, false)
}

/// A newline, then `indent(width)`: `{{ x | to_yaml | nindent(4) }}` after a `key:`.
fn nindent(state: &State, text: &str, width: usize) -> Result<String, Error> {
    indented(state, text, width, true)
}

fn indented(state: &State, text: &str, width: usize, newline_first: bool) -> Result<String, Error> {
    if width > MAX_INDENT {
        return Err(invalid(format!(
            "indent({width}) is wider than {MAX_INDENT} columns; this is likely a mistake"
        )));
    }
    let lines = text.bytes().filter(|&b| b == b'\n').count() + 1;
    let size = text.len() + lines * width + usize::from(newline_first);
    ensure_room(state, size as u64)?;
    let pad = " ".repeat(width);
    let mut out = String::with_capacity(size);
    if newline_first {
        out.push('\n');
    }
    for (index, line) in text.split('\n').enumerate() {
        if index > 0 {
            out.push('\n');
        }
        out.push_str(&pad);
        out.push_str(line);
    }
    Ok(out)
}

fn b64encode(state: &State, value: Value) -> Result<String, Error> {
    let text;
    let bytes = match value.as_bytes() {
        Some(bytes) => bytes,
        None => {
            text = display_text(state, &value)?;
            text.as_bytes()
        }
    };
    ensure_room(state, (bytes.len() as u64).div_ceil(3) * 4)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn b64decode(text: &str) -> Result<String, Error> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| invalid(format!("b64decode: the text is not valid base64: {e}")))?;
    String::from_utf8(bytes).map_err(|_| invalid("b64decode: the decoded bytes are not UTF-8 text"))
}

fn sha256(state: &State, value: Value) -> Result<String, Error> {
    let digest = match value.as_bytes() {
        Some(bytes) => Sha256::digest(bytes),
        None => Sha256::digest(display_text(state, &value)?.as_bytes()),
    };
    Ok(hex::encode(digest))
}

/// Whether Helm considers `value` empty: undefined, none, false, zero, "" and empty collections.
fn is_empty(value: &Value) -> bool {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => true,
        ValueKind::Bool | ValueKind::Number => !value.is_true(),
        ValueKind::String | ValueKind::Bytes | ValueKind::Seq | ValueKind::Map => {
            value.len() == Some(0)
        }
        _ => false,
    }
}

/// `value | required("message")`: fails the render with `message` when the value is unset
/// (undefined, none or an empty string), as Helm's `required` does.
fn required(value: Value, message: &str) -> Result<Value, Error> {
    let unset = value.is_undefined() || value.is_none() || value.as_str() == Some("");
    if unset {
        Err(invalid(message.to_string()))
    } else {
        Ok(value)
    }
}

/// `value | default(fallback)` with Helm's meaning: any empty value is replaced.
fn helm_default(value: Value, fallback: Option<Value>) -> Value {
    if is_empty(&value) {
        fallback.unwrap_or_else(|| Value::from(""))
    } else {
        value
    }
}

/// The text `quote` and `squote` put in quotes: none is empty.
fn quotable_text(state: &State, value: &Value) -> Result<String, Error> {
    if value.is_none() {
        Ok(String::new())
    } else {
        display_text(state, value)
    }
}

fn quote(state: &State, value: Value) -> Result<String, Error> {
    let text = quotable_text(state, &value)?;
    json_text(state, &text, false, "quote")
}

/// Single-quotes for YAML: an inner `'` is doubled, which is YAML's only escape in that style.
fn squote(state: &State, value: Value) -> Result<String, Error> {
    let text = quotable_text(state, &value)?;
    let quotes = text.bytes().filter(|&b| b == b'\'').count();
    ensure_room(state, (text.len() + quotes + 2) as u64)?;
    Ok(format!("'{}'", text.replace('\'', "''")))
}

/// Converts the case of `text` (kebab, snake, camel), which may insert a separator per character
/// at most, once the remaining fuel can pay for that.
fn recased(state: &State, text: &str, convert: fn(&str) -> String) -> Result<String, Error> {
    ensure_room(state, text.len() as u64 * 3)?;
    Ok(convert(text))
}

/// The first `n` characters, or with a negative `n` the last `-n` (Helm's `trunc`).
fn trunc(text: &str, n: i64) -> String {
    let count = text.chars().count();
    let keep = n.unsigned_abs().min(count as u64) as usize;
    if n >= 0 {
        text.chars().take(keep).collect()
    } else {
        text.chars().skip(count - keep).collect()
    }
}

fn trim_suffix(text: &str, suffix: &str) -> String {
    text.strip_suffix(suffix).unwrap_or(text).to_string()
}

fn trim_prefix(text: &str, prefix: &str) -> String {
    text.strip_prefix(prefix).unwrap_or(text).to_string()
}

/// Substring for strings, membership for lists, key presence for maps. Each item of a list looked
/// through is charged, as the engine charges its own filters.
fn contains(state: &State, haystack: Value, needle: Value) -> Result<bool, Error> {
    match haystack.kind() {
        ValueKind::String => match (haystack.as_str(), needle.as_str()) {
            (Some(hay), Some(needle)) => {
                charge_bytes(state, hay.len() as u64)?;
                Ok(hay.contains(needle))
            }
            _ => Err(invalid(
                "contains: a string can only contain another string",
            )),
        },
        ValueKind::Seq | ValueKind::Iterable => {
            for item in haystack.try_iter()? {
                state.consume_fuel(1)?;
                if item == needle {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        ValueKind::Map => Ok(!haystack.get_item(&needle)?.is_undefined()),
        _ => Err(invalid(format!(
            "contains: cannot look inside a {} value",
            haystack.kind()
        ))),
    }
}

fn has_key(map: Value, key: &str) -> Result<bool, Error> {
    if map.kind() != ValueKind::Map {
        return Err(invalid(format!(
            "has_key: expected a mapping, found a {} value",
            map.kind()
        )));
    }
    Ok(!map.get_attr(key)?.is_undefined())
}

/// Deep-merges mappings; earlier ones win, later ones fill in what is missing (Helm's `merge`).
/// The result is a new tree, charged by its size.
fn merge(state: &State, first: Value, rest: Rest<Value>) -> Result<Value, Error> {
    let mut merged = to_json_value(state, &first, "merge")?;
    for other in rest.iter() {
        merge_missing(&mut merged, to_json_value(state, other, "merge")?)?;
    }
    Ok(Value::from(Serde(merged)))
}

fn merge_missing(into: &mut serde_json::Value, from: serde_json::Value) -> Result<(), Error> {
    match (into, from) {
        (serde_json::Value::Object(into), serde_json::Value::Object(from)) => {
            for (key, value) in from {
                match into.get_mut(&key) {
                    Some(existing @ serde_json::Value::Object(_)) if value.is_object() => {
                        merge_missing(existing, value)?
                    }
                    Some(_) => {}
                    None => {
                        into.insert(key, value);
                    }
                }
            }
            Ok(())
        }
        _ => Err(invalid("merge: every argument must be a mapping")),
    }
}

fn keys(map: Value) -> Result<Value, Error> {
    if map.kind() != ValueKind::Map {
        return Err(invalid(format!(
            "keys: expected a mapping, found a {} value",
            map.kind()
        )));
    }
    Ok(Value::from_iter(map.try_iter()?))
}

/// The items of a list without repeats, keeping the first occurrence's position.
fn uniq(state: &State, items: Value) -> Result<Value, Error> {
    let mut seen: Vec<Value> = Vec::new();
    for item in items.try_iter()? {
        // Quadratic in the list length, so pay fuel for the comparisons.
        state.consume_fuel(seen.len() as u64 / 16)?;
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    Ok(Value::from(seen))
}

fn list(items: Rest<Value>) -> Value {
    Value::from(items.0)
}

/// `fail("message")`: stops the render with `message`, e.g. for an invalid combination of values.
fn fail(message: &str, _kwargs: Kwargs) -> Result<Value, Error> {
    Err(invalid(message.to_string()))
}

/// `semver_compare(">=1.2 <2", chart.app_version)`: whether the version satisfies the constraint,
/// with Helm's (Masterminds) constraint rules.
fn semver_compare(state: &State, constraint: &str, version: Value) -> Result<bool, Error> {
    let version = display_text(state, &version)?;
    crate::version::constraint_matches(constraint, &version)
        .map_err(|e| invalid(format!("semver_compare: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::UndefinedBehavior;

    fn render(source: &str, ctx: serde_json::Value) -> Result<String, Error> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(100_000));
        env.set_formatter(format_for_yaml);
        register(&mut env);
        env.render_str(source, Value::from(Serde(ctx)))
    }

    fn ok(source: &str) -> String {
        render(source, serde_json::json!({})).unwrap()
    }

    #[test]
    fn yaml_and_json_round_trip() {
        let ctx = serde_json::json!({"m": {"b": 1, "a": ["x", true]}});
        assert_eq!(
            render("{{ m | to_yaml }}", ctx.clone()).unwrap(),
            "b: 1\na:\n- x\n- true"
        );
        assert_eq!(
            render("{{ m | to_json }}", ctx.clone()).unwrap(),
            r#"{"b":1,"a":["x",true]}"#
        );
        assert!(
            render("{{ m | to_pretty_json }}", ctx)
                .unwrap()
                .contains("\n  \"b\": 1")
        );
        assert_eq!(ok("{{ ('a: [1, 2]' | from_yaml).a[1] }}"), "2");
        assert_eq!(ok("{{ ('{\"k\": \"v\"}' | from_json).k }}"), "v");
        assert!(render("{{ 'a: [' | from_yaml }}", serde_json::json!({})).is_err());
        assert!(render("{{ nope | to_yaml }}", serde_json::json!({})).is_err());
    }

    #[test]
    fn indent_pads_every_line_and_nindent_starts_a_line() {
        assert_eq!(ok("{{ 'a\nb' | indent(2) }}"), "  a\n  b");
        assert_eq!(ok("x:{{ 'a: 1' | nindent(2) }}"), "x:\n  a: 1");
        assert!(render("{{ 'a' | indent(5000) }}", serde_json::json!({})).is_err());
    }

    #[test]
    fn base64_and_sha256() {
        assert_eq!(ok("{{ 'hello' | b64encode }}"), "aGVsbG8=");
        assert_eq!(ok("{{ 'aGVsbG8=' | b64decode }}"), "hello");
        assert!(render("{{ '***' | b64decode }}", serde_json::json!({})).is_err());
        assert_eq!(
            ok("{{ 'abc' | sha256 }}"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn required_and_fail_stop_with_the_authors_message() {
        let ctx = serde_json::json!({"values": {"set": "yes", "blank": ""}});
        assert_eq!(
            render("{{ values.set | required('need set') }}", ctx.clone()).unwrap(),
            "yes"
        );
        let missing = render(
            "{{ values.host | required('values.host is required') }}",
            ctx.clone(),
        );
        assert!(
            missing
                .unwrap_err()
                .to_string()
                .contains("values.host is required")
        );
        assert!(render("{{ values.blank | required('blank') }}", ctx).is_err());
        let failed = render("{{ fail('bad combination') }}", serde_json::json!({}));
        assert!(failed.unwrap_err().to_string().contains("bad combination"));
    }

    #[test]
    fn default_treats_empty_values_as_unset() {
        let ctx =
            serde_json::json!({"v": {"zero": 0, "empty": "", "list": [], "set": "x", "no": false}});
        let out = render(
            "{{ v.zero | default(1) }} {{ v.empty | default('e') }} {{ v.list | default('l') }} \
             {{ v.missing | default('m') }} {{ v.set | default('s') }} {{ v.no | default(true) }}",
            ctx,
        )
        .unwrap();
        assert_eq!(out, "1 e l m x true");
    }

    #[test]
    fn quoting_and_string_helpers() {
        assert_eq!(ok(r#"{{ 'say "hi"' | quote }}"#), r#""say \"hi\"""#);
        assert_eq!(ok("{{ \"it's\" | squote }}"), "'it''s'");
        assert_eq!(
            ok("{{ 'abcdef' | trunc(3) }}|{{ 'abcdef' | trunc(-2) }}|{{ 'ab' | trunc(9) }}"),
            "abc|ef|ab"
        );
        assert_eq!(ok("{{ 'app-chart' | trim_suffix('-chart') }}"), "app");
        assert_eq!(ok("{{ 'v1.2' | trim_prefix('v') }}"), "1.2");
        assert_eq!(ok("{{ 'a-b' | replace('-', '_') }}"), "a_b");
        assert_eq!(
            ok("{{ 'Ab' | lower }}{{ 'ab' | upper }} {{ 'hello world' | title }}"),
            "abAB Hello World"
        );
        assert_eq!(ok("{{ 'HTTPServer name' | kebab }}"), "http-server-name");
        assert_eq!(ok("{{ 'HTTPServer name' | snake }}"), "http_server_name");
        assert_eq!(ok("{{ 'http_server-name' | camel }}"), "httpServerName");
    }

    #[test]
    fn collection_helpers() {
        assert_eq!(
            ok(
                "{{ 'hello' | contains('ell') }} {{ [1, 2] is contains(2) }} {{ {'a': 1} | contains('b') }}"
            ),
            "true true false"
        );
        assert_eq!(
            ok("{{ {'a': 1} | has_key('a') }} {{ {'a': 1} is has_key('z') }}"),
            "true false"
        );
        assert_eq!(
            ok("{{ merge({'a': 1, 'n': {'x': 1}}, {'a': 2, 'b': 3, 'n': {'y': 2}}) | to_json }}"),
            r#"{"a":1,"n":{"x":1,"y":2},"b":3}"#
        );
        assert_eq!(ok("{{ {'b': 1, 'a': 2} | keys | join(',') }}"), "b,a");
        assert_eq!(ok("{{ [3, 1, 3, 2, 1] | uniq | join(',') }}"), "3,1,2");
        assert_eq!(ok("{{ list(1, 'a', true) | to_json }}"), r#"[1,"a",true]"#);
        assert_eq!(ok("{{ dict(a=1) | to_json }}"), r#"{"a":1}"#);
        assert!(render("{{ merge({'a': 1}, [1]) }}", serde_json::json!({})).is_err());
    }

    #[test]
    fn semver_compare_uses_helm_constraints() {
        assert_eq!(
            ok(
                "{{ semver_compare('>=1.20 <2', 'v1.36.0') }} {{ semver_compare('^1.2', '2.0.0') }} {{ semver_compare('1.2.x', '1.2.9') }}"
            ),
            "true false true"
        );
        let bad = render(
            "{{ semver_compare('>>1', '1.0.0') }}",
            serde_json::json!({}),
        );
        assert!(
            bad.unwrap_err()
                .to_string()
                .contains("semver_compare: invalid version constraint")
        );
    }
}
