//! The minijinja environment a chart is rendered in, and how its errors are reported.
//!
//! Templates are registered from memory under their chart-relative names
//! (`app/templates/deployment.yaml`, `app/charts/db/templates/_helpers.tpl`), so error messages
//! name files the author recognises and no loader can reach the filesystem.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior};

use super::limits::Limit;
use super::nested::{self, MacroIndex};
use super::{ChartScope, RenderError, TemplateRole, builtins, functions};

/// The longest message a template error carries: `fail()` and `required()` take their message
/// from the template, which could otherwise put megabytes into a status condition.
const MAX_MESSAGE_CHARS: usize = 1000;

/// Nesting depth for the engine's recursion counter (macros count several levels each).
const RECURSION_LIMIT: usize = 300;

/// A compiled environment plus the sources, kept to turn error byte offsets into columns.
pub(crate) struct ChartEnvironment {
    pub(crate) env: Environment<'static>,
    sources: BTreeMap<String, String>,
    /// Templates that did not compile, by name.
    pub(crate) broken: BTreeMap<String, RenderError>,
}

/// Registers the templates of every scope and configures the engine.
pub(crate) fn build(scopes: &[ChartScope]) -> ChartEnvironment {
    let mut env = Environment::new();
    let syntax = SyntaxConfig::builder()
        .keep_trailing_newline(true)
        .build()
        .expect("the default delimiters are valid");
    env.set_syntax(syntax);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    env.set_formatter(functions::format_for_yaml);
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // The renderer sets each file's fuel; this covers anything compiled before that.
    env.set_fuel(Some(0));
    env.set_recursion_limit(RECURSION_LIMIT);

    let mut sources = BTreeMap::new();
    let mut broken = BTreeMap::new();
    let mut macros = MacroIndex::default();
    for scope in scopes {
        for file in &scope.chart.templates {
            let name = format!("{}/{}", scope.path, file.path);
            let Ok(source) = String::from_utf8(file.data.clone()) else {
                broken.insert(name.clone(), RenderError::NotText { file: name.clone() });
                continue;
            };
            if TemplateRole::of(&file.path) == TemplateRole::Library {
                macros.add_library(&name, &source);
            }
            sources.insert(name.clone(), source.clone());
            if let Err(err) = env.add_template_owned(name.clone(), source) {
                let error = template_error(&err, &name, &sources, None);
                broken.insert(name, error);
            }
        }
    }
    let known: Arc<BTreeSet<String>> = Arc::new(sources.keys().cloned().collect());
    env.set_path_join_callback(move |name, parent| resolve_import(&known, name, parent).into());
    builtins::register(&mut env);
    functions::register(&mut env);
    nested::register(&mut env, macros);
    ChartEnvironment {
        env,
        sources,
        broken,
    }
}

/// Resolves an `{% import %}`/`{% include %}` name seen in template `parent`: a full name is
/// used as is; otherwise the name is tried next to the parent, then under the parent chart's
/// `templates/`, then under the parent chart's root (so `charts/common/templates/_lib.j2` works).
fn resolve_import(known: &BTreeSet<String>, name: &str, parent: &str) -> String {
    if known.contains(name) {
        return name.to_string();
    }
    let chart = nested::chart_path_of(parent);
    let directory = parent.rsplit_once('/').map_or("", |(dir, _)| dir);
    [
        format!("{directory}/{name}"),
        format!("{chart}/templates/{name}"),
        format!("{chart}/{name}"),
    ]
    .into_iter()
    .find(|candidate| known.contains(candidate))
    .unwrap_or_else(|| name.to_string())
}

impl ChartEnvironment {
    /// Converts an engine error raised while rendering `file` with the fuel of `fuel` (which
    /// limit granted it, and that limit's value).
    pub(crate) fn error(
        &self,
        err: &minijinja::Error,
        file: &str,
        fuel: Option<(Limit, u64)>,
    ) -> RenderError {
        template_error(err, file, &self.sources, fuel)
    }
}

