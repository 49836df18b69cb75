//! Helm's own functions that need no executor (`include` and `tpl` render templates and are
//! registered by the caller): `required`, `fail` and `lookup`. (Helm's `getHostByName` answers
//! `""` without `--enable-dns`, which is what the one in `urls` always does.)
//!
//! `required` and `fail` wrap their message between [`HELM_ERROR_START`] and
//! [`HELM_ERROR_END`], exactly as Helm's engine does; Helm then shortens an execution error that
//! contains the markers to `execution error at (FILE:LINE:COL): MESSAGE`, and whoever reports
//! render errors must do the same.

use super::types::{any, string};
use super::{arg, define, str_arg};
use crate::funcs::{FuncError, Funcs, Signature};
use crate::value::Value;
use std::collections::BTreeMap;

/// Helm's `warnStartDelim`: the start of a message from `required` or `fail`.
pub const HELM_ERROR_START: &str = "HELM_ERR_START";
/// Helm's `warnEndDelim`: the end of a message from `required` or `fail`.
pub const HELM_ERROR_END: &str = "HELM_ERR_END";

fn wrapped(message: &str) -> FuncError {
    FuncError::new(format!("{HELM_ERROR_START}{message}{HELM_ERROR_END}"))
}

pub(super) fn register(funcs: &mut Funcs) {
    // Helm: func(warn string, val interface{}) (interface{}, error): nil and "" are missing.
    define(
        funcs,
        &["required"],
        Signature::new([string(), any()]),
        |_, args| {
            let value = arg(args, 1);
            let missing = match &value {
                Value::Nil => true,
                Value::String(s) => s.is_empty(),
                _ => false,
            };
            if missing {
                return Err(wrapped(str_arg(args, 0)));
            }
            Ok(value)
        },
    );
    // Helm: func(msg string) (string, error)
    define(funcs, &["fail"], Signature::new([string()]), |_, args| {
        Err(wrapped(str_arg(args, 0)))
    });
    // Helm's placeholder without a cluster connection (what `helm template` uses): always an
    // empty map. Rendering against a live cluster would replace it.
    define(
        funcs,
        &["lookup"],
        Signature::new([string(), string(), string(), string()]),
        |_, _| Ok(Value::map(BTreeMap::new())),
    );
}
