//! Sprig's list functions. Sprig works on any Go slice through reflection and returns
//! `[]interface{}` (except `slice`, which keeps the slice's type); a non-list argument is an
//! error naming its reflect kind, and nil is Go's nil-pointer panic. The non-`must` variants
//! panic where the `must` ones return an error, which a template reports identically.

use super::convert::{go_float_to_int, to_int64};
use super::reflection::deep_equal;
use super::types::{any, int};
use super::{NIL_DEREFERENCE, Outcome, arg, define, int_arg, list_result};
use crate::funcs::{CallContext, FuncError, Funcs, Signature};
use crate::value::{Type, UintKind, Value};

pub(super) fn register(funcs: &mut Funcs) {
    define(
        funcs,
        &["list", "tuple"],
        Signature::variadic([], any()),
        |ctx, args| list_result(ctx, args.to_vec()),
    );
    register_growing(funcs);
    register_picking(funcs);
    register_filtering(funcs);
    register_ranges(funcs);
}

/// The elements of a Go slice, or the error Sprig gives for anything else. `message` has a `%s`
/// where the reflect kind goes.
pub(crate) fn elements(value: &Value, message: &str) -> Result<Vec<Value>, FuncError> {
    if value.is_nil() {
        return Err(FuncError::new(NIL_DEREFERENCE));
    }
    if let Some(list) = value.as_list() {
        return Ok(list.items.clone());
    }
    if let Value::Bytes(bytes) = value {
        return Ok(bytes
            .iter()
            .map(|&b| Value::Uint(u64::from(b), UintKind::Uint8))
            .collect());
    }
    Err(FuncError::new(message.replace("%s", value.kind().name())))
}

fn register_growing(funcs: &mut Funcs) {
    define(
        funcs,
        &["append", "push", "mustAppend", "mustPush"],
        Signature::new([any(), any()]),
        |ctx, args| {
            let mut items = elements(&arg(args, 0), "Cannot push on type %s")?;
            items.push(arg(args, 1));
            list_result(ctx, items)
        },
    );
    define(
        funcs,
        &["prepend", "mustPrepend"],
        Signature::new([any(), any()]),
        |ctx, args| {
            let mut items = elements(&arg(args, 0), "Cannot prepend on type %s")?;
            items.insert(0, arg(args, 1));
            list_result(ctx, items)
        },
    );
    define(
        funcs,
        &["concat"],
        Signature::variadic([], any()),
        |ctx, args| {
            let mut all = Vec::new();
            for list in args {
                let items = elements(list, "Cannot concat type %s as list")?;
                ctx.charge_bytes(items.len())?;
                all.extend(items);
            }
            Ok(Value::list(all))
        },
    );
    define(
        funcs,
        &["chunk", "mustChunk"],
        Signature::new([int(), any()]),
        |ctx, args| chunk(ctx, int_arg(args, 0), &arg(args, 1)),
    );
}

fn register_picking(funcs: &mut Funcs) {
    define(
        funcs,
        &["first", "mustFirst"],
        Signature::new([any()]),
        |_, args| {
            let items = elements(&arg(args, 0), "Cannot find first on type %s")?;
            Ok(items.into_iter().next().unwrap_or_default())
        },
    );
    define(
        funcs,
        &["last", "mustLast"],
        Signature::new([any()]),
        |_, args| {
            let items = elements(&arg(args, 0), "Cannot find last on type %s")?;
            Ok(items.into_iter().last().unwrap_or_default())
        },
    );
    define(
        funcs,
        &["rest", "mustRest"],
        Signature::new([any()]),
        |ctx, args| {
            let items = elements(&arg(args, 0), "Cannot find rest on type %s")?;
            list_result(ctx, items.into_iter().skip(1).collect())
        },
    );
    define(
        funcs,
        &["initial", "mustInitial"],
        Signature::new([any()]),
        |ctx, args| {
            let mut items = elements(&arg(args, 0), "Cannot find initial on type %s")?;
            items.pop();
            list_result(ctx, items)
        },
    );
    define(
        funcs,
        &["reverse", "mustReverse"],
        Signature::new([any()]),
        |ctx, args| {
            let mut items = elements(&arg(args, 0), "Cannot find reverse on type %s")?;
            items.reverse();
            list_result(ctx, items)
        },
    );
    define(
        funcs,
        &["slice", "mustSlice"],
        Signature::variadic([any()], any()),
        |ctx, args| slice(ctx, &arg(args, 0), &args[1..]),
    );
}

fn register_filtering(funcs: &mut Funcs) {
    define(
        funcs,
        &["compact", "mustCompact"],
        Signature::new([any()]),
        |ctx, args| {
            let items = elements(&arg(args, 0), "Cannot compact on type %s")?;
            list_result(ctx, items.into_iter().filter(Value::is_true).collect())
        },
    );
    define(
        funcs,
        &["uniq", "mustUniq"],
        Signature::new([any()]),
        |ctx, args| {
            let items = elements(&arg(args, 0), "Cannot find uniq on type %s")?;
            ctx.charge(items.len().saturating_mul(items.len()) as u64 / 8)?;
            let mut unique: Vec<Value> = Vec::new();
            for item in items {
                if !unique.iter().any(|seen| deep_equal(seen, &item)) {
                    unique.push(item);
                }
            }
            list_result(ctx, unique)
        },
    );
    define(
        funcs,
        &["without", "mustWithout"],
        Signature::variadic([any()], any()),
        |ctx, args| {
            let items = elements(&arg(args, 0), "Cannot find without on type %s")?;
            let omit = &args[1..];
            ctx.charge(items.len().saturating_mul(omit.len()) as u64 / 8)?;
            let kept = items
                .into_iter()
                .filter(|item| !omit.iter().any(|o| deep_equal(o, item)))
                .collect();
            list_result(ctx, kept)
        },
    );
    define(
        funcs,
        &["has", "mustHas"],
        Signature::new([any(), any()]),
        |ctx, args| {
            let (needle, haystack) = (arg(args, 0), arg(args, 1));
            if haystack.is_nil() {
                return Ok(Value::Bool(false));
            }
            let items = elements(&haystack, "Cannot find has on type %s")?;
            ctx.charge(items.len() as u64 / 8)?;
            Ok(Value::Bool(
                items.iter().any(|item| deep_equal(&needle, item)),
            ))
        },
    );
}

