//! Sprig's regular-expression functions over Go's RE2 syntax.
//!
//! Rust's `regex` crate implements the same RE2 family, with two differences that change
//! results: Go's `\d`, `\w`, `\s` and `\b` are ASCII-only, and Go's iteration over matches skips
//! an empty match right after a previous match. Patterns are therefore rewritten to Go's ASCII
//! classes before compiling, and finding, splitting and replacing are done with Go's own loops
//! (`allMatches`, `Split`, `ReplaceAllString` with `Regexp.Expand`'s `$name` rules) on top of
//! single searches. Compiled patterns are cached per execution.
//!
//! The non-`must` functions panic in Sprig on a bad pattern (`regexp.MustCompile`), which a
//! template reports as an error too; `regexMatch` alone swallows it and returns false.

use super::types::{int, string};
use super::{Outcome, define, int_arg, str_arg, string_result, strings_result};
use crate::funcs::{CallContext, FuncError, Funcs, Signature};
use crate::value::Value;
use regex::Regex;
use std::collections::HashMap;
use std::sync::Arc;

/// Longest pattern accepted; the regex crate bounds compiled size too.
const MAX_PATTERN_LEN: usize = 64 * 1024;
/// Compiled patterns kept per execution.
const CACHE_LIMIT: usize = 256;

pub(super) fn register(funcs: &mut Funcs) {
    define(
        funcs,
        &["regexMatch"],
        Signature::new([string(), string()]),
        |ctx, args| {
            let matched = compile(ctx, str_arg(args, 0))
                .map(|re| re.is_match(str_arg(args, 1)))
                .unwrap_or(false);
            Ok(Value::Bool(matched))
        },
    );
    define(
        funcs,
        &["mustRegexMatch"],
        Signature::new([string(), string()]),
        |ctx, args| {
            let re = compile(ctx, str_arg(args, 0)).map_err(|e| FuncError::new(e.message))?;
            Ok(Value::Bool(re.is_match(str_arg(args, 1))))
        },
    );
    for (name, must) in [("regexFindAll", false), ("mustRegexFindAll", true)] {
        define(
            funcs,
            &[name],
            Signature::new([string(), string(), int()]),
            move |ctx, args| {
                let re = compiled(ctx, str_arg(args, 0), must)?;
                let s = str_arg(args, 1);
                let found = find_all(&re, s, int_arg(args, 2))
                    .into_iter()
                    .map(|(start, end)| s[start..end].to_string())
                    .collect();
                strings_result(ctx, found)
            },
        );
    }
    for (name, must) in [("regexFind", false), ("mustRegexFind", true)] {
        define(
            funcs,
            &[name],
            Signature::new([string(), string()]),
            move |ctx, args| {
                let re = compiled(ctx, str_arg(args, 0), must)?;
                let found = re.find(str_arg(args, 1)).map_or("", |m| m.as_str());
                string_result(ctx, found.to_string())
            },
        );
    }
    for (name, must, literal) in [
        ("regexReplaceAll", false, false),
        ("mustRegexReplaceAll", true, false),
        ("regexReplaceAllLiteral", false, true),
        ("mustRegexReplaceAllLiteral", true, true),
    ] {
        define(
            funcs,
            &[name],
            Signature::new([string(), string(), string()]),
            move |ctx, args| {
                let re = compiled(ctx, str_arg(args, 0), must)?;
                replace_all(ctx, &re, str_arg(args, 1), str_arg(args, 2), literal)
            },
        );
    }
    for (name, must) in [("regexSplit", false), ("mustRegexSplit", true)] {
        define(
            funcs,
            &[name],
            Signature::new([string(), string(), int()]),
            move |ctx, args| {
                let pattern = str_arg(args, 0);
                let re = compiled(ctx, pattern, must)?;
                let parts = split(&re, pattern, str_arg(args, 1), int_arg(args, 2));
                strings_result(ctx, parts)
            },
        );
    }
    define(
        funcs,
        &["regexQuoteMeta"],
        Signature::new([string()]),
        |ctx, args| string_result(ctx, quote_meta(str_arg(args, 0))),
    );
}

/// A pattern Go would reject, with Go's message.
#[derive(Clone, Debug)]
struct CompileError {
    /// `error parsing regexp: missing closing ): `(``
    message: String,
}

