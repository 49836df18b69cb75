//! Rendering Go-template (Helm) charts exactly as Helm v3.22.0's `helm template` does.
//!
//! The steps follow Helm's engine and install action:
//!
//! 1. every template of the chart and of its enabled subcharts goes into one template set, named
//!    `<chart>/templates/...` and `<chart>/charts/<sub>/templates/...` (a library chart contributes
//!    only its `_` partials); they are parsed deepest path first (so a parent's `define` wins over
//!    a subchart's of the same name) and rendered in that order, which matters because templates
//!    may change the values they share (`set`);
//! 2. each chart's templates see `.Values` (its section of the values), `.Chart`, `.Release`,
//!    `.Capabilities`, `.Files`, `.Subcharts` and `.Template`, with Helm's Go types
//!    ([`objects`], [`files`]), Sprig's and Helm's functions ([`functions`]), missing keys as
//!    Go's zero value and `<no value>` removed from the output;
//! 3. partials (`_*`) are not rendered; the top chart's `NOTES.txt` becomes the notes; the other
//!    files are split into documents, hooks set apart and both sorted by kind ([`documents`]);
//! 4. the output is printed as `helm template` prints it ([`HelmText`]), and the objects are kept
//!    for the operator.
//!
//! Every render runs within [`RenderLimits`], as a Jinja chart's does: each file gets the fuel its
//! `template_fuel` and what is left of `chart_fuel` allow ([`GO_FUEL_PER_UNIT`] converts) and the
//! output room that is left, and the objects and YAML nodes parsed from the output are counted;
//! `template`/`include`/`tpl` nest at most as deep as the engine's depth limit allows. A hostile
//! chart stops quickly.

mod documents;
mod files;
mod functions;
mod glob;
mod objects;

use capstan_gotemplate::{
    Budget, Error, Limit as GoLimit, Limits, MissingKey, Options, Templates, Value,
};
use std::collections::BTreeMap;

use crate::model::Chart;
use crate::render::{
    Account, Hook, Limit as RenderLimit, Manifest, RenderError, RenderLimits, RenderOptions,
    Rendered, with_render_stack,
};
use crate::values::Values;

pub use documents::{parse as parse_document, split_manifests};
pub use objects::HELM_VERSION;

use files::FilesObject;
use objects::{CapabilitiesObject, ChartObject, KubeVersionObject, ValuesObject};

/// Go-template fuel per unit of [`RenderLimits`] fuel. [`RenderLimits`] counts one unit per
/// instruction and one per 64 bytes of data; the Go engine one per byte and
/// [`capstan_gotemplate::STEP_FUEL`] per step. 64 makes the data a template file may make the same
/// for both engines (64 MiB by default), and makes the chart's fuel last about as long (a step is
/// two units of [`RenderLimits`] fuel, and takes a little longer than a Jinja instruction).
pub const GO_FUEL_PER_UNIT: u64 = 64;

/// How strictly to render.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Strictness {
    /// `missingkey=error` instead of Helm's `zero` (`helm lint --strict`).
    pub missing_key_error: bool,
    /// `helm lint`'s engine: `required` and `fail` give an empty string instead of failing.
    pub lint: bool,
}

/// The text `helm template` prints for a chart, kept apart from the objects because Helm prints
/// CRD files as they are and documents that are no object (only comments) too.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HelmText {
    /// `---\n# Source: <file>\n<file content>\n` for every CRD file of the chart and its
    /// subcharts, in Helm's order (printed with `--include-crds`).
    pub crds: String,
    /// `---\n# Source: <template>\n<document>\n` for every document that is not a hook, in install
    /// order.
    pub manifests: String,
}

/// What one template file rendered to (before `<no value>` removal it is Go's output; after, it is
/// Helm's), or why it failed.
#[derive(Debug, Clone, PartialEq)]
pub struct FileOutput {
    /// The template's name, e.g. `app/templates/deployment.yaml`.
    pub source: String,
    pub result: Result<String, RenderError>,
}

/// One template set with the data each file is rendered with.
struct Assembly {
    set: Templates,
    /// File name → the `.` it is rendered with (shared by all files of a chart).
    data: BTreeMap<String, ScopeData>,
    /// File names in Helm's parse and render order.
    order: Vec<String>,
}