fn register_ranges(funcs: &mut Funcs) {
    define(funcs, &["until"], Signature::new([int()]), |ctx, args| {
        let count = int_arg(args, 0);
        let step = if count < 0 { -1 } else { 1 };
        until_step(ctx, 0, count, step)
    });
    define(
        funcs,
        &["untilStep"],
        Signature::new([int(), int(), int()]),
        |ctx, args| until_step(ctx, int_arg(args, 0), int_arg(args, 1), int_arg(args, 2)),
    );
    define(
        funcs,
        &["seq"],
        Signature::variadic([], int()),
        |ctx, args| {
            let params: Vec<i64> = args.iter().filter_map(Value::as_i64).collect();
            seq(ctx, &params)
        },
    );
}

/// The integers Sprig's `untilStep(start, stop, step)` produces, after charging for them.
fn step_values(
    ctx: &mut CallContext<'_, '_>,
    start: i64,
    stop: i64,
    step: i64,
) -> Result<Vec<i64>, FuncError> {
    let forward = stop >= start;
    if (forward && step <= 0) || (!forward && step >= 0) {
        return Ok(Vec::new());
    }
    let span = (i128::from(stop) - i128::from(start)).unsigned_abs();
    let stride = i128::from(step).unsigned_abs();
    let count = span.div_ceil(stride);
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    ctx.charge_bytes(count)?;
    let mut values = Vec::with_capacity(count);
    let mut i = start;
    while (forward && i < stop) || (!forward && i > stop) {
        values.push(i);
        match i.checked_add(step) {
            Some(next) => i = next,
            None => break,
        }
    }
    Ok(values)
}

/// Sprig's `untilStep`: a Go `[]int`.
fn until_step(ctx: &mut CallContext<'_, '_>, start: i64, stop: i64, step: i64) -> Outcome {
    let values = step_values(ctx, start, stop, step)?;
    Ok(Value::typed_list(
        values.into_iter().map(Value::int).collect(),
        Type::int(),
    ))
}

/// Sprig's `seq`: like the Unix command, the integers from start to end inclusive, joined by
/// spaces.
fn seq(ctx: &mut CallContext<'_, '_>, params: &[i64]) -> Outcome {
    let (start, end, step) = match *params {
        [end] => (1, end, if end < 1 { -1 } else { 1 }),
        [start, end] => (start, end, if end < start { -1 } else { 1 }),
        [start, step, end] => {
            if end < start && step > 0 {
                return Ok(Value::string(""));
            }
            (start, end, step)
        }
        _ => return Ok(Value::string("")),
    };
    let increment = if end < start { -1 } else { 1 };
    let values = step_values(ctx, start, end.saturating_add(increment), step)?;
    let text: Vec<String> = values.iter().map(i64::to_string).collect();
    super::string_result(ctx, text.join(" "))
}

/// Sprig's `chunk`: the list cut into lists of `size` elements (the last may be shorter), as a
/// Go `[][]interface{}`.
fn chunk(ctx: &mut CallContext<'_, '_>, size: i64, list: &Value) -> Outcome {
    let items = elements(list, "Cannot chunk type %s")?;
    // Sprig computes the chunk count in floating point; a size of zero or less makes Go's
    // `make` fail.
    let count = go_float_to_int(((items.len() as f64 - 1.0) / size as f64).floor() + 1.0);
    if size <= 0 || count < 0 {
        return Err(FuncError::new("runtime error: makeslice: len out of range"));
    }
    ctx.charge_bytes(items.len() + count as usize)?;
    let chunks: Vec<Value> = items
        .chunks(size as usize)
        .map(|c| Value::list(c.to_vec()))
        .collect();
    Ok(Value::typed_list(chunks, Type::interface_slice()))
}

/// Sprig's `slice list [start [end]]`: a sub-slice of the same Go type, indices converted with
/// `cast.ToInt`; out-of-range indices are reflect's panic.
fn slice(ctx: &mut CallContext<'_, '_>, list: &Value, indices: &[Value]) -> Outcome {
    let message = "list should be type of slice or array but %s";
    let (items, elem) = match list {
        Value::Bytes(_) => (elements(list, message)?, Type::Uint(UintKind::Uint8)),
        _ => {
            let items = elements(list, message)?;
            let elem = list.as_list().map_or(Type::Interface, |l| l.elem.clone());
            (items, elem)
        }
    };
    if items.is_empty() {
        return Ok(Value::Nil);
    }
    let start = indices.first().map_or(0, to_int64);
    let end = indices.get(1).map_or(items.len() as i64, to_int64);
    if start < 0 || end < start || end > items.len() as i64 {
        return Err(FuncError::new(
            "reflect.Value.Slice: slice index out of bounds",
        ));
    }
    let picked = items[start as usize..end as usize].to_vec();
    ctx.charge_bytes(picked.len())?;
    if let Value::Bytes(bytes) = list {
        return Ok(Value::bytes(bytes[start as usize..end as usize].to_vec()));
    }
    Ok(Value::typed_list(picked, elem))
}
