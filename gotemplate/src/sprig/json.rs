//! Go's `encoding/json` for template values: `json.Marshal`, `json.MarshalIndent` and an
//! encoder without HTML escaping, byte for byte (sorted map keys, `<>&` and U+2028/U+2029
//! escaped, floats in Go's shortest form with `e` notation outside [1e-6, 1e21), `[]byte` as
//! base64), and decoding as Go's `json.Unmarshal` into `interface{}` (every number a `float64`).

use super::dates::GoTimeValue;
use super::encoding::base64_encode;
use crate::value::{FloatKind, Object, Value};
use std::any::Any;
use std::fmt::Write as _;

/// How to write JSON.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Style {
    /// Escape `<`, `>` and `&` as `json.Marshal` does (`SetEscapeHTML(false)` turns it off).
    pub escape_html: bool,
    /// `MarshalIndent(v, "", indent)`; `None` for compact output.
    pub indent: Option<&'static str>,
}

impl Style {
    pub(crate) const MARSHAL: Style = Style {
        escape_html: true,
        indent: None,
    };
}

/// Go's `json.Marshal` error texts are the `Err` side.
pub(crate) fn encode(value: &Value, style: Style) -> Result<String, String> {
    let mut out = String::new();
    write_value(&mut out, value, style, 0)?;
    Ok(out)
}

fn newline(out: &mut String, style: Style, depth: usize) {
    if let Some(indent) = style.indent {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(indent);
        }
    }
}

fn write_value(out: &mut String, value: &Value, style: Style, depth: usize) -> Result<(), String> {
    if depth >= super::MAX_NESTING {
        return Err(format!(
            "json: unsupported value: encountered a cycle via {}",
            value.type_name()
        ));
    }
    match value {
        Value::Nil => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Int(n, _) => {
            let _ = write!(out, "{n}");
        }
        Value::Uint(n, _) => {
            let _ = write!(out, "{n}");
        }
        Value::Float(f, kind) => out.push_str(&go_json_float(*f, *kind)?),
        Value::String(s) => write_string(out, s, style.escape_html),
        Value::Bytes(b) => write_string(out, &base64_encode(b), style.escape_html),
        Value::List(list) => {
            if list.items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push('[');
            for (i, item) in list.items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, style, depth + 1);
                write_value(out, item, style, depth + 1)?;
            }
            newline(out, style, depth);
            out.push(']');
        }
        Value::Map(map) => {
            let entries = map.snapshot();
            write_object(
                out,
                entries.iter().map(|(k, v)| (k.as_str(), v)),
                style,
                depth,
            )?;
        }
        Value::Object(object) => write_object_value(out, &**object, style, depth)?,
    }
    Ok(())
}

fn write_object<'a>(
    out: &mut String,
    entries: impl Iterator<Item = (&'a str, &'a Value)>,
    style: Style,
    depth: usize,
) -> Result<(), String> {
    let mut empty = true;
    out.push('{');
    for (i, (key, item)) in entries.enumerate() {
        empty = false;
        if i > 0 {
            out.push(',');
        }
        newline(out, style, depth + 1);
        write_string(out, key, style.escape_html);
        out.push(':');
        if style.indent.is_some() {
            out.push(' ');
        }
        write_value(out, item, style, depth + 1)?;
    }
    if !empty {
        newline(out, style, depth);
    }
    out.push('}');
    Ok(())
}

/// A Go struct or pointer: its `MarshalJSON` where the type has one (time, versions), its
/// underlying slice or map for named types, otherwise its exported fields.
fn write_object_value(
    out: &mut String,
    object: &dyn Object,
    style: Style,
    depth: usize,
) -> Result<(), String> {
    if object.is_nil() {
        out.push_str("null");
        return Ok(());
    }
    if let Some(time) = (object as &dyn Any).downcast_ref::<GoTimeValue>() {
        let text = time.0.format("2006-01-02T15:04:05.999999999Z07:00");
        write_string(out, &text, style.escape_html);
        return Ok(());
    }
    if let Some(text) = super::semver::json_text(object) {
        write_string(out, &text, style.escape_html);
        return Ok(());
    }
    if let Some(inner) = object.underlying() {
        return write_value(out, &inner, style, depth);
    }
    let fields = object.print_fields();
    let exported: Vec<(&str, &Value)> = fields
        .iter()
        .filter(|(name, _)| name.chars().next().is_some_and(char::is_uppercase))
        .map(|(name, value)| (name.as_ref(), value))
        .collect();
    write_object(out, exported.into_iter(), style, depth)
}

