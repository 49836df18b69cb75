//! Rendering a chart's Jinja templates into Kubernetes manifests.
//!
//! A render is a pure function of the chart, its coalesced values and [`RenderOptions`]: templates
//! come from memory, no helper reads the filesystem, the network, the clock or a random source,
//! and the output order is fixed. That is what lets the CLI preview exactly what the operator will
//! apply. Deliberately missing, for that reason: `lookup` (reading live cluster objects), `now`,
//! `uuid` and random strings.
//!
//! What templates see is described in [`context`]; the helpers in [`functions`] and `include`/
//! `tpl`. Files whose names start with `_` are macro libraries: they are never rendered as
//! manifests, other templates import them (`{% from "_helpers.tpl" import fullname %}`) or call
//! their macros with `include("fullname")`. `templates/NOTES.txt` of the top chart becomes
//! [`Rendered::notes`]. Files ending in `.yaml`, `.yml` or `.json` (optionally followed by `.j2`)
//! produce manifests; other files under `templates/` can be imported but produce nothing.
//! Library charts (`type: library`) render nothing themselves.
//!
//! Each render is bounded as [`RenderLimits`] describes: fuel for every instruction and every
//! byte a template makes (Capstan's helpers included, checked before they allocate), an output cap
//! enforced while writing, and caps on the objects and YAML nodes parsed from the output. A
//! runaway template fails quickly with an error naming the file and the limit
//! ([`RenderError::TooLong`], [`RenderError::OutputTooLarge`], [`RenderError::TooManyObjects`],
//! [`RenderError::TooManyYamlNodes`]) instead of hanging or exhausting memory.

mod builtins;
mod charge;
mod context;
mod engine;
mod environment;
mod functions;
mod limits;
mod manifest;
mod nested;
mod order;
mod output;

use std::collections::BTreeMap;

use minijinja::Value;
use minijinja::value::Serde;

use crate::model::Chart;
use crate::values::Values;
use environment::ChartEnvironment;
use limits::Account;
pub use limits::{Limit, RenderLimits};

/// The largest total output a render may produce by default, across all templates
/// ([`RenderLimits::max_output_bytes`]).
pub const MAX_OUTPUT_BYTES: usize = 32 * 1024 * 1024;

/// Stack for the render thread: deep (but bounded) template recursion must not overflow the
/// caller's stack, which may be a small async worker stack.
const RENDER_STACK_BYTES: usize = 64 * 1024 * 1024;

/// Who the chart is rendered for, and against which cluster version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderOptions {
    pub release_name: String,
    pub namespace: String,
    pub revision: u64,
    /// `true` for a first install, `false` for an upgrade.
    pub is_install: bool,
    /// Like `v1.36.3`.
    pub kube_version: String,
    /// API versions beyond the built-in ones of Kubernetes 1.36 (e.g. from installed CRDs).
    pub api_versions: Vec<String>,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            release_name: "release-name".to_string(),
            namespace: "default".to_string(),
            revision: 1,
            is_install: true,
            kube_version: "v1.36.0".to_string(),
            api_versions: Vec::new(),
        }
    }
}

/// One Kubernetes object produced by a chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// `<chart>/templates/<file>`, or `<parent>/charts/<sub>/templates/<file>` for subcharts.
    pub source: String,
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    pub object: serde_json::Value,
    /// The document as rendered, ending in one newline.
    pub yaml: String,
}

/// The result of rendering a chart.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rendered {
    /// In install order.
    pub manifests: Vec<Manifest>,
    /// From `crds/` directories (not templated); applied before everything else.
    pub crds: Vec<Manifest>,
    /// The top chart's rendered `templates/NOTES.txt`.
    pub notes: Option<String>,
}

impl Rendered {
    /// All CRDs then all manifests as one YAML stream, each preceded by `---` and a
    /// `# Source:` comment. The same input always gives the same bytes.
    pub fn to_yaml_stream(&self) -> String {
        let mut stream = String::new();
        for manifest in self.crds.iter().chain(&self.manifests) {
            stream.push_str("---\n# Source: ");
            stream.push_str(&manifest.source);
            stream.push('\n');
            stream.push_str(&manifest.yaml);
        }
        stream
    }
}

