//! Tests of the Go-template render path on charts built in memory. The byte-for-byte comparison
//! with the real `helm template` is the corpus test in `e2e/tests/helm_corpus.rs`; the helm
//! vectors from the Go oracle run in `chart/tests/helm_vectors.rs`.

use serde_json::json;

use super::*;
use crate::model::{ChartFile, ChartMetadata};

fn chart(name: &str, templates: &[(&str, &str)]) -> Chart {
    Chart {
        metadata: ChartMetadata {
            api_version: "v2".into(),
            name: name.into(),
            version: "1.2.3".into(),
            app_version: Some("4.5".into()),
            ..Default::default()
        },
        templates: templates
            .iter()
            .map(|(path, text)| ChartFile {
                path: format!("templates/{path}"),
                data: text.as_bytes().to_vec(),
            })
            .collect(),
        ..Default::default()
    }
}

fn values(value: serde_json::Value) -> Values {
    value.as_object().cloned().unwrap_or_default()
}

fn output(chart: &Chart, vals: serde_json::Value) -> String {
    let rendered = render(chart, &values(vals), &RenderOptions::default()).unwrap();
    rendered.helm_template_output(false, false).unwrap()
}

#[test]
fn prints_documents_in_install_order_with_sources() {
    let chart = chart(
        "app",
        &[
            (
                "deploy.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n",
            ),
            (
                "cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Chart.Name }}\ndata:\n  x: {{ .Values.x }}\n",
            ),
            ("_helpers.tpl", "{{ define \"x\" }}not rendered{{ end }}"),
        ],
    );
    assert_eq!(
        output(&chart, json!({"x": 1000000})),
        "---\n# Source: app/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  x: 1e+06\n---\n# Source: app/templates/deploy.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: release-name\n"
    );
}

#[test]
fn removes_no_value_and_reports_helm_errors() {
    let chart1 = chart(
        "app",
        &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a{{ .Values.missing }}\n",
        )],
    );
    assert!(output(&chart1, json!({})).contains("name: a\n"));
    let failing = chart(
        "app",
        &[("cm.yaml", "x: {{ required \"give x\" .Values.x }}\n")],
    );
    let err = render(&failing, &Values::new(), &RenderOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "execution error at (app/templates/cm.yaml:1:6): give x"
    );
    let broken = chart("app", &[("cm.yaml", "x: {{ .Values.x \n")]);
    let err = render(&broken, &Values::new(), &RenderOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "parse error at (app/templates/cm.yaml:2): unclosed action started at app/templates/cm.yaml:1"
    );
}

#[test]
fn hooks_follow_the_manifests_and_tests_can_be_skipped() {
    let chart = chart(
        "app",
        &[
            (
                "tests/t.yaml",
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: t\n  annotations:\n    \"helm.sh/hook\": test\n",
            ),
            (
                "job.yaml",
                "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: pre-install\n",
            ),
            (
                "cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
            ),
        ],
    );
    let rendered = render(&chart, &Values::new(), &RenderOptions::default()).unwrap();
    assert_eq!(rendered.manifests.len(), 1);
    assert_eq!(rendered.hooks.len(), 2);
    let all = rendered.helm_template_output(false, false).unwrap();
    assert_eq!(
        all,
        "---\n# Source: app/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n---\n# Source: app/templates/tests/t.yaml\napiVersion: v1\nkind: Pod\nmetadata:\n  name: t\n  annotations:\n    \"helm.sh/hook\": test\n---\n# Source: app/templates/job.yaml\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: pre-install\n"
    );
    let without_tests = rendered.helm_template_output(false, true).unwrap();
    assert!(!without_tests.contains("tests/t.yaml"));
}

