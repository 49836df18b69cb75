//! The template engine's own filters that turn a value into text, replaced or guarded so that
//! their cost is bounded like everything else.
//!
//! A list can hold the same large list many times over for the price of a few slots, so its text
//! can be exponentially larger than its weight. The engine's fuel is charged for a filter's result
//! only once it exists, and the engine prints such values whole first: `tojson`, `pprint`,
//! `string`, `format`, `join` and every filter that takes a string would build that text before
//! anything could stop them. Here each of those either prints into a text bounded by the
//! remaining fuel, or first checks (the same way) that its arguments can be printed at all.
//! `debug()`, which prints the whole render state, is removed.

use std::fmt::Write as _;

use minijinja::value::{Kwargs, Rest, StringInput, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State, filters};

use super::charge::{BoundedText, NODE_BYTES, charge_bytes, ensure_room};

/// Replaces and guards the engine's filters on `env`; call before adding Capstan's own.
pub(crate) fn register(env: &mut Environment<'static>) {
    env.remove_global("debug");
    env.add_filter("tojson", tojson);
    env.add_filter("pprint", pprint);
    env.add_filter("string", string);
    env.add_filter("replace", replace);
    env.add_filter(
        "format",
        |state: &mut State, text: &Value, args: Rest<Value>| {
            let mut size = text.as_str().map_or(0, str::len) as u64;
            for arg in args.iter() {
                ensure_printable(state, arg)?;
                size += arg.as_str().map_or(64, str::len) as u64;
            }
            ensure_room(state, size)?;
            let args = args.0.into_iter().map(Into::into).collect();
            filters::format(state, text, Rest(args))
        },
    );
    env.add_filter(
        "join",
        |state: &mut State,
         items: &Value,
         joiner: Option<&str>,
         attribute: Option<&str>,
         kwargs: Kwargs| {
            ensure_printable(state, items)?;
            let joiner = joiner.map(Value::from);
            let joiner = joiner.as_ref().map(filters_string_input).transpose()?;
            filters::join(state, items, joiner, attribute, kwargs)
        },
    );
    env.add_filter("upper", |state: &State, value: Value| {
        Ok::<_, Error>(filters::upper(recased_input(state, &value)?))
    });
    env.add_filter("lower", |state: &State, value: Value| {
        Ok::<_, Error>(filters::lower(recased_input(state, &value)?))
    });
    env.add_filter("capitalize", |state: &State, value: Value| {
        Ok::<_, Error>(filters::capitalize(recased_input(state, &value)?))
    });
    env.add_filter("title", |state: &State, value: Value| {
        let input = recased_input(state, &value)?;
        Ok::<_, Error>(filters::title(input.as_str().into()))
    });
    env.add_filter(
        "trim",
        |state: &State, value: Value, chars: Option<&str>| {
            let input = printable_string_input(state, &value)?;
            Ok::<_, Error>(filters::trim(input, chars.map(Into::into)))
        },
    );
    env.add_filter(
        "split",
        |state: &State, value: Value, separator: Option<&str>, most: Option<i64>| {
            ensure_printable(state, &value)?;
            if let Some(text) = value.as_str() {
                let pieces = match separator {
                    Some(separator) if !separator.is_empty() => text.matches(separator).count(),
                    _ => text.split_whitespace().count(),
                };
                ensure_list_room(state, text.len(), pieces + 1)?;
            }
            filters::split(&value, separator.map(Into::into), most)
        },
    );
    env.add_filter("lines", |state: &State, value: Value| {
        ensure_printable(state, &value)?;
        if let Some(text) = value.as_str() {
            ensure_list_room(state, text.len(), text.matches('\n').count() + 1)?;
        }
        filters::lines(&value)
    });
}

/// Whether printing `value` would go through the engine's unbounded printer: lists, maps and
/// other objects. Strings, numbers and the like print as what they weigh.
fn prints_as_container(value: &Value) -> bool {
    matches!(
        value.kind(),
        ValueKind::Seq | ValueKind::Map | ValueKind::Iterable | ValueKind::Plain
    )
}

/// `value` as text, printed into a text bounded by the remaining fuel and charged.
fn printed(state: &State, value: &Value) -> Result<String, Error> {
    if let Some(text) = value.as_str() {
        return Ok(text.to_string());
    }
    let mut text = BoundedText::for_state(state);
    let written = write!(text, "{value}");
    let text = text.finish(state, written, |_| Error::from(ErrorKind::WriteFailure))?;
    charge_bytes(state, text.len() as u64)?;
    Ok(text)
}

