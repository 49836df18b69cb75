//! `--set`-style expressions, with Helm's rules (its `strvals` parser):
//! `a.b[0].c=v`, several assignments separated by `,`, `\` escaping the next character (`\,`,
//! `\.`, `\=`), `{a,b}` for lists, and type inference for `--set` (`true`/`false`, `null`, integers
//! without a leading zero; everything else, floats included, stays a string).
//!
//! Indexes and nesting are bounded (Helm's limits) so an expression cannot make the process
//! allocate a huge list.

use super::{Values, ValuesError};
use serde_json::Value;

/// Which flag an expression came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetKind {
    /// `--set`: values are typed (`true`, `null`, `42`), or strings.
    Typed,
    /// `--set-string`: every value stays a string.
    String,
    /// `--set-json`: every value is a JSON document.
    Json,
    /// `--set-file`: every value is the path of a file whose text becomes the value.
    File,
}

/// Largest list index accepted (Helm's limit).
pub const MAX_INDEX: usize = 65_536;
/// Most key segments in one assignment (Helm's limit).
pub const MAX_NESTING: usize = 30;
/// Largest file read by `--set-file`.
pub const MAX_SET_FILE_BYTES: u64 = 5 * 1024 * 1024;

/// Applies one `--set`-style expression (possibly several comma-separated assignments) to
/// `values`. `null` values are kept as `null`: when values are resolved, they delete the chart
/// default of that key.
pub fn apply_set(values: &mut Values, expr: &str, kind: SetKind) -> Result<(), ValuesError> {
    let mut parser = Parser {
        expr,
        position: 0,
        assignment_start: 0,
        key_end: None,
        kind,
    };
    while parser.position < expr.len() {
        parser.assignment_start = parser.position;
        parser.key_end = None;
        let path = parser.key_path()?;
        parser.key_end = Some(parser.position - 1);
        let value = parser.value()?;
        set_path(values, &path, value);
        match parser.peek() {
            None => {}
            Some(',') => parser.position += 1,
            Some(other) => {
                return Err(parser.error(format!("unexpected {other:?} after a value")));
            }
        }
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

struct Parser<'a> {
    expr: &'a str,
    /// Byte offset of the next character.
    position: usize,
    /// Where the current `key=value` starts, and where its `=` is once read: errors quote the
    /// key only, never a value, since values may be secrets.
    assignment_start: usize,
    key_end: Option<usize>,
    kind: SetKind,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.expr[self.position..].chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.position += c.len_utf8();
        Some(c)
    }

    fn error(&self, reason: String) -> ValuesError {
        let key_end = self.key_end.unwrap_or(self.position).min(self.expr.len());
        let key_end = key_end.max(self.assignment_start);
        ValuesError::Set {
            key: self.expr[self.assignment_start..key_end].to_string(),
            column: self.expr[..self.position].chars().count() + 1,
            reason,
        }
    }

    /// `name(.name|[index])*` up to and including the `=`.
    fn key_path(&mut self) -> Result<Vec<Segment>, ValuesError> {
        let mut path = vec![Segment::Key(self.key_name()?)];
        loop {
            if path.len() > MAX_NESTING {
                return Err(self.error(format!(
                    "keys are nested more than {MAX_NESTING} levels deep"
                )));
            }
            if matches!(self.peek(), Some(',') | None) {
                return Err(self.error(
                    "a key has no value; write key=value (use \\, for a comma in a key)".into(),
                ));
            }
            match self.next() {
                Some('=') => return Ok(path),
                Some('.') => path.push(Segment::Key(self.key_name()?)),
                Some('[') => path.push(Segment::Index(self.index()?)),
                Some(other) => return Err(self.error(format!("unexpected {other:?} in a key"))),
                None => unreachable!("the end of the expression was handled above"),
            }
        }
    }

    fn key_name(&mut self) -> Result<String, ValuesError> {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            match c {
                '.' | '[' | '=' | ',' => break,
                '\\' => {
                    self.position += 1;
                    match self.next() {
                        Some(escaped) => name.push(escaped),
                        None => return Err(self.error("a trailing \\ escapes nothing".into())),
                    }
                }
                other => {
                    name.push(other);
                    self.position += other.len_utf8();
                }
            }
        }
        if name.is_empty() {
            return Err(self.error("a key name is empty".into()));
        }
        Ok(name)
    }

    /// The digits of `[n]`, after the `[`, and the `]`.
    fn index(&mut self) -> Result<usize, ValuesError> {
        let start = self.position;
        while matches!(self.peek(), Some(c) if !matches!(c, ']' | '=' | ',')) {
            self.next();
        }
        let digits = &self.expr[start..self.position];
        if self.peek() != Some(']') {
            return Err(self.error("a list index is not closed with ]".into()));
        }
        self.position += 1;
        let index: usize = digits.parse().map_err(|_| {
            self.error(format!(
                "list index {digits:?} is not a non-negative integer"
            ))
        })?;
        if index > MAX_INDEX {
            return Err(self.error(format!(
                "list index {index} is greater than the maximum of {MAX_INDEX}"
            )));
        }
        Ok(index)
    }

    fn value(&mut self) -> Result<Value, ValuesError> {
        match self.kind {
            SetKind::Json => self.json_value(),
            _ if self.peek() == Some('{') => {
                self.position += 1;
                let mut items = Vec::new();
                if self.peek() == Some('}') {
                    self.position += 1;
                    return Ok(Value::Array(items));
                }
                loop {
                    let (text, end) = self.scalar_text(&[',', '}'])?;
                    items.push(self.finish_scalar(text)?);
                    match end {
                        Some('}') => return Ok(Value::Array(items)),
                        Some(',') => {}
                        _ => return Err(self.error("a {list} is not closed with }".into())),
                    }
                }
            }
            _ => {
                let (text, end) = self.scalar_text(&[','])?;
                if end == Some(',') {
                    // Leave the separator for the caller.
                    self.position -= 1;
                }
                self.finish_scalar(text)
            }
        }
    }

    /// Reads text up to (and consuming) one of `stops`, honouring `\` escapes. Returns the text
    /// and the stop found (`None` at the end of the expression).
    fn scalar_text(&mut self, stops: &[char]) -> Result<(String, Option<char>), ValuesError> {
        let mut text = String::new();
        while let Some(c) = self.next() {
            if stops.contains(&c) {
                return Ok((text, Some(c)));
            }
            if c == '\\' {
                match self.next() {
                    Some(escaped) => text.push(escaped),
                    None => return Err(self.error("a trailing \\ escapes nothing".into())),
                }
            } else {
                text.push(c);
            }
        }
        Ok((text, None))
    }

    fn finish_scalar(&self, text: String) -> Result<Value, ValuesError> {
        match self.kind {
            SetKind::Typed => Ok(typed_value(text)),
            SetKind::String => Ok(Value::String(text)),
            SetKind::File => self.read_file(&text),
            SetKind::Json => unreachable!("JSON values are parsed by json_value"),
        }
    }

    fn read_file(&self, path: &str) -> Result<Value, ValuesError> {
        use std::io::Read;
        let mut bytes = Vec::new();
        std::fs::File::open(path)
            .and_then(|file| file.take(MAX_SET_FILE_BYTES + 1).read_to_end(&mut bytes))
            .map_err(|error| self.error(format!("cannot read file {path:?}: {error}")))?;
        if bytes.len() as u64 > MAX_SET_FILE_BYTES {
            return Err(self.error(format!(
                "file {path:?} is larger than {MAX_SET_FILE_BYTES} bytes"
            )));
        }
        String::from_utf8(bytes)
            .map(Value::String)
            .map_err(|_| self.error(format!("file {path:?} is not UTF-8 text")))
    }

    /// One JSON document, then a `,` or the end.
    fn json_value(&mut self) -> Result<Value, ValuesError> {
        let rest = &self.expr[self.position..];
        let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
        let value = match stream.next() {
            Some(Ok(value)) => value,
            Some(Err(error)) => return Err(self.error(format!("invalid JSON value: {error}"))),
            None => return Err(self.error("a JSON value is missing after =".into())),
        };
        self.position += stream.byte_offset();
        Ok(value)
    }
}

