//! Sprig's `urlParse` and `urlJoin`, on Go's `net/url` rules: `urlParse` gives a dict of
//! `scheme`, `host`, `hostname`, `path`, `query`, `opaque`, `fragment` and `userinfo`;
//! `urlJoin` builds a URL back from such a dict with Go's `URL.String()` escaping. Also
//! `getHostByName`, which never resolves.

use super::types::{dict, string};
use super::{define, str_arg, string_result};
use crate::funcs::{FuncError, Funcs, Signature};
use crate::value::Value;
use std::collections::BTreeMap;

pub(super) fn register(funcs: &mut Funcs) {
    // Sprig resolves the name with the machine's resolver; charts are untrusted here, so this
    // never touches the network and answers "" as Helm does without `--enable-dns`.
    define(
        funcs,
        &["getHostByName"],
        Signature::new([string()]),
        |_, _| Ok(Value::string("")),
    );
    define(
        funcs,
        &["urlParse"],
        Signature::new([string()]),
        |ctx, args| {
            let text = str_arg(args, 0);
            ctx.charge_bytes(text.len() * 2)?;
            let url = parse(text)
                .map_err(|error| FuncError::new(format!("unable to parse url: {error}")))?;
            let mut entries = BTreeMap::new();
            let hostname = hostname(&url.host).to_string();
            let fields = [
                ("scheme", url.scheme),
                ("host", url.host),
                ("hostname", hostname),
                ("path", url.path),
                ("query", url.raw_query),
                ("opaque", url.opaque),
                ("fragment", url.fragment),
                (
                    "userinfo",
                    url.user.map(|u| u.to_go_string()).unwrap_or_default(),
                ),
            ];
            for (key, value) in fields {
                entries.insert(key.to_string(), Value::string(value));
            }
            Ok(Value::map(entries))
        },
    );
    define(
        funcs,
        &["urlJoin"],
        Signature::new([dict()]),
        |ctx, args| {
            let map = args
                .first()
                .and_then(Value::as_map)
                .ok_or_else(|| FuncError::new("urlJoin needs a dict"))?;
            let field = |key: &str| -> Result<String, FuncError> {
                match map.get(key) {
                    None => Ok(String::new()),
                    Some(Value::String(s)) => Ok(s.to_string()),
                    Some(other) => Err(FuncError::new(format!(
                        "unable to parse {key} key, must be of type string, but {} found",
                        other.kind().name()
                    ))),
                }
            };
            let userinfo = field("userinfo")?;
            let user = if userinfo.is_empty() {
                None
            } else {
                let probe = parse(&format!("proto://{userinfo}@host")).map_err(|error| {
                    FuncError::new(format!("unable to parse userinfo in dict: {error}"))
                })?;
                probe.user
            };
            let url = Url {
                scheme: field("scheme")?,
                host: field("host")?,
                path: field("path")?,
                raw_query: field("query")?,
                opaque: field("opaque")?,
                fragment: field("fragment")?,
                user,
            };
            string_result(ctx, url.to_go_string())
        },
    );
}

/// Go's `url.Userinfo`.
#[derive(Debug, Clone, PartialEq)]
struct User {
    name: String,
    password: Option<String>,
}

impl User {
    /// Go's `Userinfo.String()`.
    fn to_go_string(&self) -> String {
        let mut text = escape(&self.name, Mode::UserPassword);
        if let Some(password) = &self.password {
            text.push(':');
            text.push_str(&escape(password, Mode::UserPassword));
        }
        text
    }
}

/// The parts of Go's `url.URL` that Sprig reads or writes.
#[derive(Debug, Default, Clone, PartialEq)]
struct Url {
    scheme: String,
    opaque: String,
    user: Option<User>,
    host: String,
    path: String,
    raw_query: String,
    fragment: String,
}

/// Go's `url.Parse` (fragment split off, then scheme, query, authority and path).
fn parse(raw: &str) -> Result<Url, String> {
    let (rest, fragment) = match raw.split_once('#') {
        Some((rest, fragment)) => (rest, Some(fragment)),
        None => (raw, None),
    };
    let mut url = parse_without_fragment(raw, rest)?;
    if let Some(fragment) = fragment {
        url.fragment = unescape(fragment, Mode::Fragment)
            .map_err(|e| format!("parse {}: {e}", crate::fmt::quote(raw)))?;
    }
    Ok(url)
}

