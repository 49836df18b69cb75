//! End-to-end tests of `render` on charts built in memory.

use std::time::Instant;

use serde_json::json;

use super::*;
use crate::model::{ChartFile, ChartMetadata, ENGINE_ANNOTATION};

fn chart(name: &str, templates: &[(&str, &str)]) -> Chart {
    let mut metadata = ChartMetadata {
        api_version: "v2".into(),
        name: name.into(),
        version: "1.2.3".into(),
        app_version: Some("4.5".into()),
        ..Default::default()
    };
    metadata
        .annotations
        .insert(ENGINE_ANNOTATION.into(), "jinja".into());
    Chart {
        metadata,
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

fn render_one(template: &str, vals: serde_json::Value) -> Result<Rendered, RenderError> {
    render(
        &chart("app", &[("x.yaml", template)]),
        &values(vals),
        &RenderOptions::default(),
    )
}

const CONFIG_MAP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-cfg\ndata:\n  v: {{ values.v | quote }}\n";

#[test]
fn renders_context_variables() {
    let template = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}\n  namespace: {{ release.namespace }}\ndata:\n  chart: {{ chart.name }}-{{ chart.version }}-{{ chart.app_version }}\n  rev: \"{{ release.revision }}\"\n  install: \"{{ release.is_install }}/{{ release.is_upgrade }}/{{ release.service }}\"\n  kube: \"{{ capabilities.kube_version.major }}.{{ capabilities.kube_version.minor }}\"\n  apps: \"{{ capabilities.api_versions.has('apps/v1') }}/{{ capabilities.api_versions.has('example.com/v1') }}/{{ 'batch/v1' in capabilities.api_versions }}\"\n  me: {{ template.name }}\n";
    let opts = RenderOptions {
        release_name: "web".into(),
        namespace: "prod".into(),
        revision: 3,
        is_install: false,
        kube_version: "v1.35.2".into(),
        api_versions: vec!["example.com/v1".into()],
    };
    let rendered = render(
        &chart("app", &[("x.yaml", template)]),
        &Values::new(),
        &opts,
    )
    .unwrap();
    let data = &rendered.manifests[0].object["data"];
    assert_eq!(data["chart"], "app-1.2.3-4.5");
    assert_eq!(data["rev"], "3");
    assert_eq!(data["install"], "false/true/Capstan");
    assert_eq!(data["kube"], "1.35");
    assert_eq!(data["apps"], "true/true/true");
    assert_eq!(data["me"], "app/templates/x.yaml");
    assert_eq!(rendered.manifests[0].namespace.as_deref(), Some("prod"));
}

#[test]
fn undefined_values_name_file_line_and_column() {
    let template = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ values.name }}\n  x: {{ values.image.tag }}\n";
    let err = render_one(template, json!({"name": "a", "image": {}})).unwrap_err();
    let message = err.to_string();
    println!("{message}");
    assert!(message.contains("app/templates/x.yaml:5:9"), "{message}");
    assert!(message.contains("values.image.tag"), "{message}");
    assert!(!message.contains('\n'), "one paragraph: {message}");
}

#[test]
fn errors_inside_macros_name_the_library_file() {
    let app = chart(
        "app",
        &[
            (
                "_helpers.tpl",
                "{% macro name() %}\n{{ values.missing }}\n{% endmacro %}",
            ),
            (
                "x.yaml",
                "{% from '_helpers.tpl' import name %}\nname: {{ name() }}\n",
            ),
        ],
    );
    let err = render(&app, &Values::new(), &RenderOptions::default()).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("app/templates/_helpers.tpl:2:4"),
        "{message}"
    );
    assert!(
        message.contains("while rendering app/templates/x.yaml"),
        "{message}"
    );
}

fn assert_runaway_stops(name: &str, template: &str) {
    let started = Instant::now();
    let err = render_one(template, json!({})).unwrap_err();
    println!("{name}: stopped after {:?}: {err}", started.elapsed());
    assert!(
        matches!(err, RenderError::TooLong { .. }),
        "{name}: expected TooLong, got {err}"
    );
    assert!(
        err.to_string()
            .starts_with("template ran too long: app/templates/x.yaml")
    );
}