/// `--set` type inference, as Helm does it: only booleans, null and integers are typed.
fn typed_value(text: String) -> Value {
    if text.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if text.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    if text.eq_ignore_ascii_case("null") {
        return Value::Null;
    }
    if text == "0" {
        return Value::from(0);
    }
    if !text.starts_with('0')
        && let Ok(number) = text.parse::<i64>()
    {
        return Value::from(number);
    }
    Value::String(text)
}

/// Stores `value` at `path`, creating maps and lists on the way and replacing anything in the way
/// that is not of the needed kind. Lists grow with `null`s up to the index.
fn set_path(values: &mut Values, path: &[Segment], value: Value) {
    let Some((Segment::Key(key), rest)) = path.split_first() else {
        return;
    };
    let slot = values.entry(key.clone()).or_insert(Value::Null);
    set_in_slot(slot, rest, value);
}

fn set_in_slot(slot: &mut Value, rest: &[Segment], value: Value) {
    let Some((segment, deeper)) = rest.split_first() else {
        *slot = value;
        return;
    };
    match segment {
        Segment::Key(key) => {
            if !slot.is_object() {
                *slot = Value::Object(Values::new());
            }
            if let Value::Object(map) = slot {
                let child = map.entry(key.clone()).or_insert(Value::Null);
                set_in_slot(child, deeper, value);
            }
        }
        Segment::Index(index) => {
            if !slot.is_array() {
                *slot = Value::Array(Vec::new());
            }
            if let Value::Array(list) = slot {
                if list.len() <= *index {
                    list.resize(index + 1, Value::Null);
                }
                set_in_slot(&mut list[*index], deeper, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set(expr: &str, kind: SetKind) -> Value {
        let mut values = Values::new();
        apply_set(&mut values, expr, kind).unwrap_or_else(|e| panic!("{expr}: {e}"));
        Value::Object(values)
    }

    #[test]
    fn nested_keys_and_several_assignments() {
        assert_eq!(
            set(
                "image.repository=nginx,image.tag=1.25,replicas=3",
                SetKind::Typed
            ),
            json!({"image": {"repository": "nginx", "tag": "1.25"}, "replicas": 3})
        );
    }

    #[test]
    fn type_inference_follows_helm() {
        assert_eq!(
            set(
                "a=true,b=FALSE,c=null,d=0,e=42,f=-7,g=007,h=1.5,i=,j=yes",
                SetKind::Typed
            ),
            json!({"a": true, "b": false, "c": null, "d": 0, "e": 42, "f": -7,
                   "g": "007", "h": "1.5", "i": "", "j": "yes"})
        );
    }

    #[test]
    fn set_string_keeps_strings() {
        assert_eq!(
            set("a=true,b=42,c={1,2}", SetKind::String),
            json!({"a": "true", "b": "42", "c": ["1", "2"]})
        );
    }

    #[test]
    fn escapes_in_keys_and_values() {
        assert_eq!(
            set(r"annotations.example\.com/role=a\,b,x=c\=d", SetKind::Typed),
            json!({"annotations": {"example.com/role": "a,b"}, "x": "c=d"})
        );
    }

    #[test]
    fn lists_by_braces_and_by_index() {
        assert_eq!(
            set(
                "hosts={a.example,b.example},ports={80,443},empty={}",
                SetKind::Typed
            ),
            json!({"hosts": ["a.example", "b.example"], "ports": [80, 443], "empty": []})
        );
        assert_eq!(
            set(
                "servers[0].port=80,servers[2].port=81,matrix[1][0]=x",
                SetKind::Typed
            ),
            json!({"servers": [{"port": 80}, null, {"port": 81}], "matrix": [null, ["x"]]})
        );
    }

    #[test]
    fn later_assignments_replace_what_is_in_the_way() {
        let mut values = Values::new();
        apply_set(&mut values, "a=1", SetKind::Typed).unwrap();
        apply_set(&mut values, "a.b=2,list[1]=z", SetKind::Typed).unwrap();
        apply_set(&mut values, "list[0]=y", SetKind::Typed).unwrap();
        assert_eq!(
            Value::Object(values),
            json!({"a": {"b": 2}, "list": ["y", "z"]})
        );
    }

    #[test]
    fn set_json_parses_documents() {
        assert_eq!(
            set(r#"a={"b":[1,2],"c":null},d=[true],e="x,y""#, SetKind::Json),
            json!({"a": {"b": [1, 2], "c": null}, "d": [true], "e": "x,y"})
        );
    }

    #[test]
    fn set_file_reads_the_file_text() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("script.sh");
        std::fs::write(&path, "#!/bin/sh\necho hi\n").unwrap();
        let expr = format!("config.script={}", path.display());
        assert_eq!(
            set(&expr, SetKind::File),
            json!({"config": {"script": "#!/bin/sh\necho hi\n"}})
        );
        let mut values = Values::new();
        let err = apply_set(&mut values, "a=/does/not/exist", SetKind::File).unwrap_err();
        assert!(err.to_string().contains("/does/not/exist"), "{err}");
    }

    #[test]
    fn bad_expressions_are_errors_with_a_column() {
        for (expr, kind, key, needle) in [
            ("a", SetKind::Typed, "a", "has no value"),
            ("a.b,c=1", SetKind::Typed, "a.b", "has no value"),
            ("=1", SetKind::Typed, "", "key name is empty"),
            ("a..b=1", SetKind::Typed, "a.", "key name is empty"),
            (
                "a[x]=1",
                SetKind::Typed,
                "a[x]",
                "not a non-negative integer",
            ),
            (
                "a[-1]=1",
                SetKind::Typed,
                "a[-1]",
                "not a non-negative integer",
            ),
            (
                "a[99999999999]=1",
                SetKind::Typed,
                "a[99999999999]",
                "greater than the maximum",
            ),
            ("a[0=secret", SetKind::Typed, "a[0", "not closed with ]"),
            ("x=1,a={secret,y", SetKind::Typed, "a", "not closed"),
            ("a={x}y", SetKind::Typed, "a", "unexpected 'y'"),
            ("a=x\\", SetKind::Typed, "a", "escapes nothing"),
            ("a={", SetKind::Json, "a", "invalid JSON"),
            ("a=1 2", SetKind::Json, "a", "unexpected"),
        ] {
            let mut values = Values::new();
            let err = apply_set(&mut values, expr, kind).unwrap_err();
            let message = err.to_string();
            assert!(message.contains(needle), "{expr}: {message}");
            assert!(
                message.contains(&format!("key `{key}`")),
                "{expr}: {message}"
            );
            assert!(!message.contains("secret"), "{expr}: {message}");
        }
    }

    #[test]
    fn huge_indexes_and_deep_nesting_are_refused_without_allocating() {
        let mut values = Values::new();
        assert!(apply_set(&mut values, "a[65537]=1", SetKind::Typed).is_err());
        let deep = format!("{}=1", vec!["k"; 40].join("."));
        let err = apply_set(&mut values, &deep, SetKind::Typed).unwrap_err();
        assert!(err.to_string().contains("nested more than 30"), "{err}");
        assert!(values.is_empty());
    }
}