fn parse_without_fragment(original: &str, raw: &str) -> Result<Url, String> {
    let error = |message: &str| format!("parse {}: {message}", crate::fmt::quote(original));
    if raw.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err(error("net/url: invalid control character in URL"));
    }
    let mut url = Url::default();
    if raw == "*" {
        url.path = "*".to_string();
        return Ok(url);
    }
    let (scheme, mut rest) = get_scheme(raw).map_err(&error)?;
    url.scheme = scheme.to_ascii_lowercase();
    if rest.ends_with('?') && rest.matches('?').count() == 1 {
        rest = &rest[..rest.len() - 1];
    } else if let Some((before, query)) = rest.split_once('?') {
        url.raw_query = query.to_string();
        rest = before;
    }
    if !rest.starts_with('/') {
        if !url.scheme.is_empty() {
            url.opaque = rest.to_string();
            return Ok(url);
        }
        if let Some(colon) = rest.find(':')
            && rest.find('/').is_none_or(|slash| colon < slash)
        {
            return Err(error("first path segment in URL cannot contain colon"));
        }
    }
    if (!url.scheme.is_empty() || !rest.starts_with("///")) && rest.starts_with("//") {
        let after = &rest[2..];
        let (authority, remainder) = match after.find('/') {
            Some(at) => (&after[..at], &after[at..]),
            None => (after, ""),
        };
        let (user, host) = parse_authority(authority).map_err(|m| error(&m))?;
        url.user = user;
        url.host = host;
        rest = remainder;
    }
    url.path = unescape(rest, Mode::Path).map_err(|m| error(&m))?;
    Ok(url)
}

/// Go's `getScheme`: a letter, then letters, digits, `+`, `-`, `.` up to a `:`.
fn get_scheme(raw: &str) -> Result<(&str, &str), &'static str> {
    for (i, c) in raw.bytes().enumerate() {
        match c {
            b'a'..=b'z' | b'A'..=b'Z' => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' if i > 0 => {}
            b'0'..=b'9' | b'+' | b'-' | b'.' => return Ok(("", raw)),
            b':' if i == 0 => return Err("missing protocol scheme"),
            b':' => return Ok((&raw[..i], &raw[i + 1..])),
            _ => return Ok(("", raw)),
        }
    }
    Ok(("", raw))
}

fn parse_authority(authority: &str) -> Result<(Option<User>, String), String> {
    let Some(at) = authority.rfind('@') else {
        return Ok((None, unescape(authority, Mode::Host)?));
    };
    let host = unescape(&authority[at + 1..], Mode::Host)?;
    let userinfo = &authority[..at];
    if !valid_userinfo(userinfo) {
        return Err("net/url: invalid userinfo".to_string());
    }
    let user = match userinfo.split_once(':') {
        Some((name, password)) => User {
            name: unescape(name, Mode::UserPassword)?,
            password: Some(unescape(password, Mode::UserPassword)?),
        },
        None => User {
            name: unescape(userinfo, Mode::UserPassword)?,
            password: None,
        },
    };
    Ok((Some(user), host))
}

fn valid_userinfo(text: &str) -> bool {
    text.chars()
        .all(|c| c.is_ascii_alphanumeric() || "-._:~!$&'()*+,;=%@".contains(c) || !c.is_ascii())
}

