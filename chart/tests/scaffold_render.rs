//! The `capstan create` scaffold must load, lint clean and render with its own defaults.

use capstan_chart::lint::{LintOptions, Severity, lint_path};
use capstan_chart::load::load_dir;
use capstan_chart::render::{RenderOptions, render};
use capstan_chart::scaffold::create;

/// A fresh `capstan create web` chart, loaded; the temp dir lives as long as the returned guard.
fn scaffold_chart() -> (
    tempfile::TempDir,
    std::path::PathBuf,
    capstan_chart::model::Chart,
) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("web");
    create(&dir, None).unwrap();
    let chart = load_dir(&dir).unwrap();
    (tmp, dir, chart)
}

#[test]
fn scaffold_renders_deployment_service_and_account() {
    let (_tmp, dir, chart) = scaffold_chart();
    let opts = RenderOptions {
        release_name: "demo".into(),
        ..RenderOptions::default()
    };
    let rendered = render(&chart, &chart.values, &opts).unwrap();
    let kinds: Vec<(&str, &str)> = rendered
        .manifests
        .iter()
        .map(|m| (m.kind.as_str(), m.name.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("ServiceAccount", "demo-web"),
            ("Service", "demo-web"),
            ("Deployment", "demo-web")
        ]
    );
    let deployment = &rendered.manifests[2].object;
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.16.0"
    );
    assert_eq!(
        deployment["metadata"]["labels"]["helm.sh/chart"],
        "web-0.1.0"
    );
    assert!(
        rendered
            .notes
            .unwrap()
            .contains("port-forward service/demo-web")
    );
    let findings = lint_path(&dir, &LintOptions::default()).findings;
    assert!(
        findings.iter().all(|f| f.severity == Severity::Info),
        "{findings:#?}"
    );
}

#[test]
fn scaffold_optional_parts_render_when_enabled() {
    let (_tmp, _dir, chart) = scaffold_chart();
    let mut values = chart.values.clone();
    let overrides = capstan_chart::values::parse_values_file(
        "overrides.yaml",
        b"ingress: {enabled: true, tls: [{secretName: tls, hosts: [a.example]}]}\n\
          httpRoute: {enabled: true}\nautoscaling: {enabled: true}\n\
          podLabels: {team: web}\nresources: {limits: {cpu: 100m}}\n\
          fullnameOverride: site\n",
    )
    .unwrap();
    capstan_chart::values::merge(&mut values, overrides);
    let rendered = render(&chart, &values, &RenderOptions::default()).unwrap();
    let kinds: Vec<&str> = rendered.manifests.iter().map(|m| m.kind.as_str()).collect();
    for kind in [
        "Ingress",
        "HTTPRoute",
        "HorizontalPodAutoscaler",
        "Deployment",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let deployment = rendered
        .manifests
        .iter()
        .find(|m| m.kind == "Deployment")
        .unwrap();
    assert_eq!(deployment.name, "site");
    assert!(deployment.object["spec"].get("replicas").is_none());
    let pod = &deployment.object["spec"]["template"];
    assert_eq!(pod["metadata"]["labels"]["team"], "web");
    assert_eq!(
        pod["spec"]["containers"][0]["resources"]["limits"]["cpu"],
        "100m"
    );
}
