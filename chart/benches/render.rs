//! Renders the `capstan create` scaffold chart (loaded from disk, values resolved as `capstan
//! template` and the operator resolve them) and synthetic charts of 10 and 50 templates, each for
//! about a second, and prints renders per second. Run with
//! `cargo bench -p capstan-chart --bench render`.

use std::time::{Duration, Instant};

use capstan_chart::expand::{ExpandInput, expand};
use capstan_chart::load::load_dir;
use capstan_chart::model::{Chart, ChartFile, ChartMetadata, ENGINE_ANNOTATION, ENGINE_JINJA};
use capstan_chart::render::{RenderOptions, render};
use capstan_chart::values::Values;

const HELPERS: &str = r#"{% macro fullname() %}{{ release.name }}-{{ chart.name }}{% endmacro %}
{% macro labels() -%}
app.kubernetes.io/name: {{ chart.name }}
app.kubernetes.io/instance: {{ release.name }}
{%- endmacro %}
"#;

/// A deployment plus a service per template file, using macros, filters and loops like real
/// charts do.
fn workload_template(index: usize) -> String {
    format!(
        r#"{{% from "_helpers.tpl" import fullname, labels %}}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{{{ fullname() }}}}-{index}
  labels:
    {{{{- labels() | nindent(4) }}}}
spec:
  replicas: {{{{ values.replicas }}}}
  template:
    spec:
      containers:
{{%- for c in values.containers %}}
        - name: {{{{ c.name }}}}
          image: "{{{{ c.image }}}}:{{{{ c.tag | default(chart.app_version) }}}}"
          env: {{{{ c.env | to_json }}}}
{{%- endfor %}}
---
apiVersion: v1
kind: Service
metadata:
  name: {{{{ fullname() }}}}-{index}
spec:
  ports:
    - port: {{{{ values.port }}}}
"#
    )
}

fn chart_with(templates: usize) -> Chart {
    let mut metadata = ChartMetadata {
        api_version: "v2".into(),
        name: "bench".into(),
        version: "1.0.0".into(),
        app_version: Some("1.0".into()),
        ..Default::default()
    };
    metadata
        .annotations
        .insert(ENGINE_ANNOTATION.into(), ENGINE_JINJA.into());
    let mut files = vec![ChartFile {
        path: "templates/_helpers.tpl".into(),
        data: HELPERS.as_bytes().to_vec(),
    }];
    files.extend((0..templates).map(|i| ChartFile {
        path: format!("templates/workload-{i:02}.yaml"),
        data: workload_template(i).into_bytes(),
    }));
    Chart {
        metadata,
        templates: files,
        ..Default::default()
    }
}

fn values() -> Values {
    let containers: Vec<serde_json::Value> = (0..3)
        .map(|i| serde_json::json!({"name": format!("c{i}"), "image": "registry.example/app", "tag": "", "env": {"A": "1", "B": "2"}}))
        .collect();
    serde_json::json!({"replicas": 2, "port": 80, "containers": containers})
        .as_object()
        .cloned()
        .unwrap_or_default()
}

/// Renders per second of `render_once` over about a second, and the objects one render gives.
fn per_second(mut render_once: impl FnMut() -> usize) -> (f64, usize) {
    let started = Instant::now();
    let mut renders = 0u64;
    let mut objects = 0;
    while started.elapsed() < Duration::from_secs(1) {
        objects = render_once();
        renders += 1;
    }
    (renders as f64 / started.elapsed().as_secs_f64(), objects)
}

/// The scaffold as an author has it right after `capstan create web`, through [`expand`].
fn measure_scaffold() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    capstan_chart::scaffold::create(&dir.path().join("web"), None)
        .expect("the scaffold is written");
    let input = ExpandInput {
        chart: load_dir(dir.path().join("web")).expect("the scaffold loads"),
        user_values: Vec::new(),
        opts: RenderOptions::default(),
    };
    let (rate, objects) = per_second(|| {
        expand(&input)
            .expect("the scaffold renders")
            .manifests
            .len()
    });
    println!("scaffold ({objects} objects): {rate:>8.1} renders/s");
}

fn measure(templates: usize) {
    let chart = chart_with(templates);
    let values = values();
    let opts = RenderOptions::default();
    let (rate, objects) = per_second(|| {
        render(&chart, &values, &opts)
            .expect("the bench chart renders")
            .manifests
            .len()
    });
    println!("{templates:>3} templates ({objects} objects): {rate:>8.1} renders/s");
}

fn main() {
    measure_scaffold();
    measure(10);
    measure(50);
}