#[derive(Clone)]
struct ScopeData {
    /// The chart's top-level map (`.`), where `.Template` is set before each file renders.
    top: Value,
    /// `<chart path>/templates`.
    base_path: String,
}

/// Renders a Go-template chart within the default [`RenderLimits`]. `chart` and `values` come
/// from [`crate::values::resolve`] (disabled subcharts removed, aliases applied, values coalesced
/// and checked).
pub fn render(
    chart: &Chart,
    values: &Values,
    opts: &RenderOptions,
) -> Result<Rendered, RenderError> {
    render_with_limits(chart, values, opts, &RenderLimits::default())
}

/// [`render`] within `limits`: fuel per template file and per chart, the output of all files
/// together, the objects and YAML nodes parsed from it, and the nesting of
/// `template`/`include`/`tpl` (the engine's depth limit).
pub fn render_with_limits(
    chart: &Chart,
    values: &Values,
    opts: &RenderOptions,
    limits: &RenderLimits,
) -> Result<Rendered, RenderError> {
    with_render_stack(|| {
        let account = Account::new(limits);
        let outputs = render_files_within(chart, values, opts, Strictness::default(), &account)?;
        rendered_from(chart, outputs, &account)
    })
}

/// Splits the rendered files into documents and objects as `helm template` does.
fn rendered_from(
    chart: &Chart,
    outputs: Vec<FileOutput>,
    account: &Account,
) -> Result<Rendered, RenderError> {
    let mut files: BTreeMap<String, String> = outputs
        .into_iter()
        .map(|output| output.result.map(|text| (output.source, text)))
        .collect::<Result<_, _>>()?;
    let notes = take_notes(&mut files, chart.name());
    let sorted = documents::sort(&files, account)?;
    let mut text = HelmText {
        crds: crd_text(chart, ""),
        manifests: String::new(),
    };
    let mut manifests = Vec::new();
    for (index, document) in sorted.manifests.iter().enumerate() {
        text.manifests.push_str(&format!(
            "---\n# Source: {}\n{}\n",
            document.source, document.content
        ));
        if let Some(manifest) = documents::manifest_of(document, index + 1)? {
            manifests.push(manifest);
        }
    }
    let mut hooks = Vec::new();
    for (index, (document, spec)) in sorted.hooks.into_iter().enumerate() {
        let Some(manifest) = documents::manifest_of(&document, index + 1)? else {
            continue;
        };
        hooks.push(Hook {
            manifest,
            events: spec.events,
            weight: spec.weight,
            delete_policies: spec.delete_policies,
            output_log_policies: spec.output_log_policies,
        });
    }
    Ok(Rendered {
        manifests,
        crds: crd_manifests(chart, "", account)?,
        notes,
        hooks,
        helm: Some(text),
    })
}

/// Renders every template file of a Go-template chart and reports each one's text or error,
/// in Helm's render order, without splitting into documents, within the default
/// [`RenderLimits`]. The first parse error fails the whole set, as in Helm.
pub fn render_files(
    chart: &Chart,
    values: &Values,
    opts: &RenderOptions,
    strictness: Strictness,
) -> Result<Vec<FileOutput>, RenderError> {
    render_files_with_limits(chart, values, opts, strictness, &RenderLimits::default())
}

/// [`render_files`] within `limits`.
pub fn render_files_with_limits(
    chart: &Chart,
    values: &Values,
    opts: &RenderOptions,
    strictness: Strictness,
    limits: &RenderLimits,
) -> Result<Vec<FileOutput>, RenderError> {
    with_render_stack(|| {
        render_files_within(chart, values, opts, strictness, &Account::new(limits))
    })
}

