//! Sprig's string functions: case, trimming, padding, quoting, splitting and joining, random
//! strings.

use super::convert::{strslice, strval};
use super::text::{self, lossy_slice};
use super::types::{any, int, string};
use super::{Outcome, arg, define, int_arg, str_arg, string_result, strings_result};
use crate::funcs::{CallContext, FuncError, Funcs, Signature};
use crate::value::{Kind, Type, Value};
use rand::Rng;
use std::collections::BTreeMap;

pub(super) fn register(funcs: &mut Funcs) {
    register_case(funcs);
    register_trimming(funcs);
    register_building(funcs);
    register_predicates(funcs);
    register_splitting(funcs);
    register_random(funcs);
}

/// A function `func(s string) string` that maps its argument through `f`.
fn unary(funcs: &mut Funcs, name: &str, f: fn(&str) -> String) {
    define(
        funcs,
        &[name],
        Signature::new([string()]),
        move |ctx, args| {
            let input = str_arg(args, 0);
            // Case changes can grow a string (a few characters widen in UTF-8).
            ctx.charge_bytes(input.len())?;
            string_result(ctx, f(input))
        },
    );
}

fn register_case(funcs: &mut Funcs) {
    define(funcs, &["hello"], Signature::new([]), |_, _| {
        Ok(Value::string("Hello!"))
    });
    unary(funcs, "upper", text::go_upper);
    unary(funcs, "lower", text::go_lower);
    unary(funcs, "title", text::go_title);
    unary(funcs, "untitle", text::uncapitalize);
    unary(funcs, "swapcase", text::swap_case);
    unary(funcs, "snakecase", |s| text::camel_to_lower(s, '_'));
    unary(funcs, "kebabcase", |s| text::camel_to_lower(s, '-'));
    // Sprig maps `camelcase` to xstrings' ToPascalCase (upper camel case).
    unary(funcs, "camelcase", text::to_pascal_case);
    unary(funcs, "initials", text::initials);
    unary(funcs, "nospace", text::delete_white_space);
    unary(funcs, "shuffle", shuffle);
}

fn register_trimming(funcs: &mut Funcs) {
    unary(funcs, "trim", |s| text::go_trim_space(s).to_string());
    // Arguments reversed so that `"$foo" | trimAll "$"` reads naturally.
    define(
        funcs,
        &["trimAll", "trimall"],
        Signature::new([string(), string()]),
        |ctx, args| {
            let trimmed = text::go_trim_cutset(str_arg(args, 1), str_arg(args, 0));
            string_result(ctx, trimmed.to_string())
        },
    );
    define(
        funcs,
        &["trimSuffix"],
        Signature::new([string(), string()]),
        |ctx, args| {
            let (suffix, s) = (str_arg(args, 0), str_arg(args, 1));
            string_result(ctx, s.strip_suffix(suffix).unwrap_or(s).to_string())
        },
    );
    define(
        funcs,
        &["trimPrefix"],
        Signature::new([string(), string()]),
        |ctx, args| {
            let (prefix, s) = (str_arg(args, 0), str_arg(args, 1));
            string_result(ctx, s.strip_prefix(prefix).unwrap_or(s).to_string())
        },
    );
    define(
        funcs,
        &["trunc"],
        Signature::new([int(), string()]),
        |ctx, args| string_result(ctx, trunc(int_arg(args, 0), str_arg(args, 1))),
    );
    define(
        funcs,
        &["abbrev"],
        Signature::new([int(), string()]),
        |ctx, args| {
            let (width, s) = (int_arg(args, 0), str_arg(args, 1));
            let out = if width < 4 {
                s.to_string()
            } else {
                text::abbreviate(s, width)
            };
            string_result(ctx, out)
        },
    );
    define(
        funcs,
        &["abbrevboth"],
        Signature::new([int(), int(), string()]),
        |ctx, args| {
            let (left, right, s) = (int_arg(args, 0), int_arg(args, 1), str_arg(args, 2));
            let out = if right < 4 || (left > 0 && right < 7) {
                s.to_string()
            } else {
                text::abbreviate_full(s, left, right).unwrap_or_default()
            };
            string_result(ctx, out)
        },
    );
    define(
        funcs,
        &["substr"],
        Signature::new([int(), int(), string()]),
        |ctx, args| {
            let out = substring(int_arg(args, 0), int_arg(args, 1), str_arg(args, 2))?;
            string_result(ctx, out)
        },
    );
}

