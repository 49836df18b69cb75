//! Sprig's dictionary functions. Maps are Go maps: `set`, `unset`, `merge` and
//! `mergeOverwrite` change the map they are given, and every alias of it (a sub-map of
//! `.Values` included) sees the change, as in Helm.

use super::convert::strval;
use super::types::{any, dict, string};
use super::{Outcome, arg, check_depth, define, list_result, str_arg, strings_result};
use crate::funcs::{CallContext, FuncError, Funcs, Signature};
use crate::value::{List, Map, Type, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

pub(super) fn register(funcs: &mut Funcs) {
    register_access(funcs);
    register_building(funcs);
    register_merging(funcs);
}

/// The map argument at `index` (the signature guarantees a map there).
fn map_arg(args: &[Value], index: usize) -> Result<Arc<Map>, FuncError> {
    arg(args, index)
        .as_map()
        .ok_or_else(|| FuncError::new("assignment to entry in nil map"))
}

fn register_access(funcs: &mut Funcs) {
    define(
        funcs,
        &["get"],
        Signature::new([dict(), string()]),
        |_, args| {
            let map = map_arg(args, 0)?;
            Ok(map
                .get(str_arg(args, 1))
                .unwrap_or_else(|| Value::string("")))
        },
    );
    define(
        funcs,
        &["hasKey"],
        Signature::new([dict(), string()]),
        |_, args| {
            Ok(Value::Bool(
                map_arg(args, 0)?.contains_key(str_arg(args, 1)),
            ))
        },
    );
    define(
        funcs,
        &["set"],
        Signature::new([dict(), string(), any()]),
        |ctx, args| {
            let map = map_arg(args, 0)?;
            ctx.charge_bytes(str_arg(args, 1).len())?;
            map.insert(str_arg(args, 1), arg(args, 2));
            Ok(Value::Map(map))
        },
    );
    define(
        funcs,
        &["unset"],
        Signature::new([dict(), string()]),
        |_, args| {
            let map = map_arg(args, 0)?;
            map.remove(str_arg(args, 1));
            Ok(Value::Map(map))
        },
    );
    define(
        funcs,
        &["keys"],
        Signature::variadic([], dict()),
        |ctx, args| {
            let mut keys = Vec::new();
            for map in args.iter().filter_map(Value::as_map) {
                keys.extend(map.keys());
            }
            strings_result(ctx, keys)
        },
    );
    define(funcs, &["values"], Signature::new([dict()]), |ctx, args| {
        let map = map_arg(args, 0)?;
        let values = map.snapshot().into_iter().map(|(_, v)| v).collect();
        list_result(ctx, values)
    });
    define(
        funcs,
        &["pluck"],
        Signature::variadic([string()], dict()),
        |ctx, args| {
            let key = str_arg(args, 0);
            let found = args[1..]
                .iter()
                .filter_map(Value::as_map)
                .filter_map(|map| map.get(key))
                .collect();
            list_result(ctx, found)
        },
    );
    define(
        funcs,
        &["dig"],
        Signature::variadic([], any()),
        |_, args| dig(args),
    );
}

fn register_building(funcs: &mut Funcs) {
    define(
        funcs,
        &["dict"],
        Signature::variadic([], any()),
        |ctx, args| {
            let mut entries = BTreeMap::new();
            for pair in args.chunks(2) {
                let key = strval(&pair[0]);
                ctx.charge_bytes(key.len() + 1)?;
                let value = pair.get(1).cloned().unwrap_or_else(|| Value::string(""));
                entries.insert(key, value);
            }
            Ok(Value::map(entries))
        },
    );
    define(
        funcs,
        &["pick"],
        Signature::variadic([dict()], string()),
        |ctx, args| {
            let map = map_arg(args, 0)?;
            let mut picked = BTreeMap::new();
            for key in args[1..].iter().filter_map(Value::as_str) {
                if let Some(value) = map.get(key) {
                    picked.insert(key.to_string(), value);
                }
            }
            ctx.charge_bytes(picked.len())?;
            Ok(Value::map(picked))
        },
    );
    define(
        funcs,
        &["omit"],
        Signature::variadic([dict()], string()),
        |ctx, args| {
            let map = map_arg(args, 0)?;
            let omitted: Vec<&str> = args[1..].iter().filter_map(Value::as_str).collect();
            let kept: BTreeMap<String, Value> = map
                .snapshot()
                .into_iter()
                .filter(|(key, _)| !omitted.contains(&key.as_str()))
                .collect();
            ctx.charge_bytes(kept.len())?;
            Ok(Value::map(kept))
        },
    );
    define(
        funcs,
        &["deepCopy", "mustDeepCopy"],
        Signature::new([any()]),
        |ctx, args| deep_copy(ctx, &arg(args, 0), 0),
    );
}

fn register_merging(funcs: &mut Funcs) {
    for (names, overwrite) in [
        (["merge", "mustMerge"], false),
        (["mergeOverwrite", "mustMergeOverwrite"], true),
    ] {
        define(
            funcs,
            &names,
            Signature::variadic([dict()], dict()),
            move |ctx, args| {
                let destination = map_arg(args, 0)?;
                for source in args[1..].iter().filter_map(Value::as_map) {
                    merge_into(ctx, &destination, &source, overwrite, 0)?;
                }
                Ok(Value::Map(destination))
            },
        );
    }
}

/// `dario.cat/mergo` v1.0.1's `Merge` (and with `overwrite`, `MergeWithOverwrite`) of one
/// `map[string]interface{}` into another, as Sprig calls it:
/// - a nil source value deletes nothing but, with `overwrite`, is copied over;
/// - two maps merge recursively, changing the destination's map in place;
/// - otherwise the source value is taken when the destination lacks the key, holds an "empty"
///   value (`""`, `0`, `false`, nil, an empty list or map), or `overwrite` is set.
fn merge_into(
    ctx: &mut CallContext<'_, '_>,
    destination: &Map,
    source: &Map,
    overwrite: bool,
    depth: usize,
) -> Result<(), FuncError> {
    check_depth(depth)?;
    let entries = source.snapshot();
    ctx.charge(entries.len() as u64)?;
    for (key, source_value) in entries {
        if source_value.is_nil() {
            if overwrite {
                destination.insert(key, Value::Nil);
            }
            continue;
        }
        let existing = destination.get(&key);
        if let (Some(source_map), Some(destination_map)) = (
            source_value.as_map(),
            existing.as_ref().and_then(Value::as_map),
        ) && !Arc::ptr_eq(&source_map, &destination_map)
        {
            merge_into(ctx, &destination_map, &source_map, overwrite, depth + 1)?;
        }
        if let Some(existing) = &existing
            && existing.is_true()
        {
            let source_is_list = source_value.as_list().is_some();
            let both_maps = source_value.as_map().is_some() && existing.as_map().is_some();
            if source_is_list || both_maps {
                if source_is_list && overwrite {
                    destination.insert(key, source_value);
                }
                continue;
            }
        }
        if overwrite || existing.as_ref().is_none_or(|e| !e.is_true()) {
            destination.insert(key, source_value);
        }
    }
    Ok(())
}

/// `copystructure.Copy`: maps and lists copied all the way down, other values shared (they are
/// immutable).
fn deep_copy(ctx: &mut CallContext<'_, '_>, value: &Value, depth: usize) -> Outcome {
    check_depth(depth)?;
    if depth == 0 && value.is_nil() {
        return Err(FuncError::new(
            "reflect: call of reflect.Value.Type on zero Value",
        ));
    }
    ctx.charge(1)?;
    Ok(match value {
        Value::Map(map) => {
            let mut entries = BTreeMap::new();
            for (key, inner) in map.snapshot() {
                entries.insert(key, deep_copy(ctx, &inner, depth + 1)?);
            }
            Value::Map(Arc::new(Map::new(entries, map.elem().clone())))
        }
        Value::List(list) => {
            let items = list
                .items
                .iter()
                .map(|item| deep_copy(ctx, item, depth + 1))
                .collect::<Result<Vec<_>, _>>()?;
            Value::List(Arc::new(List {
                items,
                elem: list.elem.clone(),
            }))
        }
        other => other.clone(),
    })
}

/// Go's panic text for a failed type assertion `x.(T)`.
fn interface_conversion(value: &Value, wanted: &str) -> FuncError {
    let actual = if value.is_nil() {
        "nil".to_string()
    } else {
        value.type_name()
    };
    FuncError::new(format!(
        "interface conversion: interface {{}} is {actual}, not {wanted}"
    ))
}

/// The value as a Go `map[string]interface{}` (exactly that type, as a type assertion demands).
fn exact_dict(value: &Value) -> Result<Arc<Map>, FuncError> {
    match value {
        Value::Map(map) if *map.elem() == Type::Interface => Ok(map.clone()),
        other => Err(interface_conversion(other, "map[string]interface {}")),
    }
}

/// Sprig's `dig "a" "b" default dict`: walks nested maps by key and returns the default when a
/// key is missing. Its type assertions are strict, so a value that is not exactly a
/// `map[string]interface{}` along the way is Go's conversion panic.
fn dig(args: &[Value]) -> Outcome {
    if args.len() < 3 {
        return Err(FuncError::new("dig needs at least three arguments"));
    }
    let mut current = exact_dict(&args[args.len() - 1])?;
    let default = args[args.len() - 2].clone();
    let keys = &args[..args.len() - 2];
    let keys: Vec<&str> = keys
        .iter()
        .map(|k| k.as_str().ok_or_else(|| interface_conversion(k, "string")))
        .collect::<Result<_, _>>()?;
    for (position, key) in keys.iter().enumerate() {
        let Some(step) = current.get(key) else {
            return Ok(default);
        };
        if position + 1 == keys.len() {
            return Ok(step);
        }
        current = exact_dict(&step)?;
    }
    Ok(default)
}
