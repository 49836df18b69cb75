//! Offline checks of ChartRepository and ChartDeployment manifests, for `capstan lint` and for
//! `capstan write` (which checks what it prints).
//!
//! Each Capstan document of a YAML stream is checked against the CRD's structural schema (see
//! [`crate::schema`]), then against the rules the apiserver enforces with CEL and those the
//! operator needs (Go durations, names), in Rust. Every problem is reported with the document
//! number, the line and the field path, and all of them are reported at once. Documents of other
//! API groups are ignored, so a whole GitOps directory can be checked.

use jsonschema::Validator;
use serde::Deserialize;
use serde_json::Value;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use crate::located::{LocatedDocument, escape_pointer, parse_documents};
use crate::{ChartDeployment, ChartRepository, GROUP, VERSION};

/// One problem in one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based number of the document in the stream.
    pub document: usize,
    /// 1-based line of the field (or of the nearest enclosing one that exists).
    pub line: u64,
    /// `ChartDeployment web`, when the document got that far.
    pub resource: Option<String>,
    /// Field path (`spec.chart.repository.name`, `spec.valuesFrom[0].kind`); empty for the
    /// document as a whole.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "document {}", self.document)?;
        if let Some(resource) = &self.resource {
            write!(f, " ({resource})")?;
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// The outcome of checking one YAML stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Number of Capstan documents found (valid or not).
    pub checked: usize,
    pub problems: Vec<Problem>,
}

impl Report {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks every ChartRepository and ChartDeployment in a (multi-document) YAML stream.
pub fn check(yaml: &str) -> Report {
    let documents = match parse_documents(yaml) {
        Ok(documents) => documents,
        Err(error) => {
            let line = error.location().map_or(1, |l| l.line());
            let message = error.without_snippet().to_string();
            let message = message.strip_prefix("error: ").unwrap_or(&message);
            return Report {
                checked: 0,
                problems: vec![Problem {
                    document: document_at_line(yaml, line),
                    line,
                    resource: None,
                    path: String::new(),
                    message: format!("not valid YAML: {message}"),
                }],
            };
        }
    };
    let mut report = Report::default();
    for document in documents.iter().flatten() {
        let number = document_at_line(yaml, document.line);
        if check_document(number, document, &mut report.problems) {
            report.checked += 1;
        }
    }
    report
}

/// The 1-based document number of `line`: documents are separated by `---` lines, and a `---`
/// before any content starts the first document rather than ending an empty one.
fn document_at_line(yaml: &str, line: u64) -> usize {
    let mut document = 1;
    let mut content = false;
    for text in yaml.lines().take(line.saturating_sub(1) as usize) {
        if text.starts_with("---") {
            if content {
                document += 1;
            }
            content = true;
        } else if !text.trim().is_empty() && !text.trim_start().starts_with('#') {
            content = true;
        }
    }
    document
}

/// The header every Kubernetes object has.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct TypeHeader {
    api_version: Value,
    kind: Value,
}

/// Checks one document; returns whether it was a Capstan document.
fn check_document(number: usize, document: &LocatedDocument, out: &mut Vec<Problem>) -> bool {
    let header = TypeHeader::deserialize(&document.value).unwrap_or_default();
    let Some(api_version) = header.api_version.as_str() else {
        return false;
    };
    let Some(version) = api_version.strip_prefix(&format!("{GROUP}/")) else {
        return false;
    };
    let kind = header.kind.as_str().unwrap_or_default();
    let name = document.value["metadata"]["name"].as_str();
    let resource = Some(format!("{kind} {}", name.unwrap_or("<unnamed>")));
    let mut problem = |pointer: &str, message: String| {
        out.push(Problem {
            document: number,
            line: document.line_of(pointer),
            resource: resource.clone(),
            path: display_path(pointer),
            message,
        })
    };
    if version != VERSION {
        problem(
            "/apiVersion",
            format!("{api_version} is not served; use {GROUP}/{VERSION}"),
        );
        return true;
    }
    let validator = match kind {
        "ChartRepository" => repository_validator(),
        "ChartDeployment" => deployment_validator(),
        _ => {
            problem(
                "/kind",
                format!("unknown kind {kind:?}; {GROUP} has ChartRepository and ChartDeployment"),
            );
            return true;
        }
    };
    for (pointer, message) in check_metadata(&document.value["metadata"]) {
        problem(&pointer, message);
    }
    let mut schema_ok = true;
    for error in validator.iter_errors(&document.value) {
        schema_ok = false;
        for (pointer, message) in describe(&error) {
            problem(&pointer, message);
        }
    }
    if !schema_ok {
        return true;
    }
    let mut durations_ok = true;
    for pointer in ["/spec/interval", "/spec/timeout"] {
        if let Some(Value::String(text)) = document.value.pointer(pointer)
            && let Some((pointer, message)) = check_duration(text, pointer)
        {
            durations_ok = false;
            problem(&pointer, message);
        }
    }
    if !durations_ok {
        return true;
    }
    let rules = match kind {
        "ChartRepository" => serde_json::from_value::<ChartRepository>(document.value.clone())
            .map(|repository| repository_rules(&repository)),
        _ => serde_json::from_value::<ChartDeployment>(document.value.clone())
            .map(|deployment| deployment_rules(&deployment)),
    };
    match rules {
        Ok(problems) => {
            for (pointer, message) in problems {
                problem(&pointer, message);
            }
        }
        Err(error) => problem("", error.to_string()),
    }
    true
}

