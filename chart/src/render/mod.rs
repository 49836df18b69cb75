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
//! Each template render is bounded: it has a fuel budget (instructions and bytes), a recursion
//! limit, and the total output is capped, so a runaway template fails quickly with
//! [`RenderError::TooLong`] instead of hanging or exhausting memory.

mod context;
mod engine;
pub use engine::chart_engine;
mod environment;
mod functions;
mod manifest;
mod nested;
mod order;

use std::collections::BTreeMap;

use minijinja::Value;
use minijinja::value::Serde;

use crate::model::{Chart, Engine};
use crate::values::Values;
use environment::ChartEnvironment;

/// The largest total output a render may produce, across all templates.
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
    /// In install order. For a Go-template chart, without the hooks.
    pub manifests: Vec<Manifest>,
    /// From `crds/` directories (not templated); applied before everything else.
    pub crds: Vec<Manifest>,
    /// The top chart's rendered `templates/NOTES.txt`.
    pub notes: Option<String>,
    /// Objects of a Go-template chart that carry a `helm.sh/hook` annotation, in Helm's order.
    /// Helm runs them around installs, upgrades and deletes (and `helm test`) instead of
    /// applying them with the release; they are never in `manifests`. Empty for Jinja charts.
    pub hooks: Vec<Hook>,
    /// For a Go-template chart, the text `helm template` prints (see
    /// [`Rendered::helm_template_output`]).
    pub helm: Option<crate::helm::HelmText>,
}

/// A Helm hook: an object with a `helm.sh/hook` annotation, as Helm's `release.Hook` records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    pub manifest: Manifest,
    /// From `helm.sh/hook`, in the annotation's order.
    pub events: Vec<HookEvent>,
    /// `helm.sh/hook-weight` (0 when absent or not an integer).
    pub weight: i64,
    /// `helm.sh/hook-delete-policy`, lower-cased.
    pub delete_policies: Vec<String>,
    /// `helm.sh/hook-output-log-policy`, lower-cased.
    pub output_log_policies: Vec<String>,
}

impl Hook {
    /// Whether Helm treats this as a test (`helm test` runs it; `--skip-tests` leaves it out).
    pub fn is_test(&self) -> bool {
        self.events.contains(&HookEvent::Test)
    }
}

/// When Helm runs a hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookEvent {
    PreInstall,
    PostInstall,
    PreDelete,
    PostDelete,
    PreUpgrade,
    PostUpgrade,
    PreRollback,
    PostRollback,
    /// `test` (also `test-success`, Helm 2's name).
    Test,
}

impl HookEvent {
    /// The event named by a (lower-cased, trimmed) `helm.sh/hook` entry.
    pub fn parse(name: &str) -> Option<HookEvent> {
        Some(match name {
            "pre-install" => HookEvent::PreInstall,
            "post-install" => HookEvent::PostInstall,
            "pre-delete" => HookEvent::PreDelete,
            "post-delete" => HookEvent::PostDelete,
            "pre-upgrade" => HookEvent::PreUpgrade,
            "post-upgrade" => HookEvent::PostUpgrade,
            "pre-rollback" => HookEvent::PreRollback,
            "post-rollback" => HookEvent::PostRollback,
            "test" | "test-success" => HookEvent::Test,
            _ => return None,
        })
    }

    /// Helm's name of the event.
    pub fn as_str(self) -> &'static str {
        match self {
            HookEvent::PreInstall => "pre-install",
            HookEvent::PostInstall => "post-install",
            HookEvent::PreDelete => "pre-delete",
            HookEvent::PostDelete => "post-delete",
            HookEvent::PreUpgrade => "pre-upgrade",
            HookEvent::PostUpgrade => "post-upgrade",
            HookEvent::PreRollback => "pre-rollback",
            HookEvent::PostRollback => "post-rollback",
            HookEvent::Test => "test",
        }
    }
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
        "chart {chart}: Chart.yaml asks for template engine `{engine}` (annotation \
         `capstan.dev/engine`); Capstan renders `jinja` and Go templates (`go`, the default)"
    )]
    UnsupportedEngine { chart: String, engine: String },
    #[error(
        "chart {chart} uses the {engine} template engine but its parent {parent} uses {parent_engine}; \
         a chart and its subcharts must use one engine (annotation `capstan.dev/engine`)"
    )]
    MixedEngines {
        chart: String,
        engine: String,
        parent: String,
        parent_engine: String,
    },
    /// A Go template failed to parse or execute, worded as Helm words it (`parse error at
    /// (FILE:LINE): ...`, `execution error at (FILE:LINE:COL): ...`, or Go's own text).
    #[error("{message}")]
    GoTemplate { file: String, message: String },
    #[error("{file}: the template is not UTF-8 text; save it as UTF-8")]
    NotText { file: String },
    #[error("{location}: {message}")]
    Template { location: String, message: String },
    #[error("template ran too long: {file} (stopped at {location}): {why}")]
    TooLong {
        file: String,
        location: String,
        why: String,
    },
    #[error(
        "{file}: the chart's rendered output exceeds {limit} bytes; a template is producing far \
         more than a chart should"
    )]
    OutputTooLarge { file: String, limit: usize },
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

