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
    env.add_filter("kebab", |s: &str| s.to_kebab_case());
    env.add_filter("snake", |s: &str| s.to_snake_case());
    env.add_filter("camel", |s: &str| s.to_lower_camel_case());
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
pub(crate) fn format_for_yaml(
    out: &mut minijinja::Output,
    state: &mut State,
    value: &Value,
) -> Result<(), Error> {
    match value.kind() {
        ValueKind::Bool | ValueKind::None => {
            let text = display_text(value);
            state.consume_fuel(0)?;
            std::fmt::Write::write_str(out, &text).map_err(|_| Error::from(ErrorKind::WriteFailure))
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

/// A value as text, with YAML spellings for booleans and none.
fn display_text(value: &Value) -> String {
    match value.kind() {
        ValueKind::Bool if value.is_true() => "true".to_string(),
        ValueKind::Bool => "false".to_string(),
        ValueKind::None => "null".to_string(),
        _ => value.to_string(),
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, message.into())
}

/// Converts a template value to JSON data, refusing undefined values (with strict undefined they
/// would otherwise turn into `null` silently).
fn to_json_value(value: &Value, filter: &str) -> Result<serde_json::Value, Error> {
    if value.is_undefined() {
        return Err(Error::new(
            ErrorKind::UndefinedError,
            format!("{filter} was given an undefined value"),
        ));
    }
    serde_json::to_value(value)
        .map_err(|e| invalid(format!("{filter}: value cannot be serialized: {e}")))
}

/// YAML text for `data`, without the trailing newline, charged to the render's fuel.
pub(crate) fn yaml_text(state: &State, data: &serde_json::Value) -> Result<Value, Error> {
    let text = serde_saphyr::to_string(data)
        .map_err(|e| invalid(format!("to_yaml: value cannot be written as YAML: {e}")))?;
    state.consume_fuel(text.len() as u64 / 64)?;
    Ok(Value::from(text.trim_end_matches('\n')))
}

fn to_yaml(state: &State, value: Value) -> Result<Value, Error> {
    yaml_text(state, &to_json_value(&value, "to_yaml")?)
}

fn to_json(value: Value) -> Result<String, Error> {
    let data = to_json_value(&value, "to_json")?;
    Ok(data.to_string())
}

fn to_pretty_json(value: Value) -> Result<String, Error> {
    let data = to_json_value(&value, "to_pretty_json")?;
    serde_json::to_string_pretty(&data).map_err(|e| invalid(format!("to_pretty_json: {e}")))
}

fn from_yaml(text: &str) -> Result<Value, Error> {
    let data: serde_json::Value = serde_saphyr::from_str(text)
        .map_err(|e| invalid(format!("from_yaml: the text is not valid YAML: {e}")))?;
    Ok(Value::from(Serde(data)))
}

fn from_json(text: &str) -> Result<Value, Error> {
    let data: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| invalid(format!("from_json: the text is not valid JSON: {e}")))?;
    Ok(Value::from(Serde(data)))
}

/// Pads every line, the first included, by `width` spaces (Helm's `indent`, not Jinja's).
fn indent(text: &str, width: usize) -> Result<String, Error> {
    if width > 1024 {
        return Err(invalid(format!(
            "indent({width}) is wider than 1024 columns; this is likely a mistake"
        )));
    }
    let pad = " ".repeat(width);
    Ok(format!("{pad}{}", text.replace('\n', &format!("\n{pad}"))))
}

/// A newline, then `indent(width)`: `{{ x | to_yaml | nindent(4) }}` after a `key:`.
fn nindent(text: &str, width: usize) -> Result<String, Error> {
    Ok(format!("\n{}", indent(text, width)?))
}

fn b64encode(value: Value) -> Result<String, Error> {
    let bytes = match value.as_bytes() {
        Some(bytes) => bytes.to_vec(),
        None => display_text(&value).into_bytes(),
    };
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn b64decode(text: &str) -> Result<String, Error> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|e| invalid(format!("b64decode: the text is not valid base64: {e}")))?;
    String::from_utf8(bytes).map_err(|_| invalid("b64decode: the decoded bytes are not UTF-8 text"))
}

fn sha256(value: Value) -> String {
    let digest = match value.as_bytes() {
        Some(bytes) => Sha256::digest(bytes),
        None => Sha256::digest(display_text(&value).as_bytes()),
    };
    hex::encode(digest)
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

fn quote(value: Value) -> Result<String, Error> {
    let text = if value.is_none() {
        String::new()
    } else {
        display_text(&value)
    };
    serde_json::to_string(&text).map_err(|e| invalid(format!("quote: {e}")))
}

/// Single-quotes for YAML: an inner `'` is doubled, which is YAML's only escape in that style.
fn squote(value: Value) -> String {
    let text = if value.is_none() {
        String::new()
    } else {
        display_text(&value)
    };
    format!("'{}'", text.replace('\'', "''"))
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

/// Substring for strings, membership for lists, key presence for maps.
fn contains(haystack: Value, needle: Value) -> Result<bool, Error> {
    match haystack.kind() {
        ValueKind::String => match (haystack.as_str(), needle.as_str()) {
            (Some(hay), Some(needle)) => Ok(hay.contains(needle)),
            _ => Err(invalid(
                "contains: a string can only contain another string",
            )),
        },
        ValueKind::Seq | ValueKind::Iterable => Ok(haystack.try_iter()?.any(|item| item == needle)),
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
fn merge(first: Value, rest: Rest<Value>) -> Result<Value, Error> {
    let mut merged = to_json_value(&first, "merge")?;
    for other in rest.iter() {
        merge_missing(&mut merged, to_json_value(other, "merge")?)?;
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
fn semver_compare(constraint: &str, version: Value) -> Result<bool, Error> {
    let version = display_text(&version);
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