#[test]
fn runaway_templates_stop_with_a_clear_error() {
    assert_runaway_stops(
        "endless loop",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    );
    assert_runaway_stops(
        "string doubling",
        "{% set ns = namespace(s='xx') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}",
    );
    assert_runaway_stops(
        "deep recursion",
        "{% macro down(n) %}{{ down(n + 1) }}{% endmacro %}{{ down(0) }}",
    );
    let started = Instant::now();
    let huge_range =
        render_one("{% for i in range(1000000000) %}x{% endfor %}", json!({})).unwrap_err();
    println!(
        "huge range: stopped after {:?}: {huge_range}",
        started.elapsed()
    );
    assert!(
        huge_range
            .to_string()
            .contains("range has too many elements"),
        "{huge_range}"
    );
    assert_runaway_stops(
        "exponential macro",
        "{% macro two(n) %}{% if n > 0 %}{{ two(n - 1) }}{{ two(n - 1) }}{% endif %}{% endmacro %}{{ two(40) }}",
    );
}

#[test]
fn runaway_nested_renders_stop_too() {
    let started = Instant::now();
    let app = chart(
        "app",
        &[
            (
                "_loop.tpl",
                "{% macro again() %}{{ include('again') }}{% endmacro %}",
            ),
            ("x.yaml", "{{ include('again') }}"),
        ],
    );
    let err = render(&app, &Values::new(), &RenderOptions::default()).unwrap_err();
    println!("self-include: {:?}: {err}", started.elapsed());
    assert!(err.to_string().contains("nested more than"), "{err}");

    let started = Instant::now();
    let err = render_one(
        "{% for i in range(1000) %}{{ tpl(\"{% for j in range(100000) %}{% endfor %}\") }}{% endfor %}",
        json!({}),
    )
    .unwrap_err();
    println!("tpl in a loop: {:?}: {err}", started.elapsed());
    assert!(matches!(err, RenderError::TooLong { .. }), "{err}");
}

#[test]
fn include_and_tpl_render_with_the_callers_context() {
    let app = chart(
        "app",
        &[
            (
                "_helpers.tpl",
                "{% macro fullname() %}{{ release.name }}-{{ chart.name }}{% endmacro %}\
                 {% macro labels(extra) %}app: {{ chart.name }}\nextra: {{ extra }}{% endmacro %}",
            ),
            (
                "cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ include('fullname') }}\n  labels:{{ include('labels', 'x') | nindent(4) }}\ndata:\n  greeting: {{ tpl(values.greeting) }}\n  kw: {{ include('labels', extra='k') | replace('\n', ' ') | quote }}\n",
            ),
        ],
    );
    let rendered = render(
        &app,
        &values(json!({"greeting": "hello {{ release.name }}"})),
        &RenderOptions::default(),
    )
    .unwrap();
    let object = &rendered.manifests[0].object;
    assert_eq!(object["metadata"]["name"], "release-name-app");
    assert_eq!(object["metadata"]["labels"]["extra"], "x");
    assert_eq!(object["data"]["greeting"], "hello release-name");
    assert_eq!(object["data"]["kw"], "app: app extra: k");
}