/// Why a chart could not be rendered. Every variant names the file it is about.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RenderError {
    #[error(
        "{file}:{line}: this looks like a Helm chart (found Go template syntax `{marker}`); \
         Capstan renders Jinja templates. Port the templates to Jinja and set the annotation \
         `capstan.dev/engine: jinja` in Chart.yaml"
    )]
    HelmChart {
        file: String,
        line: usize,
        marker: String,
    },
    #[error(
        "chart {chart}: Chart.yaml asks for template engine `{engine}`, but Capstan renders only \
         Jinja templates; set the annotation `capstan.dev/engine: jinja`"
    )]
    UnsupportedEngine { chart: String, engine: String },
    #[error("{file}: the template is not UTF-8 text; save it as UTF-8")]
    NotText { file: String },
    #[error("{location}: {message}")]
    Template { location: String, message: String },
    /// The template used up its fuel (`limit` says which budget) or nested too deeply (`limit`
    /// is `None`).
    #[error("template ran too long: {file} (stopped at {location}): {why}")]
    TooLong {
        file: String,
        location: String,
        why: String,
        limit: Option<Limit>,
    },
    #[error(
        "{file}: the chart's rendered output exceeds {limit} bytes (render limit \
         max_output_bytes); a template is producing far more than a chart should"
    )]
    OutputTooLarge { file: String, limit: usize },
    #[error(
        "{file}: document {document} would be object number {} of the chart, over the limit of \
         {limit} objects (render limit max_objects); a template is producing far more objects \
         than a chart should", limit + 1
    )]
    TooManyObjects {
        file: String,
        document: usize,
        limit: usize,
    },
    #[error(
        "{file}: document {document} (line {line} of the output) takes the chart's objects over \
         {limit} YAML nodes (render limit max_yaml_nodes), or replays anchors and aliases far \
         more than its length; the objects are far larger than a chart's should be"
    )]
    TooManyYamlNodes {
        file: String,
        document: usize,
        line: usize,
        limit: usize,
    },
    #[error("{file}: document {document} (line {line} of the output) is not valid YAML: {problem}")]
    Yaml {
        file: String,
        document: usize,
        line: usize,
        problem: String,
    },
    #[error(
        "{file}: document {document} (line {line} of the output) is not a valid Kubernetes object: {problem}"
    )]
    InvalidObject {
        file: String,
        document: usize,
        line: usize,
        problem: String,
    },
    #[error("render option {field}: {problem}")]
    InvalidOption { field: String, problem: String },
    #[error("the render failed unexpectedly: {0}")]
    Internal(String),
}

/// What a file under `templates/` is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TemplateRole {
    /// `_*`: macros for other templates.
    Library,
    /// `templates/NOTES.txt`: shown to the user after install.
    Notes,
    /// YAML/JSON that becomes objects.
    Manifests,
    /// Anything else: importable, produces nothing.
    Other,
}

impl TemplateRole {
    /// `path` is chart-relative, e.g. `templates/_helpers.tpl`.
    pub(crate) fn of(path: &str) -> TemplateRole {
        let base = path.rsplit('/').next().unwrap_or(path);
        if base.starts_with('_') {
            return TemplateRole::Library;
        }
        if path == "templates/NOTES.txt" {
            return TemplateRole::Notes;
        }
        let base = base.strip_suffix(".j2").unwrap_or(base);
        if [".yaml", ".yml", ".json"]
            .iter()
            .any(|ext| base.ends_with(ext))
        {
            TemplateRole::Manifests
        } else {
            TemplateRole::Other
        }
    }
}

/// A chart or subchart with the values it sees and its path in template names.
pub(crate) struct ChartScope<'a> {
    chart: &'a Chart,
    /// `app`, `app/charts/db`, ...
    path: String,
    values: Values,
    is_root: bool,
}

/// The chart and its subcharts, depth first, parent before children. Subcharts see
/// `values[<name>]` plus the parent's `global` when theirs has none.
fn collect_scopes<'a>(chart: &'a Chart, values: &Values) -> Vec<ChartScope<'a>> {
    fn walk<'a>(
        chart: &'a Chart,
        values: Values,
        path: String,
        is_root: bool,
        out: &mut Vec<ChartScope<'a>>,
    ) {
        let children: Vec<(&'a Chart, Values)> = chart
            .dependencies
            .iter()
            .map(|sub| {
                let mut sub_values = values
                    .get(sub.name())
                    .and_then(|v| v.as_object())
                    .cloned()
                    .unwrap_or_default();
                if let Some(global) = values.get("global")
                    && !sub_values.contains_key("global")
                {
                    sub_values.insert("global".to_string(), global.clone());
                }
                (sub, sub_values)
            })
            .collect();
        out.push(ChartScope {
            chart,
            path: path.clone(),
            values,
            is_root,
        });
        for (sub, sub_values) in children {
            walk(
                sub,
                sub_values,
                format!("{path}/charts/{}", sub.name()),
                false,
                out,
            );
        }
    }
    let mut scopes = Vec::new();
    walk(
        chart,
        values.clone(),
        chart.name().to_string(),
        true,
        &mut scopes,
    );
    scopes
}

