//! Sprig v3.3.0's template functions as Helm v3.22.0 registers them, and Helm's own functions
//! that need no executor (`toYaml`, `fromYaml`, `toToml`, `required`, `fail`, `lookup`...).
//!
//! Every function is declared with the Go signature Sprig gives it, so the executor converts and
//! rejects arguments exactly as Go's `text/template` does (`repeat` takes an `int`, so a
//! `float64` from the values is an error there too), and returns a value of the Go type Sprig
//! returns (`add` gives `int64`, `atoi` gives `int`, `splitList` gives `[]string`), which matters
//! for printing and for `typeOf`. Where Sprig panics, the function fails with the panic's text,
//! which is what Go's template executor reports.
//!
//! Every function that builds a string, list or map charges the budget for its size before
//! building it ([`CallContext::charge_bytes`]), so `repeat`, `until`, `indent`, `toYaml` and the
//! like cannot be used to allocate past the limits.
//!
//! [`register`] gives Helm's map; [`register_sprig`] gives Sprig's own (a plain Go program's).
//! Expected behaviour is checked against Go: the oracle's vectors (`tests/vectors/sprig-*.jsonl`)
//! and `tests/helm_functions.rs` for Helm's additions.
//!
//! Differences from Go, deliberate or forced by the value model (each documented where it
//! happens):
//! - `env` and `expandenv` are absent (Helm deletes them).
//! - `getHostByName` never resolves: it returns `""`, as `helm template` does without
//!   `--enable-dns`, so untrusted charts cannot reach the network.
//! - `keys`, `values` and other walks over maps go in sorted key order, one of the orders Go's
//!   random map iteration can produce; `shuffle`, `rand*`, `uuidv4`, keys and certificates are
//!   random as in Go.
//! - Strings are UTF-8: where Go would keep bytes that are not (`b64dec` of binary data, `trunc`
//!   or `substr` inside a character), they become U+FFFD, so `len` of such a string differs.
//! - A nil map passed for a map parameter arrives as an empty map (`set nil "k" 1` succeeds
//!   instead of panicking), and `fromJson "null"` gives an empty map where Go gives a nil map.
//! - Error texts of `fromYaml`/`fromYamlArray`/`fromToml` (kept under `Error`) describe the same
//!   fault in other words; YAML 1.1 words used as plain map keys (`on:`, `y:`) stay strings,
//!   as in the chart values parser.
//! - The regular-expression compile errors Go words in its own way are matched for the common
//!   faults (unclosed groups and classes, nested or missing repetition, bad escapes).

mod certs;
mod convert;
mod crypto;
mod data;
mod dates;
mod defaults;
mod der;
mod dicts;
mod encoding;
pub mod gotime;
mod helm;
pub(crate) mod json;
mod lists;
mod math;
mod paths;
mod reflection;
mod regex;
mod semver;
mod strings;
pub(crate) mod text;
mod toml;
mod urls;

pub use helm::{HELM_ERROR_END, HELM_ERROR_START};

use crate::funcs::{CallContext, FuncError, Funcs, Signature};
use crate::value::{Type, Value};

/// Registers Helm's function map into `funcs`: every Sprig function Helm keeps, with Helm's
/// replacements (`toJson`, `fromJson`, `fail`, `getHostByName`) and additions (`toYaml`,
/// `fromYaml`, `toToml`, `required`, `lookup`...). `include` and `tpl`, which render templates,
/// are left to the caller.
pub fn register(funcs: &mut Funcs) {
    register_sprig(funcs);
    data::register_helm(funcs);
    toml::register(funcs);
    helm::register(funcs);
}

/// Registers Sprig v3.3.0's `TxtFuncMap()` less `env` and `expandenv`, with Sprig's own
/// `fromJson` and `fail` (what a plain Go program using Sprig sees). `getHostByName` never
/// resolves here either.
pub fn register_sprig(funcs: &mut Funcs) {
    strings::register(funcs);
    convert::register(funcs);
    math::register(funcs);
    lists::register(funcs);
    dicts::register(funcs);
    defaults::register(funcs);
    reflection::register(funcs);
    encoding::register(funcs);
    data::register_sprig(funcs);
    regex::register(funcs);
    semver::register(funcs);
    crypto::register(funcs);
    certs::register(funcs);
    dates::register(funcs);
    paths::register(funcs);
    urls::register(funcs);
}

/// The result of a function body.
pub(crate) type Outcome = Result<Value, FuncError>;

/// Shorthands for the Go types that appear in Sprig's signatures.
pub(crate) mod types {
    use super::Type;

    pub fn string() -> Type {
        Type::String
    }
    pub fn int() -> Type {
        Type::int()
    }
    pub fn any() -> Type {
        Type::Interface
    }
    pub fn bool() -> Type {
        Type::Bool
    }
    pub fn dict() -> Type {
        Type::interface_map()
    }
    pub fn list() -> Type {
        Type::interface_slice()
    }
    pub fn uint32() -> Type {
        Type::Uint(crate::value::UintKind::Uint32)
    }
}

