//! Sprig's path functions: `base`, `dir`, `clean`, `ext`, `isAbs` (Go's `path`) and their `os`
//! twins (Go's `path/filepath`, which on Linux, where Helm's releases run, behaves the same).

use super::types::string;
use super::{define, str_arg, string_result};
use crate::funcs::{Funcs, Signature};
use crate::value::Value;

pub(super) fn register(funcs: &mut Funcs) {
    let functions: [(&str, &str, super::StringMap); 4] = [
        ("base", "osBase", base),
        ("dir", "osDir", dir),
        ("clean", "osClean", clean),
        ("ext", "osExt", |p| ext(p).to_string()),
    ];
    for (name, os_name, f) in functions {
        define(
            funcs,
            &[name, os_name],
            Signature::new([string()]),
            move |ctx, args| string_result(ctx, f(str_arg(args, 0))),
        );
    }
    define(
        funcs,
        &["isAbs", "osIsAbs"],
        Signature::new([string()]),
        |_, args| Ok(Value::Bool(str_arg(args, 0).starts_with('/'))),
    );
}

/// Go's `path.Clean`: the shortest equivalent path, processing `.`, `..` and repeated slashes
/// lexically; `""` becomes `"."`.
pub(crate) fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Go's `path.Base`: the last element, trailing slashes ignored; `"."` for empty, `"/"` for
/// slashes only.
pub(crate) fn base(path: &str) -> String {
    if path.is_empty() {
        return ".".to_string();
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return "/".to_string();
    }
    trimmed
        .rsplit_once('/')
        .map_or(trimmed, |(_, last)| last)
        .to_string()
}

/// Go's `path.Dir`: everything up to the last slash, cleaned.
pub(crate) fn dir(path: &str) -> String {
    let directory = path.rfind('/').map_or("", |at| &path[..=at]);
    clean(directory)
}

/// Go's `path.Ext`: from the last `.` of the last element, or empty.
pub(crate) fn ext(path: &str) -> &str {
    for (i, byte) in path.bytes().enumerate().rev() {
        match byte {
            b'/' => return "",
            b'.' => return &path[i..],
            _ => {}
        }
    }
    ""
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values printed by Go 1.26's path package.

    #[test]
    fn paths_like_go() {
        assert_eq!(clean("a//b/./c/../d/"), "a/b/d");
        assert_eq!(clean("/../x"), "/x");
        assert_eq!(clean("../../x/.."), "../..");
        assert_eq!(clean(""), ".");
        assert_eq!(base("/a/b/"), "b");
        assert_eq!(base("///"), "/");
        assert_eq!(base(""), ".");
        assert_eq!(dir("/a/b/c"), "/a/b");
        assert_eq!(dir("abc"), ".");
        assert_eq!(dir("/"), "/");
        assert_eq!(ext("a/b.tar.gz"), ".gz");
        assert_eq!(ext("a.d/b"), "");
    }
}
