//! A tenant tries to make the operator reveal what it may not read: a Secret's value through a
//! chart's schema error, a Secret its deployments' ServiceAccount may not read, a
//! ServiceAccount token as credentials for a server of the tenant's choosing, and the answers
//! of internal endpoints through a repository URL. The operator runs as `config/` runs it (see
//! `attack_suite.rs` and `capstan_e2e::tenancy`); every attempt ends refused, the value appears
//! nowhere (status, conditions, Events, the operator's log) and the other tenant's deployment
//! stays Ready and unrewritten.

mod support;

use capstan_api::ChartRepository;
use capstan_e2e::Cluster;
use capstan_e2e::operator::{TestResult, ready_is, ready_message, repository_ready};
use capstan_e2e::tenancy::{Tenancy, create_json};
use capstan_e2e::wait::wait_for;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{ListParams, PostParams};
use serde_json::json;
use support::ChartServer;

/// A ConfigMap that shows `values.word`, so that a value that reached the chart would be seen.
const ECHO: (&str, &str) = (
    "templates/echo.yaml",
    "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ release.name }}-echo
data:
  word: {{ values.word | quote }}
",
);

/// `word` must be a short lowercase word: a canary in capitals fails the schema.
const STRICT_SCHEMA: (&str, &str) = (
    "values.schema.json",
    r#"{"type": "object",
        "properties": {"word": {"type": "string", "pattern": "^[a-z]{1,12}$"}}}"#,
);

/// A value nobody else writes, to search for.
fn canary(tag: &str) -> String {
    format!(
        "CANARY{tag}{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    )
}

/// Gives Events and log lines written right after a status a moment to land.
async fn settle() {
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
}

/// Fails if `canary` shows anywhere the tenant or an admin reads about `tenant-a`, or in any
/// ConfigMap there.
async fn assert_nowhere(tenancy: &Tenancy, canary: &str) -> TestResult {
    let mut places = tenancy.places_showing(canary).await?;
    for config_map in tenancy
        .tenant_a
        .api::<ConfigMap>()
        .list(&ListParams::default())
        .await?
    {
        if serde_json::to_string(&config_map.data)?.contains(canary) {
            places.push(format!("ConfigMap {:?}", config_map.metadata.name));
        }
    }
    assert!(places.is_empty(), "{canary} shows in {places:?}");
    Ok(())
}

// Protection: schema and values errors name the path and the rule, never the value. Without it
// the schema's message quotes the value (`"CANARY..." does not match "^[a-z]{1,12}$"`) into the
// Ready condition, the Warning event and the operator's log.
#[tokio::test]
async fn a_secret_value_the_schema_rejects_appears_nowhere() -> TestResult {
    let mut tenancy = Tenancy::start("atk-schema").await?;
    let canary = canary("S");
    tenancy.publish("strict", "1.0.0", &[ECHO, STRICT_SCHEMA])?;
    tenancy.tenant_adds_charts().await?;
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "values"},
        "stringData": {"values.yaml": format!("word: {canary}\n")},
    }))?;
    tenancy
        .tenant_api::<Secret>()
        .create(&PostParams::default(), &secret)
        .await?;
    let mut spec = Tenancy::chart_spec("strict");
    spec["valuesFrom"] = json!([{"kind": "Secret", "name": "values"}]);
    tenancy.tenant_deploys("leaky", spec).await?;

    let refused = tenancy
        .wait_tenant_deployment(
            "leaky",
            ready_is("False", |reason| reason == "RenderFailed"),
        )
        .await?;
    let message = ready_message(&refused);
    assert!(message.contains("word"), "names the path: {message}");
    settle().await;
    assert_nowhere(&tenancy, &canary).await?;
    tenancy.assert_others_untouched().await?;
    tenancy.finish().await
}