/// Renders every file with what `account` grants it, and records what each used. Running out of
/// a budget stops the whole render.
fn render_files_within(
    chart: &Chart,
    values: &Values,
    opts: &RenderOptions,
    strictness: Strictness,
    account: &Account,
) -> Result<Vec<FileOutput>, RenderError> {
    let assembly = assemble(chart, values, opts, strictness)?;
    let mut outputs = Vec::new();
    for name in &assembly.order {
        if base_name(name).starts_with('_') {
            continue;
        }
        let scope = &assembly.data[name];
        if let Some(top) = scope.top.as_map() {
            let template = BTreeMap::from([
                ("Name".to_string(), Value::string(name.as_str())),
                (
                    "BasePath".to_string(),
                    Value::string(scope.base_path.as_str()),
                ),
            ]);
            top.insert("Template", ValuesObject::value(template));
        }
        let result = execute_file(&assembly.set, name, &scope.top, account)?;
        outputs.push(FileOutput {
            source: name.clone(),
            result: result.map(|text| text.replace("<no value>", "")),
        });
    }
    Ok(outputs)
}

/// Executes template `name` with the fuel and output room `account` has left for it. The outer
/// error is a budget running out (which ends the render), the inner one the template's own
/// failure (which a linter reports and goes on).
fn execute_file(
    set: &Templates,
    name: &str,
    data: &Value,
    account: &Account,
) -> Result<Result<String, RenderError>, RenderError> {
    let (fuel, fuel_limit) = account.fuel_for_template();
    let mut budget = Budget::new(Limits {
        fuel: fuel.saturating_mul(GO_FUEL_PER_UNIT),
        max_output: account.output_left(),
        ..Limits::default()
    });
    let result = set.execute(name, data, &mut budget);
    account.spend_fuel(budget.fuel_used().div_ceil(GO_FUEL_PER_UNIT));
    match result {
        Ok(text) => {
            if !account.take_output(text.len()) {
                return Err(output_too_large(name, account));
            }
            Ok(Ok(text))
        }
        Err(Error::Budget(budget_error)) => Err(budget_exceeded(
            name,
            &budget_error,
            (fuel_limit, fuel_limit.value_in(&account.limits)),
            account,
        )),
        Err(error) => Ok(Err(exec_error(name, &error))),
    }
}

fn output_too_large(name: &str, account: &Account) -> RenderError {
    RenderError::OutputTooLarge {
        file: name.to_string(),
        limit: account.limits.max_output_bytes,
    }
}