/// Go's `Hostname()`: the host without its port, without IPv6 brackets.
fn hostname(host: &str) -> &str {
    if let Some(inner) = host.strip_prefix('[') {
        return inner.find(']').map_or(inner, |end| &inner[..end]);
    }
    match host.rfind(':') {
        Some(colon) if host[colon + 1..].bytes().all(|b| b.is_ascii_digit()) => &host[..colon],
        _ => host,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Path,
    Host,
    UserPassword,
    Fragment,
}

/// Go's `shouldEscape`.
fn should_escape(c: u8, mode: Mode) -> bool {
    if c.is_ascii_alphanumeric() {
        return false;
    }
    if mode == Mode::Host
        && matches!(
            c,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'['
                | b']'
                | b'<'
                | b'>'
                | b'"'
        )
    {
        return false;
    }
    match c {
        b'-' | b'_' | b'.' | b'~' => false,
        b'$' | b'&' | b'+' | b',' | b'/' | b':' | b';' | b'=' | b'?' | b'@' => match mode {
            Mode::Path => c == b'?',
            Mode::UserPassword => matches!(c, b'@' | b'/' | b'?' | b':'),
            Mode::Fragment => false,
            Mode::Host => true,
        },
        b'!' | b'(' | b')' | b'*' if mode == Mode::Fragment => false,
        _ => true,
    }
}

/// Go's `escape`: `%XX` (upper-case hex) for every byte that must be escaped in `mode`.
fn escape(text: &str, mode: Mode) -> String {
    let mut out = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        if should_escape(byte, mode) {
            out.push_str(&format!("%{byte:02X}"));
        } else {
            out.push(char::from(byte));
        }
    }
    out
}

/// Go's `unescape`: `%XX` decoded (a malformed escape is an error).
fn unescape(text: &str, mode: Mode) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .filter(|h| h.len() == 2 && h.bytes().all(|b| b.is_ascii_hexdigit()));
            let Some(hex) = hex else {
                let end = (i + 3).min(text.len());
                let shown = text.get(i..end).unwrap_or(&text[i..]);
                return Err(format!("invalid URL escape {}", crate::fmt::quote(shown)));
            };
            let value = u8::from_str_radix(hex, 16).unwrap_or(0);
            if mode == Mode::Host && value < 0x80 && hex != "25" {
                return Err(format!(
                    "invalid URL escape {}",
                    crate::fmt::quote(&text[i..i + 3])
                ));
            }
            out.push(value);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

impl Url {
    /// Go's `URL.String()`.
    fn to_go_string(&self) -> String {
        let mut out = String::new();
        if !self.scheme.is_empty() {
            out.push_str(&self.scheme);
            out.push(':');
        }
        if !self.opaque.is_empty() {
            out.push_str(&self.opaque);
        } else {
            if !self.scheme.is_empty() || !self.host.is_empty() || self.user.is_some() {
                if !self.host.is_empty() || !self.path.is_empty() || self.user.is_some() {
                    out.push_str("//");
                }
                if let Some(user) = &self.user {
                    out.push_str(&user.to_go_string());
                    out.push('@');
                }
                out.push_str(&escape(&self.host, Mode::Host));
            }
            let path = escape(&self.path, Mode::Path);
            if !path.is_empty() && !path.starts_with('/') && !self.host.is_empty() {
                out.push('/');
            }
            if out.is_empty()
                && path
                    .split('/')
                    .next()
                    .is_some_and(|segment| segment.contains(':'))
            {
                out.push_str("./");
            }
            out.push_str(&path);
        }
        if !self.raw_query.is_empty() {
            out.push('?');
            out.push_str(&self.raw_query);
        }
        if !self.fragment.is_empty() {
            out.push('#');
            out.push_str(&escape(&self.fragment, Mode::Fragment));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values printed by Go 1.26's net/url through Sprig's urlParse and urlJoin.

    #[test]
    fn parses_like_go() {
        let url = parse("https://user:p%40ss@example.com:8080/a%20b/c?x=1&y=2#frag").unwrap();
        assert_eq!(url.scheme, "https");
        assert_eq!(url.host, "example.com:8080");
        assert_eq!(hostname(&url.host), "example.com");
        assert_eq!(url.path, "/a b/c");
        assert_eq!(url.raw_query, "x=1&y=2");
        assert_eq!(url.fragment, "frag");
        assert_eq!(url.user.as_ref().unwrap().to_go_string(), "user:p%40ss");
        assert_eq!(
            url.to_go_string(),
            "https://user:p%40ss@example.com:8080/a%20b/c?x=1&y=2#frag"
        );
        let mail = parse("mailto:someone@example.com").unwrap();
        assert_eq!(mail.opaque, "someone@example.com");
    }
}
