//! The ChartDeployment reconcile as a whole, in process, against an in-memory API server: a
//! first install, a reconcile that changes nothing, an upgrade that prunes, and a failure that
//! keeps the revision already applied.

mod support;

use std::sync::Arc;

use base64::Engine as _;
use capstan_api::ChartDeployment;
use capstan_operator::context::Context;
use capstan_operator::deployment::reconcile::reconcile;
use capstan_operator::metrics::Metrics;
use capstan_operator::settings::Settings;
use capstan_operator::values_key::ValuesKey;
use serde_json::{Value, json};
use support::fake_api::FakeApi;

const NAMESPACE: &str = "apps";

/// A chart archive of chart `demo` at `version` with `templates` (file name, Jinja text).
fn chart_archive(version: &str, templates: &[(&str, &str)]) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("Chart.yaml"),
        format!(
            "apiVersion: v2\nname: demo\nversion: {version}\n\
             annotations:\n  capstan.dev/engine: jinja\n"
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("values.yaml"), "greeting: hello\n").unwrap();
    std::fs::create_dir(dir.path().join("templates")).unwrap();
    for (name, text) in templates {
        std::fs::write(dir.path().join("templates").join(name), text).unwrap();
    }
    let chart = capstan_chart::load::load_dir(dir.path()).unwrap();
    capstan_chart::package::archive_chart(&chart, 0).unwrap()
}

const CONFIG: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-config\n\
                      data:\n  greeting: {{ values.greeting }}\n  release: \"{{ release.revision }}\"\n";
const EXTRA: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-extra\n\
                     data:\n  extra: \"yes\"\n";
const BROKEN: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ values.nothing.here }}\n";

/// Stores the package ConfigMap the deployment reads its chart from.
fn store_package(api: &FakeApi, archive: &[u8]) {
    api.insert(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "web-chart", "namespace": NAMESPACE},
        "binaryData": {"chart.tgz": base64::engine::general_purpose::STANDARD.encode(archive)},
    }));
}

fn context(api: &FakeApi) -> Context {
    Context::new(
        api.client(),
        Settings::default(),
        Arc::new(Metrics::default()),
        ValuesKey::from_bytes(b"the operator's values digest key"),
    )
}

/// The deployment as the fake server holds it now (with the status the last reconcile wrote).
fn deployment(api: &FakeApi) -> Arc<ChartDeployment> {
    let stored = api
        .get("capstan.dev/v1alpha1", "ChartDeployment", NAMESPACE, "web")
        .expect("the deployment is stored");
    Arc::new(serde_json::from_value(stored).unwrap())
}

fn setup(templates: &[(&str, &str)]) -> FakeApi {
    let api = FakeApi::default();
    api.insert(json!({
        "apiVersion": "capstan.dev/v1alpha1", "kind": "ChartDeployment",
        "metadata": {"name": "web", "namespace": NAMESPACE, "generation": 1},
        "spec": {"chart": {"package": {"configMapRef": {"name": "web-chart"}}}},
    }));
    store_package(&api, &chart_archive("1.0.0", templates));
    api
}

fn config_map(api: &FakeApi, name: &str) -> Option<Value> {
    api.get("v1", "ConfigMap", NAMESPACE, name)
}

fn writes(api: &FakeApi) -> Vec<String> {
    api.requests()
        .into_iter()
        .filter(|request| request.is_write())
        .map(|request| format!("{} {}", request.method, request.path))
        .collect()
}

fn ready(deployment: &ChartDeployment) -> (String, String) {
    let condition = deployment
        .status
        .as_ref()
        .and_then(|status| status.conditions.iter().find(|c| c.type_ == "Ready"))
        .expect("a Ready condition");
    (condition.status.clone(), condition.reason.clone())
}

#[tokio::test]
async fn a_first_install_applies_the_chart_and_reports_release_one() {
    let api = setup(&[("config.yaml", CONFIG), ("extra.yaml", EXTRA)]);
    let ctx = context(&api);
    reconcile(&deployment(&api), &ctx).await.unwrap();

    let config = config_map(&api, "web-config").expect("the chart's ConfigMap was applied");
    assert_eq!(config["data"]["greeting"], "hello");
    assert_eq!(config["data"]["release"], "1");
    assert_eq!(
        config["metadata"]["annotations"]["capstan.dev/deployment"],
        "apps/web"
    );
    assert!(config_map(&api, "web-extra").is_some());
    let deployment = deployment(&api);
    assert_eq!(ready(&deployment), ("True".into(), "Applied".into()));
    let status = deployment.status.as_ref().unwrap();
    assert_eq!(status.release_number, Some(1));
    assert_eq!(status.inventory.len(), 2);
    assert_eq!(
        status.last_applied_revision.as_ref().unwrap().version,
        "1.0.0"
    );
}