// Protection: the Secrets and ConfigMaps a deployment names are read as its ServiceAccount.
// Without it the operator reads the Secret with its own rights (config/ lets it read every
// Secret, for repository credentials), and the chart shows its value in a ConfigMap.
#[tokio::test]
async fn a_secret_the_deployments_service_account_may_not_read_is_refused() -> TestResult {
    let mut tenancy = Tenancy::start("atk-snoop").await?;
    let cluster = Cluster::shared()?;
    let tenant_a = tenancy.tenant_a.name().to_string();
    let canary = canary("F");
    create_json(
        cluster,
        &json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "admin-only", "namespace": tenant_a},
                "stringData": {"values.yaml": format!("word: {canary}\n")}}),
    )
    .await?;
    // A ServiceAccount of the tenant that may read ConfigMaps, and only the Secrets it is
    // granted by name: not `admin-only`.
    for object in [
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "restricted", "namespace": tenant_a}}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
               "metadata": {"name": "restricted", "namespace": tenant_a},
               "rules": [
                   {"apiGroups": [""], "resources": ["configmaps"],
                    "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
                   {"apiGroups": [""], "resources": ["secrets"],
                    "resourceNames": ["values"], "verbs": ["get"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "restricted", "namespace": tenant_a},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                           "name": "restricted"},
               "subjects": [{"kind": "ServiceAccount", "name": "restricted",
                             "namespace": tenant_a}]}),
    ] {
        create_json(cluster, &object).await?;
    }
    tenancy.publish("echo", "1.0.0", &[ECHO])?;
    tenancy.tenant_adds_charts().await?;
    let mut spec = Tenancy::chart_spec("echo");
    spec["serviceAccountName"] = json!("restricted");
    spec["valuesFrom"] = json!([{"kind": "Secret", "name": "admin-only"}]);
    tenancy.tenant_deploys("snoop", spec).await?;

    let refused = tenancy
        .wait_tenant_deployment("snoop", ready_is("False", |r| r == "Forbidden"))
        .await?;
    let message = ready_message(&refused);
    assert!(
        message.contains(&format!("ServiceAccount {tenant_a}/restricted"))
            && message.contains("admin-only"),
        "{message}"
    );
    assert!(
        tenancy
            .tenant_a
            .api::<ConfigMap>()
            .get_opt("snoop-echo")
            .await?
            .is_none()
    );
    settle().await;
    assert_nowhere(&tenancy, &canary).await?;
    tenancy.assert_others_untouched().await?;
    tenancy.finish().await
}

/// Creates ServiceAccount `name` in `namespace` and its long-lived token Secret `<name>-token`,
/// waits until the token controller has filled it in, and returns the token.
async fn token_secret(cluster: &Cluster, namespace: &str, name: &str) -> TestResult<String> {
    let secret_name = format!("{name}-token");
    create_json(
        cluster,
        &json!({"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": name, "namespace": namespace}}),
    )
    .await?;
    create_json(
        cluster,
        &json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
                "metadata": {"name": secret_name, "namespace": namespace,
                             "annotations": {"kubernetes.io/service-account.name": name}}}),
    )
    .await?;
    let secrets = kube::Api::<Secret>::namespaced(cluster.client().await?, namespace);
    let filled = wait_for(
        &secrets,
        &secret_name,
        "Secret",
        capstan_e2e::operator::WAIT,
        |secret: Option<&Secret>| {
            secret
                .and_then(|s| s.data.as_ref())
                .is_some_and(|data| data.contains_key("token"))
        },
    )
    .await?
    .ok_or("the token Secret disappeared")?;
    let token = filled.data.unwrap_or_default()["token"].0.clone();
    Ok(String::from_utf8(token)?)
}

