//! `include(macro, ...)` and `tpl(text)`: the two helpers that render a template from inside a
//! template.
//!
//! Each runs a separate minijinja render whose fuel is what the caller has left, and what it used
//! is then charged to the caller. So a nested render can never use more than its caller could
//! have, and the work and memory of a template file and all it includes stay within the file's
//! one budget however deep the nesting goes (which is capped as well).

use std::cell::Cell;
use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::value::{Kwargs, Rest, Value};
use minijinja::{Environment, Error, ErrorKind, State};

/// The variables every template gets; nested renders see the caller's.
pub(crate) const ROOT_NAMES: &[&str] = &[
    "values",
    "release",
    "chart",
    "capabilities",
    "files",
    "template",
];

/// How deep `include` and `tpl` may nest. Helm charts rarely go beyond 3 or 4 levels of
/// `include`; anything deeper is almost always a template including itself.
const MAX_NESTING: usize = 8;

thread_local! {
    static NESTING_DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Counts one level of nesting for as long as it lives, so early returns and errors unwind it.
struct NestingGuard;

impl NestingGuard {
    fn enter(helper: &str) -> Result<NestingGuard, Error> {
        NESTING_DEPTH.with(|depth| {
            if depth.get() >= MAX_NESTING {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!(
                        "{helper} is nested more than {MAX_NESTING} levels deep; \
                         check for a macro or tpl string that includes itself"
                    ),
                ));
            }
            depth.set(depth.get() + 1);
            Ok(NestingGuard)
        })
    }
}

impl Drop for NestingGuard {
    fn drop(&mut self) {
        NESTING_DEPTH.with(|depth| depth.set(depth.get().saturating_sub(1)));
    }
}

/// Where each macro of the chart's library files (`_*` templates) is defined, in search order.
#[derive(Debug, Default)]
pub(crate) struct MacroIndex {
    /// (macro name, template name), in the order templates were registered (parent chart first).
    definitions: Vec<(String, String)>,
}

impl MacroIndex {
    /// Records the macros `{% macro name(...) %}` defined in `source`.
    pub(crate) fn add_library(&mut self, template: &str, source: &str) {
        for name in macro_names(source) {
            self.definitions
                .push((name.to_string(), template.to_string()));
        }
    }

    /// The library defining `name`, preferring the chart of the calling template (`chart_path`),
    /// then any other chart (parent first), which is how a library subchart's macros are shared.
    fn find(&self, name: &str, chart_path: &str) -> Option<&str> {
        let own_templates = format!("{chart_path}/templates/");
        let candidates = || self.definitions.iter().filter(|(m, _)| m == name);
        candidates()
            .find(|(_, t)| t.starts_with(&own_templates))
            .or_else(|| candidates().next())
            .map(|(_, t)| t.as_str())
    }
}

/// The names declared with `{% macro name(` in a Jinja source.
fn macro_names(source: &str) -> Vec<&str> {
    let mut names = Vec::new();
    for (start, _) in source.match_indices("{%") {
        let rest = source[start + 2..]
            .trim_start_matches(['-', '+'])
            .trim_start();
        if let Some(after) = rest.strip_prefix("macro") {
            let after_trimmed = after.trim_start();
            if after_trimmed.len() == after.len() {
                continue; // `macrofoo`, not the keyword
            }
            let end = after_trimmed
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(after_trimmed.len());
            if end > 0 {
                names.push(&after_trimmed[..end]);
            }
        }
    }
    names
}

/// The chart path of a template name: `parent/charts/sub/templates/x.yaml` -> `parent/charts/sub`.
pub(crate) fn chart_path_of(template: &str) -> &str {
    template
        .rfind("/templates/")
        .map_or(template, |at| &template[..at])
}

/// Registers `include` and `tpl`.
pub(crate) fn register(env: &mut Environment<'static>, macros: MacroIndex) {
    let macros = Arc::new(macros);
    env.add_function(
        "include",
        move |state: &State, name: &str, args: Rest<Value>, kwargs: Kwargs| {
            include(state, &macros, name, args, kwargs)
        },
    );
    env.add_function("tpl", tpl);
}

/// The caller's root variables, with `extra` laid over them.
fn caller_context(state: &State, extra: Option<&Value>) -> Result<BTreeMap<String, Value>, Error> {
    let mut context: BTreeMap<String, Value> = ROOT_NAMES
        .iter()
        .filter_map(|name| state.lookup(name).map(|value| (name.to_string(), value)))
        .collect();
    if let Some(extra) = extra {
        if extra.kind() != minijinja::value::ValueKind::Map {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "the second argument of tpl must be a mapping of extra variables",
            ));
        }
        for key in extra.try_iter()? {
            let value = extra.get_item(&key)?;
            context.insert(key.to_string(), value);
        }
    }
    Ok(context)
}