/// Compiled patterns of one execution.
#[derive(Default)]
struct RegexCache {
    compiled: HashMap<String, Result<Arc<Regex>, CompileError>>,
}

fn compile(ctx: &mut CallContext<'_, '_>, pattern: &str) -> Result<Arc<Regex>, CompileError> {
    let cache = ctx.extension::<RegexCache>();
    if let Some(found) = cache.compiled.get(pattern) {
        return found.clone();
    }
    let result = compile_go_pattern(pattern).map(Arc::new);
    if cache.compiled.len() >= CACHE_LIMIT {
        cache.compiled.clear();
    }
    cache.compiled.insert(pattern.to_string(), result.clone());
    result
}

/// Compiles for a `must` function (an error) or a plain one (`MustCompile`'s panic text).
fn compiled(
    ctx: &mut CallContext<'_, '_>,
    pattern: &str,
    must: bool,
) -> Result<Arc<Regex>, FuncError> {
    ctx.charge(pattern.len() as u64)?;
    compile(ctx, pattern).map_err(|error| {
        if must {
            FuncError::new(error.message)
        } else {
            FuncError::new(format!(
                "regexp: Compile({}): {}",
                regexp_quote(pattern),
                error.message
            ))
        }
    })
}

/// `regexp`'s `quote`: backquotes when possible, else `strconv.Quote`.
fn regexp_quote(text: &str) -> String {
    let can_backquote = !text.contains('`')
        && text
            .chars()
            .all(|c| c == '\t' || !(c.is_control() || c == '\u{feff}'));
    if can_backquote {
        format!("`{text}`")
    } else {
        crate::fmt::quote(text)
    }
}

fn compile_go_pattern(pattern: &str) -> Result<Regex, CompileError> {
    if pattern.len() > MAX_PATTERN_LEN {
        return Err(CompileError {
            message: "error parsing regexp: expression too large".to_string(),
        });
    }
    if let Some(message) = go_only_errors(pattern) {
        return Err(CompileError {
            message: format!("error parsing regexp: {message}"),
        });
    }
    let translated = translate(pattern);
    regex::RegexBuilder::new(&translated)
        .octal(true)
        .size_limit(8 << 20)
        .build()
        .map_err(|error| CompileError {
            message: go_error_text(pattern, &error),
        })
}

/// Go's wording for a syntax error (`missing closing ): `(``), from the parser's diagnosis;
/// errors Go words differently or not at all keep the `regex` crate's explanation.
fn go_error_text(pattern: &str, error: &regex::Error) -> String {
    use regex_syntax::ast::ErrorKind;
    let translated = translate(pattern);
    let Err(parse_error) = regex_syntax::ast::parse::Parser::new().parse(&translated) else {
        let detail = error.to_string();
        if detail.contains("Unicode property not found")
            || detail.contains("Unicode property value not found")
        {
            let class = unicode_class_at(pattern).unwrap_or(pattern);
            return format!("error parsing regexp: invalid character class range: `{class}`");
        }
        let summary = detail.lines().last().unwrap_or("invalid pattern").trim();
        return format!("error parsing regexp: {summary}: `{pattern}`");
    };
    let span = parse_error.span();
    let at = |start: usize, end: usize| translated.get(start..end).unwrap_or("").to_string();
    let fragment = at(span.start.offset, span.end.offset);
    let (code, shown) = match parse_error.kind() {
        ErrorKind::GroupUnclosed => ("missing closing )", pattern.to_string()),
        ErrorKind::GroupUnopened => ("unexpected )", pattern.to_string()),
        ErrorKind::ClassUnclosed => ("missing closing ]", at(span.start.offset, translated.len())),
        ErrorKind::RepetitionMissing => {
            let before = translated[..span.start.offset].chars().last();
            if matches!(before, Some('*' | '+' | '?' | '}')) {
                let start = span.start.offset - 1;
                (
                    "invalid nested repetition operator",
                    at(start, span.end.offset),
                )
            } else {
                ("missing argument to repetition operator", fragment)
            }
        }
        ErrorKind::EscapeUnrecognized => ("invalid escape sequence", fragment),
        ErrorKind::EscapeUnexpectedEof => {
            ("trailing backslash at end of expression", String::new())
        }
        ErrorKind::ClassRangeInvalid => ("invalid character class range", fragment),
        ErrorKind::RepetitionCountInvalid
        | ErrorKind::RepetitionCountUnclosed
        | ErrorKind::RepetitionCountDecimalEmpty => ("invalid repeat count", fragment),
        ErrorKind::GroupNameInvalid
        | ErrorKind::GroupNameEmpty
        | ErrorKind::GroupNameUnexpectedEof
        | ErrorKind::GroupNameDuplicate { .. } => ("invalid named capture", fragment),
        ErrorKind::FlagUnrecognized
        | ErrorKind::FlagDanglingNegation
        | ErrorKind::FlagRepeatedNegation { .. }
        | ErrorKind::FlagUnexpectedEof
        | ErrorKind::UnsupportedLookAround
        | ErrorKind::UnsupportedBackreference => {
            // Go quotes from the group's `(?` to the offending character.
            let start = translated[..span.start.offset]
                .rfind("(?")
                .unwrap_or(span.start.offset);
            (
                "invalid or unsupported Perl syntax",
                at(start, span.end.offset),
            )
        }
        _ => {
            let detail = parse_error.to_string();
            let summary = detail
                .lines()
                .last()
                .unwrap_or("invalid pattern")
                .trim()
                .to_string();
            return format!("error parsing regexp: {summary}: `{pattern}`");
        }
    };
    format!("error parsing regexp: {code}: `{shown}`")
}

