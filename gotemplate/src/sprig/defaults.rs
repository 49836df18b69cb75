//! Sprig's defaults and emptiness: `default`, `empty`, `coalesce`, `all`, `any`, `ternary`,
//! and Sprig's own `fail`.
//! "Empty" is Go's zero value: nil, `false`, `0`, `""`, and empty lists and maps (structs are
//! never empty), which is exactly the opposite of a template's truth.

use super::types::{any, bool, string};
use super::{arg, define, str_arg};
use crate::funcs::{FuncError, Funcs, Signature};
use crate::value::Value;

pub(super) fn register(funcs: &mut Funcs) {
    // Go: func(d interface{}, given ...interface{}) interface{}
    define(
        funcs,
        &["default"],
        Signature::variadic([any()], any()),
        |_, args| {
            let given = args.get(1).filter(|v| !is_empty(v));
            Ok(given.cloned().unwrap_or_else(|| arg(args, 0)))
        },
    );
    define(funcs, &["empty"], Signature::new([any()]), |_, args| {
        Ok(Value::Bool(is_empty(&arg(args, 0))))
    });
    define(
        funcs,
        &["coalesce"],
        Signature::variadic([], any()),
        |_, args| {
            Ok(args
                .iter()
                .find(|v| !is_empty(v))
                .cloned()
                .unwrap_or_default())
        },
    );
    define(
        funcs,
        &["all"],
        Signature::variadic([], any()),
        |_, args| Ok(Value::Bool(args.iter().all(|v| !is_empty(v)))),
    );
    define(
        funcs,
        &["any"],
        Signature::variadic([], any()),
        |_, args| Ok(Value::Bool(args.iter().any(|v| !is_empty(v)))),
    );
    // Sprig: func(msg string) (string, error); Helm replaces it (see `helm`).
    define(funcs, &["fail"], Signature::new([string()]), |_, args| {
        Err(FuncError::new(str_arg(args, 0)))
    });
    define(
        funcs,
        &["ternary"],
        Signature::new([any(), any(), bool()]),
        |_, args| {
            let chosen = if arg(args, 2).is_true() { 0 } else { 1 };
            Ok(arg(args, chosen))
        },
    );
}

/// Sprig's `empty`: whether the value is its type's zero value.
pub(crate) fn is_empty(value: &Value) -> bool {
    !value.is_true()
}