/// A string function `func(s string) string` by its Rust body.
pub(crate) type StringMap = fn(&str) -> String;

/// Registers `body` under each of `names` with `signature`.
pub(crate) fn define<F>(funcs: &mut Funcs, names: &[&str], signature: Signature, body: F)
where
    F: Fn(&mut CallContext<'_, '_>, &[Value]) -> Outcome + Send + Sync + Clone + 'static,
{
    for name in names {
        funcs.register(name, signature.clone(), body.clone());
    }
}

/// The string argument at `index` (the signature guarantees a `string` there).
pub(crate) fn str_arg(args: &[Value], index: usize) -> &str {
    args.get(index).and_then(Value::as_str).unwrap_or_default()
}

/// The integer argument at `index` (the signature guarantees an `int` or other integer there).
pub(crate) fn int_arg(args: &[Value], index: usize) -> i64 {
    args.get(index).and_then(Value::as_i64).unwrap_or_default()
}

/// The argument at `index`, or nil.
pub(crate) fn arg(args: &[Value], index: usize) -> Value {
    args.get(index).cloned().unwrap_or_default()
}

/// A Go `string` result, charged to the budget by its length.
pub(crate) fn string_result(ctx: &mut CallContext<'_, '_>, text: String) -> Outcome {
    ctx.charge_bytes(text.len())?;
    Ok(Value::string(text))
}

/// A Go `[]string` result, charged to the budget by its total length.
pub(crate) fn strings_result(ctx: &mut CallContext<'_, '_>, items: Vec<String>) -> Outcome {
    ctx.charge_bytes(items.iter().map(|s| s.len() + 1).sum())?;
    Ok(Value::string_list(items))
}

/// A Go `[]interface{}` result, charged one unit per element.
pub(crate) fn list_result(ctx: &mut CallContext<'_, '_>, items: Vec<Value>) -> Outcome {
    ctx.charge_bytes(items.len())?;
    Ok(Value::list(items))
}

/// The text of a Go runtime panic for a nil `reflect.Type` method call, which Sprig's list
/// functions hit when given nil.
pub(crate) const NIL_DEREFERENCE: &str =
    "runtime error: invalid memory address or nil pointer dereference";

/// A cheap upper-bound estimate of the bytes an encoding of `value` (JSON, YAML, TOML) takes,
/// charged before encoding so that a serialisation cannot be used to build huge text for free:
/// the text of every string and key, a few bytes per scalar and punctuation, and the
/// indentation YAML adds per level.
pub(crate) fn encoded_size(value: &Value, depth: usize) -> usize {
    if depth >= MAX_NESTING {
        return 0;
    }
    let indent = 2 * depth + 4;
    match value {
        Value::String(s) => s.len() * 2 + indent,
        Value::Bytes(b) => b.len() * 2 + indent,
        Value::List(list) => list
            .items
            .iter()
            .map(|item| encoded_size(item, depth + 1) + indent)
            .sum::<usize>()
            .saturating_add(indent),
        Value::Map(map) => map
            .snapshot()
            .iter()
            .map(|(key, item)| key.len() * 2 + encoded_size(item, depth + 1) + indent)
            .sum::<usize>()
            .saturating_add(indent),
        Value::Object(object) => match object.underlying() {
            Some(inner) => encoded_size(&inner, depth),
            None => 64 + indent,
        },
        _ => 32 + indent,
    }
}

/// How deep functions that walk values (`deepCopy`, `merge`, `toJson`, `toYaml`...) follow
/// nested maps and lists. Real values are a few dozen levels deep; a map that contains itself
/// (`set $d "self" $d`) would otherwise recurse forever.
pub(crate) const MAX_NESTING: usize = 1000;