#[test]
fn orders_manifests_for_install_and_keeps_crds_first() {
    let mut app = chart(
        "app",
        &[
            (
                "a-deploy.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n",
            ),
            (
                "b-svc.yaml",
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns\n",
            ),
            (
                "c-widget.yaml",
                "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n",
            ),
            (
                "d-cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n",
            ),
        ],
    );
    app.crds.push(ChartFile {
        path: "crds/widget.yaml".into(),
        data: b"apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\n".to_vec(),
    });
    let rendered = render(&app, &Values::new(), &RenderOptions::default()).unwrap();
    let kinds: Vec<&str> = rendered.manifests.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["Namespace", "ConfigMap", "Service", "Deployment", "Widget"]
    );
    assert_eq!(rendered.crds[0].source, "app/crds/widget.yaml");
    let stream = rendered.to_yaml_stream();
    assert!(
        stream.starts_with(
            "---\n# Source: app/crds/widget.yaml\napiVersion: apiextensions.k8s.io/v1\n"
        )
    );
    assert_eq!(
        stream,
        render(&app, &Values::new(), &RenderOptions::default())
            .unwrap()
            .to_yaml_stream()
    );
}

#[test]
fn subcharts_see_their_own_values_chart_and_globals() {
    let sub_template = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ chart.name }}-{{ values.size }}\ndata:\n  region: {{ values.global.region }}\n  helper: {{ include('who') }}\n";
    let mut db = chart(
        "db",
        &[
            ("cm.yaml", sub_template),
            (
                "_h.tpl",
                "{% macro who() %}db-{{ values.size }}{% endmacro %}",
            ),
        ],
    );
    db.templates.push(ChartFile {
        path: "templates/NOTES.txt".into(),
        data: b"sub notes are not shown".to_vec(),
    });
    let mut app = chart(
        "app",
        &[
            ("cm.yaml", CONFIG_MAP),
            ("_h.tpl", "{% macro who() %}app{% endmacro %}"),
            (
                "NOTES.txt",
                "Installed {{ release.name }} in {{ values.global.region }}.\n",
            ),
        ],
    );
    app.dependencies.push(db);
    let vals = values(json!({"v": "x", "global": {"region": "eu"}, "db": {"size": 3}}));
    let rendered = render(&app, &vals, &RenderOptions::default()).unwrap();
    let sub = rendered
        .manifests
        .iter()
        .find(|m| m.source == "app/charts/db/templates/cm.yaml")
        .unwrap();
    assert_eq!(sub.name, "db-3");
    assert_eq!(sub.object["data"]["region"], "eu");
    assert_eq!(sub.object["data"]["helper"], "db-3");
    assert_eq!(
        rendered.notes.as_deref(),
        Some("Installed release-name in eu.\n")
    );
    assert_eq!(rendered.manifests.len(), 2, "library files render nothing");
}

#[test]
fn library_charts_render_nothing_but_share_macros() {
    let mut common = chart(
        "common",
        &[
            (
                "_labels.tpl",
                "{% macro selector_labels() %}app.kubernetes.io/name: {{ chart.name }}{% endmacro %}",
            ),
            ("never.yaml", "this: {{ is not rendered"),
        ],
    );
    common.metadata.chart_type = Some("library".into());
    common.templates.retain(|t| !t.path.ends_with("never.yaml"));
    common.templates.push(ChartFile {
        path: "templates/plain.yaml".into(),
        data: b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-library\n".to_vec(),
    });
    let mut app = chart(
        "app",
        &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels:\n    {{ include('selector_labels') }}\n",
        )],
    );
    app.dependencies.push(common);
    let rendered = render(&app, &Values::new(), &RenderOptions::default()).unwrap();
    assert_eq!(rendered.manifests.len(), 1);
    assert_eq!(
        rendered.manifests[0].object["metadata"]["labels"]["app.kubernetes.io/name"],
        "app"
    );
}

#[test]
fn a_chart_without_the_annotation_renders_as_go_templates() {
    let mut helm = chart(
        "legacy",
        &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n",
        )],
    );
    helm.metadata.annotations.clear();
    let rendered = render(&helm, &Values::new(), &RenderOptions::default()).unwrap();
    assert_eq!(rendered.manifests[0].name, "release-name");
    assert!(rendered.helm.is_some());
}

