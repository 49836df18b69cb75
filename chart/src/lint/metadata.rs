//! Rules on `Chart.yaml`, the checks `helm lint` makes on it.

use super::finding::{Finding, Severity, describe_yaml_error, line_of_top_level_key};
use crate::model::{ChartMetadata, Engine};
use crate::names::check_chart_name;
use crate::version::Constraint;
use std::collections::BTreeSet;

pub const CHART_FILE: &str = "Chart.yaml";

/// Checks the text of `Chart.yaml`. `dir_name` is the chart directory's name when linting a
/// directory (Helm requires it to equal the chart name), `None` for archives.
/// Returns the parsed metadata when it parses, so later rules can use it.
pub fn check(text: &str, dir_name: Option<&str>, out: &mut Vec<Finding>) -> Option<ChartMetadata> {
    let at = |key: &str| line_of_top_level_key(text, key);
    let raw: serde_json::Map<String, serde_json::Value> = match serde_saphyr::from_str(text) {
        Ok(raw) => raw,
        Err(err) => {
            let (line, message) = describe_yaml_error(&err);
            out.push(
                Finding::error(
                    CHART_FILE,
                    format!("does not parse as a YAML mapping: {message}"),
                )
                .at_line(line),
            );
            return None;
        }
    };
    let mut required_ok = true;
    for key in ["apiVersion", "name", "version"] {
        match raw.get(key) {
            Some(serde_json::Value::String(s)) if !s.is_empty() => {}
            Some(serde_json::Value::String(_)) | None | Some(serde_json::Value::Null) => {
                out.push(Finding::error(CHART_FILE, format!("{key} is required")).at_line(at(key)));
                required_ok = false;
            }
            Some(other) => {
                out.push(
                    Finding::error(
                        CHART_FILE,
                        format!("{key} must be a string, found {other}; quote it"),
                    )
                    .at_line(at(key)),
                );
                required_ok = false;
            }
        }
    }
    if !required_ok {
        return None;
    }
    let metadata: ChartMetadata = match serde_saphyr::from_str(text) {
        Ok(metadata) => metadata,
        Err(err) => {
            let (line, message) = describe_yaml_error(&err);
            out.push(Finding::error(CHART_FILE, message).at_line(line));
            return None;
        }
    };
    check_api_version(&metadata, at("apiVersion"), out);
    check_name(&metadata, dir_name, at("name"), out);
    check_version(&metadata, at("version"), out);
    check_type(&metadata, at("type"), out);
    check_kube_version(&metadata, at("kubeVersion"), out);
    check_icon(&metadata, at("icon"), out);
    check_urls(&metadata, at("sources"), out);
    check_maintainers(&metadata, at("maintainers"), out);
    check_dependencies(&metadata, at("dependencies"), out);
    if metadata.deprecated {
        out.push(
            Finding::new(
                advice_severity(&metadata),
                CHART_FILE,
                "the chart is marked deprecated",
            )
            .at_line(at("deprecated")),
        );
    }
    Some(metadata)
}

/// Capstan's advice beyond Helm's rules is a warning for Capstan charts, but only information for
/// Go-template (Helm) charts, so `--strict` fails exactly where `helm lint --strict` does.
fn advice_severity(metadata: &ChartMetadata) -> Severity {
    if metadata.engine() == Ok(Engine::Go) {
        Severity::Info
    } else {
        Severity::Warning
    }
}

fn check_api_version(metadata: &ChartMetadata, line: Option<u64>, out: &mut Vec<Finding>) {
    match metadata.api_version.as_str() {
        "v2" => {}
        "v1" => out.push(
            Finding::new(
                advice_severity(metadata),
                CHART_FILE,
                "apiVersion v1 is the Helm 2 format; set apiVersion: v2 and move requirements.yaml into Chart.yaml dependencies",
            )
            .at_line(line),
        ),
        other => out.push(
            Finding::error(
                CHART_FILE,
                format!("apiVersion {other:?} is not a chart API version; use v2"),
            )
            .at_line(line),
        ),
    }
}

fn check_name(
    metadata: &ChartMetadata,
    dir_name: Option<&str>,
    line: Option<u64>,
    out: &mut Vec<Finding>,
) {
    if let Err(reason) = check_chart_name(&metadata.name) {
        out.push(
            Finding::error(
                CHART_FILE,
                format!(
                    "name {:?} is not a valid chart name: {reason}; use lowercase letters, digits and dashes",
                    metadata.name
                ),
            )
            .at_line(line),
        );
    }
    if let Some(dir_name) = dir_name
        && dir_name != metadata.name
    {
        out.push(
            Finding::error(
                CHART_FILE,
                format!(
                    "name {:?} differs from the directory name {dir_name:?}; rename one so they match",
                    metadata.name
                ),
            )
            .at_line(line),
        );
    }
}

