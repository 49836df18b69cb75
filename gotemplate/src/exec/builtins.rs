//! The functions every template has (Go's `text/template/funcs.go`): `and`, `or`, `not`,
//! `len`, `index`, `slice`, `print`, `printf`, `println`, `html`, `js`, `urlquery`, `eq`,
//! `ne`, `lt`, `le`, `gt`, `ge` and `call`, with Go's semantics and error texts.

use std::fmt::Write;

use super::call::Param;
use super::{State, Val};
use crate::funcs::FuncError;
use crate::value::{IntKind, Type, UintKind, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Builtin {
    And,
    Or,
    Not,
    Len,
    Index,
    Slice,
    Print,
    Printf,
    Println,
    Html,
    Js,
    Urlquery,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Call,
}

pub(crate) fn lookup(name: &str) -> Option<Builtin> {
    Some(match name {
        "and" => Builtin::And,
        "or" => Builtin::Or,
        "not" => Builtin::Not,
        "len" => Builtin::Len,
        "index" => Builtin::Index,
        "slice" => Builtin::Slice,
        "print" => Builtin::Print,
        "printf" => Builtin::Printf,
        "println" => Builtin::Println,
        "html" => Builtin::Html,
        "js" => Builtin::Js,
        "urlquery" => Builtin::Urlquery,
        "eq" => Builtin::Eq,
        "ne" => Builtin::Ne,
        "lt" => Builtin::Lt,
        "le" => Builtin::Le,
        "gt" => Builtin::Gt,
        "ge" => Builtin::Ge,
        "call" => Builtin::Call,
        _ => return None,
    })
}

/// Whether `name` is a builtin function.
pub(crate) fn is_builtin(name: &str) -> bool {
    lookup(name).is_some()
}

static INTERFACE: Type = Type::Interface;
static STRING: Type = Type::String;

impl Builtin {
    /// The Go signature: fixed parameters and the variadic one.
    pub fn signature(self) -> (Vec<Param<'static>>, Option<Param<'static>>) {
        use Builtin::*;
        let r = Param::Reflect;
        let any = Param::Go(&INTERFACE);
        match self {
            And | Or | Index | Slice | Eq | Call => (vec![r], Some(r)),
            Not | Len => (vec![r], None),
            Ne | Lt | Le | Gt | Ge => (vec![r, r], None),
            Print | Println | Html | Js | Urlquery => (vec![], Some(any)),
            Printf => (vec![Param::Go(&STRING)], Some(any)),
        }
    }
}

type Result<T> = std::result::Result<T, FuncError>;

fn err<T>(message: impl Into<String>) -> Result<T> {
    Err(FuncError::Message(message.into()))
}

/// Go's `truth`: `isTrue(indirectInterface(v))`.
pub(crate) fn truth(v: &Val) -> bool {
    v.indirect().is_some_and(Value::is_true)
}

/// Calls a builtin (other than `and` and `or`, which the caller short-circuits).
pub(crate) fn call(
    state: &mut State<'_>,
    b: Builtin,
    args: Vec<Val>,
    callee_name: &str,
) -> Result<Val> {
    let limit = state.budget.limits.max_output;
    let concrete = |v: Value| Ok(Val::Concrete(v));
    match b {
        Builtin::And | Builtin::Or => Ok(args.into_iter().last().unwrap_or(Val::Invalid)),
        Builtin::Not => concrete(Value::Bool(!truth(&args[0]))),
        Builtin::Len => length(&args[0]).and_then(|n| concrete(Value::int(n as i64))),
        Builtin::Index => index(&args[0], &args[1..]),
        Builtin::Slice => slice(&args[0], &args[1..]),
        Builtin::Print | Builtin::Println | Builtin::Printf => {
            let values: Vec<Value> = args.into_iter().map(Val::into_value).collect();
            let text = match b {
                Builtin::Print => crate::fmt::sprint_limited(&values, limit),
                Builtin::Println => crate::fmt::sprintln_limited(&values, limit),
                _ => {
                    let format = values[0].as_str().unwrap_or_default().to_string();
                    crate::fmt::sprintf_limited(&format, &values[1..], limit)
                }
            };
            let text = text.map_err(|_| FuncError::from(state.output_exceeded()))?;
            state.charge_bytes(text.len())?;
            concrete(Value::string(text))
        }
        Builtin::Html | Builtin::Js | Builtin::Urlquery => {
            let s = eval_args(args, limit).map_err(|_| FuncError::from(state.output_exceeded()))?;
            let escaped = match b {
                Builtin::Html => html_escape(&s),
                Builtin::Js => js_escape(&s),
                _ => query_escape(&s),
            };
            state.charge_bytes(escaped.len())?;
            concrete(Value::string(escaped))
        }
        Builtin::Eq => eq(&args[0], &args[1..]).and_then(|t| concrete(Value::Bool(t))),
        Builtin::Ne => eq(&args[0], &args[1..2]).and_then(|t| concrete(Value::Bool(!t))),
        Builtin::Lt => lt(&args[0], &args[1]).and_then(|t| concrete(Value::Bool(t))),
        Builtin::Le => le(&args[0], &args[1]).and_then(|t| concrete(Value::Bool(t))),
        Builtin::Gt => le(&args[0], &args[1]).and_then(|t| concrete(Value::Bool(!t))),
        Builtin::Ge => lt(&args[0], &args[1]).and_then(|t| concrete(Value::Bool(!t))),
        Builtin::Call => {
            // Templates here hold no Go function values, so nothing is callable.
            match args[0].indirect() {
                None => err("call of nil"),
                Some(v) => {
                    let name = if callee_name.is_empty() {
                        format!("<{} Value>", v.type_name())
                    } else {
                        callee_name.to_string()
                    };
                    err(format!("non-function {name} of type {}", v.type_name()))
                }
            }
        }
    }
}

/// Go's `indirect` for the builtins: the value inside an interface or pointer; `Err(())` for a
/// nil one, `Ok(None)` for no value.
fn deref(v: &Val) -> std::result::Result<Option<Value>, ()> {
    match v {
        Val::Invalid => Ok(None),
        Val::Iface(Value::Nil) | Val::Concrete(Value::Nil) => Err(()),
        Val::Iface(v) | Val::Concrete(v) => match v {
            Value::Object(o) if o.is_nil() => Err(()),
            Value::Object(o) => Ok(Some(o.underlying().unwrap_or_else(|| v.clone()))),
            other => Ok(Some(other.clone())),
        },
    }
}

fn length(item: &Val) -> Result<usize> {
    match deref(item) {
        Err(()) => err("len of nil pointer"),
        Ok(None) => err("reflect: call of reflect.Value.Type on zero Value"),
        Ok(Some(v)) => match &v {
            Value::String(s) => Ok(s.len()),
            Value::Bytes(b) => Ok(b.len()),
            Value::List(l) => Ok(l.items.len()),
            Value::Map(m) => Ok(m.len()),
            other => err(format!("len of type {}", other.type_name())),
        },
    }
}

/// Go's `indexArg`: an integer index within `0..=cap`. `slice` does not look inside interface
/// slots (an index from a `[]interface{}` is refused as `interface {}`), `index` does.
fn slice_index_arg(index: &Val, cap: usize) -> Result<usize> {
    if let Val::Iface(_) = index {
        return err("cannot index slice/array with type interface {}");
    }
    index_arg(index, cap)
}

/// Go's `indexArg` after `indirectInterface`.
fn index_arg(index: &Val, cap: usize) -> Result<usize> {
    let x: i64 = match index.indirect() {
        Some(Value::Int(n, _)) => *n,
        Some(Value::Uint(n, _)) => *n as i64,
        None => return err("cannot index slice/array with nil"),
        Some(other) => {
            return err(format!(
                "cannot index slice/array with type {}",
                other.type_name()
            ));
        }
    };
    if x < 0 || x as u64 > cap as u64 {
        return err(format!("index out of range: {x}"));
    }
    Ok(x as usize)
}

fn index(item: &Val, indexes: &[Val]) -> Result<Val> {
    let Some(first) = item.indirect() else {
        return err("index of untyped nil");
    };
    let mut item = Val::Concrete(first.clone());
    for index in indexes {
        let value = match deref(&item) {
            Err(()) | Ok(None) => return err("index of nil pointer"),
            Ok(Some(v)) => v,
        };
        item = match &value {
            Value::List(list) => {
                let x = index_arg(index, list.items.len())?;
                match list.items.get(x) {
                    Some(v) => Val::element(v.clone(), &list.elem),
                    None => return err("reflect: slice index out of range"),
                }
            }
            Value::Bytes(bytes) => {
                let x = index_arg(index, bytes.len())?;
                match bytes.get(x) {
                    Some(b) => Val::Concrete(Value::Uint(*b as u64, UintKind::Uint8)),
                    None => return err("reflect: slice index out of range"),
                }
            }
            Value::String(s) => {
                let x = index_arg(index, s.len())?;
                match s.as_bytes().get(x) {
                    Some(b) => Val::Concrete(Value::Uint(*b as u64, UintKind::Uint8)),
                    None => return err("reflect: string index out of range"),
                }
            }
            Value::Map(map) => {
                let key = match index.indirect() {
                    Some(Value::String(k)) => k.clone(),
                    None => return err("value is nil; should be of type string"),
                    Some(other) => {
                        return err(format!(
                            "value has type {}; should be string",
                            other.type_name()
                        ));
                    }
                };
                match map.get(&key) {
                    Some(v) => Val::element(v, map.elem()),
                    None => Val::element(map.elem().zero(), map.elem()),
                }
            }
            other => return err(format!("can't index item of type {}", other.type_name())),
        };
    }
    Ok(item)
}

fn slice(item: &Val, indexes: &[Val]) -> Result<Val> {
    let Some(first) = item.indirect() else {
        return err("slice of untyped nil");
    };
    let value = match deref(&Val::Concrete(first.clone())) {
        Err(()) | Ok(None) => return err("slice of nil pointer"),
        Ok(Some(v)) => v,
    };
    if indexes.len() > 3 {
        return err(format!("too many slice indexes: {}", indexes.len()));
    }
    let len = match &value {
        Value::String(s) => {
            if indexes.len() == 3 {
                return err("cannot 3-index slice a string");
            }
            s.len()
        }
        Value::List(l) => l.items.len(),
        Value::Bytes(b) => b.len(),
        other => return err(format!("can't slice item of type {}", other.type_name())),
    };
    let mut idx = [0, len, len];
    for (i, index) in indexes.iter().enumerate() {
        idx[i] = slice_index_arg(index, len)?;
    }
    if idx[0] > idx[1] {
        return err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    if indexes.len() == 3 && idx[1] > idx[2] {
        return err(format!("invalid slice index: {} > {}", idx[1], idx[2]));
    }
    let (lo, hi) = (idx[0], idx[1]);
    Ok(Val::Concrete(match &value {
        Value::String(s) => match s.get(lo..hi) {
            Some(sub) => Value::string(sub),
            // A cut inside a UTF-8 sequence: Go keeps the bytes; keep what Rust can hold.
            None => Value::string(String::from_utf8_lossy(&s.as_bytes()[lo..hi]).into_owned()),
        },
        Value::List(l) => Value::typed_list(l.items[lo..hi].to_vec(), l.elem.clone()),
        Value::Bytes(b) => Value::bytes(b[lo..hi].to_vec()),
        _ => unreachable!("checked above"),
    }))
}

// ---- comparison ----

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum BasicKind {
    Invalid,
    Bool,
    Int,
    Uint,
    Float,
    String,
}

fn basic_kind(v: Option<&Value>) -> BasicKind {
    match v {
        Some(Value::Bool(_)) => BasicKind::Bool,
        Some(Value::Int(..)) => BasicKind::Int,
        Some(Value::Uint(..)) => BasicKind::Uint,
        Some(Value::Float(..)) => BasicKind::Float,
        Some(Value::String(_)) => BasicKind::String,
        _ => BasicKind::Invalid,
    }
}

fn type_of(v: Option<&Value>) -> String {
    v.map(Value::type_name).unwrap_or_else(|| "<nil>".into())
}

fn is_nil_value(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Nil) => true,
        Some(Value::Object(o)) => o.is_nil(),
        Some(_) => false,
    }
}

