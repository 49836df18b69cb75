//! Helm hooks against the real API server, with KWOK completing the Jobs' pods: a pre-install Job
//! runs to completion before the release's objects, a hook with `hook-succeeded` is deleted after,
//! post-install hooks run after, no hook is in the inventory, an upgrade runs the Job again (a new
//! object, `before-hook-creation`), and a pre-install hook that does not finish within
//! `spec.timeout` stops the revision with none of its objects applied.

use capstan_api::ChartDeployment;
use capstan_e2e::operator::{Setup, TestResult, applied, ready_is, ready_message};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::runtime::wait::Condition;
use serde_json::json;

const MIGRATE: &str = r#"apiVersion: batch/v1
kind: Job
metadata:
  name: {{ release.name }}-migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "-1"
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations:
        note: "{{ values.note }}"
    spec:
      restartPolicy: Never
      nodeSelector: {{ values.nodeSelector | tojson }}
      containers:
        - name: migrate
          image: registry.example/migrate:1
"#;

const SEED: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-seed\n  \
                    annotations:\n    helm.sh/hook: pre-install\n    \
                    helm.sh/hook-delete-policy: hook-succeeded\ndata:\n  a: b\n";

const AFTER: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-after\n  \
                     annotations:\n    helm.sh/hook: post-install,post-upgrade\n\
                     data:\n  note: \"{{ values.note }}\"\n";

const MAIN: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-main\n\
                    data:\n  note: \"{{ values.note }}\"\n";

fn complete(job: &Job) -> bool {
    job.status
        .as_ref()
        .and_then(|status| status.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "Complete" && c.status == "True")
        })
}

#[tokio::test]
async fn hooks_run_around_a_revision_and_a_stuck_one_applies_nothing() -> TestResult {
    let setup = Setup::new("hooks").await?;
    setup.publish(
        "migrating",
        "1.0.0",
        &[
            ("values.yaml", "note: one\nnodeSelector: {}\n"),
            ("templates/migrate.yaml", MIGRATE),
            ("templates/seed.yaml", SEED),
            ("templates/after.yaml", AFTER),
            ("templates/main.yaml", MAIN),
        ],
    )?;
    setup.apply_repository().await?;
    let chart = json!({"repository": {"repositoryRef": {"name": "charts"}, "name": "migrating",
                                      "version": "1.0.0"}});
    setup
        .apply_deployment_with("app", json!({"chart": chart}))
        .await?;
    let installed = setup.wait_deployment("app", applied("1.0.0")).await?;

    let jobs = setup.namespace.api::<Job>();
    let config_maps = setup.namespace.api::<ConfigMap>();
    let first = jobs.get("app-migrate").await?;
    assert!(
        complete(&first),
        "the pre-install Job did not complete: {first:?}"
    );
    assert!(
        config_maps.get_opt("app-seed").await?.is_none(),
        "a hook-succeeded hook was kept"
    );
    assert!(config_maps.get_opt("app-after").await?.is_some());
    assert!(config_maps.get_opt("app-main").await?.is_some());
    let inventory: Vec<String> = installed
        .status
        .as_ref()
        .map(|s| s.inventory.iter().map(|e| e.name.clone()).collect())
        .unwrap_or_default();
    assert_eq!(inventory, ["app-main"], "hooks are not part of the release");

    // An upgrade runs the pre-upgrade Job again, as a new object, and the post-upgrade hook.
    setup
        .patch_spec("app", json!({"values": {"note": "two"}}))
        .await?;
    setup
        .wait_deployment("app", |d: Option<&ChartDeployment>| {
            d.and_then(|d| d.status.as_ref())
                .is_some_and(|s| s.release_number == Some(2))
                && ready_is("True", |_| true).matches_object(d)
        })
        .await?;
    let second = jobs.get("app-migrate").await?;
    assert_ne!(
        second.metadata.uid, first.metadata.uid,
        "the Job was not run again"
    );
    assert!(complete(&second));
    let after = config_maps.get("app-after").await?;
    assert_eq!(
        after
            .data
            .unwrap_or_default()
            .get("note")
            .map(String::as_str),
        Some("two")
    );

    // A pre-install Job that cannot run: the revision stops before its objects.
    setup
        .apply_deployment_with(
            "stuck",
            json!({"chart": chart, "timeout": "6s",
                   "values": {"nodeSelector": {"capstan.dev/no-such-node": "true"}}}),
        )
        .await?;
    let stuck = setup
        .wait_deployment("stuck", ready_is("False", |reason| reason == "TimedOut"))
        .await?;
    let message = ready_message(&stuck);
    assert!(message.contains("pre-install hooks"), "{message}");
    assert!(
        config_maps.get_opt("stuck-main").await?.is_none(),
        "objects were applied before the pre-install hook finished"
    );
    setup.finish().await
}