#[tokio::test]
async fn a_reconcile_that_changes_nothing_sends_no_write() {
    let api = setup(&[("config.yaml", CONFIG)]);
    let ctx = context(&api);
    reconcile(&deployment(&api), &ctx).await.unwrap();

    // Within the interval: the revision is known applied, nothing is even read live.
    api.clear_requests();
    reconcile(&deployment(&api), &ctx).await.unwrap();
    assert_eq!(writes(&api), Vec::<String>::new());

    // A restarted operator checks every object for drift, finds none and writes nothing.
    api.clear_requests();
    let restarted = context(&api);
    reconcile(&deployment(&api), &restarted).await.unwrap();
    let requests = api.requests();
    assert!(
        requests
            .iter()
            .any(|request| request.path.ends_with("/configmaps/web-config")),
        "the restarted operator read the live object: {requests:?}"
    );
    assert_eq!(writes(&api), Vec::<String>::new());
}

#[tokio::test]
async fn an_upgrade_applies_the_new_revision_and_prunes_what_it_dropped() {
    let api = setup(&[("config.yaml", CONFIG), ("extra.yaml", EXTRA)]);
    let ctx = context(&api);
    reconcile(&deployment(&api), &ctx).await.unwrap();

    store_package(&api, &chart_archive("2.0.0", &[("config.yaml", CONFIG)]));
    api.clear_requests();
    reconcile(&deployment(&api), &ctx).await.unwrap();

    assert!(config_map(&api, "web-extra").is_none(), "pruned");
    assert!(
        writes(&api)
            .iter()
            .any(|write| write == "DELETE /api/v1/namespaces/apps/configmaps/web-extra")
    );
    assert_eq!(
        config_map(&api, "web-config").unwrap()["data"]["release"],
        "2"
    );
    let deployment = deployment(&api);
    let status = deployment.status.as_ref().unwrap();
    assert_eq!(status.release_number, Some(2));
    assert_eq!(
        status.last_applied_revision.as_ref().unwrap().version,
        "2.0.0"
    );
    assert_eq!(status.inventory.len(), 1);
}

#[tokio::test]
async fn a_failed_revision_keeps_the_applied_one_and_says_why() {
    let api = setup(&[("config.yaml", CONFIG)]);
    let ctx = context(&api);
    reconcile(&deployment(&api), &ctx).await.unwrap();
    let applied = config_map(&api, "web-config").unwrap();

    store_package(
        &api,
        &chart_archive("3.0.0", &[("config.yaml", CONFIG), ("broken.yaml", BROKEN)]),
    );
    let error = reconcile(&deployment(&api), &ctx).await.unwrap_err();
    assert_eq!(error.reason(), "RenderFailed");

    let deployment = deployment(&api);
    let status = deployment.status.as_ref().unwrap();
    assert_eq!(ready(&deployment), ("False".into(), "RenderFailed".into()));
    let message = &status.conditions[0].message;
    assert!(message.contains("broken.yaml"), "{message}");
    assert_eq!(
        status.last_applied_revision.as_ref().unwrap().version,
        "1.0.0"
    );
    assert_eq!(
        status.last_attempted_revision.as_ref().unwrap().version,
        "3.0.0"
    );
    assert_eq!(status.release_number, Some(1));
    assert_eq!(status.inventory.len(), 1);
    assert_eq!(
        config_map(&api, "web-config").unwrap(),
        applied,
        "untouched"
    );
}

#[tokio::test]
async fn a_deployment_with_a_service_account_reads_and_writes_as_it() {
    let api = setup(&[("config.yaml", CONFIG)]);
    let mut stored = api
        .get("capstan.dev/v1alpha1", "ChartDeployment", NAMESPACE, "web")
        .unwrap();
    stored["spec"]["serviceAccountName"] = json!("deployer");
    api.insert(stored);
    let ctx = context(&api);
    reconcile(&deployment(&api), &ctx).await.unwrap();

    let requests = api.requests();
    let as_deployer = Some("system:serviceaccount:apps:deployer".to_string());
    let about_chart_objects: Vec<_> = requests
        .iter()
        .filter(|request| request.path.contains("/configmaps/web-"))
        .collect();
    assert!(!about_chart_objects.is_empty(), "{requests:?}");
    for request in &about_chart_objects {
        assert_eq!(request.impersonating, as_deployer, "{request:?}");
    }
    let package_read = requests
        .iter()
        .find(|request| request.path.ends_with("/configmaps/web-chart"))
        .expect("the package was read");
    assert_eq!(package_read.impersonating, as_deployer);
    let status_write = requests
        .iter()
        .find(|request| request.path.ends_with("/status"))
        .expect("the status was written");
    assert_eq!(
        status_write.impersonating, None,
        "the status is the operator's own"
    );
    // A first install writes each object once, create-only: no dry run first (a refused write
    // is undone instead).
    let writes: Vec<_> = about_chart_objects
        .iter()
        .filter(|request| request.method == "PATCH")
        .collect();
    assert!(
        writes.len() == 1 && !writes[0].dry_run,
        "{about_chart_objects:?}"
    );
}
