//! The operator against the real control plane: each test gets its own namespace, its own chart
//! repository directory on the HTTP test peer and its own operator process watching only that
//! namespace (killed when the test ends, pass or fail).

use capstan_api::ChartDeployment;
use capstan_e2e::operator::{Setup, TestResult, WAIT, applied, config_map, ready_is};
use capstan_e2e::wait::{wait_for, wait_for_deletion};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use kube::api::DeleteParams;
use serde_json::json;

#[tokio::test]
async fn install_upgrade_prune_and_delete() -> TestResult {
    let setup = Setup::new("op-lifecycle").await?;
    let (main, extra) = (config_map("main"), config_map("extra"));
    setup.publish(
        "greet",
        "1.0.0",
        &[
            ("values.yaml", "greeting: hello\n"),
            ("templates/main.yaml", &main),
            ("templates/extra.yaml", &extra),
        ],
    )?;
    setup.publish(
        "greet",
        "2.0.0",
        &[
            ("values.yaml", "greeting: bonjour\n"),
            ("templates/main.yaml", &main),
        ],
    )?;
    setup.apply_repository().await?;
    setup
        .apply_deployment("web", "greet", "1.0.0", json!({}))
        .await?;
    let installed = setup.wait_deployment("web", applied("1.0.0")).await?;
    assert_eq!(installed.status.unwrap().inventory.len(), 2);
    let config_maps = setup.namespace.api::<ConfigMap>();
    let extra_uid = config_maps
        .get("web-extra")
        .await?
        .uid()
        .unwrap_or_default();
    let main = config_maps.get("web-main").await?;
    assert_eq!(
        main.labels()
            .get("capstan.dev/deployment")
            .map(String::as_str),
        Some(&*format!("{}.web", setup.namespace.name()))
    );

    // Upgrade by version: the new template data arrives and the dropped template is pruned.
    setup
        .patch_spec(
            "web",
            json!({"chart": {"repository": {"version": "2.0.0"}}}),
        )
        .await?;
    setup.wait_deployment("web", applied("2.0.0")).await?;
    wait_for_deletion(&config_maps, "web-extra", &extra_uid, WAIT).await?;
    let data = |cm: ConfigMap| cm.data.unwrap_or_default().get("greeting").cloned();
    assert_eq!(
        data(config_maps.get("web-main").await?).as_deref(),
        Some("bonjour")
    );

    // Upgrade by values.
    setup
        .patch_spec("web", json!({"values": {"greeting": "hola"}}))
        .await?;
    wait_for(
        &config_maps,
        "web-main",
        "ConfigMap",
        WAIT,
        |cm: Option<&ConfigMap>| {
            cm.and_then(|cm| cm.data.as_ref())
                .and_then(|d| d.get("greeting"))
                .is_some_and(|g| g == "hola")
        },
    )
    .await?;

    // Delete: the finalizer removes what was applied.
    let main_uid = config_maps.get("web-main").await?.uid().unwrap_or_default();
    setup
        .namespace
        .api::<ChartDeployment>()
        .delete("web", &DeleteParams::default())
        .await?;
    wait_for_deletion(&config_maps, "web-main", &main_uid, WAIT).await?;
    setup.finish().await
}

#[tokio::test]
async fn a_deletion_while_the_operator_is_down_finishes_when_it_returns() -> TestResult {
    let mut setup = Setup::new("op-down-delete").await?;
    setup.publish_greet()?;
    setup.apply_repository().await?;
    setup
        .apply_deployment("web", "greet", "1.0.0", json!({}))
        .await?;
    setup.wait_deployment("web", applied("1.0.0")).await?;
    let config_maps = setup.namespace.api::<ConfigMap>();
    let main_uid = config_maps.get("web-main").await?.uid().unwrap_or_default();

    // Deleted while no operator runs: the finalizer holds the deployment, and what it applied
    // stays until an operator handles the deletion.
    setup.stop_operator().await?;
    let deployments = setup.namespace.api::<ChartDeployment>();
    deployments.delete("web", &DeleteParams::default()).await?;
    let pending = deployments.get("web").await?;
    assert!(pending.metadata.deletion_timestamp.is_some());
    let deployment_uid = pending.uid().unwrap_or_default();
    assert!(config_maps.get_opt("web-main").await?.is_some());

    setup.start_operator()?;
    wait_for_deletion(&config_maps, "web-main", &main_uid, WAIT).await?;
    wait_for_deletion(&deployments, "web", &deployment_uid, WAIT).await?;
    setup.finish().await
}