/// Faults Go reports that Rust's parser accepts: a repetition of a repetition, a repeat count
/// above Go's 1000, an unknown POSIX class name.
fn go_only_errors(pattern: &str) -> Option<String> {
    if let Some(operators) = nested_repetition(pattern) {
        return Some(format!("invalid nested repetition operator: `{operators}`"));
    }
    let bytes = pattern.as_bytes();
    let mut i = 0;
    let mut in_class = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 1,
            b'[' if in_class && bytes.get(i + 1) == Some(&b':') => {
                if let Some(end) = pattern[i + 2..].find(":]") {
                    let name = &pattern[i + 2..i + 2 + end];
                    let known = [
                        "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower",
                        "print", "punct", "space", "upper", "word", "xdigit",
                    ];
                    if !known.contains(&name.strip_prefix('^').unwrap_or(name)) {
                        let class = &pattern[i..i + 2 + end + 2];
                        return Some(format!("invalid character class range: `{class}`"));
                    }
                    i += 2 + end + 1;
                }
            }
            b'[' if !in_class => {
                in_class = true;
                if bytes.get(i + 1) == Some(&b'^') {
                    i += 1;
                }
                if bytes.get(i + 1) == Some(&b']') {
                    i += 1;
                }
            }
            b']' if in_class => in_class = false,
            b'{' if !in_class => {
                if let Some(end) = repeat_count_end(bytes, i) {
                    let counts = &pattern[i + 1..end - 1];
                    let too_many = counts
                        .split(',')
                        .any(|n| n.parse::<u64>().is_ok_and(|n| n > 1000));
                    if too_many {
                        return Some(format!("invalid repeat count: `{}`", &pattern[i..end]));
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// The first `\\p{...}`/`\\P{...}`/`\\pX` class in the pattern.
fn unicode_class_at(pattern: &str) -> Option<&str> {
    let start = pattern.find("\\p").or_else(|| pattern.find("\\P"))?;
    let rest = &pattern[start..];
    if rest[2..].starts_with('{') {
        let end = rest.find('}')?;
        return Some(&rest[..=end]);
    }
    let next = rest[2..].chars().next()?;
    Some(&rest[..2 + next.len_utf8()])
}

/// Go refuses a repetition operator applied to another (`a**`, `a{2}+`; the lazy `?` suffix
/// aside), which Rust accepts: the offending operators, if any.
fn nested_repetition(pattern: &str) -> Option<&str> {
    let bytes = pattern.as_bytes();
    let mut i = 0;
    let mut in_class = false;
    let mut last_repeat: Option<usize> = None;
    while i < bytes.len() {
        let start = i;
        let repeat_end = match bytes[i] {
            b'\\' => {
                i += 2;
                last_repeat = None;
                continue;
            }
            b'[' if !in_class => {
                in_class = true;
                i += 1;
                // A leading `]` (after an optional `^`) is a literal.
                if bytes.get(i) == Some(&b'^') {
                    i += 1;
                }
                if bytes.get(i) == Some(&b']') {
                    i += 1;
                }
                last_repeat = None;
                continue;
            }
            b']' if in_class => {
                in_class = false;
                i += 1;
                continue;
            }
            _ if in_class => {
                i += 1;
                continue;
            }
            b'*' | b'+' | b'?' => Some(i + 1),
            b'{' => repeat_count_end(bytes, i),
            _ => None,
        };
        match repeat_end {
            Some(mut end) => {
                if bytes.get(end) == Some(&b'?') {
                    end += 1;
                }
                if let Some(previous) = last_repeat {
                    return pattern.get(previous..end);
                }
                last_repeat = Some(start);
                i = end;
            }
            None => {
                last_repeat = None;
                i += 1;
            }
        }
    }
    None
}

/// The end of a `{n}`, `{n,}` or `{n,m}` repeat starting at `start`, if it is one.
fn repeat_count_end(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    let digits = |i: &mut usize| {
        let from = *i;
        while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > from
    };
    if !digits(&mut i) {
        return None;
    }
    if bytes.get(i) == Some(&b',') {
        i += 1;
        digits(&mut i);
    }
    (bytes.get(i) == Some(&b'}')).then_some(i + 1)
}

/// What marks the second and later uses of a group name in a translated pattern.
const DUPLICATE_MARK: &str = "__go_duplicate_";

/// The group name as written in the Go pattern.
fn go_group_name(name: &str) -> &str {
    name.find(DUPLICATE_MARK).map_or(name, |at| &name[..at])
}

/// Rewrites Go's ASCII-only Perl classes and word boundaries (and `\Q…\E` literals) into
/// forms the `regex` crate reads the same way Go does.
fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    let mut class_depth = 0usize;
    let mut group_names: Vec<String> = Vec::new();
    while let Some(ch) = chars.next() {
        match ch {
            // Go allows a group name twice; Rust does not, so repeats get a marked name
            // that `go_group_name` maps back.
            '(' if class_depth == 0 && chars.peek() == Some(&'?') => {
                out.push('(');
                let rest: String = chars.clone().take(3).collect();
                let opener = if rest.starts_with("?P<") {
                    "?P<"
                } else if rest.starts_with("?<")
                    && !rest.starts_with("?<=")
                    && !rest.starts_with("?<!")
                {
                    "?<"
                } else {
                    continue;
                };
                for _ in 0..opener.len() {
                    chars.next();
                }
                out.push_str(opener);
                let mut name = String::new();
                while let Some(&c) = chars.peek() {
                    if c == '>' {
                        break;
                    }
                    name.push(c);
                    chars.next();
                }
                let seen = group_names.iter().filter(|n| **n == name).count();
                out.push_str(&name);
                if seen > 0 {
                    out.push_str(&format!("{DUPLICATE_MARK}{seen}"));
                }
                group_names.push(name);
            }
            '\\' => {
                let Some(next) = chars.next() else {
                    out.push('\\');
                    break;
                };
                if next == 'Q' {
                    let mut literal = String::new();
                    while let Some(c) = chars.next() {
                        if c == '\\' && chars.peek() == Some(&'E') {
                            chars.next();
                            break;
                        }
                        literal.push(c);
                    }
                    out.push_str(&regex::escape(&literal));
                    continue;
                }
                out.push_str(&ascii_class(next, class_depth > 0).unwrap_or_else(|| {
                    let mut kept = String::from('\\');
                    kept.push(next);
                    kept
                }));
            }
            '[' => {
                if class_depth > 0 && chars.peek() != Some(&':') {
                    // Go reads `[` inside a class as itself; Rust would open a nested class.
                    out.push_str("\\[");
                    continue;
                }
                out.push('[');
                let opens_class = class_depth == 0;
                class_depth += 1;
                if opens_class {
                    // A `]` right after `[` or `[^` is a literal.
                    if chars.peek() == Some(&'^') {
                        out.push('^');
                        chars.next();
                    }
                    if chars.peek() == Some(&']') {
                        out.push_str("\\]");
                        chars.next();
                    }
                }
            }
            // Rust reads `&&` and `~~` in a class as set operations; Go as characters.
            '&' if class_depth > 0 => out.push_str("\\x26"),
            '~' if class_depth > 0 => out.push_str("\\x7E"),
            ']' if class_depth > 0 => {
                class_depth -= 1;
                out.push(']');
            }
            _ => out.push(ch),
        }
    }
    out
}

/// The ASCII spelling of Go's `\d \D \w \W \s \S \b \B`, inside or outside a class.
fn ascii_class(escape: char, in_class: bool) -> Option<String> {
    let text = match (escape, in_class) {
        ('d', false) => "[0-9]",
        ('D', false) => "[^0-9]",
        ('w', false) => "[0-9A-Za-z_]",
        ('W', false) => "[^0-9A-Za-z_]",
        ('s', false) => "[\\t\\n\\f\\r ]",
        ('S', false) => "[^\\t\\n\\f\\r ]",
        ('b', false) => "(?-u:\\b)",
        ('B', false) => "(?-u:\\B)",
        ('d', true) => "0-9",
        ('D', true) => "\\x00-\\x2F\\x3A-\\x{10FFFF}",
        ('w', true) => "0-9A-Za-z_",
        ('W', true) => "\\x00-\\x2F\\x3A-\\x40\\x5B-\\x5E\\x60\\x7B-\\x{10FFFF}",
        ('s', true) => "\\t\\n\\f\\r ",
        ('S', true) => "\\x00-\\x08\\x0B\\x0E-\\x1F\\x21-\\x{10FFFF}",
        _ => return None,
    };
    Some(text.to_string())
}

/// Go's `allMatches`: successive non-overlapping matches, at most `n` (all for `n < 0`), an
/// empty match right after the previous match skipped.
fn find_all(re: &Regex, s: &str, n: i64) -> Vec<(usize, usize)> {
    let limit = if n < 0 { usize::MAX } else { n as usize };
    let mut found = Vec::new();
    let mut position = 0usize;
    let mut previous_end: Option<usize> = None;
    while found.len() < limit && position <= s.len() {
        let Some(m) = re.find_at(s, position) else {
            break;
        };
        let mut accept = true;
        if m.end() == position {
            if previous_end == Some(m.start()) {
                accept = false;
            }
            position += s[position..].chars().next().map_or(1, char::len_utf8);
        } else {
            position = m.end();
        }
        previous_end = Some(m.end());
        if accept {
            found.push((m.start(), m.end()));
        }
    }
    found
}

/// Go's `Regexp.Split(s, n)`.
fn split(re: &Regex, pattern: &str, s: &str, n: i64) -> Vec<String> {
    if n == 0 {
        return Vec::new();
    }
    if !pattern.is_empty() && s.is_empty() {
        return vec![String::new()];
    }
    let matches = find_all(re, s, n);
    let mut parts = Vec::with_capacity(matches.len() + 1);
    let (mut begin, mut end) = (0, 0);
    for (start, stop) in matches {
        if n > 0 && parts.len() as i64 == n - 1 {
            break;
        }
        end = start;
        if stop != 0 {
            parts.push(s[begin..end].to_string());
        }
        begin = stop;
    }
    if end != s.len() {
        parts.push(s[begin..].to_string());
    }
    parts
}

/// Go's `ReplaceAllString` (with `$1`/`${name}` expansion) or `ReplaceAllLiteralString`.
fn replace_all(
    ctx: &mut CallContext<'_, '_>,
    re: &Regex,
    src: &str,
    replacement: &str,
    literal: bool,
) -> Outcome {
    let mut out = String::with_capacity(src.len());
    let mut last_match_end = 0usize;
    let mut search = 0usize;
    let mut copied = 0usize;
    while search <= src.len() {
        let Some(captures) = re.captures_at(src, search) else {
            break;
        };
        let whole = captures
            .get(0)
            .map_or((search, search), |m| (m.start(), m.end()));
        out.push_str(&src[copied..whole.0]);
        copied = whole.0;
        if whole.1 > last_match_end || whole.0 == 0 {
            if literal {
                out.push_str(replacement);
            } else {
                expand(&mut out, replacement, re, &captures);
            }
            copied = whole.1;
        }
        last_match_end = whole.1;
        ctx.charge_bytes(out.len().saturating_sub(search))?;
        if whole.1 > search {
            search = whole.1;
        } else if search < src.len() {
            search += src[search..].chars().next().map_or(1, char::len_utf8);
        } else {
            search += 1;
        }
    }
    out.push_str(&src[copied.min(src.len())..]);
    string_result(ctx, out)
}

/// Go's `Regexp.Expand`: `$$` is `$`, `$name`/`${name}` a group by number or name (empty when
/// absent or unmatched), and a malformed `$` is kept as is.
fn expand(out: &mut String, template: &str, re: &Regex, captures: &regex::Captures<'_>) {
    let mut rest = template;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        if let Some(tail) = rest.strip_prefix('$') {
            out.push('$');
            rest = tail;
            continue;
        }
        let Some((name, tail)) = extract_group_name(rest) else {
            out.push('$');
            continue;
        };
        rest = tail;
        // By number, or the first group of that name that took part in the match.
        let group = match group_number(name) {
            Some(number) => captures.get(number),
            None => re
                .capture_names()
                .enumerate()
                .filter(|(_, n)| n.is_some_and(|n| go_group_name(n) == name))
                .find_map(|(index, _)| captures.get(index)),
        };
        if let Some(m) = group {
            out.push_str(m.as_str());
        }
    }
    out.push_str(rest);
}

/// Go's `extract`: the group name after `$` (letters, digits, `_`; braces optional).
fn extract_group_name(text: &str) -> Option<(&str, &str)> {
    let (braced, body) = match text.strip_prefix('{') {
        Some(inner) => (true, inner),
        None => (false, text),
    };
    let end = body
        .char_indices()
        .find(|&(_, c)| !(c.is_alphabetic() || c.is_numeric() || c == '_'))
        .map_or(body.len(), |(i, _)| i);
    if end == 0 {
        return None;
    }
    let name = &body[..end];
    if braced {
        let tail = body[end..].strip_prefix('}')?;
        return Some((name, tail));
    }
    Some((name, &body[end..]))
}

/// A group name that is all ASCII digits, as a number (Go gives up beyond 1e8).
fn group_number(name: &str) -> Option<usize> {
    if !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut number: usize = 0;
    for b in name.bytes() {
        number = number * 10 + usize::from(b - b'0');
        if number >= 100_000_000 {
            return Some(usize::MAX);
        }
    }
    Some(number)
}

/// Go's `regexp.QuoteMeta`: a backslash before every special character.
fn quote_meta(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for ch in text.chars() {
        if "\\.+*?()|[]{}^$".contains(ch) {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values printed by Go 1.26's regexp package.

    fn re(pattern: &str) -> Regex {
        compile_go_pattern(pattern).unwrap()
    }

    fn all(pattern: &str, s: &str) -> Vec<String> {
        find_all(&re(pattern), s, -1)
            .into_iter()
            .map(|(a, b)| s[a..b].to_string())
            .collect()
    }

    #[test]
    fn classes_are_ascii_like_go() {
        assert_eq!(all(r"\d+", "a1٣2"), ["1", "2"]);
        assert_eq!(all(r"[\w]+", "héllo wo"), ["h", "llo", "wo"]);
        assert_eq!(all(r"\s", "a\u{a0}b c"), [" "]);
    }

    #[test]
    fn empty_matches_follow_go() {
        assert_eq!(all("a*", "baaac"), ["", "aaa", ""]);
        assert_eq!(split(&re("a*"), "a*", "baaac", -1), ["b", "c"]);
        assert_eq!(split(&re(","), ",", "a,b,c", 2), ["a", "b,c"]);
    }

    #[test]
    fn compile_errors_like_go() {
        let message = |p: &str| compile_go_pattern(p).unwrap_err().message;
        assert_eq!(message("("), "error parsing regexp: missing closing ): `(`");
        assert_eq!(
            message("a**"),
            "error parsing regexp: invalid nested repetition operator: `**`"
        );
        assert_eq!(
            message("[a"),
            "error parsing regexp: missing closing ]: `[a`"
        );
        assert_eq!(message("a)"), "error parsing regexp: unexpected ): `a)`");
        assert_eq!(
            message("\\q"),
            "error parsing regexp: invalid escape sequence: `\\q`"
        );
    }

    #[test]
    fn quote_meta_like_go() {
        assert_eq!(quote_meta("1.2*[x]"), "1\\.2\\*\\[x\\]");
    }
}