/// A prepared render: scopes, compiled environment and shared context.
struct Renderer<'a> {
    scopes: Vec<ChartScope<'a>>,
    environment: ChartEnvironment,
    release: Value,
    capabilities: Value,
}

impl<'a> Renderer<'a> {
    fn new(chart: &'a Chart, values: &Values, opts: &RenderOptions) -> Result<Self, RenderError> {
        let scopes = collect_scopes(chart, values);
        let capabilities = context::capabilities_value(opts)?;
        let environment = environment::build(&scopes);
        Ok(Renderer {
            scopes,
            environment,
            release: context::release_value(opts),
            capabilities,
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

    fn render_file(&self, scope: &ChartScope, name: &str) -> Result<String, RenderError> {
        if let Some(error) = self.environment.broken.get(name) {
            return Err(error.clone());
        }
        let template = self
            .environment
            .env
            .get_template(name)
            .map_err(|err| self.environment.error(&err, name))?;
        let context = Value::from(BTreeMap::from([
            ("values", Value::from(Serde(&scope.values))),
            ("release", self.release.clone()),
            ("chart", context::chart_value(scope.chart)),
            ("capabilities", self.capabilities.clone()),
            (
                "files",
                Value::from_object(context::Files::new(scope.chart, &scope.path)),
            ),
            ("template", context::template_value(name)),
        ]));
        template
            .render(context)
            .map_err(|err| self.environment.error(&err, name))
    }

    fn render_all(&self) -> Vec<(TemplateRole, TemplateOutput)> {
        let mut total_output = 0usize;
        self.files_to_render()
            .into_iter()
            .map(|(scope_index, name, role)| {
                let scope = &self.scopes[scope_index];
                let result = self.render_file(scope, &name).and_then(|text| {
                    total_output += text.len();
                    if total_output > MAX_OUTPUT_BYTES {
                        return Err(RenderError::OutputTooLarge {
                            file: name.clone(),
                            limit: MAX_OUTPUT_BYTES,
                        });
                    }
                    let manifests = match role {
                        TemplateRole::Manifests => manifest::parse_manifests(&name, &text)?,
                        _ => Vec::new(),
                    };
                    Ok(RenderedFile { text, manifests })
                });
                let output = TemplateOutput {
                    source: name,
                    result,
                };
                (role, output)
            })
            .collect()
    }

    fn crds(&self) -> Result<Vec<Manifest>, RenderError> {
        let mut crds = Vec::new();
        for scope in &self.scopes {
            for file in &scope.chart.crds {
                let name = format!("{}/{}", scope.path, file.path);
                let text = String::from_utf8(file.data.clone())
                    .map_err(|_| RenderError::NotText { file: name.clone() })?;
                crds.extend(manifest::parse_manifests(&name, &text)?);
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

/// Renders `chart` with the fully coalesced `values`.
///
/// `chart` must already have disabled subcharts removed and aliased ones renamed, and `values`
/// must hold each subchart's values under its name with `global` copied down; the values module
/// produces both.
pub fn render(
    chart: &Chart,
    values: &Values,
    opts: &RenderOptions,
) -> Result<Rendered, RenderError> {
    with_render_stack(|| {
        if engine::chart_engine(chart)? == Engine::Go {
            return crate::helm::render(chart, values, opts);
        }
        let renderer = Renderer::new(chart, values, opts)?;
        let crds = renderer.crds()?;
        let mut manifests = Vec::new();
        let mut notes = None;
        for (role, output) in renderer.render_all() {
            let file = output.result?;
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
            ..Rendered::default()
        })
    })
}

/// Renders every template file of a Jinja chart separately and reports each one's result, so a
/// linter can show all problems at once. Errors that concern the whole chart (a bad option) are
/// returned as `Err`.
pub fn render_template_files(
    chart: &Chart,
    values: &Values,
    opts: &RenderOptions,
) -> Result<Vec<TemplateOutput>, RenderError> {
    with_render_stack(|| {
        let renderer = Renderer::new(chart, values, opts)?;
        let mut outputs: Vec<TemplateOutput> = renderer
            .render_all()
            .into_iter()
            .map(|(_, output)| output)
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