fn register_building(funcs: &mut Funcs) {
    // Arguments reversed so that `"foo" | repeat 5` reads naturally.
    define(
        funcs,
        &["repeat"],
        Signature::new([int(), string()]),
        |ctx, args| {
            let text = repeat(ctx, str_arg(args, 1), int_arg(args, 0))?;
            Ok(Value::string(text))
        },
    );
    define(
        funcs,
        &["indent"],
        Signature::new([int(), string()]),
        |ctx, args| {
            let text = indent(ctx, int_arg(args, 0), str_arg(args, 1))?;
            Ok(Value::string(text))
        },
    );
    define(
        funcs,
        &["nindent"],
        Signature::new([int(), string()]),
        |ctx, args| {
            let text = indent(ctx, int_arg(args, 0), str_arg(args, 1))?;
            Ok(Value::string(format!("\n{text}")))
        },
    );
    define(
        funcs,
        &["replace"],
        Signature::new([string(), string(), string()]),
        |ctx, args| {
            let (old, new, src) = (str_arg(args, 0), str_arg(args, 1), str_arg(args, 2));
            let matches = if old.is_empty() {
                src.chars().count() + 1
            } else {
                src.matches(old).count()
            };
            ctx.charge_bytes(src.len() + matches.saturating_mul(new.len()))?;
            Ok(Value::string(src.replace(old, new)))
        },
    );
    define(
        funcs,
        &["plural"],
        Signature::new([string(), string(), int()]),
        |_, args| {
            let chosen = if int_arg(args, 2) == 1 { 0 } else { 1 };
            Ok(Value::string(str_arg(args, chosen)))
        },
    );
    define(
        funcs,
        &["wrap"],
        Signature::new([int(), string()]),
        |ctx, args| {
            let (width, s) = (int_arg(args, 0), str_arg(args, 1));
            ctx.charge_bytes(s.len() * 2)?;
            string_result(ctx, text::wrap_custom(s, width, "", false))
        },
    );
    define(
        funcs,
        &["wrapWith"],
        Signature::new([int(), string(), string()]),
        |ctx, args| {
            let (width, separator, s) = (int_arg(args, 0), str_arg(args, 1), str_arg(args, 2));
            let breaks = s.len() / usize::try_from(width.max(1)).unwrap_or(1) + 1;
            ctx.charge_bytes(s.len() + breaks.saturating_mul(separator.len().max(1)))?;
            string_result(ctx, text::wrap_custom(s, width, separator, true))
        },
    );
    define(
        funcs,
        &["quote"],
        Signature::variadic([], any()),
        |ctx, args| {
            let quoted: Vec<String> = args
                .iter()
                .filter(|v| !v.is_nil())
                .map(|v| crate::fmt::quote(&strval(v)))
                .collect();
            string_result(ctx, quoted.join(" "))
        },
    );
    define(
        funcs,
        &["squote"],
        Signature::variadic([], any()),
        |ctx, args| {
            let quoted: Vec<String> = args
                .iter()
                .filter(|v| !v.is_nil())
                .map(|v| format!("'{}'", crate::fmt::sprint(std::slice::from_ref(v))))
                .collect();
            string_result(ctx, quoted.join(" "))
        },
    );
    define(
        funcs,
        &["cat"],
        Signature::variadic([], any()),
        |ctx, args| {
            let parts: Vec<String> = args
                .iter()
                .filter(|v| !v.is_nil())
                .map(|v| crate::fmt::sprint(std::slice::from_ref(v)))
                .collect();
            string_result(ctx, parts.join(" "))
        },
    );
    define(
        funcs,
        &["join"],
        Signature::new([string(), any()]),
        |ctx, args| {
            let parts = strslice(&arg(args, 1));
            let separator = str_arg(args, 0);
            let size: usize = parts.iter().map(String::len).sum::<usize>()
                + separator.len().saturating_mul(parts.len());
            ctx.charge_bytes(size)?;
            Ok(Value::string(parts.join(separator)))
        },
    );
    define(
        funcs,
        &["sortAlpha"],
        Signature::new([any()]),
        |ctx, args| {
            let list = arg(args, 0);
            let mut items = if matches!(list.kind(), Kind::Slice) {
                strslice(&list)
            } else {
                vec![strval(&list)]
            };
            items.sort();
            strings_result(ctx, items)
        },
    );
}

