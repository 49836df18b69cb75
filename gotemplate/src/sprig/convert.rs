//! Sprig's type conversions: `toString`, `toStrings`, `atoi`, `int`, `int64`, `float64`,
//! `toDecimal`, and the rules behind them (Sprig's `strval` and `strslice`, and
//! `spf13/cast` v1.7.0's `ToInt64`, `ToInt` and `ToFloat64`), which the arithmetic and list
//! functions share.

use super::types::{any, string};
use super::{arg, define, str_arg, string_result, strings_result};
use crate::funcs::{Funcs, Signature};
use crate::value::{Kind, Type, Value};

pub(super) fn register(funcs: &mut Funcs) {
    define(
        funcs,
        &["toString"],
        Signature::new([any()]),
        |ctx, args| string_result(ctx, strval(&arg(args, 0))),
    );
    define(
        funcs,
        &["toStrings"],
        Signature::new([any()]),
        |ctx, args| strings_result(ctx, strslice(&arg(args, 0))),
    );
    // Go: func(a string) int { i, _ := strconv.Atoi(a); return i }
    define(funcs, &["atoi"], Signature::new([string()]), |_, args| {
        Ok(Value::int(atoi(str_arg(args, 0))))
    });
    define(funcs, &["int64"], Signature::new([any()]), |_, args| {
        Ok(Value::int64(to_int64(&arg(args, 0))))
    });
    define(funcs, &["int"], Signature::new([any()]), |_, args| {
        Ok(Value::int(to_int64(&arg(args, 0))))
    });
    define(funcs, &["float64"], Signature::new([any()]), |_, args| {
        Ok(Value::float(to_float64(&arg(args, 0))))
    });
    define(funcs, &["toDecimal"], Signature::new([any()]), |_, args| {
        Ok(Value::int64(to_decimal(&arg(args, 0))))
    });
}

/// Sprig's `strval`: strings as they are, `[]byte` as text, errors and Stringers by their
/// method, anything else as `fmt.Sprintf("%v", v)`.
pub(crate) fn strval(value: &Value) -> String {
    match value {
        Value::String(s) => s.to_string(),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        Value::Object(object) => match object.stringer() {
            Some(text) => text,
            None => crate::fmt::sprint(std::slice::from_ref(value)),
        },
        other => crate::fmt::sprint(std::slice::from_ref(other)),
    }
}

/// Sprig's `strslice`: a list's non-nil elements through [`strval`], any other non-nil value as
/// a one-element list, nil as an empty list.
pub(crate) fn strslice(value: &Value) -> Vec<String> {
    if let Some(list) = value.as_list() {
        if list.elem == Type::String {
            return list.items.iter().map(strval).collect();
        }
        return list
            .items
            .iter()
            .filter(|item| !item.is_nil())
            .map(strval)
            .collect();
    }
    match value {
        Value::Nil => Vec::new(),
        // A []byte is a slice: one string per byte value.
        Value::Bytes(bytes) => bytes.iter().map(|b| b.to_string()).collect(),
        other => vec![strval(other)],
    }
}

/// Go's `strconv.Atoi` with its error ignored, as Sprig does: 0 for text that is not a
/// number, the nearest limit for one out of range (Go returns both the clamped value and the
/// error).
pub(crate) fn atoi(text: &str) -> i64 {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return 0;
    }
    text.parse::<i64>().unwrap_or(if text.starts_with('-') {
        i64::MIN
    } else {
        i64::MAX
    })
}

/// Go's conversion of a `float64` to an integer on amd64 (what Helm's release binaries run):
/// truncation toward zero, and the "integer indefinite" value `i64::MIN` for NaN and for values
/// out of range (Rust's `as` would saturate instead).
pub(crate) fn go_float_to_int(f: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    if f.is_nan() || !(-LIMIT..LIMIT).contains(&f) {
        return i64::MIN;
    }
    f as i64
}

/// `cast.ToInt64` (and `cast.ToInt`, identical on 64-bit platforms): numbers converted as Go
/// converts them, strings parsed with `strconv.ParseInt(s, 0, 0)` after dropping a `.0…` tail,
/// booleans as 0 or 1, anything else (nil, maps, unparsable strings) as 0.
pub(crate) fn to_int64(value: &Value) -> i64 {
    match value {
        Value::Int(n, _) => *n,
        Value::Uint(n, _) => *n as i64,
        Value::Float(f, _) => go_float_to_int(*f),
        Value::String(s) => parse_int_base0(trim_zero_decimal(s)).unwrap_or(0),
        Value::Bool(b) => i64::from(*b),
        Value::Object(object) => object
            .underlying()
            .filter(|inner| !matches!(inner.kind(), Kind::Slice | Kind::Map))
            .map_or(0, |inner| to_int64(&inner)),
        _ => 0,
    }
}

/// `cast.ToFloat64`: numbers widened, strings parsed with `strconv.ParseFloat`, booleans as 0 or
/// 1, anything else as 0.
pub(crate) fn to_float64(value: &Value) -> f64 {
    match value {
        Value::Int(n, _) => *n as f64,
        Value::Uint(n, _) => *n as f64,
        Value::Float(f, _) => *f,
        Value::String(s) => parse_go_float(s).unwrap_or(0.0),
        Value::Bool(b) => f64::from(u8::from(*b)),
        _ => 0.0,
    }
}

/// Sprig's `toDecimal`: the `%v` text of the value read as an octal number, 0 on error.
fn to_decimal(value: &Value) -> i64 {
    let text = match value {
        Value::String(s) => s.to_string(),
        other => crate::fmt::sprint(std::slice::from_ref(other)),
    };
    parse_int_radix(&text, 8).unwrap_or(0)
}

