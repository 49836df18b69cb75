//! Resolving a chart's values as Helm does: defaults, user layers, globals, aliases, conditions,
//! tags, import-values and schemas.

use capstan_chart::model::{Chart, ChartMetadata, Dependency};
use capstan_chart::values::{SetKind, Values, ValuesError, apply_set, parse_values_file, resolve};
use serde_json::{Value, json};

fn chart(name: &str, values: &str) -> Chart {
    Chart {
        metadata: ChartMetadata {
            api_version: "v2".into(),
            name: name.into(),
            version: "1.0.0".into(),
            ..Default::default()
        },
        values: parse_values_file(&format!("{name}/values.yaml"), values.as_bytes()).unwrap(),
        ..Default::default()
    }
}

fn dependency(name: &str) -> Dependency {
    Dependency {
        name: name.into(),
        version: Some("^1.0.0".into()),
        ..Default::default()
    }
}

fn with(mut parent: Chart, dependencies: Vec<Dependency>, subcharts: Vec<Chart>) -> Chart {
    parent.metadata.dependencies = dependencies;
    parent.dependencies = subcharts;
    parent
}

fn user(yaml: &str) -> Values {
    parse_values_file("user.yaml", yaml.as_bytes()).unwrap()
}

fn names(chart: &Chart) -> Vec<&str> {
    chart.dependencies.iter().map(Chart::name).collect()
}

#[test]
fn defaults_then_user_layers_in_order_with_null_deleting_a_default() {
    let parent = with(
        chart("app", "replicas: 1\nsub:\n  port: 80\n"),
        vec![dependency("sub")],
        vec![chart("sub", "port: 8080\nimage: nginx\ndebug: true\n")],
    );
    let mut set = Values::new();
    apply_set(&mut set, "sub.debug=null,replicas=3", SetKind::Typed).unwrap();
    let (_, values) = resolve(&parent, &[user("replicas: 2\nextra: x\n"), set]).unwrap();
    assert_eq!(
        Value::Object(values),
        json!({
            "replicas": 3,
            "extra": "x",
            "sub": {"port": 80, "image": "nginx", "global": {}},
        })
    );
}

#[test]
fn globals_are_copied_down_and_parent_globals_win() {
    let grandchild = chart("leaf", "global:\n  own: leaf\n");
    let sub = with(
        chart(
            "sub",
            "global:\n  env: dev\n  labels:\n    tier: backend\n  own: 1\n",
        ),
        vec![dependency("leaf")],
        vec![grandchild],
    );
    let parent = with(
        chart("app", "global:\n  env: staging\n  labels:\n    team: a\n"),
        vec![dependency("sub")],
        vec![sub],
    );
    let (_, values) = resolve(&parent, &[user("global:\n  env: prod\n")]).unwrap();
    let sub_global = &values["sub"]["global"];
    assert_eq!(
        sub_global,
        &json!({"env": "prod", "labels": {"team": "a", "tier": "backend"}, "own": 1})
    );
    assert_eq!(
        values["sub"]["leaf"]["global"],
        json!({"env": "prod", "labels": {"team": "a", "tier": "backend"}, "own": 1})
    );
}

#[test]
fn aliases_rename_subcharts_and_their_values() {
    let first = Dependency {
        alias: Some("primary".into()),
        ..dependency("db")
    };
    let second = Dependency {
        alias: Some("replica".into()),
        condition: Some("replica.enabled".into()),
        ..dependency("db")
    };
    let parent = with(
        chart("app", "primary:\n  role: main\n"),
        vec![first, second],
        vec![chart("db", "role: any\nenabled: true\n")],
    );
    let (resolved, values) = resolve(&parent, &[user("replica:\n  enabled: false\n")]).unwrap();
    assert_eq!(names(&resolved), ["primary"]);
    assert_eq!(values["primary"]["role"], json!("main"));
    assert!(!values.contains_key("replica") || values["replica"]["role"].is_null());
    assert_eq!(resolved.metadata.dependencies.len(), 1);
    assert_eq!(resolved.metadata.dependencies[0].name, "primary");
}

#[test]
fn the_first_condition_that_is_a_boolean_decides() {
    let dep = Dependency {
        condition: Some("sub.missing,sub.notBool,sub.enabled,global.subEnabled".into()),
        ..dependency("sub")
    };
    let parent = with(
        chart(
            "app",
            "sub:\n  notBool: yes-please\n  enabled: false\nglobal:\n  subEnabled: true\n",
        ),
        vec![dep],
        vec![chart("sub", "")],
    );
    let (resolved, _) = resolve(&parent, &[]).unwrap();
    assert!(resolved.dependencies.is_empty());
    let (resolved, values) = resolve(&parent, &[user("sub:\n  enabled: true\n")]).unwrap();
    assert_eq!(names(&resolved), ["sub"]);
    assert_eq!(values["sub"]["enabled"], json!(true));
}