/// Go's JSON string escaping.
pub(crate) fn write_string(out: &mut String, text: &str, escape_html: bool) {
    out.push('"');
    for ch in text.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' if escape_html => {
                let _ = write!(out, "\\u{:04x}", ch as u32);
            }
            '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", ch as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's `floatEncoder`: shortest digits, `e` notation below 1e-6 or from 1e21 (with a one-digit
/// negative exponent where possible, `1e-7`), NaN and infinities refused.
pub(crate) fn go_json_float(f: f64, kind: FloatKind) -> Result<String, String> {
    if !f.is_finite() {
        let shown = if f.is_nan() {
            "NaN"
        } else if f > 0.0 {
            "+Inf"
        } else {
            "-Inf"
        };
        return Err(format!("json: unsupported value: {shown}"));
    }
    let abs = f.abs();
    let (shortest_e, shortest_f) = match kind {
        FloatKind::Float32 => {
            let narrow = f as f32;
            (format!("{narrow:e}"), format!("{narrow}"))
        }
        FloatKind::Float64 => (format!("{f:e}"), format!("{f}")),
    };
    let exponential = abs != 0.0
        && match kind {
            FloatKind::Float64 => !(1e-6..1e21).contains(&abs),
            FloatKind::Float32 => !(1e-6..1e21).contains(&(abs as f32 as f64)),
        };
    if !exponential {
        return Ok(shortest_f);
    }
    // Rust prints `1.5e-7`; Go's 'e' format prints `1.5e-07`, which encoding/json then
    // shortens back to `1.5e-7`, and positive exponents carry a sign: `1e+21`.
    let (mantissa, exponent) = shortest_e.split_once('e').unwrap_or((&shortest_e, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let sign = if exponent < 0 { '-' } else { '+' };
    Ok(format!("{mantissa}e{sign}{:02}", exponent.abs()).replace("e-0", "e-"))
}

/// Go's `json.Unmarshal` into `interface{}`, with Go's syntax error texts (`invalid character
/// 'x' looking for beginning of value`, `unexpected end of JSON input`).
pub(crate) fn decode(text: &str) -> Result<Value, String> {
    check_syntax(text.as_bytes())?;
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(json) => Ok(Value::from_json(&json)),
        Err(error) => Err(format!("json: {error}")),
    }
}

/// Go's `checkValid`: the first syntax error Go's JSON scanner reports, byte by byte. At the end
/// of the input the scanner is fed one space, so an unfinished literal or number reports that
/// space while an unfinished string, array or object is "unexpected end of JSON input".
fn check_syntax(input: &[u8]) -> Result<(), String> {
    let mut scanner = Scanner { input, at: 0 };
    scanner.value(0)?;
    scanner.skip_space();
    match scanner.peek() {
        None => Ok(()),
        Some(c) => Err(invalid(c, "after top-level value")),
    }
}

const UNEXPECTED_END: &str = "unexpected end of JSON input";

fn invalid(byte: u8, context: &str) -> String {
    format!(
        "invalid character {} {context}",
        go_quote_char(char::from(byte))
    )
}

struct Scanner<'a> {
    input: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.at += 1;
        }
    }

    /// The next byte, which must satisfy `accept`; at the end of input the scanner sees a space.
    fn expect(&mut self, accept: impl Fn(u8) -> bool, context: &str) -> Result<u8, String> {
        let byte = self.peek().unwrap_or(b' ');
        if !accept(byte) {
            return Err(invalid(byte, context));
        }
        self.at += 1;
        Ok(byte)
    }

    fn value(&mut self, depth: usize) -> Result<(), String> {
        if depth >= super::MAX_NESTING {
            return Err("exceeded max depth".to_string());
        }
        self.skip_space();
        let Some(byte) = self.peek() else {
            return Err(UNEXPECTED_END.to_string());
        };
        match byte {
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => self.string(),
            b'-' | b'0'..=b'9' => self.number(),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            other => Err(invalid(other, "looking for beginning of value")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<(), String> {
        self.at += 1;
        self.skip_space();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(());
        }
        loop {
            match self.peek() {
                None => return Err(UNEXPECTED_END.to_string()),
                Some(b'"') => self.string()?,
                Some(other) => {
                    return Err(invalid(other, "looking for beginning of object key string"));
                }
            }
            self.skip_space();
            match self.peek() {
                None => return Err(UNEXPECTED_END.to_string()),
                Some(b':') => self.at += 1,
                Some(other) => return Err(invalid(other, "after object key")),
            }
            self.value(depth + 1)?;
            self.skip_space();
            match self.peek() {
                None => return Err(UNEXPECTED_END.to_string()),
                Some(b',') => {
                    self.at += 1;
                    self.skip_space();
                }
                Some(b'}') => {
                    self.at += 1;
                    return Ok(());
                }
                Some(other) => return Err(invalid(other, "after object key:value pair")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<(), String> {
        self.at += 1;
        self.skip_space();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(());
        }
        loop {
            self.value(depth + 1)?;
            self.skip_space();
            match self.peek() {
                None => return Err(UNEXPECTED_END.to_string()),
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(());
                }
                Some(other) => return Err(invalid(other, "after array element")),
            }
        }
    }

    fn string(&mut self) -> Result<(), String> {
        self.at += 1;
        loop {
            let Some(byte) = self.peek() else {
                return Err(UNEXPECTED_END.to_string());
            };
            self.at += 1;
            match byte {
                b'"' => return Ok(()),
                b'\\' => {
                    let escape = self.expect(
                        |c| {
                            matches!(
                                c,
                                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' | b'u'
                            )
                        },
                        "in string escape code",
                    )?;
                    if escape == b'u' {
                        for _ in 0..4 {
                            self.expect(
                                |c| c.is_ascii_hexdigit(),
                                "in \\u hexadecimal character escape",
                            )?;
                        }
                    }
                }
                c if c < 0x20 => return Err(invalid(c, "in string literal")),
                _ => {}
            }
        }
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
    }

    fn number(&mut self) -> Result<(), String> {
        if self.peek() == Some(b'-') {
            self.at += 1;
            let first = self.expect(|c| c.is_ascii_digit(), "in numeric literal")?;
            if first != b'0' {
                self.digits();
            }
        } else if self.peek() == Some(b'0') {
            self.at += 1;
        } else {
            self.digits();
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.expect(
                |c| c.is_ascii_digit(),
                "after decimal point in numeric literal",
            )?;
            self.digits();
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            self.expect(|c| c.is_ascii_digit(), "in exponent of numeric literal")?;
            self.digits();
        }
        Ok(())
    }

    fn literal(&mut self, word: &str) -> Result<(), String> {
        self.at += 1;
        for expected in word.bytes().skip(1) {
            let context = format!(
                "in literal {word} (expecting {})",
                go_quote_char(char::from(expected))
            );
            self.expect(|c| c == expected, &context)?;
        }
        Ok(())
    }
}

/// Go's `quoteChar`: `'x'`, with `'\''` and `'"'` special-cased. The scanner works on bytes, so
/// a non-ASCII byte shows as the character of the same number.
fn go_quote_char(ch: char) -> String {
    match ch {
        '\'' => "'\\''".to_string(),
        '"' => "'\"'".to_string(),
        c => {
            let quoted = crate::fmt::quote(&c.to_string());
            format!("'{}'", &quoted[1..quoted.len() - 1])
        }
    }
}

/// Go's `json: cannot unmarshal X into Go value of type T` for a decoded value of the wrong
/// shape.
pub(crate) fn type_mismatch(value: &Value, go_type: &str) -> String {
    let found = match value {
        Value::Nil => "null",
        Value::Bool(_) => "bool",
        Value::Float(..) | Value::Int(..) | Value::Uint(..) => "number",
        Value::String(_) => "string",
        Value::List(_) => "array",
        _ => "object",
    };
    format!("json: cannot unmarshal {found} into Go value of type {go_type}")
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected texts printed by Go 1.26's encoding/json.

    #[test]
    fn floats_like_go() {
        let cases = [
            (1.0, "1"),
            (1.5, "1.5"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e-7, "1.5e-7"),
            (0.000001, "0.000001"),
            (123456789.0, "123456789"),
            (-0.0, "-0"),
        ];
        for (f, text) in cases {
            assert_eq!(go_json_float(f, FloatKind::Float64).unwrap(), text, "{f}");
        }
        assert_eq!(
            go_json_float(f64::NAN, FloatKind::Float64).unwrap_err(),
            "json: unsupported value: NaN"
        );
    }

    #[test]
    fn syntax_errors_like_go() {
        let cases = [
            ("", "unexpected end of JSON input"),
            ("{", "unexpected end of JSON input"),
            ("{\"a\" 1}", "invalid character '1' after object key"),
            (
                "[1,]",
                "invalid character ']' looking for beginning of value",
            ),
            ("x", "invalid character 'x' looking for beginning of value"),
            ("{} x", "invalid character 'x' after top-level value"),
            (
                "{'a':1}",
                "invalid character '\\'' looking for beginning of object key string",
            ),
            ("[1 2]", "invalid character '2' after array element"),
            (
                "{\"a\":1 \"b\"}",
                "invalid character '\"' after object key:value pair",
            ),
            (
                "tru",
                "invalid character ' ' in literal true (expecting 'e')",
            ),
            (
                "not json",
                "invalid character 'o' in literal null (expecting 'u')",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(
                check_syntax(input.as_bytes()).unwrap_err(),
                message,
                "{input:?}"
            );
        }
        assert!(check_syntax(b" [1, -2.5e+3, {\"a\": null}] ").is_ok());
    }

    #[test]
    fn strings_like_go() {
        let mut out = String::new();
        write_string(&mut out, "<a&b>\"\\\n\u{1}\u{2028}é", true);
        assert_eq!(out, "\"\\u003ca\\u0026b\\u003e\\\"\\\\\\n\\u0001\\u2028é\"");
    }
}