/// Fails once a walk is [`MAX_NESTING`] levels deep.
pub(crate) fn check_depth(depth: usize) -> Result<(), FuncError> {
    if depth >= MAX_NESTING {
        return Err(FuncError::new(format!(
            "value nested more than {MAX_NESTING} levels deep (a map or list that contains itself?)"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names in Helm v3.22.0's function map (Sprig v3.3.0's `TxtFuncMap` without `env` and
    /// `expandenv`, plus Helm's own), as a Go program listed them; `include` and `tpl` are the
    /// renderer's.
    const HELM_FUNCTIONS: &[&str] = &[
        "abbrev",
        "abbrevboth",
        "add",
        "add1",
        "add1f",
        "addf",
        "adler32sum",
        "ago",
        "all",
        "any",
        "append",
        "atoi",
        "b32dec",
        "b32enc",
        "b64dec",
        "b64enc",
        "base",
        "bcrypt",
        "biggest",
        "buildCustomCert",
        "camelcase",
        "cat",
        "ceil",
        "chunk",
        "clean",
        "coalesce",
        "compact",
        "concat",
        "contains",
        "date",
        "dateInZone",
        "dateModify",
        "date_in_zone",
        "date_modify",
        "decryptAES",
        "deepCopy",
        "deepEqual",
        "default",
        "derivePassword",
        "dict",
        "dig",
        "dir",
        "div",
        "divf",
        "duration",
        "durationRound",
        "empty",
        "encryptAES",
        "ext",
        "fail",
        "first",
        "float64",
        "floor",
        "fromJson",
        "fromJsonArray",
        "fromToml",
        "fromYaml",
        "fromYamlArray",
        "genCA",
        "genCAWithKey",
        "genPrivateKey",
        "genSelfSignedCert",
        "genSelfSignedCertWithKey",
        "genSignedCert",
        "genSignedCertWithKey",
        "get",
        "getHostByName",
        "has",
        "hasKey",
        "hasPrefix",
        "hasSuffix",
        "hello",
        "htmlDate",
        "htmlDateInZone",
        "htpasswd",
        "indent",
        "initial",
        "initials",
        "int",
        "int64",
        "isAbs",
        "join",
        "kebabcase",
        "keys",
        "kindIs",
        "kindOf",
        "last",
        "list",
        "lookup",
        "lower",
        "max",
        "maxf",
        "merge",
        "mergeOverwrite",
        "min",
        "minf",
        "mod",
        "mul",
        "mulf",
        "mustAppend",
        "mustChunk",
        "mustCompact",
        "mustDateModify",
        "mustDeepCopy",
        "mustFirst",
        "mustFromJson",
        "mustHas",
        "mustInitial",
        "mustLast",
        "mustMerge",
        "mustMergeOverwrite",
        "mustPrepend",
        "mustPush",
        "mustRegexFind",
        "mustRegexFindAll",
        "mustRegexMatch",
        "mustRegexReplaceAll",
        "mustRegexReplaceAllLiteral",
        "mustRegexSplit",
        "mustRest",
        "mustReverse",
        "mustSlice",
        "mustToDate",
        "mustToJson",
        "mustToPrettyJson",
        "mustToRawJson",
        "mustUniq",
        "mustWithout",
        "must_date_modify",
        "nindent",
        "nospace",
        "now",
        "omit",
        "osBase",
        "osClean",
        "osDir",
        "osExt",
        "osIsAbs",
        "pick",
        "pluck",
        "plural",
        "prepend",
        "push",
        "quote",
        "randAlpha",
        "randAlphaNum",
        "randAscii",
        "randBytes",
        "randInt",
        "randNumeric",
        "regexFind",
        "regexFindAll",
        "regexMatch",
        "regexQuoteMeta",
        "regexReplaceAll",
        "regexReplaceAllLiteral",
        "regexSplit",
        "repeat",
        "replace",
        "required",
        "rest",
        "reverse",
        "round",
        "semver",
        "semverCompare",
        "seq",
        "set",
        "sha1sum",
        "sha256sum",
        "sha512sum",
        "shuffle",
        "slice",
        "snakecase",
        "sortAlpha",
        "split",
        "splitList",
        "splitn",
        "squote",
        "sub",
        "subf",
        "substr",
        "swapcase",
        "ternary",
        "title",
        "toDate",
        "toDecimal",
        "toJson",
        "toPrettyJson",
        "toRawJson",
        "toString",
        "toStrings",
        "toToml",
        "toYaml",
        "toYamlPretty",
        "trim",
        "trimAll",
        "trimPrefix",
        "trimSuffix",
        "trimall",
        "trunc",
        "tuple",
        "typeIs",
        "typeIsLike",
        "typeOf",
        "uniq",
        "unixEpoch",
        "unset",
        "until",
        "untilStep",
        "untitle",
        "upper",
        "urlJoin",
        "urlParse",
        "uuidv4",
        "values",
        "without",
        "wrap",
        "wrapWith",
    ];

    /// Helm's additions to Sprig's map (besides `include` and `tpl`).
    const HELM_ONLY: &[&str] = &[
        "toToml",
        "fromToml",
        "toYaml",
        "toYamlPretty",
        "fromYaml",
        "fromYamlArray",
        "fromJsonArray",
        "required",
        "lookup",
    ];

    fn assert_registers_exactly(funcs: &Funcs, expected: &[&str]) {
        let missing: Vec<&str> = expected
            .iter()
            .copied()
            .filter(|name| !funcs.contains(name))
            .collect();
        assert!(missing.is_empty(), "not registered: {missing:?}");
        let extra: Vec<&str> = funcs
            .names()
            .filter(|name| !expected.contains(name))
            .collect();
        assert!(
            extra.is_empty(),
            "registered but not in Go's map: {extra:?}"
        );
    }

    #[test]
    fn registers_every_function_helm_has() {
        let mut funcs = Funcs::new();
        register(&mut funcs);
        assert_registers_exactly(&funcs, HELM_FUNCTIONS);
    }

    #[test]
    fn registers_every_function_sprig_has() {
        let mut funcs = Funcs::new();
        register_sprig(&mut funcs);
        let sprig: Vec<&str> = HELM_FUNCTIONS
            .iter()
            .copied()
            .filter(|name| !HELM_ONLY.contains(name))
            .collect();
        assert_registers_exactly(&funcs, &sprig);
    }
}