/// Renders `source` named `name` in its own render, with the fuel `state` has left, and charges
/// the fuel it used to `state`.
fn render_nested(state: &State, name: &str, source: &str, context: Value) -> Result<String, Error> {
    // The compiled template is charged like the text it comes from: compiling costs about that.
    state.consume_fuel(source.len() as u64 / super::charge::BYTES_PER_FUEL)?;
    let mut env = state.env().clone();
    if let Some((_, remaining)) = state.fuel_levels() {
        env.set_fuel(Some(remaining));
    }
    let template = env.template_from_named_str(name, source)?;
    let captured = template.render_captured(context).inspect_err(|error| {
        if error.kind() == ErrorKind::OutOfFuel {
            // The nested render used up what the caller had left: so has the caller.
            let _ = super::charge::exhaust(state);
        }
    })?;
    if let Some((consumed, _)) = captured.state().fuel_levels() {
        state.consume_fuel(consumed)?;
    }
    Ok(captured.into_output())
}

/// `include("macro_name", args...)`: calls a macro from any library file of the chart or its
/// subcharts and returns its output, like Helm's `include` does for named templates. Importing
/// (`{% from "_helpers.tpl" import name %}`) is the more direct way; `include` saves the import
/// and finds macros of library subcharts without knowing their file names.
fn include(
    state: &State,
    macros: &MacroIndex,
    name: &str,
    args: Rest<Value>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let _guard = NestingGuard::enter("include")?;
    if !name.chars().all(|c| c.is_alphanumeric() || c == '_') || name.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("include(\"{name}\"): macro names are letters, digits and `_`"),
        ));
    }
    let library = macros
        .find(name, chart_path_of(state.name()))
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "include(\"{name}\"): no macro `{name}` is defined in a library file \
                 (templates whose names start with `_`) of this chart or its subcharts"
                ),
            )
        })?;
    let mut context = caller_context(state, None)?;
    context.insert("__include_args".into(), Value::from(args.0));
    let mut keywords = BTreeMap::new();
    for key in kwargs.args() {
        keywords.insert(key.to_string(), kwargs.get::<Value>(key)?);
    }
    let call = if keywords.is_empty() {
        "__include_macro(*__include_args)"
    } else {
        context.insert("__include_kwargs".into(), Value::from(keywords));
        "__include_macro(*__include_args, **__include_kwargs)"
    };
    let source =
        format!("{{% from {library:?} import {name} as __include_macro %}}{{{{ {call} }}}}");
    let caller = format!("{}#include({name})", state.name());
    render_nested(state, &caller, &source, Value::from(context)).map(Value::from)
}

/// `tpl(text)` / `tpl(text, {extra: ...})`: renders a string (usually from values) as a template
/// with the caller's variables, like Helm's `tpl`.
fn tpl(state: &State, source: &str, extra: Option<Value>) -> Result<Value, Error> {
    let _guard = NestingGuard::enter("tpl")?;
    let context = caller_context(state, extra.as_ref())?;
    let name = format!("{}#tpl", state.name());
    render_nested(state, &name, source, Value::from(context)).map(Value::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_macro_definitions() {
        let source = "{% macro fullname() %}x{% endmacro %}\n{%- macro labels(ctx) -%}{%- endmacro %}{% macros %}";
        assert_eq!(macro_names(source), ["fullname", "labels"]);
    }

    #[test]
    fn prefers_the_callers_own_chart() {
        let mut index = MacroIndex::default();
        index.add_library(
            "app/templates/_helpers.tpl",
            "{% macro name() %}{% endmacro %}",
        );
        index.add_library(
            "app/charts/db/templates/_helpers.tpl",
            "{% macro name() %}{% endmacro %}",
        );
        index.add_library(
            "app/charts/common/templates/_lib.tpl",
            "{% macro labels() %}{% endmacro %}",
        );
        assert_eq!(
            index.find("name", "app/charts/db"),
            Some("app/charts/db/templates/_helpers.tpl")
        );
        assert_eq!(
            index.find("name", "app"),
            Some("app/templates/_helpers.tpl")
        );
        assert_eq!(
            index.find("labels", "app"),
            Some("app/charts/common/templates/_lib.tpl")
        );
        assert_eq!(index.find("nothing", "app"), None);
        assert_eq!(
            chart_path_of("app/charts/db/templates/x.yaml"),
            "app/charts/db"
        );
    }
}