#[test]
fn tags_switch_subcharts_and_conditions_override_them() {
    let tagged = |name: &str, tags: &[&str]| Dependency {
        tags: tags.iter().map(|t| t.to_string()).collect(),
        ..dependency(name)
    };
    let overridden = Dependency {
        condition: Some("c.enabled".into()),
        ..tagged("c", &["front"])
    };
    let parent = with(
        chart("app", "tags:\n  front: false\n  back: true\n"),
        vec![
            tagged("a", &["front"]),
            tagged("b", &["front", "back"]),
            overridden,
            tagged("d", &["unknown"]),
        ],
        vec![
            chart("a", ""),
            chart("b", ""),
            chart("c", ""),
            chart("d", ""),
        ],
    );
    let (resolved, _) = resolve(&parent, &[user("c:\n  enabled: true\n")]).unwrap();
    assert_eq!(names(&resolved), ["b", "c", "d"]);
}

#[test]
fn subcharts_not_listed_or_of_another_version_stay_enabled() {
    let mut old = chart("legacy", "");
    old.metadata.version = "0.9.0".into();
    let parent = with(
        chart("app", ""),
        vec![dependency("legacy")],
        vec![old, chart("vendored", "x: 1\n")],
    );
    let (resolved, values) = resolve(&parent, &[]).unwrap();
    // The listed dependency (^1.0.0) matches no loaded chart, so the 0.9.0 copy stays as an
    // unlisted subchart, as in Helm.
    assert_eq!(names(&resolved), ["legacy", "vendored"]);
    assert_eq!(values["vendored"]["x"], json!(1));
}

#[test]
fn import_values_in_both_forms_with_parent_values_winning() {
    let dep = Dependency {
        import_values: vec![
            json!("data"),
            json!({"child": "defaults.db", "parent": "imported.db"}),
            json!("missing"),
        ],
        ..dependency("sub")
    };
    let parent = with(
        chart("app", "port: 9090\n"),
        vec![dep],
        vec![chart(
            "sub",
            "exports:\n  data:\n    port: 80\n    protocol: TCP\ndefaults:\n  db:\n    host: localhost\n",
        )],
    );
    let (_, values) = resolve(&parent, &[]).unwrap();
    assert_eq!(values["port"], json!(9090));
    assert_eq!(values["protocol"], json!("TCP"));
    assert_eq!(values["imported"], json!({"db": {"host": "localhost"}}));
    let (_, values) = resolve(&parent, &[user("protocol: UDP\n")]).unwrap();
    assert_eq!(values["protocol"], json!("UDP"));
}

#[test]
fn subchart_values_that_are_not_a_map_are_an_error() {
    let parent = with(
        chart("app", ""),
        vec![dependency("sub")],
        vec![chart("sub", "")],
    );
    let err = resolve(&parent, &[user("sub: oops\n")]).unwrap_err();
    assert!(matches!(err, ValuesError::NotATable { .. }), "{err}");
    assert!(err.to_string().contains("`sub`"), "{err}");
}

#[test]
fn schemas_are_checked_per_chart_with_paths_and_expectations() {
    let mut sub = chart("sub", "port: 80\n");
    sub.schema = Some(json!({
        "type": "object",
        "properties": {"port": {"type": "integer", "maximum": 65535}},
    }));
    let mut parent = with(
        chart("app", "replicaCount: 1\n"),
        vec![dependency("sub")],
        vec![sub],
    );
    parent.schema = Some(json!({
        "type": "object",
        "required": ["replicaCount"],
        "properties": {
            "replicaCount": {"type": "integer"},
            "image": {"type": "object", "properties": {"tags": {"type": "array", "items": {"type": "string"}}}},
        },
    }));
    assert!(resolve(&parent, &[]).is_ok());
    let overrides = user("replicaCount: three\nimage:\n  tags: [a, 2]\nsub:\n  port: 70000\n");
    let err = resolve(&parent, &[overrides]).unwrap_err();
    let ValuesError::Schema { violations } = &err else {
        panic!("expected schema violations, got {err}");
    };
    let lines: Vec<String> = violations.iter().map(ToString::to_string).collect();
    assert!(
        lines.contains(&"chart app: replicaCount: expected integer, got string".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"chart app: image.tags[1]: expected string, got integer".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"chart app.sub: port: the value must be at most 65535".to_string()),
        "{lines:?}"
    );
    // The values themselves never appear: they may come from a Secret.
    let message = err.to_string();
    assert!(
        !message.contains("three") && !message.contains("70000"),
        "{message}"
    );
    println!("{err}");
}

#[test]
fn remote_schema_references_are_refused_not_fetched() {
    let mut parent = chart("app", "a: 1\n");
    parent.schema = Some(json!({"$ref": "https://example.com/schema.json"}));
    let err = resolve(&parent, &[]).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, ValuesError::SchemaUnusable(_)), "{message}");
    assert!(message.contains("chart app"), "{message}");
    assert!(
        message.contains("https://example.com/schema.json"),
        "{message}"
    );
}