fn register_predicates(funcs: &mut Funcs) {
    // Arguments reversed so that `"foobar" | contains "foo"` reads naturally.
    type Predicate = fn(&str, &str) -> bool;
    let predicates: [(&str, Predicate); 3] = [
        ("contains", |needle, haystack| haystack.contains(needle)),
        ("hasPrefix", |prefix, s| s.starts_with(prefix)),
        ("hasSuffix", |suffix, s| s.ends_with(suffix)),
    ];
    for (name, predicate) in predicates {
        define(
            funcs,
            &[name],
            Signature::new([string(), string()]),
            move |_, args| Ok(Value::Bool(predicate(str_arg(args, 0), str_arg(args, 1)))),
        );
    }
}

fn register_splitting(funcs: &mut Funcs) {
    define(
        funcs,
        &["splitList"],
        Signature::new([string(), string()]),
        |ctx, args| strings_result(ctx, go_split(str_arg(args, 1), str_arg(args, 0), -1)),
    );
    define(
        funcs,
        &["split"],
        Signature::new([string(), string()]),
        |ctx, args| {
            let parts = go_split(str_arg(args, 1), str_arg(args, 0), -1);
            indexed_parts(ctx, parts)
        },
    );
    define(
        funcs,
        &["splitn"],
        Signature::new([string(), int(), string()]),
        |ctx, args| {
            let parts = go_split(str_arg(args, 2), str_arg(args, 0), int_arg(args, 1));
            indexed_parts(ctx, parts)
        },
    );
}

/// Sprig's `split` result: a `map[string]string` keyed `_0`, `_1`...
fn indexed_parts(ctx: &mut CallContext<'_, '_>, parts: Vec<String>) -> Outcome {
    ctx.charge_bytes(parts.iter().map(|p| p.len() + 4).sum())?;
    let entries: BTreeMap<String, Value> = parts
        .into_iter()
        .enumerate()
        .map(|(i, part)| (format!("_{i}"), Value::string(part)))
        .collect();
    Ok(Value::typed_map(entries, Type::String))
}

fn register_random(funcs: &mut Funcs) {
    type Accept = fn(char) -> bool;
    let generators: [(&str, Accept); 4] = [
        ("randAlphaNum", |c| c.is_ascii_alphanumeric()),
        ("randAlpha", |c| c.is_ascii_alphabetic()),
        ("randNumeric", |c| c.is_ascii_digit()),
        ("randAscii", |c| (' '..='~').contains(&c)),
    ];
    for (name, accept) in generators {
        define(funcs, &[name], Signature::new([int()]), move |ctx, args| {
            let count = int_arg(args, 0);
            // goutils returns an error for a negative count, which Sprig drops.
            let count = usize::try_from(count).unwrap_or(0);
            ctx.charge_bytes(count)?;
            Ok(Value::string(random_string(count, accept)))
        });
    }
}

/// A string of `count` characters drawn uniformly from the printable ASCII characters that
/// `accept` admits (what goutils' rejection sampling over `' '..='z'`/`' '..='~'` amounts to).
fn random_string(count: usize, accept: fn(char) -> bool) -> String {
    let alphabet: Vec<char> = (' '..='~').filter(|&c| accept(c)).collect();
    let mut rng = rand::thread_rng();
    (0..count)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
        .collect()
}

/// xstrings' `Shuffle`: the characters in a random order.
fn shuffle(text: &str) -> String {
    use rand::seq::SliceRandom;
    let mut chars: Vec<char> = text.chars().collect();
    chars.shuffle(&mut rand::thread_rng());
    chars.into_iter().collect()
}

/// Sprig's `trunc`: the first `count` bytes, or for a negative count the last `-count` bytes.
fn trunc(count: i64, s: &str) -> String {
    let len = s.len() as i64;
    if count < 0 && len + count > 0 {
        return lossy_slice(s, len + count, len);
    }
    if count >= 0 && len > count {
        return lossy_slice(s, 0, count);
    }
    s.to_string()
}