#[test]
fn subcharts_see_their_values_and_parents_win_defines() {
    let mut parent = chart(
        "app",
        &[
            ("_h.tpl", "{{ define \"name\" }}parent{{ end }}"),
            (
                "cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ include \"name\" . }}\n",
            ),
        ],
    );
    let sub = chart(
        "db",
        &[
            ("_h.tpl", "{{ define \"name\" }}child{{ end }}"),
            (
                "cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.n }}-{{ .Values.global.g }}-{{ .Chart.IsRoot }}\ndata:\n  base: {{ .Template.BasePath }}\n",
            ),
        ],
    );
    parent.dependencies.push(sub);
    let out = output(
        &parent,
        json!({"db": {"n": "x", "global": {"g": "y"}}, "global": {"g": "y"}}),
    );
    assert!(out.contains("name: parent\n"), "{out}");
    assert!(
        out.contains("# Source: app/charts/db/templates/cm.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x-y-false\ndata:\n  base: app/charts/db/templates\n"),
        "{out}"
    );
}

#[test]
fn notes_are_rendered_but_not_printed() {
    let chart = chart("app", &[("NOTES.txt", "Installed {{ .Release.Name }}.\n")]);
    let rendered = render(&chart, &Values::new(), &RenderOptions::default()).unwrap();
    assert_eq!(rendered.notes.as_deref(), Some("Installed release-name.\n"));
    assert_eq!(rendered.helm_template_output(false, false).unwrap(), "\n");
}

#[test]
fn kube_versions_parse_as_kubernetes_does() {
    let parsed = parse_kube_version("v1.30.2-gke.100").unwrap();
    assert_eq!(
        (
            parsed.version.as_str(),
            parsed.major.as_str(),
            parsed.minor.as_str()
        ),
        ("v1.30.2", "1", "30")
    );
    assert_eq!(parse_kube_version("1.31").unwrap().version, "v1.31");
    assert!(parse_kube_version("1").is_none());
    assert!(parse_kube_version("01.2").is_none());
    assert!(parse_kube_version("latest").is_none());
}

#[test]
fn a_runaway_template_stops_with_a_budget_error() {
    let chart = chart(
        "app",
        &[(
            "loop.yaml",
            "{{ range until 100000 }}{{ range until 100000 }}x{{ end }}{{ end }}",
        )],
    );
    let started = std::time::Instant::now();
    let err = render(&chart, &Values::new(), &RenderOptions::default()).unwrap_err();
    assert!(matches!(err, RenderError::TooLong { .. }), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn an_empty_tpl_inside_tpl_renders_nothing() {
    let chart = chart(
        "app",
        &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  x: \"{{ tpl .Values.outer . }}\"\n",
        )],
    );
    let out = output(
        &chart,
        json!({"outer": "a{{ tpl .Values.inner . }}b", "inner": ""}),
    );
    assert!(out.ends_with("  x: \"ab\"\n"), "{out}");
}

#[test]
fn repeated_keys_keep_the_last_value() {
    let chart = chart(
        "app",
        &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels:\n    a: one\n    a: two\n",
        )],
    );
    let rendered = render(&chart, &Values::new(), &RenderOptions::default()).unwrap();
    assert_eq!(
        rendered.manifests[0].object["metadata"]["labels"]["a"],
        "two"
    );
}

/// Checked against `helm template`: a block scalar before a document's `---` keeps its line break
/// through `fromYaml`, as Bitnami's checksum annotations rely on.
#[test]
fn from_yaml_of_an_included_document_ending_in_a_separator() {
    let chart = chart(
        "fy",
        &[
            (
                "_x.tpl",
                "{{- define \"script\" -}}\ndata:\n  run.sh: |\n    echo hi\n---\n{{- end }}\n",
            ),
            (
                "cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  out: {{ include \"script\" . | fromYaml | toYaml | quote }}\n",
            ),
        ],
    );
    let out = output(&chart, json!({}));
    assert!(
        out.ends_with("  out: \"data:\\n  run.sh: |\\n    echo hi\"\n"),
        "{out}"
    );
}