fn repository_validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| build_validator(crate::schema::repository_schema()))
}

fn deployment_validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| build_validator(crate::schema::deployment_schema()))
}

fn build_validator(schema: &Value) -> Validator {
    jsonschema::options()
        .should_validate_formats(false)
        .build(schema)
        .expect("the CRD schema is valid JSON Schema")
}

/// What the apiserver checks of `metadata` for every object.
fn check_metadata(metadata: &Value) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    match metadata.get("name") {
        None | Some(Value::Null) => {
            problems.push(("/metadata".into(), "metadata.name is required".into()))
        }
        Some(Value::String(name)) => {
            if let Err(reason) = check_dns_subdomain(name) {
                problems.push(("/metadata/name".into(), reason));
            }
        }
        Some(_) => problems.push(("/metadata/name".into(), "expected a string".into())),
    }
    if let Some(namespace) = metadata.get("namespace") {
        match namespace.as_str() {
            Some(namespace) => {
                if let Err(reason) = check_dns_label(namespace) {
                    problems.push(("/metadata/namespace".into(), reason));
                }
            }
            None => problems.push(("/metadata/namespace".into(), "expected a string".into())),
        }
    }
    problems
}

/// A DNS-1123 subdomain, as object names must be: at most 253 characters of lowercase
/// alphanumerics, `-` and `.`, starting and ending with an alphanumeric.
pub fn check_dns_subdomain(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|part| is_dns_label(part, 253));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid name: use at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
        ))
    }
}

/// A DNS-1123 label, as namespaces must be: at most 63 characters of lowercase alphanumerics and
/// `-`, starting and ending with an alphanumeric.
pub fn check_dns_label(name: &str) -> Result<(), String> {
    if is_dns_label(name, 63) {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid namespace: use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit"
        ))
    }
}

fn is_dns_label(label: &str, max: usize) -> bool {
    let bytes = label.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= max
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// A schema violation as (JSON pointer of the field, message), one per field concerned.
fn describe(error: &jsonschema::ValidationError<'_>) -> Vec<(String, String)> {
    use jsonschema::error::{TypeKind, ValidationErrorKind};
    let pointer = error.instance_path().as_str().to_string();
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
            .iter()
            .map(|field| {
                (
                    format!("{pointer}/{}", escape_pointer(field)),
                    "unknown field (check its spelling; `kubectl explain` lists the fields)"
                        .to_string(),
                )
            })
            .collect(),
        ValidationErrorKind::Required { property } => {
            let field = property.as_str().unwrap_or_default();
            vec![(
                format!("{pointer}/{}", escape_pointer(field)),
                "required field is missing".into(),
            )]
        }
        ValidationErrorKind::Type { kind } => {
            let expected: Vec<String> = match kind {
                TypeKind::Single(kind) => vec![kind.to_string()],
                TypeKind::Multiple(kinds) => kinds
                    .into_iter()
                    .map(|kind| kind.to_string())
                    .filter(|kind| kind != "null")
                    .collect(),
            };
            vec![(
                pointer,
                format!(
                    "expected {}, got {}",
                    expected.join(" or "),
                    found(error.instance())
                ),
            )]
        }
        _ => vec![(pointer, error.to_string())],
    }
}