/// Fails, before the engine prints `value`, when its text would not fit in the remaining fuel.
/// Checking prints it once into a bounded text (charged), so the real print is known to fit.
fn ensure_printable(state: &State, value: &Value) -> Result<(), Error> {
    if prints_as_container(value) {
        printed(state, value)?;
    }
    Ok(())
}

/// Fails unless a list of `items` strings holding `bytes` in all can be paid for.
fn ensure_list_room(state: &State, bytes: usize, items: usize) -> Result<(), Error> {
    ensure_room(state, bytes as u64 + items as u64 * NODE_BYTES)
}

/// The input of a case-changing filter, once its result (about as long) is known to fit.
fn recased_input<'a>(state: &State, value: &'a Value) -> Result<StringInput<'a>, Error> {
    let input = printable_string_input(state, value)?;
    ensure_room(state, input.as_str().len() as u64)?;
    Ok(input)
}

/// A string argument for one of the engine's filters that takes any value as a string.
fn printable_string_input<'a>(state: &State, value: &'a Value) -> Result<StringInput<'a>, Error> {
    ensure_printable(state, value)?;
    filters_string_input(value)
}

fn filters_string_input(value: &Value) -> Result<StringInput<'_>, Error> {
    use minijinja::value::ArgType;
    StringInput::from_value(Some(value))
}

/// `string`: strings stay as they are, anything else is printed within the budget.
fn string(state: &State, value: Value) -> Result<Value, Error> {
    if value.kind() == ValueKind::String {
        return Ok(value);
    }
    if prints_as_container(&value) {
        return printed(state, &value).map(Value::from);
    }
    filters::string(state, &value)
}

/// `pprint`: the engine's debug view of a value, printed within the budget.
fn pprint(state: &State, value: Value) -> Result<String, Error> {
    let mut text = BoundedText::for_state(state);
    let written = write!(text, "{value:#?}");
    text.finish(state, written, |_| Error::from(ErrorKind::WriteFailure))
}

/// `replace(old, new[, count])` on text, its result's size checked before it is built.
fn replace(
    state: &State,
    value: Value,
    from: &str,
    to: &str,
    count: Option<usize>,
) -> Result<Value, Error> {
    let text = printed(state, &value)?;
    let matches = if from.is_empty() {
        text.chars().count() + 1
    } else {
        text.matches(from).count()
    };
    let replaced = count.map_or(matches, |count| matches.min(count));
    let size = (text.len() + replaced * to.len()).saturating_sub(replaced * from.len());
    ensure_room(state, size as u64)?;
    let output = match count {
        Some(count) => text.replacen(from, to, count),
        None => text.replace(from, to),
    };
    Ok(if value.is_safe() {
        Value::from_safe_string(output)
    } else {
        Value::from(output)
    })
}

/// `tojson([indent])`: JSON safe to embed in HTML and YAML (`<`, `>`, `&` and `'` escaped), as the
/// engine writes it, but serialized into a text bounded by the remaining fuel.
fn tojson(
    state: &State,
    value: Value,
    indent: Option<Value>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let indent = match indent {
        Some(indent) => Some(indent),
        None => kwargs.get::<Option<Value>>("indent")?,
    };
    kwargs.assert_all_used()?;
    let indent = match indent {
        None => None,
        Some(value) if value.kind() == ValueKind::Bool => value.is_true().then_some(2),
        Some(value) => Some(usize::try_from(value)?),
    };
    let mut text = BoundedText::for_state(state);
    let written = match indent {
        Some(width) => {
            let pad = " ".repeat(width.min(64));
            let formatter = serde_json::ser::PrettyFormatter::with_indent(pad.as_bytes());
            let mut serializer = serde_json::Serializer::with_formatter(&mut text, formatter);
            serde::Serialize::serialize(&value, &mut serializer)
        }
        None => {
            let mut serializer = serde_json::Serializer::with_formatter(&mut text, Spaced);
            serde::Serialize::serialize(&value, &mut serializer)
        }
    };
    let json = text.finish(state, written, |e| {
        Error::new(ErrorKind::InvalidOperation, "cannot serialize to JSON").with_source(e)
    })?;
    let escaped_size = json.len() + json.matches(['<', '>', '&', '\'']).count() * 5;
    ensure_room(state, escaped_size as u64)?;
    let mut safe = String::with_capacity(escaped_size);
    for c in json.chars() {
        match c {
            '<' => safe.push_str("\\u003c"),
            '>' => safe.push_str("\\u003e"),
            '&' => safe.push_str("\\u0026"),
            '\'' => safe.push_str("\\u0027"),
            c => safe.push(c),
        }
    }
    Ok(Value::from_safe_string(safe))
}

/// JSON on one line with a space after `:` and `,`, as the engine's `tojson` writes it.
struct Spaced;

impl serde_json::ser::Formatter for Spaced {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }
}