/// Sprig's `substr`, with Go's slice-bounds panics as errors.
fn substring(start: i64, end: i64, s: &str) -> Result<String, FuncError> {
    let len = s.len() as i64;
    if start < 0 {
        if end < 0 {
            return Err(FuncError::new(format!(
                "runtime error: slice bounds out of range [:{end}]"
            )));
        }
        if end > len {
            return Err(FuncError::new(format!(
                "runtime error: slice bounds out of range [:{end}] with length {len}"
            )));
        }
        return Ok(lossy_slice(s, 0, end));
    }
    if end < 0 || end > len {
        if start > len {
            return Err(FuncError::new(format!(
                "runtime error: slice bounds out of range [{start}:{len}]"
            )));
        }
        return Ok(lossy_slice(s, start, len));
    }
    if start > end {
        return Err(FuncError::new(format!(
            "runtime error: slice bounds out of range [{start}:{end}]"
        )));
    }
    Ok(lossy_slice(s, start, end))
}

/// Go's `strings.Repeat`, charged for its size first.
pub(crate) fn repeat(
    ctx: &mut CallContext<'_, '_>,
    s: &str,
    count: i64,
) -> Result<String, FuncError> {
    if count < 0 {
        return Err(FuncError::new("strings: negative Repeat count"));
    }
    let size = usize::try_from(count)
        .ok()
        .and_then(|n| n.checked_mul(s.len()))
        .ok_or_else(|| FuncError::new("strings: Repeat output length overflow"))?;
    ctx.charge_bytes(size)?;
    Ok(s.repeat(count as usize))
}

/// Sprig's `indent`: `spaces` spaces before the text and after every newline in it.
fn indent(ctx: &mut CallContext<'_, '_>, spaces: i64, s: &str) -> Result<String, FuncError> {
    if spaces < 0 {
        return Err(FuncError::new("strings: negative Repeat count"));
    }
    let lines = s.matches('\n').count() + 1;
    let pad_total = usize::try_from(spaces)
        .ok()
        .and_then(|n| n.checked_mul(lines))
        .ok_or_else(|| FuncError::new("strings: Repeat output length overflow"))?;
    ctx.charge_bytes(s.len().saturating_add(pad_total))?;
    let pad = " ".repeat(spaces as usize);
    let mut out = String::with_capacity(s.len() + pad_total);
    out.push_str(&pad);
    for (i, line) in s.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            out.push_str(&pad);
        }
        out.push_str(line);
    }
    Ok(out)
}

/// Go's `strings.SplitN(s, sep, n)` (`n < 0` for `strings.Split`): an empty separator splits
/// after each character; `n == 0` gives nothing.
pub(crate) fn go_split(s: &str, sep: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    let limit = if n < 0 { usize::MAX } else { n as usize };
    if sep.is_empty() {
        let chars: Vec<char> = s.chars().collect();
        let count = chars.len().min(limit);
        let mut parts: Vec<String> = chars[..count.saturating_sub(1)]
            .iter()
            .map(char::to_string)
            .collect();
        if count > 0 {
            let consumed: usize = parts.iter().map(String::len).sum();
            parts.push(s[consumed..].to_string());
        }
        return parts;
    }
    s.splitn(limit, sep).map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values printed by Go 1.26 (strings.SplitN, Sprig's trunc and substr).

    #[test]
    fn split_like_go() {
        assert_eq!(go_split("a,b,,c", ",", -1), ["a", "b", "", "c"]);
        assert_eq!(go_split("abc", "", -1), ["a", "b", "c"]);
        assert_eq!(go_split("abc", "", 2), ["a", "bc"]);
        assert_eq!(go_split("", ",", -1), [""]);
        assert_eq!(go_split("", "", -1), Vec::<String>::new());
        assert_eq!(go_split("a/b/c", "/", 2), ["a", "b/c"]);
        assert!(go_split("a/b", "/", 0).is_empty());
    }

    #[test]
    fn trunc_and_substr_like_sprig() {
        assert_eq!(trunc(5, "hello world"), "hello");
        assert_eq!(trunc(-5, "hello world"), "world");
        assert_eq!(trunc(-50, "hello"), "hello");
        assert_eq!(substring(0, 5, "hello world").unwrap(), "hello");
        assert_eq!(substring(-1, 3, "hello").unwrap(), "hel");
        assert_eq!(substring(2, -1, "hello").unwrap(), "llo");
        assert_eq!(
            substring(-1, 9, "hello").unwrap_err().to_string(),
            "runtime error: slice bounds out of range [:9] with length 5"
        );
        assert_eq!(
            substring(4, 2, "hello").unwrap_err().to_string(),
            "runtime error: slice bounds out of range [4:2]"
        );
    }
}