/// The type and (for short scalars) the value found, as in `string "three"`.
fn found(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) if s.chars().count() <= 40 => format!("string {s:?}"),
        Value::String(_) => "a long string".into(),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

/// `spec.valuesFrom[0].key` from `/spec/valuesFrom/0/key`.
fn display_path(pointer: &str) -> String {
    let mut path = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            path.push_str(&format!("[{segment}]"));
        } else {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&segment);
        }
    }
    path
}

/// A Go duration (`90s`, `10m`, `1h30m`), as the operator reads `interval` and `timeout`.
fn check_duration(text: &str, pointer: &str) -> Option<(String, String)> {
    crate::Duration::from_str(text).err().map(|error| {
        (
            pointer.to_string(),
            format!(
                "{text:?} is not a duration ({error}); write it as Go does, e.g. 90s, 10m or 1h30m"
            ),
        )
    })
}

/// ChartRepository's CEL rules, and the fields the operator parses, in Rust.
fn repository_rules(repository: &ChartRepository) -> Vec<(String, String)> {
    let spec = &repository.spec;
    let mut problems = Vec::new();
    if !["https://", "http://", "s3://", "oci://"]
        .iter()
        .any(|scheme| spec.url.starts_with(scheme))
    {
        problems.push((
            "/spec/url".into(),
            format!(
                "{:?} must start with https://, http://, s3:// or oci://",
                spec.url
            ),
        ));
    }
    let s3_url = spec.url.starts_with("s3://");
    if let Some(s3) = &spec.s3 {
        if !s3_url {
            problems.push((
                "/spec/s3".into(),
                format!("only for s3:// URLs (url is {:?})", spec.url),
            ));
        }
        if let Some(endpoint) = &s3.endpoint
            && !(endpoint.starts_with("https://") || endpoint.starts_with("http://"))
        {
            problems.push((
                "/spec/s3/endpoint".into(),
                format!("{endpoint:?} must start with https:// or http://"),
            ));
        }
    }
    if s3_url && spec.connection.secret_ref.is_none() {
        problems.push((
            "/spec/secretRef".into(),
            "required for an s3:// repository: a Secret with accessKeyID and secretAccessKey"
                .into(),
        ));
    }
    // Neither has an effect on s3:// (keys only sign requests to the bucket; the endpoint's
    // scheme decides HTTP or HTTPS), so setting one is a misunderstanding worth saying.
    if s3_url {
        for (set, field) in [
            (spec.pass_credentials, "passCredentials"),
            (spec.connection.plain_http, "plainHttp"),
        ] {
            if set {
                problems.push((
                    format!("/spec/{field}"),
                    "has no effect on s3:// repositories: the keys only sign requests to the \
                     bucket, and an http:// s3.endpoint gives plain HTTP"
                        .into(),
                ));
            }
        }
    }
    problems.extend(policy_rules(
        spec.connection.verify.as_ref(),
        "/spec/verify",
    ));
    problems
}

fn policy_rules(
    policy: Option<&crate::VerificationPolicy>,
    pointer: &str,
) -> Vec<(String, String)> {
    match policy {
        Some(policy)
            if policy.mode != crate::VerificationMode::Ignore
                && policy.keyring_secret_ref.is_none() =>
        {
            vec![(
                format!("{pointer}/keyringSecretRef"),
                format!("required unless mode is Ignore (mode is {:?})", policy.mode),
            )]
        }
        _ => Vec::new(),
    }
}