#[tokio::test]
async fn a_digest_mismatch_applies_nothing() -> TestResult {
    let setup = Setup::new("op-digest").await?;
    setup.publish_greet()?;
    // Replace the archive after indexing: the index's digest no longer matches.
    setup.publish(
        "other",
        "1.0.0",
        &[
            ("values.yaml", "greeting: x\n"),
            ("templates/main.yaml", &config_map("other")),
        ],
    )?;
    std::fs::copy(
        setup.repo_dir.join("other-1.0.0.tgz"),
        setup.repo_dir.join("greet-1.0.0.tgz"),
    )?;
    setup.apply_repository().await?;
    setup
        .apply_deployment("web", "greet", "1.0.0", json!({}))
        .await?;
    let failed = setup
        .wait_deployment("web", ready_is("False", |r| r == "VerificationFailed"))
        .await?;
    let message = failed.status.unwrap().conditions[0].message.clone();
    assert!(message.contains("digest mismatch"), "{message}");
    let config_maps = setup.namespace.api::<ConfigMap>();
    assert!(config_maps.get_opt("web-main").await?.is_none());
    assert!(config_maps.get_opt("web-other").await?.is_none());
    setup.finish().await
}

// A first install sends no dry run before its writes: it writes create-only and takes back what
// it created when a later object is refused. Without that undo `web-main` would stay behind.
#[tokio::test]
async fn an_object_the_api_server_refuses_leaves_nothing_of_a_first_install() -> TestResult {
    let setup = Setup::new("op-refused").await?;
    let service = |port: u32| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{{{ release.name }}}}-svc\n\
             spec:\n  ports:\n    - port: {port}\n"
        )
    };
    // The ConfigMap comes first in install order; the Service's port is out of range.
    for (version, port) in [("1.0.0", 70000), ("1.0.1", 8080)] {
        setup.publish(
            "refused",
            version,
            &[
                ("values.yaml", "greeting: hello\n"),
                ("templates/main.yaml", &config_map("main")),
                ("templates/svc.yaml", &service(port)),
            ],
        )?;
    }
    setup.apply_repository().await?;
    setup
        .apply_deployment("web", "refused", "1.0.0", json!({}))
        .await?;
    let failed = setup
        .wait_deployment("web", ready_is("False", |r| r == "ApplyFailed"))
        .await?;
    let status = failed.status.unwrap();
    let message = status.conditions[0].message.clone();
    assert!(
        message.contains(&format!("Service {}/web-svc", setup.namespace.name()))
            && message.contains("70000"),
        "the refusal names the object and the API server's reason: {message}"
    );
    assert!(status.inventory.is_empty(), "{:?}", status.inventory);
    let config_maps = setup.namespace.api::<ConfigMap>();
    assert!(
        config_maps.get_opt("web-main").await?.is_none(),
        "web-main, created before the refusal, stayed"
    );

    // The fixed chart installs as if nothing had happened.
    setup
        .patch_spec(
            "web",
            json!({"chart": {"repository": {"version": "1.0.1"}}}),
        )
        .await?;
    let installed = setup.wait_deployment("web", applied("1.0.1")).await?;
    assert_eq!(installed.status.unwrap().inventory.len(), 2);
    assert!(config_maps.get_opt("web-main").await?.is_some());
    setup.finish().await
}

#[tokio::test]
async fn a_render_failure_names_the_file_and_line_and_applies_nothing() -> TestResult {
    let setup = Setup::new("op-render").await?;
    let template = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: first\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: second\ndata:\n  text: {{ values.message.text }}\n";
    setup.publish(
        "broken",
        "1.0.0",
        &[
            ("values.yaml", "message:\n  text: hi\n"),
            ("templates/cm.yaml", template),
        ],
    )?;
    setup.apply_repository().await?;
    // A plain string has no `.text`: the render fails only with these values.
    let values = json!({"message": "plain"});
    setup
        .apply_deployment("web", "broken", "1.0.0", values)
        .await?;
    let failed = setup
        .wait_deployment("web", ready_is("False", |r| r == "RenderFailed"))
        .await?;
    let message = failed.status.unwrap().conditions[0].message.clone();
    assert!(message.contains("templates/cm.yaml"), "{message}");
    assert!(message.contains("11"), "the line is named: {message}");
    assert!(
        setup
            .namespace
            .api::<ConfigMap>()
            .get_opt("first")
            .await?
            .is_none()
    );
    setup.finish().await
}