/// The render error for a budget of the Go engine that ran out while executing `name`: the
/// output cap is the chart's `max_output_bytes`, fuel the limit (`template_fuel` or
/// `chart_fuel`) that set what the file got, nesting and loops the engine's own limits.
fn budget_exceeded(
    name: &str,
    error: &capstan_gotemplate::BudgetError,
    (fuel_limit, fuel_amount): (RenderLimit, u64),
    account: &Account,
) -> RenderError {
    let (why, limit) = match error.limit {
        GoLimit::Output => return output_too_large(name, account),
        GoLimit::Fuel => (
            format!(
                "it used up its budget of work and data ({fuel_amount} fuel, render limit \
                 {fuel_limit}{}); look for an endless or very large loop, or a string or list \
                 that keeps growing",
                if fuel_limit == RenderLimit::ChartFuel {
                    ", shared by all templates of the chart"
                } else {
                    ""
                }
            ),
            Some(fuel_limit),
        ),
        GoLimit::Depth | GoLimit::RangeIterations => (error.to_string(), None),
    };
    RenderError::TooLong {
        file: name.to_string(),
        location: error
            .at
            .as_ref()
            .and_then(|at| at.location.clone())
            .unwrap_or_else(|| name.to_string()),
        why,
        limit,
    }
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Takes every `NOTES.txt` out of the rendered files (Helm renders them all) and returns the top
/// chart's.
fn take_notes(files: &mut BTreeMap<String, String>, root: &str) -> Option<String> {
    let root_notes = format!("{root}/templates/NOTES.txt");
    let mut notes = None;
    files.retain(|name, text| {
        if !name.ends_with("NOTES.txt") {
            return true;
        }
        if *name == root_notes {
            notes = Some(std::mem::take(text));
        }
        false
    });
    notes
}

/// Builds the template set and every chart's top-level data.
fn assemble(
    chart: &Chart,
    values: &Values,
    opts: &RenderOptions,
    strictness: Strictness,
) -> Result<Assembly, RenderError> {
    let capabilities = Value::object(capabilities(opts)?);
    let release = objects::release_value(opts);
    let root_values = Value::from_json(&serde_json::Value::Object(values.clone()));
    let mut sources = BTreeMap::new();
    let mut data = BTreeMap::new();
    let shared = Shared {
        capabilities,
        release,
    };
    collect(
        chart,
        chart.name().to_string(),
        true,
        root_values,
        &shared,
        &mut sources,
        &mut data,
    )?;
    let mode = if strictness.lint {
        functions::Mode::Lint
    } else {
        functions::Mode::Render
    };
    let options = Options {
        missing_key: if strictness.missing_key_error {
            MissingKey::Error
        } else {
            MissingKey::Zero
        },
        ..Options::default()
    };
    let mut set = Templates::with_options(functions::funcs(mode), options);
    set.set_name(functions::SET_NAME);
    let order = parse_order(sources.keys().cloned().collect());
    for name in &order {
        set.parse(name, &sources[name])
            .map_err(|error| parse_error(name, &error))?;
    }
    Ok(Assembly { set, data, order })
}

/// What every chart's top-level map shares.
struct Shared {
    capabilities: Value,
    release: Value,
}

/// Helm's `recAllTpls`: the chart's top-level map and templates, then its subcharts'. Returns
/// the chart's top-level map, which the parent lists under `.Subcharts`.
fn collect(
    chart: &Chart,
    path: String,
    is_root: bool,
    values: Value,
    shared: &Shared,
    sources: &mut BTreeMap<String, String>,
    data: &mut BTreeMap<String, ScopeData>,
) -> Result<Value, RenderError> {
    let mut subcharts = BTreeMap::new();
    for sub in &chart.dependencies {
        let sub_values = values
            .as_map()
            .and_then(|map| map.get(sub.name()))
            .filter(|value| matches!(value, Value::Map(_)))
            .unwrap_or_else(|| Value::map(BTreeMap::new()));
        let sub_top = collect(
            sub,
            format!("{path}/charts/{}", sub.name()),
            false,
            sub_values,
            shared,
            sources,
            data,
        )?;
        subcharts.insert(sub.name().to_string(), sub_top);
    }
    let top = Value::map(BTreeMap::from([
        (
            "Chart".to_string(),
            Value::object(ChartObject::new(&chart.metadata, is_root)),
        ),
        (
            "Files".to_string(),
            Value::object(FilesObject::of_chart(chart)),
        ),
        ("Release".to_string(), shared.release.clone()),
        ("Capabilities".to_string(), shared.capabilities.clone()),
        (
            "Values".to_string(),
            Value::object(ValuesObject::new(values)),
        ),
        ("Subcharts".to_string(), Value::map(subcharts)),
    ]));
    let scope = ScopeData {
        top: top.clone(),
        base_path: format!("{path}/templates"),
    };
    let library = chart.metadata.is_library();
    for file in &chart.templates {
        if library && !base_name(&file.path).starts_with('_') {
            continue;
        }
        let name = format!("{path}/{}", file.path);
        let text = String::from_utf8(file.data.clone())
            .map_err(|_| RenderError::NotText { file: name.clone() })?;
        sources.insert(name.clone(), text);
        data.insert(name, scope.clone());
    }
    Ok(top)
}

/// Helm's `sortTemplates`: more path segments first, then reverse name order.
fn parse_order(mut names: Vec<String>) -> Vec<String> {
    names.sort_by(|a, b| {
        let depth = |name: &str| name.matches('/').count();
        depth(b).cmp(&depth(a)).then_with(|| b.cmp(a))
    });
    names
}

/// `.Capabilities` for the options: the Kubernetes version as Helm's `ParseKubeVersion` reads it,
/// Helm's default API versions plus the extra ones.
fn capabilities(opts: &RenderOptions) -> Result<CapabilitiesObject, RenderError> {
    let kube_version =
        parse_kube_version(&opts.kube_version).ok_or_else(|| RenderError::InvalidOption {
            field: "kube_version".into(),
            problem: format!(
                "invalid kube version {:?}: write it like v1.36.0",
                opts.kube_version
            ),
        })?;
    let mut api_versions: Vec<String> =
        DEFAULT_API_VERSIONS.iter().map(|v| v.to_string()).collect();
    api_versions.extend(opts.api_versions.iter().cloned());
    Ok(CapabilitiesObject::new(kube_version, api_versions))
}

/// The Kubernetes version as Helm reads `--kube-version` (`v1.30.2-gke.1` is `v1.30.2`, `1.31` is
/// `v1.31`), or `None` when Helm refuses it.
pub fn normalize_kube_version(text: &str) -> Option<String> {
    parse_kube_version(text).map(|parsed| parsed.version)
}

/// Kubernetes' `version.ParseGeneric` as Helm applies it to `--kube-version`: an optional `v`,
/// at least two numeric components (the first without a leading zero), anything after them
/// dropped.
fn parse_kube_version(text: &str) -> Option<KubeVersionObject> {
    let text = text.trim_start();
    let text = text.strip_prefix('v').unwrap_or(text);
    let numbers_end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let mut numbers = &text[..numbers_end];
    // The components are `[0-9]+(\.[0-9]+)*`: a trailing or doubled dot ends them.
    if let Some(bad) = numbers.find("..") {
        numbers = &numbers[..bad];
    }
    let numbers = numbers.trim_end_matches('.');
    let components: Vec<&str> = numbers.split('.').collect();
    if components.len() < 2 || components.iter().any(|c| c.is_empty()) {
        return None;
    }
    if components[0].len() > 1 && components[0].starts_with('0') {
        return None;
    }
    let parsed: Vec<u64> = components
        .iter()
        .map(|c| c.parse().ok())
        .collect::<Option<_>>()?;
    let version = parsed
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".");
    Some(KubeVersionObject {
        version: format!("v{version}"),
        major: parsed[0].to_string(),
        minor: parsed[1].to_string(),
    })
}