/// The outcome of rendering one template file, for callers (such as lint) that want every
/// problem rather than the first.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateOutput {
    /// The template's name, e.g. `app/templates/deployment.yaml`.
    pub source: String,
    /// The manifests the file produced (empty for NOTES.txt), or why it failed.
    pub result: Result<RenderedFile, RenderError>,
}

/// What one template file produced.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedFile {
    /// The raw rendered text.
    pub text: String,
    /// The objects in it, in file order (none for NOTES.txt).
    pub manifests: Vec<Manifest>,
}

/// A prepared render: scopes, compiled environment, shared context and the account of what the
/// render has used.
struct Renderer<'a> {
    scopes: Vec<ChartScope<'a>>,
    /// Per scope: the variables that do not depend on the template (`values`, `chart`, `files`),
    /// made once and shared by the scope's templates.
    scope_context: Vec<[(&'static str, Value); 3]>,
    environment: ChartEnvironment,
    release: Value,
    capabilities: Value,
    account: Account,
}

impl<'a> Renderer<'a> {
    fn new(
        chart: &'a Chart,
        values: &Values,
        opts: &RenderOptions,
        limits: &RenderLimits,
    ) -> Result<Self, RenderError> {
        let scopes = collect_scopes(chart, values);
        for scope in &scopes {
            engine::ensure_jinja(scope.chart, &scope.path)?;
        }
        let capabilities = context::capabilities_value(opts)?;
        let environment = environment::build(&scopes);
        let scope_context = scopes
            .iter()
            .map(|scope| {
                [
                    ("values", Value::from(Serde(&scope.values))),
                    ("chart", context::chart_value(scope.chart)),
                    (
                        "files",
                        Value::from_object(context::Files::new(scope.chart)),
                    ),
                ]
            })
            .collect();
        Ok(Renderer {
            scopes,
            scope_context,
            environment,
            release: context::release_value(opts),
            capabilities,
            account: Account::new(limits),
        })
    }

    /// Every file to render, in order: (scope index, template name, role).
    fn files_to_render(&self) -> Vec<(usize, String, TemplateRole)> {
        let mut files = Vec::new();
        for (index, scope) in self.scopes.iter().enumerate() {
            if scope.chart.metadata.is_library() {
                continue;
            }
            for file in &scope.chart.templates {
                let role = TemplateRole::of(&file.path);
                let wanted = role == TemplateRole::Manifests
                    || (role == TemplateRole::Notes && scope.is_root);
                if wanted {
                    files.push((index, format!("{}/{}", scope.path, file.path), role));
                }
            }
        }
        files
    }

    /// Renders template `name` of scope `scope_index` with the fuel the account grants it, into
    /// output the account bounds, and records what it used.
    fn render_file(&self, scope_index: usize, name: &str) -> Result<String, RenderError> {
        if let Some(error) = self.environment.broken.get(name) {
            return Err(error.clone());
        }
        let (fuel, fuel_limit) = self.account.fuel_for_template();
        let mut env = self.environment.env.clone();
        env.set_fuel(Some(fuel));
        let fuel_error = |err: &minijinja::Error| {
            self.environment.error(
                err,
                name,
                Some((fuel_limit, fuel_limit.value_in(&self.account.limits))),
            )
        };
        let template = env.get_template(name).map_err(|err| fuel_error(&err))?;
        let mut context: BTreeMap<&str, Value> =
            self.scope_context[scope_index].iter().cloned().collect();
        context.insert("release", self.release.clone());
        context.insert("capabilities", self.capabilities.clone());
        context.insert("template", context::template_value(name));
        let mut output = output::BoundedOutput::new(&self.account);
        let rendered = if fuel == 0 {
            // Nothing left for this file: report it as running out without starting it.
            Err(minijinja::Error::from(minijinja::ErrorKind::OutOfFuel))
        } else {
            template.render_captured_to(Value::from(context), &mut output)
        };
        match rendered {
            Ok(captured) => {
                let used = captured.state().fuel_levels().map_or(0, |(used, _)| used);
                self.account.spend_fuel(used);
                Ok(output.into_text())
            }
            Err(err) => {
                self.account.spend_fuel(fuel);
                if output.overflowed() {
                    return Err(RenderError::OutputTooLarge {
                        file: name.to_string(),
                        limit: self.account.limits.max_output_bytes,
                    });
                }
                Err(fuel_error(&err))
            }
        }
    }

    /// Renders one file and parses its manifests.
    fn render_output(
        &self,
        scope_index: usize,
        name: String,
        role: TemplateRole,
    ) -> TemplateOutput {
        let result = self.render_file(scope_index, &name).and_then(|text| {
            let manifests = match role {
                TemplateRole::Manifests => manifest::parse_manifests(&name, &text, &self.account)?,
                _ => Vec::new(),
            };
            Ok(RenderedFile { text, manifests })
        });
        TemplateOutput {
            source: name,
            result,
        }
    }

    fn crds(&self) -> Result<Vec<Manifest>, RenderError> {
        let mut crds = Vec::new();
        for scope in &self.scopes {
            for file in &scope.chart.crds {
                let name = format!("{}/{}", scope.path, file.path);
                let text = std::str::from_utf8(&file.data)
                    .map_err(|_| RenderError::NotText { file: name.clone() })?;
                crds.extend(manifest::parse_manifests(&name, text, &self.account)?);
            }
        }
        Ok(crds)
    }
}

/// Runs `work` on a thread with a large stack and returns its result.
fn with_render_stack<T: Send>(
    work: impl FnOnce() -> Result<T, RenderError> + Send,
) -> Result<T, RenderError> {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("capstan-render".to_string())
            .stack_size(RENDER_STACK_BYTES)
            .spawn_scoped(scope, work)
            .map_err(|err| {
                RenderError::Internal(format!("cannot start the render thread: {err}"))
            })?;
        match handle.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Renders `chart` with the fully coalesced `values`, within the default [`RenderLimits`].
///
/// `chart` must already have disabled subcharts removed and aliased ones renamed, and `values`
/// must hold each subchart's values under its name with `global` copied down; the values module
/// produces both.
pub fn render(
    chart: &Chart,
    values: &Values,
    opts: &RenderOptions,
) -> Result<Rendered, RenderError> {
    render_with_limits(chart, values, opts, &RenderLimits::default())
}

/// [`render`] within `limits`.
pub fn render_with_limits(
    chart: &Chart,
    values: &Values,
    opts: &RenderOptions,
    limits: &RenderLimits,
) -> Result<Rendered, RenderError> {
    with_render_stack(|| {
        let renderer = Renderer::new(chart, values, opts, limits)?;
        let crds = renderer.crds()?;
        let mut manifests = Vec::new();
        let mut notes = None;
        for (scope_index, name, role) in renderer.files_to_render() {
            let file = renderer.render_output(scope_index, name, role).result?;
            match role {
                TemplateRole::Notes => notes = Some(file.text),
                _ => manifests.extend(file.manifests),
            }
        }
        order::sort_for_install(&mut manifests);
        Ok(Rendered {
            manifests,
            crds,
            notes,
        })
    })
}

/// Renders every template file separately and reports each one's result, so a linter can show
/// all problems at once. Errors that concern the whole chart (a Helm chart, a bad option) are
/// returned as `Err`. The default [`RenderLimits`] apply to all files together.
pub fn render_template_files(
    chart: &Chart,
    values: &Values,
    opts: &RenderOptions,
) -> Result<Vec<TemplateOutput>, RenderError> {
    render_template_files_with_limits(chart, values, opts, &RenderLimits::default())
}

/// [`render_template_files`] within `limits`.
pub fn render_template_files_with_limits(
    chart: &Chart,
    values: &Values,
    opts: &RenderOptions,
    limits: &RenderLimits,
) -> Result<Vec<TemplateOutput>, RenderError> {
    with_render_stack(|| {
        let renderer = Renderer::new(chart, values, opts, limits)?;
        let mut outputs: Vec<TemplateOutput> = renderer
            .files_to_render()
            .into_iter()
            .map(|(scope_index, name, role)| renderer.render_output(scope_index, name, role))
            .collect();
        // Library files are never rendered, but their syntax errors still belong in a report.
        for (name, error) in &renderer.environment.broken {
            if !outputs.iter().any(|o| &o.source == name) {
                outputs.push(TemplateOutput {
                    source: name.clone(),
                    result: Err(error.clone()),
                });
            }
        }
        Ok(outputs)
    })
}

#[cfg(test)]
mod tests;
