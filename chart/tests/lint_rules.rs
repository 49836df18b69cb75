//! One test per lint rule, each against a fixture chart under `tests/fixtures/lint/`.

use capstan_chart::lint::{Finding, LintOptions, Severity, lint_path};
use std::path::PathBuf;

fn lint_fixture(name: &str) -> Vec<Finding> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/lint")
        .join(name);
    lint_path(&path, &LintOptions::default()).findings
}

/// Asserts that fixture `name` has exactly one finding of at least `Warning` severity, so the rule
/// fires alone, with the given severity, file and line; returns it for further checks.
fn expect_only(name: &str, severity: Severity, file: &str, line: Option<u64>) -> Finding {
    let problems: Vec<Finding> = lint_fixture(name)
        .into_iter()
        .filter(|f| f.severity >= Severity::Warning)
        .collect();
    assert_eq!(problems.len(), 1, "{name}: {problems:#?}");
    let finding = problems.into_iter().next().unwrap();
    assert_eq!(
        (finding.severity, finding.file.as_str(), finding.line),
        (severity, file, line),
        "{finding}"
    );
    finding
}

#[test]
fn good_chart_has_no_findings() {
    assert_eq!(lint_fixture("good"), Vec::<Finding>::new());
}

#[test]
fn unparsable_chart_yaml_is_an_error_with_its_line() {
    expect_only("unparsable", Severity::Error, "Chart.yaml", Some(3));
}

#[test]
fn missing_name_is_an_error() {
    let finding = expect_only("missing-name", Severity::Error, "Chart.yaml", None);
    assert!(finding.message.contains("name is required"), "{finding}");
}

#[test]
fn name_must_match_directory() {
    let finding = expect_only("name-mismatch", Severity::Error, "Chart.yaml", Some(2));
    assert!(finding.message.contains("\"name-mismatch\""), "{finding}");
}

#[test]
fn version_must_be_semver_2() {
    let finding = expect_only("bad-version", Severity::Error, "Chart.yaml", Some(3));
    assert!(finding.message.contains("SemVer 2"), "{finding}");
}

#[test]
fn api_version_v1_warns() {
    expect_only("api-v1", Severity::Warning, "Chart.yaml", Some(1));
}

#[test]
fn missing_icon_is_info_and_bad_icon_warns() {
    let infos = lint_fixture("no-icon");
    assert_eq!(infos.len(), 1, "{infos:#?}");
    assert_eq!(infos[0].severity, Severity::Info);
    expect_only("bad-icon", Severity::Warning, "Chart.yaml", Some(4));
}

#[test]
fn deprecated_chart_warns() {
    expect_only("deprecated", Severity::Warning, "Chart.yaml", Some(5));
}

#[test]
fn invalid_kube_version_constraint_is_an_error() {
    expect_only("bad-kube-version", Severity::Error, "Chart.yaml", Some(5));
}

#[test]
fn malformed_dependencies_are_errors() {
    let messages: Vec<String> = lint_fixture("bad-deps")
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.message)
        .collect();
    let expected = [
        "dependencies[0]: version is required",
        "dependencies[0]: repository \"ftp://example.com\"",
        "dependencies[1]: \"db\" is declared twice",
        "dependency \"db\" is declared in Chart.yaml but not under charts/",
    ];
    for wanted in expected {
        assert!(
            messages.iter().any(|m| m.contains(wanted)),
            "no {wanted:?} in {messages:#?}"
        );
    }
    assert_eq!(messages.len(), expected.len(), "{messages:#?}");
}

#[test]
fn undeclared_subchart_warns() {
    expect_only("undeclared-subchart", Severity::Warning, "charts/", None);
}

#[test]
fn missing_templates_warns() {
    expect_only("no-templates", Severity::Warning, "templates/", None);
}

#[test]
fn unparsable_values_is_an_error_with_its_line() {
    expect_only("bad-values", Severity::Error, "values.yaml", Some(2));
}

fn lint_fixture_for_kube(name: &str, kube_version: &str) -> Vec<Finding> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/lint")
        .join(name);
    let mut options = LintOptions::default();
    options.render.kube_version = kube_version.to_string();
    lint_path(&path, &options).findings
}

#[test]
fn removed_api_is_an_error_at_target_and_a_warning_before() {
    let removed = expect_only(
        "removed-api",
        Severity::Error,
        "templates/ingress.yaml",
        None,
    );
    assert!(
        removed.message.contains("removed in Kubernetes 1.22"),
        "{removed}"
    );
    let findings = lint_fixture_for_kube("removed-api", "v1.20.0");
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].severity, Severity::Warning);
    assert!(
        findings[0].message.contains("networking.k8s.io/v1"),
        "{}",
        findings[0]
    );
}

#[test]
fn invalid_label_value_is_an_error() {
    let finding = expect_only(
        "bad-label",
        Severity::Error,
        "templates/configmap.yaml",
        None,
    );
    assert!(
        finding.message.contains("metadata.labels.chart"),
        "{finding}"
    );
}

#[test]
fn go_chart_lints_like_helm_lint_with_required_and_fail_not_stopping() {
    assert_eq!(lint_fixture("go-chart"), Vec::<Finding>::new());
}

#[test]
fn go_chart_template_errors_use_helms_words() {
    let findings = lint_fixture("go-broken");
    let errors: Vec<String> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.to_string())
        .collect();
    assert_eq!(
        errors,
        [
            // `helm lint` prints exactly this line for the chart.
            "[ERROR] templates/: parse error at (go-broken/templates/broken.yaml:5): unclosed action started at go-broken/templates/broken.yaml:4",
            "[ERROR] templates/notes.md: file extension '.md' not valid. Valid extensions are .yaml, .yml, .tpl, or .txt",
        ],
        "{findings:#?}"
    );
}
