//! Sprig's reflection functions (`typeOf`, `typeIs`, `typeIsLike`, `kindOf`, `kindIs`,
//! `deepEqual`) and Go's `reflect.DeepEqual`, which the list functions use to compare elements.

use super::types::{any, string};
use super::{arg, define, str_arg};
use crate::funcs::{Funcs, Signature};
use crate::value::Value;

pub(super) fn register(funcs: &mut Funcs) {
    define(funcs, &["typeOf"], Signature::new([any()]), |_, args| {
        Ok(Value::string(arg(args, 0).type_name()))
    });
    define(
        funcs,
        &["typeIs"],
        Signature::new([string(), any()]),
        |_, args| Ok(Value::Bool(str_arg(args, 0) == arg(args, 1).type_name())),
    );
    define(
        funcs,
        &["typeIsLike"],
        Signature::new([string(), any()]),
        |_, args| {
            let (target, actual) = (str_arg(args, 0), arg(args, 1).type_name());
            Ok(Value::Bool(
                target == actual || actual.strip_prefix('*') == Some(target),
            ))
        },
    );
    define(funcs, &["kindOf"], Signature::new([any()]), |_, args| {
        Ok(Value::string(arg(args, 0).kind().name()))
    });
    define(
        funcs,
        &["kindIs"],
        Signature::new([string(), any()]),
        |_, args| Ok(Value::Bool(str_arg(args, 0) == arg(args, 1).kind().name())),
    );
    define(
        funcs,
        &["deepEqual"],
        Signature::new([any(), any()]),
        |_, args| Ok(Value::Bool(deep_equal(&arg(args, 0), &arg(args, 1)))),
    );
}

/// Go's `reflect.DeepEqual` on two `interface{}` values: the same Go type and equal contents,
/// recursively. NaN is unequal to itself; a nil and an empty slice or map are not told apart
/// here (the value model has no nil slices).
pub(crate) fn deep_equal(a: &Value, b: &Value) -> bool {
    deep_equal_at(a, b, 0)
}

fn deep_equal_at(a: &Value, b: &Value, depth: usize) -> bool {
    if depth >= super::MAX_NESTING {
        return false;
    }
    let deep_equal = |p: &Value, q: &Value| deep_equal_at(p, q, depth + 1);
    match (a, b) {
        (Value::Nil, Value::Nil) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x, xk), Value::Int(y, yk)) => xk == yk && x == y,
        (Value::Uint(x, xk), Value::Uint(y, yk)) => xk == yk && x == y,
        (Value::Float(x, xk), Value::Float(y, yk)) => xk == yk && x == y,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Bytes(x), Value::Bytes(y)) => x == y,
        (Value::List(x), Value::List(y)) => {
            x.elem == y.elem
                && x.items.len() == y.items.len()
                && x.items.iter().zip(&y.items).all(|(p, q)| deep_equal(p, q))
        }
        (Value::Map(x), Value::Map(y)) => {
            if std::sync::Arc::ptr_eq(x, y) {
                return true;
            }
            if x.elem() != y.elem() {
                return false;
            }
            let (left, right) = (x.snapshot(), y.snapshot());
            left.len() == right.len()
                && left
                    .iter()
                    .zip(&right)
                    .all(|((kp, vp), (kq, vq))| kp == kq && deep_equal(vp, vq))
        }
        (Value::Object(x), Value::Object(y)) => x.type_name() == y.type_name() && x.equals(&**y),
        _ => false,
    }
}