/// Helm v3.22.0's default `.Capabilities.APIVersions` (every group version in client-go v0.37's
/// scheme, plus the CRD API groups), in Helm's order.
const DEFAULT_API_VERSIONS: &[&str] = &[
    "v1",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1alpha1",
    "admissionregistration.k8s.io/v1beta1",
    "internal.apiserver.k8s.io/v1alpha1",
    "apps/v1",
    "apps/v1beta1",
    "apps/v1beta2",
    "authentication.k8s.io/v1",
    "authentication.k8s.io/v1alpha1",
    "authentication.k8s.io/v1beta1",
    "authorization.k8s.io/v1",
    "authorization.k8s.io/v1beta1",
    "autoscaling/v1",
    "autoscaling/v2",
    "batch/v1",
    "batch/v1beta1",
    "certificates.k8s.io/v1",
    "certificates.k8s.io/v1beta1",
    "certificates.k8s.io/v1alpha1",
    "coordination.k8s.io/v1alpha2",
    "coordination.k8s.io/v1beta1",
    "coordination.k8s.io/v1",
    "discovery.k8s.io/v1",
    "discovery.k8s.io/v1beta1",
    "events.k8s.io/v1",
    "events.k8s.io/v1beta1",
    "extensions/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "lifecycle.k8s.io/v1alpha1",
    "networking.k8s.io/v1",
    "networking.k8s.io/v1beta1",
    "node.k8s.io/v1",
    "node.k8s.io/v1alpha1",
    "node.k8s.io/v1beta1",
    "policy/v1",
    "policy/v1beta1",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1",
    "rbac.authorization.k8s.io/v1alpha1",
    "resource.k8s.io/v1",
    "resource.k8s.io/v1beta2",
    "resource.k8s.io/v1beta1",
    "resource.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1alpha3",
    "scheduling.k8s.io/v1beta1",
    "scheduling.k8s.io/v1",
    "storage.k8s.io/v1beta1",
    "storage.k8s.io/v1",
    "storage.k8s.io/v1alpha1",
    "storagemigration.k8s.io/v1",
    "storagemigration.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1beta1",
    "apiextensions.k8s.io/v1",
];

/// Helm's `cleanupParseError`: `parse error at (FILE:LINE): MESSAGE`.
fn parse_error(file: &str, error: &Error) -> RenderError {
    let text = error.to_string();
    let tokens: Vec<&str> = text.split(": ").collect();
    let message = if tokens.len() == 1 {
        format!("parse error in ({file}): {text}")
    } else {
        format!(
            "parse error at ({}): {}",
            tokens[1],
            tokens[tokens.len() - 1]
        )
    };
    RenderError::GoTemplate {
        file: file.to_string(),
        message,
    }
}