/// cast's `trimZeroDecimal`: `"12.00"` becomes `"12"`; anything else stays.
fn trim_zero_decimal(text: &str) -> &str {
    let bytes = text.as_bytes();
    let mut found_zero = false;
    for i in (0..bytes.len()).rev() {
        match bytes[i] {
            b'.' => {
                if found_zero {
                    return &text[..i];
                }
            }
            b'0' => found_zero = true,
            _ => return text,
        }
    }
    text
}

/// Go's `strconv.ParseInt(text, 0, 64)`: optional sign, then `0x`/`0o`/`0b` or a leading `0`
/// (octal) prefix, with `_` allowed between digits.
pub(crate) fn parse_int_base0(text: &str) -> Option<i64> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = unsigned.get(..2).map(str::to_ascii_lowercase);
    let (radix, digits, prefixed) = match lower.as_deref() {
        Some("0x") => (16, &unsigned[2..], true),
        Some("0o") => (8, &unsigned[2..], true),
        Some("0b") => (2, &unsigned[2..], true),
        _ if unsigned.len() > 1 && unsigned.starts_with('0') => (8, &unsigned[1..], true),
        _ => (10, unsigned, false),
    };
    if !underscores_ok(unsigned, prefixed) {
        return None;
    }
    let digits: String = digits.chars().filter(|&c| c != '_').collect();
    if digits.is_empty() {
        return None;
    }
    let magnitude = u64::from_str_radix(&digits, radix).ok()?;
    if negative {
        if magnitude > 1 << 63 {
            return None;
        }
        Some((magnitude as i64).wrapping_neg())
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Go's `strconv.ParseInt(text, radix, 64)` for an explicit radix (no prefixes, no `_`).
fn parse_int_radix(text: &str, radix: u32) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if negative {
        (magnitude <= 1 << 63).then(|| (magnitude as i64).wrapping_neg())
    } else {
        i64::try_from(magnitude).ok()
    }
}

/// Go's `underscoreOK`: underscores only between digits or after a base prefix.
fn underscores_ok(text: &str, prefixed: bool) -> bool {
    if !text.contains('_') {
        return true;
    }
    let bytes = text.as_bytes();
    // 'a' marks the start or a digit/prefix letter, '_' an underscore, '!' anything else.
    let mut saw = b'^';
    let mut i = 0;
    if prefixed && bytes.len() >= 2 && bytes[0] == b'0' {
        let second = bytes[1].to_ascii_lowercase();
        if matches!(second, b'x' | b'o' | b'b') {
            i = 2;
            saw = b'0';
        }
    }
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_hexdigit() {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// Go's `strconv.ParseFloat(text, 64)` for the decimal forms charts use: digits with an optional
/// fraction and exponent, `_` between digits, `inf`/`infinity`/`nan` in any case. Out-of-range
/// values are errors, as Go reports them (`cast` then yields 0).
pub(crate) fn parse_go_float(text: &str) -> Option<f64> {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let lower = unsigned.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        return text.parse::<f64>().ok();
    }
    if lower.starts_with("0x") {
        return parse_hex_float(text);
    }
    let valid = !unsigned.is_empty()
        && unsigned
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-' | b'_'));
    if !valid || !underscores_ok(unsigned, false) {
        return None;
    }
    let cleaned: String = text.chars().filter(|&c| c != '_').collect();
    let value = cleaned.parse::<f64>().ok()?;
    value.is_finite().then_some(value)
}

/// Go's hexadecimal floating-point syntax: `0x1.8p3`.
fn parse_hex_float(text: &str) -> Option<f64> {
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let rest: String = rest[2..].chars().filter(|&c| c != '_').collect();
    let (mantissa, exponent) = rest.split_once(['p', 'P'])?;
    let exponent: i32 = exponent.parse().ok()?;
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let mut value = 0f64;
    for c in whole.chars() {
        value = value * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in fraction.chars() {
        value += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    let value = value * 2f64.powi(exponent);
    value
        .is_finite()
        .then_some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values printed by Go 1.26 with spf13/cast v1.7.0.

    #[test]
    fn cast_to_int64_rules() {
        let cases: [(Value, i64); 12] = [
            (Value::string("42"), 42),
            (Value::string("42.00"), 42),
            (Value::string("42.5"), 0),
            (Value::string("0x1F"), 31),
            (Value::string("010"), 8),
            (Value::string("1_000"), 1000),
            (Value::string(" 1"), 0),
            (Value::float(3.9), 3),
            (Value::float(-3.9), -3),
            (Value::float(f64::NAN), i64::MIN),
            (Value::Bool(true), 1),
            (Value::Nil, 0),
        ];
        for (value, expected) in cases {
            assert_eq!(to_int64(&value), expected, "{value:?}");
        }
    }

    #[test]
    fn cast_to_float64_rules() {
        assert_eq!(to_float64(&Value::string("1.5")), 1.5);
        assert_eq!(to_float64(&Value::string("1e400")), 0.0);
        assert_eq!(to_float64(&Value::string("1_0.5")), 10.5);
        assert_eq!(to_float64(&Value::string("0x1p-2")), 0.25);
        assert_eq!(to_float64(&Value::string("abc")), 0.0);
        assert_eq!(to_float64(&Value::int(7)), 7.0);
    }

    #[test]
    fn atoi_and_octal() {
        assert_eq!(atoi("+12"), 12);
        assert_eq!(atoi("12a"), 0);
        assert_eq!(atoi("99999999999999999999"), i64::MAX);
        assert_eq!(to_decimal(&Value::string("0777")), 511);
        assert_eq!(to_decimal(&Value::string("9")), 0);
    }
}