fn check_version(metadata: &ChartMetadata, line: Option<u64>, out: &mut Vec<Finding>) {
    if let Err(err) = semver::Version::parse(&metadata.version) {
        out.push(
            Finding::error(
                CHART_FILE,
                format!(
                    "version {:?} is not SemVer 2 ({err}); use MAJOR.MINOR.PATCH, e.g. 0.1.0",
                    metadata.version
                ),
            )
            .at_line(line),
        );
    }
}

fn check_type(metadata: &ChartMetadata, line: Option<u64>, out: &mut Vec<Finding>) {
    if let Some(kind) = &metadata.chart_type
        && kind != "application"
        && kind != "library"
    {
        out.push(
            Finding::error(
                CHART_FILE,
                format!("type {kind:?} is unknown; use application or library"),
            )
            .at_line(line),
        );
    }
}

fn check_kube_version(metadata: &ChartMetadata, line: Option<u64>, out: &mut Vec<Finding>) {
    if let Some(constraint) = &metadata.kube_version
        && let Err(err) = Constraint::parse(constraint)
    {
        out.push(Finding::error(CHART_FILE, format!("kubeVersion: {err}")).at_line(line));
    }
}

fn is_web_url(text: &str) -> bool {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    rest.is_some_and(|host| !host.is_empty() && !host.contains(char::is_whitespace))
}

fn check_icon(metadata: &ChartMetadata, line: Option<u64>, out: &mut Vec<Finding>) {
    match &metadata.icon {
        None => out.push(Finding::info(
            CHART_FILE,
            "icon is recommended: an http(s) URL of an SVG or PNG shown by chart catalogues",
        )),
        Some(icon) if !is_web_url(icon) && !icon.starts_with("data:") => out.push(
            Finding::warning(
                CHART_FILE,
                format!("icon {icon:?} is not an http(s) or data: URL"),
            )
            .at_line(line),
        ),
        Some(_) => {}
    }
}

fn check_urls(metadata: &ChartMetadata, line: Option<u64>, out: &mut Vec<Finding>) {
    for source in metadata.sources.iter().filter(|s| !is_web_url(s)) {
        out.push(
            Finding::error(
                CHART_FILE,
                format!("sources entry {source:?} is not an http(s) URL"),
            )
            .at_line(line),
        );
    }
}

fn check_maintainers(metadata: &ChartMetadata, line: Option<u64>, out: &mut Vec<Finding>) {
    for (index, maintainer) in metadata.maintainers.iter().enumerate() {
        if maintainer.name.trim().is_empty() {
            out.push(
                Finding::error(CHART_FILE, format!("maintainers[{index}] has no name"))
                    .at_line(line),
            );
        }
        if let Some(email) = &maintainer.email
            && !email.contains('@')
        {
            out.push(
                Finding::error(
                    CHART_FILE,
                    format!("maintainers[{index}].email {email:?} is not an email address"),
                )
                .at_line(line),
            );
        }
        if let Some(url) = &maintainer.url
            && !is_web_url(url)
        {
            out.push(
                Finding::error(
                    CHART_FILE,
                    format!("maintainers[{index}].url {url:?} is not an http(s) URL"),
                )
                .at_line(line),
            );
        }
    }
}

const REPOSITORY_PREFIXES: &[&str] = &["https://", "http://", "oci://", "file://", "@", "alias:"];

fn check_dependencies(metadata: &ChartMetadata, line: Option<u64>, out: &mut Vec<Finding>) {
    let mut seen = BTreeSet::new();
    for (index, dependency) in metadata.dependencies.iter().enumerate() {
        let mut problem = |message: String| {
            out.push(
                Finding::error(CHART_FILE, format!("dependencies[{index}]: {message}"))
                    .at_line(line),
            );
        };
        if dependency.name.trim().is_empty() {
            problem("name is required".into());
        }
        if let Some(alias) = &dependency.alias
            && let Err(reason) = check_chart_name(alias)
        {
            problem(format!(
                "alias {alias:?} is not a valid chart name: {reason}"
            ));
        }
        match &dependency.version {
            None => {
                problem("version is required; give a version or a range such as \"^1.2.0\"".into())
            }
            Some(version) => {
                if let Err(err) = Constraint::parse(version) {
                    problem(err.to_string());
                }
            }
        }
        if let Some(repository) = &dependency.repository
            && !repository.is_empty()
            && !REPOSITORY_PREFIXES
                .iter()
                .any(|p| repository.starts_with(p))
        {
            problem(format!(
                "repository {repository:?} is not an http(s), oci:// or file:// URL, nor an @alias"
            ));
        }
        if !seen.insert(dependency.effective_name().to_string()) {
            problem(format!(
                "{:?} is declared twice; give one of them an alias",
                dependency.effective_name()
            ));
        }
    }
}