/// Helm's `cleanupExecError`: a message from `required` or `fail` becomes `execution error at
/// (FILE:LINE:COL): MESSAGE`; other errors keep Go's full text.
fn exec_error(file: &str, error: &Error) -> RenderError {
    let text = error.to_string();
    let message = match (error, text.splitn(3, ": ").collect::<Vec<_>>().as_slice()) {
        (Error::Exec(_), [_, location, rest]) => match helm_message(rest) {
            Some(inner) => format!("execution error at ({location}): {inner}"),
            None => text.clone(),
        },
        _ => text.clone(),
    };
    RenderError::GoTemplate {
        file: file.to_string(),
        message,
    }
}

/// The text between the first `HELM_ERR_START` and the last `HELM_ERR_END`, as Helm's greedy
/// regular expression finds it.
fn helm_message(text: &str) -> Option<&str> {
    const START: &str = "HELM_ERR_START";
    const END: &str = "HELM_ERR_END";
    let start = text.find(START)? + START.len();
    let end = text.rfind(END)?;
    (end >= start).then(|| &text[start..end])
}

/// Helm's `CRDObjects`: the chart's `crds/*.{yaml,yml,json}` files then its subcharts', each
/// printed as it is.
fn crd_text(chart: &Chart, parent: &str) -> String {
    let path = chart_path(chart, parent);
    let mut text = String::new();
    for file in chart
        .crds
        .iter()
        .filter(|f| has_manifest_extension(&f.path))
    {
        text.push_str(&format!(
            "---\n# Source: {path}/{}\n{}\n",
            file.path,
            String::from_utf8_lossy(&file.data)
        ));
    }
    for sub in &chart.dependencies {
        text.push_str(&crd_text(sub, &path));
    }
    text
}

fn crd_manifests(
    chart: &Chart,
    parent: &str,
    account: &Account,
) -> Result<Vec<Manifest>, RenderError> {
    let path = chart_path(chart, parent);
    let mut manifests = Vec::new();
    for file in chart
        .crds
        .iter()
        .filter(|f| has_manifest_extension(&f.path))
    {
        let source = format!("{path}/{}", file.path);
        let text = String::from_utf8(file.data.clone()).map_err(|_| RenderError::NotText {
            file: source.clone(),
        })?;
        for (index, content) in documents::split_manifests(&text).into_iter().enumerate() {
            let document = documents::Document {
                source: source.clone(),
                object: documents::parse_counted(&source, index + 1, &content, account)?,
                kind: String::new(),
                content,
            };
            if let Some(manifest) = documents::manifest_of(&document, index + 1)? {
                manifests.push(manifest);
            }
        }
    }
    for sub in &chart.dependencies {
        manifests.extend(crd_manifests(sub, &path, account)?);
    }
    Ok(manifests)
}

fn chart_path(chart: &Chart, parent: &str) -> String {
    if parent.is_empty() {
        chart.name().to_string()
    } else {
        format!("{parent}/charts/{}", chart.name())
    }
}

fn has_manifest_extension(path: &str) -> bool {
    [".yaml", ".yml", ".json"]
        .iter()
        .any(|ext| path.to_ascii_lowercase().ends_with(ext))
}

impl Rendered {
    /// What `helm template` prints for a Go-template chart: the CRD files (with `include_crds`),
    /// the manifests, then the hooks (without tests when `skip_tests`), byte for byte. `None` for
    /// a Jinja chart.
    pub fn helm_template_output(&self, include_crds: bool, skip_tests: bool) -> Option<String> {
        let text = self.helm.as_ref()?;
        let mut manifest = String::new();
        if include_crds {
            manifest.push_str(&text.crds);
        }
        manifest.push_str(&text.manifests);
        let mut out = format!("{}\n", manifest.trim());
        for hook in &self.hooks {
            if skip_tests && hook.is_test() {
                continue;
            }
            out.push_str(&format!(
                "---\n# Source: {}\n{}",
                hook.manifest.source, hook.manifest.yaml
            ));
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests;