/// ChartDeployment's CEL rules, and the fields the operator parses, in Rust.
fn deployment_rules(deployment: &ChartDeployment) -> Vec<(String, String)> {
    let spec = &deployment.spec;
    let chart = &spec.chart;
    let mut problems = Vec::new();
    let sources = [
        chart.repository.is_some(),
        chart.package.is_some(),
        chart.oci.is_some(),
    ];
    if sources.iter().filter(|set| **set).count() != 1 {
        problems.push((
            "/spec/chart".into(),
            "set exactly one of repository, package or oci".into(),
        ));
    }
    if let Some(package) = &chart.package {
        if package.config_map_ref.is_some() == package.secret_ref.is_some() {
            problems.push((
                "/spec/chart/package".into(),
                "set exactly one of configMapRef or secretRef".into(),
            ));
        }
        problems.extend(policy_rules(
            package.verify.as_ref(),
            "/spec/chart/package/verify",
        ));
    }
    if let Some(oci) = &chart.oci
        && !oci.reference.starts_with("oci://")
    {
        problems.push((
            "/spec/chart/oci/reference".into(),
            format!("{:?} must start with oci://", oci.reference),
        ));
    }
    if let Some(namespace) = &spec.target_namespace
        && let Err(reason) = check_dns_label(namespace)
    {
        problems.push(("/spec/targetNamespace".into(), reason));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPOSITORY: &str = "apiVersion: capstan.dev/v1alpha1
kind: ChartRepository
metadata: {name: charts}
spec: {url: 'https://charts.example.com', interval: 5m}
";

    fn problems(yaml: &str) -> Vec<String> {
        check(yaml)
            .problems
            .iter()
            .map(|p| format!("{}: {p}", p.line))
            .collect()
    }

    #[test]
    fn accepts_valid_resources_and_ignores_other_kinds() {
        let yaml = format!(
            "{REPOSITORY}---
apiVersion: v1
kind: ConfigMap
metadata: {{name: x}}
data: {{unknown: fields are fine here}}
---
apiVersion: capstan.dev/v1alpha1
kind: ChartDeployment
metadata: {{name: web, namespace: team-a, labels: {{a: b}}}}
spec:
  chart: {{repository: {{repositoryRef: {{name: charts}}, name: web, version: ^1}}}}
  values: {{replicas: 2, nested: {{any: [1, 2], none: null}}}}
  valuesFrom: [{{kind: Secret, name: extra, optional: true}}]
  interval: 1h30m
"
        );
        assert_eq!(
            check(&yaml),
            Report {
                checked: 2,
                problems: vec![]
            }
        );
    }

    #[test]
    fn rejects_two_chart_sources_naming_document_line_and_field() {
        let yaml = format!(
            "{REPOSITORY}---
apiVersion: capstan.dev/v1alpha1
kind: ChartDeployment
metadata: {{name: web}}
spec:
  chart:
    repository: {{repositoryRef: {{name: charts}}, name: web}}
    package: {{configMapRef: {{name: web-package}}}}
"
        );
        assert_eq!(
            problems(&yaml),
            [
                "10: document 2 (ChartDeployment web): spec.chart: set exactly one of repository, package or oci"
            ]
        );
    }

    #[test]
    fn schema_violations_name_every_field_with_its_line() {
        let yaml = "apiVersion: capstan.dev/v1alpha1
kind: ChartDeployment
metadata:
  name: web
spec:
  chart:
    repository:
      repositoryRef: {name: charts}
      nmae: web
  valuesFrom:
  - kind: Map
    name: 3
  suspend: 'yes'
";
        let found = problems(yaml);
        for expected in [
            "9: document 1 (ChartDeployment web): spec.chart.repository.nmae: unknown field",
            "7: document 1 (ChartDeployment web): spec.chart.repository.name: required field is missing",
            "11: document 1 (ChartDeployment web): spec.valuesFrom[0].kind: ",
            "12: document 1 (ChartDeployment web): spec.valuesFrom[0].name: expected string, got number 3",
            "13: document 1 (ChartDeployment web): spec.suspend: expected boolean, got string \"yes\"",
        ] {
            assert!(
                found.iter().any(|p| p.starts_with(expected)),
                "{expected:?} not in {found:#?}"
            );
        }
        assert_eq!(found.len(), 5, "{found:#?}");
    }

    #[test]
    fn rejects_bad_urls_durations_names_and_missing_keyrings() {
        let bad_url = REPOSITORY.replace("https://", "ftp://");
        assert_eq!(
            problems(&bad_url),
            [
                "4: document 1 (ChartRepository charts): spec.url: \"ftp://charts.example.com\" must start with https://, http://, s3:// or oci://"
            ]
        );
        let s3_without_keys = REPOSITORY.replace(
            "url: 'https://charts.example.com'",
            "url: 's3://charts', s3: {endpoint: 'minio:9000'}",
        );
        assert_eq!(
            problems(&s3_without_keys),
            [
                "4: document 1 (ChartRepository charts): spec.s3.endpoint: \"minio:9000\" must start with https:// or http://",
                "4: document 1 (ChartRepository charts): spec.secretRef: required for an s3:// repository: a Secret with accessKeyID and secretAccessKey",
            ]
        );
        let s3_on_http = REPOSITORY.replace("interval: 5m", "s3: {region: eu-west-1}");
        assert_eq!(
            problems(&s3_on_http),
            [
                "4: document 1 (ChartRepository charts): spec.s3: only for s3:// URLs (url is \"https://charts.example.com\")"
            ]
        );
        let s3 = REPOSITORY.replace(
            "url: 'https://charts.example.com'",
            "url: 's3://charts/stable', secretRef: {name: keys}, s3: {endpoint: 'http://10.0.0.1:9000', pathStyle: true}",
        );
        assert!(problems(&s3).is_empty(), "{:?}", problems(&s3));
        let s3_with_http_flags = REPOSITORY.replace(
            "url: 'https://charts.example.com'",
            "url: 's3://charts', secretRef: {name: keys}, passCredentials: true, plainHttp: true",
        );
        assert_eq!(
            problems(&s3_with_http_flags),
            [
                "4: document 1 (ChartRepository charts): spec.passCredentials: has no effect on s3:// repositories: the keys only sign requests to the bucket, and an http:// s3.endpoint gives plain HTTP",
                "4: document 1 (ChartRepository charts): spec.plainHttp: has no effect on s3:// repositories: the keys only sign requests to the bucket, and an http:// s3.endpoint gives plain HTTP",
            ]
        );
        let bad_interval = REPOSITORY.replace("5m", "soon");
        let found = problems(&bad_interval);
        assert_eq!(found.len(), 1);
        assert!(
            found[0].starts_with(
                "4: document 1 (ChartRepository charts): spec.interval: \"soon\" is not a duration"
            ),
            "{found:?}"
        );
        let no_keyring = REPOSITORY.replace("interval: 5m", "verify: {mode: Required}");
        assert_eq!(
            problems(&no_keyring),
            [
                "4: document 1 (ChartRepository charts): spec.verify.keyringSecretRef: required unless mode is Ignore (mode is Required)"
            ]
        );
        let bad_name = REPOSITORY.replace("name: charts", "name: Charts_1");
        let found = problems(&bad_name);
        assert!(
            found[0].starts_with("3: document 1 (ChartRepository Charts_1): metadata.name: \"Charts_1\" is not a valid name"),
            "{found:?}"
        );
        let no_name = REPOSITORY.replace("{name: charts}", "{}");
        assert_eq!(
            problems(&no_name),
            ["3: document 1 (ChartRepository <unnamed>): metadata: metadata.name is required"]
        );
    }

    #[test]
    fn rejects_unknown_versions_and_kinds() {
        let yaml = REPOSITORY.replace("v1alpha1", "v9");
        assert_eq!(
            problems(&yaml),
            [
                "1: document 1 (ChartRepository charts): apiVersion: capstan.dev/v9 is not served; use capstan.dev/v1alpha1"
            ]
        );
        let yaml = REPOSITORY.replace("kind: ChartRepository", "kind: ChartRepo");
        assert_eq!(check(&yaml).problems[0].path, "kind");
    }

    #[test]
    fn yaml_errors_name_the_document_and_line() {
        let yaml = format!("{REPOSITORY}---\napiVersion: capstan.dev/v1alpha1\nkind: [unclosed\n");
        let report = check(&yaml);
        assert_eq!(report.problems.len(), 1);
        let problem = &report.problems[0];
        assert_eq!(problem.document, 2, "{problem}");
        assert!(problem.line >= 7, "{problem:?}");
        assert!(problem.message.starts_with("not valid YAML"), "{problem}");
    }

    #[test]
    fn empty_documents_keep_their_numbers() {
        let yaml = format!("---\n---\n{}", REPOSITORY.replace("https://", "ftp://"));
        let report = check(&yaml);
        assert_eq!(report.checked, 1);
        assert_eq!(report.problems[0].document, 2);
    }
}