fn eq(arg1: &Val, rest: &[Val]) -> Result<bool> {
    let a = arg1.indirect();
    if rest.is_empty() {
        return err("missing argument for comparison");
    }
    let k1 = basic_kind(a);
    for arg in rest {
        let b = arg.indirect();
        let k2 = basic_kind(b);
        let truth = if k1 != k2 {
            match (a, b) {
                (Some(Value::Int(x, _)), Some(Value::Uint(y, _))) => *x >= 0 && *x as u64 == *y,
                (Some(Value::Uint(x, _)), Some(Value::Int(y, _))) => *y >= 0 && *x == *y as u64,
                (Some(_), Some(_)) => {
                    return err(format!(
                        "incompatible types for comparison: {} and {}",
                        type_of(a),
                        type_of(b)
                    ));
                }
                _ => false,
            }
        } else {
            match (a, b) {
                (Some(Value::Bool(x)), Some(Value::Bool(y))) => x == y,
                (Some(Value::Float(x, _)), Some(Value::Float(y, _))) => x == y,
                (Some(Value::Int(x, _)), Some(Value::Int(y, _))) => x == y,
                (Some(Value::Uint(x, _)), Some(Value::Uint(y, _))) => x == y,
                (Some(Value::String(x)), Some(Value::String(y))) => x == y,
                _ => compare_other(a, b)?,
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `eq` on values that are not of a basic kind (lists, maps, objects, no value).
fn compare_other(a: Option<&Value>, b: Option<&Value>) -> Result<bool> {
    let kind = |v: Option<&Value>| v.map(Value::kind);
    if kind(a) != kind(b) && a.is_some() && b.is_some() {
        return err(format!(
            "non-comparable types {}: {}, {}: {}",
            print_with(a, "%s"),
            type_of(a),
            type_of(b),
            print_with(b, "%v")
        ));
    }
    if is_nil_value(a) || is_nil_value(b) {
        return Ok(is_nil_value(a) == is_nil_value(b));
    }
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) if x.underlying().is_none() => {
            Ok(x.equals(&**y))
        }
        (_, Some(other)) => err(format!(
            "non-comparable type {}: {}",
            print_with(Some(other), "%s"),
            other.type_name()
        )),
        _ => Ok(false),
    }
}

fn print_with(v: Option<&Value>, verb: &str) -> String {
    match v {
        Some(v) => crate::fmt::sprintf(verb, std::slice::from_ref(v)),
        None => "<invalid reflect.Value>".to_string(),
    }
}

fn lt(arg1: &Val, arg2: &Val) -> Result<bool> {
    let (a, b) = (arg1.indirect(), arg2.indirect());
    let (k1, k2) = (basic_kind(a), basic_kind(b));
    if k1 == BasicKind::Invalid || k2 == BasicKind::Invalid {
        return err("invalid type for comparison");
    }
    if k1 != k2 {
        return match (a, b) {
            (Some(Value::Int(x, _)), Some(Value::Uint(y, _))) => Ok(*x < 0 || (*x as u64) < *y),
            (Some(Value::Uint(x, _)), Some(Value::Int(y, _))) => Ok(*y >= 0 && *x < *y as u64),
            _ => err(format!(
                "incompatible types for comparison: {} and {}",
                type_of(a),
                type_of(b)
            )),
        };
    }
    match (a, b) {
        (Some(Value::Float(x, _)), Some(Value::Float(y, _))) => Ok(x < y),
        (Some(Value::Int(x, _)), Some(Value::Int(y, _))) => Ok(x < y),
        (Some(Value::Uint(x, _)), Some(Value::Uint(y, _))) => Ok(x < y),
        (Some(Value::String(x)), Some(Value::String(y))) => Ok(x.as_bytes() < y.as_bytes()),
        _ => err("invalid type for comparison"),
    }
}

fn le(arg1: &Val, arg2: &Val) -> Result<bool> {
    if lt(arg1, arg2)? {
        return Ok(true);
    }
    eq(arg1, std::slice::from_ref(arg2))
}

// ---- escaping ----

/// Go's `evalArgs`: one string argument as is; otherwise everything printed with `Sprint`,
/// where no value prints as `<no value>`.
fn eval_args(args: Vec<Val>, limit: usize) -> std::result::Result<String, crate::fmt::TooLong> {
    if let [single] = args.as_slice()
        && let Some(Value::String(s)) = single.indirect()
    {
        return Ok(s.to_string());
    }
    let values: Vec<Value> = args
        .into_iter()
        .map(|v| match v.into_value() {
            Value::Nil => Value::string("<no value>"),
            other => other,
        })
        .collect();
    crate::fmt::sprint_limited(&values, limit)
}

/// Go's `HTMLEscapeString`.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{FFFD}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Go's `JSEscapeString`.
pub(crate) fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u00{:02X}", c as u32);
            }
            c if c.is_ascii() => out.push(c),
            c if crate::fmt::is_print(c) => out.push(c),
            c => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
        }
    }
    out
}

/// Go's `url.QueryEscape`.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// An integer constant stored into a Go integer type of `kind` (Go's `SetInt` truncates).
pub(crate) fn wrap_int(n: i64, kind: IntKind) -> i64 {
    match kind {
        IntKind::Int8 => n as i8 as i64,
        IntKind::Int16 => n as i16 as i64,
        IntKind::Int32 => n as i32 as i64,
        IntKind::Int | IntKind::Int64 => n,
    }
}

/// An unsigned constant stored into a Go unsigned type of `kind`.
pub(crate) fn wrap_uint(n: u64, kind: UintKind) -> u64 {
    match kind {
        UintKind::Uint8 => n as u8 as u64,
        UintKind::Uint16 => n as u16 as u64,
        UintKind::Uint32 => n as u32 as u64,
        _ => n,
    }
}
