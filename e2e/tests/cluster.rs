//! Proofs that the local control plane is a real Kubernetes API server with working controllers,
//! RBAC and ServiceAccount tokens.

use std::collections::BTreeMap;
use std::time::Duration;

use capstan_e2e::wait::{wait_for, wait_for_deletion, wait_for_deployment_available};
use capstan_e2e::{Cluster, TestNamespace};
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{
    DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::wait::conditions;
use kube::{Api, ResourceExt};
use serde_json::json;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const FIELD_MANAGER: &str = "capstan-e2e";

fn from_json<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).expect("test manifests match their types")
}

#[tokio::test]
async fn api_server_reports_the_release_it_was_built_from() -> TestResult {
    let cluster = Cluster::shared()?;
    let version = cluster.client().await?.apiserver_version().await?;
    assert_eq!(version.git_version, cluster.env().k8s_version);
    Ok(())
}

#[tokio::test]
async fn server_side_apply_is_seen_by_a_watch() -> TestResult {
    let cluster = Cluster::shared()?;
    let namespace = TestNamespace::create(cluster, "apply-watch").await?;
    let config_maps: Api<ConfigMap> = namespace.api();

    // Watch from the empty list's resourceVersion, so the object can only arrive as an event.
    let list = config_maps
        .list(&ListParams::default().fields("metadata.name=greeting"))
        .await?;
    let since = list.metadata.resource_version.unwrap_or_default();
    let params = WatchParams::default()
        .fields("metadata.name=greeting")
        .timeout(60);
    let mut events = config_maps.watch(&params, &since).await?.boxed();

    let manifest = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "greeting"},
        "data": {"message": "hello"},
    });
    config_maps
        .patch(
            "greeting",
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&manifest),
        )
        .await?;

    let event = tokio::time::timeout(Duration::from_secs(30), events.try_next())
        .await??
        .ok_or("the watch ended before any event")?;
    let WatchEvent::Added(seen) = event else {
        return Err(format!("expected an Added event, got {event:?}").into());
    };
    assert_eq!(
        seen.data.as_ref().and_then(|data| data.get("message")),
        Some(&"hello".to_string())
    );
    let managers: Vec<_> = seen
        .managed_fields()
        .iter()
        .map(|entry| (entry.manager.clone(), entry.operation.clone()))
        .collect();
    assert!(
        managers.contains(&(Some(FIELD_MANAGER.into()), Some("Apply".into()))),
        "{managers:?}"
    );
    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
async fn a_deployment_becomes_available_on_the_fake_node() -> TestResult {
    let cluster = Cluster::shared()?;
    let namespace = TestNamespace::create(cluster, "deployment").await?;
    let deployments: Api<Deployment> = namespace.api();
    let deployment: Deployment = from_json(json!({
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "registry.invalid/web:1"}]},
            },
        },
    }));
    deployments
        .create(&PostParams::default(), &deployment)
        .await?;

    let available =
        wait_for_deployment_available(&deployments, "web", Duration::from_secs(120)).await?;
    assert_eq!(
        available.status.and_then(|status| status.ready_replicas),
        Some(2)
    );

    let pods: Api<Pod> = namespace.api();
    let listed = pods.list(&ListParams::default().labels("app=web")).await?;
    assert_eq!(listed.items.len(), 2);
    for pod in &listed.items {
        let spec = pod.spec.as_ref().ok_or("pod without spec")?;
        assert!(
            spec.node_name.is_some(),
            "{} was not scheduled",
            pod.name_any()
        );
        let status = pod.status.as_ref().ok_or("pod without status")?;
        assert_eq!(status.phase.as_deref(), Some("Running"));
    }
    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