#[test]
fn files_are_readable_from_templates() {
    let mut app = chart(
        "app",
        &[(
            "cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: files\ndata:\n  one: {{ files.get('conf/a.ini') | quote }}\n  lines: \"{{ files.lines('conf/a.ini') | length }}\"\n  exists: \"{{ files.exists('nope') }}\"\n{{ files.glob('conf/*.ini').as_config() | indent(2) }}\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:{{ files.glob('conf/*').as_secrets() | nindent(2) }}\n",
        )],
    );
    for (path, text) in [
        ("conf/a.ini", "k=1\nj=2\n"),
        ("conf/b.ini", "x=y\n"),
        ("README.md", "hi"),
    ] {
        app.files.push(ChartFile {
            path: path.into(),
            data: text.as_bytes().to_vec(),
        });
    }
    let rendered = render(&app, &Values::new(), &RenderOptions::default()).unwrap();
    let cm = rendered
        .manifests
        .iter()
        .find(|m| m.kind == "ConfigMap")
        .unwrap();
    assert_eq!(cm.object["data"]["one"], "k=1\nj=2\n");
    assert_eq!(cm.object["data"]["lines"], "2");
    assert_eq!(cm.object["data"]["exists"], "false");
    assert_eq!(cm.object["data"]["b.ini"], "x=y\n");
    let secret = rendered
        .manifests
        .iter()
        .find(|m| m.kind == "Secret")
        .unwrap();
    assert_eq!(secret.object["data"]["b.ini"], "eD15Cg==");
}

#[test]
fn missing_files_read_as_empty_like_helm() {
    // Helm's `.Files.Get` of a missing file is "", `.GetBytes` is empty and `.Lines` has no lines.
    let rendered = render_one(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: missing\ndata:\n  get: {{ files.get('nope.txt') | quote }}\n  text: {{ files.as_text('nope.txt') | quote }}\n  bytes: \"{{ files.as_bytes('nope.txt') | length }}\"\n  lines: \"{{ files.lines('nope.txt') | length }}\"\n  fallback: {{ files.get('nope.txt') | default('none') | quote }}\n",
        json!({}),
    )
    .unwrap();
    let object = &rendered.manifests[0].object;
    assert_eq!(object["data"]["get"], "");
    assert_eq!(object["data"]["text"], "");
    assert_eq!(object["data"]["bytes"], "0");
    assert_eq!(object["data"]["lines"], "0");
    assert_eq!(object["data"]["fallback"], "none");
}

#[test]
fn invalid_objects_and_yaml_are_reported_with_their_file() {
    let err = render_one(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Not_Valid\n",
        json!({}),
    )
    .unwrap_err();
    assert!(matches!(err, RenderError::InvalidObject { .. }), "{err}");
    assert!(
        err.to_string().contains("app/templates/x.yaml: document 1"),
        "{err}"
    );
    let err = render_one("a: b\n  c: d: e\n", json!({})).unwrap_err();
    assert!(matches!(err, RenderError::Yaml { .. }), "{err}");
}

#[test]
fn lint_api_reports_every_file() {
    let app = chart(
        "app",
        &[
            (
                "good.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n",
            ),
            ("bad.yaml", "name: {{ values.nope }}\n"),
            ("_broken.tpl", "{% macro x( %}"),
        ],
    );
    let outputs = render_template_files(&app, &Values::new(), &RenderOptions::default()).unwrap();
    let failed: Vec<&str> = outputs
        .iter()
        .filter(|o| o.result.is_err())
        .map(|o| o.source.as_str())
        .collect();
    assert_eq!(
        failed,
        ["app/templates/bad.yaml", "app/templates/_broken.tpl"]
    );
    let good = outputs
        .iter()
        .find(|o| o.source.ends_with("good.yaml"))
        .unwrap();
    assert_eq!(good.result.as_ref().unwrap().manifests[0].name, "ok");
}

#[test]
fn rejects_bad_kube_version() {
    let opts = RenderOptions {
        kube_version: "latest".into(),
        ..Default::default()
    };
    let err = render(&chart("app", &[]), &Values::new(), &opts).unwrap_err();
    assert!(err.to_string().contains("kube_version"), "{err}");
}