/// Builds a readable error: where (file, line, column), what, and what to do.
fn template_error(
    err: &minijinja::Error,
    rendering: &str,
    sources: &BTreeMap<String, String>,
    fuel: Option<(Limit, u64)>,
) -> RenderError {
    let file = err.name().unwrap_or(rendering).to_string();
    let detail = shortened(err.detail().unwrap_or_default());
    let out_of_fuel = err.kind() == ErrorKind::OutOfFuel;
    if out_of_fuel || detail.contains("recursion limit") {
        let (why, limit) = match fuel {
            _ if !out_of_fuel => (
                "macros or includes nest too deeply; look for a macro that calls itself"
                    .to_string(),
                None,
            ),
            Some((limit, amount)) => (
                format!(
                    "it used up its budget of work and data ({amount} fuel, render limit \
                     {limit}{}); look for an endless or very large loop, or a string or list that \
                     keeps growing",
                    if limit == Limit::ChartFuel {
                        ", shared by all templates of the chart"
                    } else {
                        ""
                    }
                ),
                Some(limit),
            ),
            None => (
                "it used up its budget of work and data; look for an endless or very large \
                 loop, or a string or list that keeps growing"
                    .to_string(),
                Some(Limit::TemplateFuel),
            ),
        };
        return RenderError::TooLong {
            file: rendering.to_string(),
            location: location(err, &file, sources),
            why,
            limit,
        };
    }
    let expression = err
        .range()
        .and_then(|range| sources.get(&file)?.get(range))
        .map(str::to_string);
    let mut message = match (err.kind(), &expression) {
        (ErrorKind::UndefinedError, Some(expr)) => format!(
            "undefined value: `{expr}` is not set. Set it in values.yaml or with --set, give a \
             fallback with `{expr} | default(...)`, or guard it with `{{% if {expr} is defined %}}`"
        ),
        (ErrorKind::UndefinedError, None) => format!(
            "undefined value{}. Set it in values or give a fallback with `| default(...)`",
            if detail.is_empty() {
                String::new()
            } else {
                format!(" ({detail})")
            }
        ),
        (ErrorKind::TemplateNotFound, _) => format!(
            "{detail}. Imports name a file relative to the importing template or to the chart's \
             templates/ directory, e.g. `{{% from \"_helpers.tpl\" import fullname %}}`"
        ),
        (kind, _) if detail.is_empty() => kind.to_string(),
        (ErrorKind::InvalidOperation, _) => detail.clone(),
        (kind, _) => format!("{kind}: {detail}"),
    };
    if file != rendering {
        message.push_str(&format!(" (while rendering {rendering})"));
    }
    RenderError::Template {
        location: location(err, &file, sources),
        message,
    }
}

/// `detail` cut to [`MAX_MESSAGE_CHARS`] characters.
fn shortened(detail: &str) -> String {
    match detail.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}... (message shortened)", &detail[..cut]),
        None => detail.to_string(),
    }
}

/// `file:line:column` (or as much of it as the engine knows).
fn location(err: &minijinja::Error, file: &str, sources: &BTreeMap<String, String>) -> String {
    let Some(line) = err.line() else {
        return file.to_string();
    };
    let column = err.range().and_then(|range| {
        let source = sources.get(file)?;
        let before = source.get(..range.start)?;
        let line_start = before.rfind('\n').map_or(0, |at| at + 1);
        Some(before[line_start..].chars().count() + 1)
    });
    match column {
        Some(column) => format!("{file}:{line}:{column}"),
        None => format!("{file}:{line}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_imports_relative_to_the_chart() {
        let known: BTreeSet<String> = [
            "app/templates/_helpers.tpl",
            "app/templates/sub/_local.tpl",
            "app/charts/common/templates/_lib.j2",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        let parent = "app/templates/sub/deploy.yaml";
        assert_eq!(
            resolve_import(&known, "_local.tpl", parent),
            "app/templates/sub/_local.tpl"
        );
        assert_eq!(
            resolve_import(&known, "_helpers.tpl", parent),
            "app/templates/_helpers.tpl"
        );
        assert_eq!(
            resolve_import(&known, "charts/common/templates/_lib.j2", parent),
            "app/charts/common/templates/_lib.j2"
        );
        assert_eq!(resolve_import(&known, "missing.tpl", parent), "missing.tpl");
    }
}