async fn a_service_account_token_is_denied_what_rbac_does_not_grant() -> TestResult {
    let cluster = Cluster::shared()?;
    let namespace = TestNamespace::create(cluster, "rbac").await?;
    let service_accounts: Api<ServiceAccount> = namespace.api();
    service_accounts
        .create(
            &PostParams::default(),
            &from_json(json!({"metadata": {"name": "reader"}})),
        )
        .await?;
    let roles: Api<Role> = namespace.api();
    roles
        .create(
            &PostParams::default(),
            &from_json(json!({
                "metadata": {"name": "configmap-reader"},
                "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
            })),
        )
        .await?;
    let bindings: Api<RoleBinding> = namespace.api();
    bindings
        .create(
            &PostParams::default(),
            &from_json(json!({
                "metadata": {"name": "reader"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "configmap-reader"},
                "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace.name()}],
            })),
        )
        .await?;

    let request = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(600),
            ..TokenRequestSpec::default()
        }),
        ..TokenRequest::default()
    };
    let issued: TokenRequest = service_accounts
        .create_subresource("token", "reader", &PostParams::default(), &request)
        .await?;
    let token = issued
        .status
        .and_then(|status| status.token)
        .ok_or("TokenRequest returned no token")?;
    let as_reader = cluster.client_with_token(&token).await?;

    // Granted: proves the token authenticates and the binding is in force. The API server's
    // authorizer reads bindings from its own cache, so a binding just created may take a moment
    // to count: wait for it, within a bound.
    let reader_config_maps: Api<ConfigMap> = Api::namespaced(as_reader.clone(), namespace.name());
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match reader_config_maps.list(&ListParams::default()).await {
            Ok(_) => break,
            Err(kube::Error::Api(status))
                if status.code == 403 && tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(error) => return Err(error.into()),
        }
    }

    // Not granted: Secrets in the same namespace, and ConfigMaps anywhere else.
    let reader_secrets: Api<Secret> = Api::namespaced(as_reader.clone(), namespace.name());
    let denied = reader_secrets.list(&ListParams::default()).await;
    assert_forbidden(denied.map(drop));
    let elsewhere: Api<ConfigMap> = Api::namespaced(as_reader, "default");
    assert_forbidden(elsewhere.list(&ListParams::default()).await.map(drop));
    namespace.delete().await?;
    Ok(())
}

fn assert_forbidden(outcome: Result<(), kube::Error>) {
    match outcome {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403, "{status:?}"),
        other => panic!("expected 403 Forbidden, got {other:?}"),
    }
}

#[tokio::test]
async fn deleting_a_namespace_removes_its_objects() -> TestResult {
    let cluster = Cluster::shared()?;
    let namespace = TestNamespace::create(cluster, "delete").await?;
    let name = namespace.name().to_string();
    let config_maps: Api<ConfigMap> = namespace.api();
    config_maps
        .create(
            &PostParams::default(),
            &from_json(
                json!({"metadata": {"name": "doomed", "labels": {"capstan.dev/doomed": "true"}}}),
            ),
        )
        .await?;
    namespace.delete().await?;

    // The namespace is only removed after the namespace controller emptied it; check the object too.
    let everywhere: Api<ConfigMap> = Api::all(cluster.client().await?);
    let left = everywhere
        .list(&ListParams::default().labels("capstan.dev/doomed=true"))
        .await?;
    assert!(
        left.items
            .iter()
            .all(|item| item.namespace().as_deref() != Some(name.as_str())),
        "objects of {name} survived its deletion"
    );
    Ok(())
}

#[tokio::test]
async fn garbage_collection_deletes_dependents_of_a_deleted_owner() -> TestResult {
    let cluster = Cluster::shared()?;
    let namespace = TestNamespace::create(cluster, "gc").await?;
    let config_maps: Api<ConfigMap> = namespace.api();
    let owner = config_maps
        .create(
            &PostParams::default(),
            &from_json(json!({"metadata": {"name": "owner"}})),
        )
        .await?;
    let owner_uid = owner.uid().ok_or("owner without uid")?;
    let dependent = config_maps
        .create(
            &PostParams::default(),
            &from_json(json!({"metadata": {
                "name": "dependent",
                "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner_uid}],
            }})),
        )
        .await?;
    let dependent_uid = dependent.uid().ok_or("dependent without uid")?;

    config_maps
        .delete("owner", &DeleteParams::background())
        .await?;
    wait_for_deletion(
        &config_maps,
        "dependent",
        &dependent_uid,
        Duration::from_secs(90),
    )
    .await?;
    namespace.delete().await?;
    Ok(())
}

#[tokio::test]
async fn the_service_account_controller_publishes_the_root_ca() -> TestResult {
    let cluster = Cluster::shared()?;
    let namespace = TestNamespace::create(cluster, "root-ca").await?;
    let config_maps: Api<ConfigMap> = namespace.api();
    let published = wait_for(
        &config_maps,
        "kube-root-ca.crt",
        "ConfigMap",
        Duration::from_secs(60),
        conditions::is_created(),
    )
    .await?
    .ok_or("kube-root-ca.crt vanished")?;
    let ca = std::fs::read_to_string(&cluster.env().ca)?;
    let data: BTreeMap<String, String> = published.data.unwrap_or_default();
    assert_eq!(data.get("ca.crt").map(|pem| pem.trim()), Some(ca.trim()));
    namespace.delete().await?;
    Ok(())
}