// Protection: secretRef refuses Secrets of type kubernetes.io/service-account-token. The
// deployment's ServiceAccount may read the Secret here (the tenant's Role grants every Secret of
// its namespace), so without it the token would be sent to the tenant's server as a bearer
// token.
#[tokio::test]
async fn a_service_account_token_is_never_sent_as_credentials() -> TestResult {
    let mut tenancy = Tenancy::start("atk-token").await?;
    let cluster = Cluster::shared()?;
    let tenant_a = tenancy.tenant_a.name().to_string();
    let token = token_secret(cluster, &tenant_a, "ci-bot").await?;
    let server = ChartServer::start().await?;
    let registry = server.url().trim_start_matches("http://").to_string();

    tenancy
        .tenant_adds_repository(
            "thief",
            json!({"url": format!("{}/charts", server.url()), "secretRef": {"name": "ci-bot-token"}}),
        )
        .await?;
    let mut pull = json!({"chart": {"oci": {
        "reference": format!("oci://{registry}/charts/thief"), "version": "1.0.0",
        "plainHttp": true, "secretRef": {"name": "ci-bot-token"}}}});
    pull["interval"] = json!("1m");
    tenancy.tenant_deploys("pull", pull).await?;

    let repository = tenancy
        .wait_tenant_repository("thief", |r: Option<&ChartRepository>| {
            r.and_then(repository_ready)
                .is_some_and(|c| c.status == "False" && c.reason == "InvalidSpec")
        })
        .await?;
    let message = repository_ready(&repository)
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(
        message.contains("ci-bot-token") && message.contains("service-account-token"),
        "{message}"
    );
    let deployment = tenancy
        .wait_tenant_deployment("pull", ready_is("False", |r| r == "InvalidSpec"))
        .await?;
    let message = ready_message(&deployment);
    assert!(
        message.contains("ci-bot-token") && message.contains("service-account-token"),
        "{message}"
    );
    settle().await;
    let heads = server.request_heads();
    assert!(
        !heads
            .iter()
            .any(|head| head.contains(&token)
                || head.to_ascii_lowercase().contains("authorization:")),
        "credentials were sent: {heads:?}"
    );
    assert_nowhere(&tenancy, &token).await?;
    tenancy.assert_others_untouched().await?;
    tenancy.finish().await
}

/// What an internal endpoint might answer: text that must never be shown to the tenant.
const BANNER: &str = "SECRET-BANNER internal-db 9.4 ready; admin password hunter2\n";

const BANNER_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>SECRET-BANNER console</title>\
     </head><body><h1>SECRET-BANNER</h1><p>Welcome, admin</p></body></html>\n";

// Protection: errors from remote hosts are reduced to a status and a short, sanitised reason;
// no response body reaches status or events. Without it the parser's error quotes what the
// server answered.
#[tokio::test]
async fn a_repository_url_at_internal_endpoints_reveals_no_answer() -> TestResult {
    let mut tenancy = Tenancy::start("atk-probe").await?;
    let cluster = Cluster::shared()?;
    let server = ChartServer::start().await?;
    for (path, content) in [
        ("text/index.yaml", BANNER),
        ("html/index.yaml", BANNER_PAGE),
    ] {
        let file = server.dir().join(path);
        std::fs::create_dir_all(file.parent().ok_or("no directory")?)?;
        std::fs::write(file, content)?;
    }
    let apiserver = cluster.env().apiserver.clone();
    let probes = [
        ("banner", json!({"url": format!("{}/text", server.url())})),
        ("page", json!({"url": format!("{}/html", server.url())})),
        (
            "apiserver",
            json!({"url": apiserver, "insecureSkipTlsVerify": true}),
        ),
        (
            "apiserver-secrets",
            json!({
            "url": format!("{apiserver}/api/v1/namespaces/kube-system/secrets"),
            "insecureSkipTlsVerify": true}),
        ),
    ];
    for (name, spec) in &probes {
        tenancy.tenant_adds_repository(name, spec.clone()).await?;
    }
    for (name, _) in &probes {
        let repository = tenancy
            .wait_tenant_repository(name, |r: Option<&ChartRepository>| {
                r.and_then(repository_ready)
                    .is_some_and(|c| c.status == "False")
            })
            .await?;
        let ready = repository_ready(&repository).ok_or("no Ready condition")?;
        let message = &ready.message;
        assert!(
            message.chars().count() <= 400 && !message.contains('\n'),
            "{name}: a short, one-line reason: {message:?}"
        );
        for answer in [
            "SECRET-BANNER",
            "hunter2",
            "<html",
            "system:anonymous",
            "\"kind\"",
        ] {
            assert!(
                !message.contains(answer),
                "{name}: the reason shows what the server answered ({answer}): {message}"
            );
        }
    }
    assert!(
        server.requests("/text/index.yaml") >= 1 && server.requests("/html/index.yaml") >= 1,
        "the repositories were fetched"
    );
    settle().await;
    for answer in ["SECRET-BANNER", "hunter2", "system:anonymous"] {
        let places = tenancy.places_showing(answer).await?;
        let shown: Vec<_> = places
            .into_iter()
            .filter(|place| !place.starts_with("the operator's log"))
            .collect();
        assert!(shown.is_empty(), "{answer} shows in {shown:?}");
    }
    tenancy.assert_others_untouched().await?;
    tenancy.finish().await
}
