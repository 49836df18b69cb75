//! Helm hooks against the real API server, with KWOK completing the Jobs' pods: a pre-install Job
//! runs to completion before the release's objects, a hook with `hook-succeeded` is deleted after,
//! post-install hooks run after, no hook is in the inventory, an upgrade runs the Job again (a new
//! object, `before-hook-creation`), and a pre-install hook that does not finish within
//! `spec.timeout` stops the revision with none of its objects applied. Post-install hooks wait
//! until the release is healthy, and one that fails (a Job past its `activeDeadlineSeconds`,
//! its pod unschedulable) fails the revision.

use capstan_api::ChartDeployment;
use capstan_e2e::operator::{Setup, TestResult, applied, ready_is, ready_message};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Patch, PatchParams};
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
        .wait_deployment("stuck", ready_is("False", |reason| reason == "HookFailed"))
        .await?;
    let message = ready_message(&stuck);
    assert!(
        message.contains("pre-install hook Job")
            && message.contains("stuck-migrate")
            && message.contains("not done within spec.timeout"),
        "{message}"
    );
    assert!(
        config_maps.get_opt("stuck-main").await?.is_none(),
        "objects were applied before the pre-install hook finished"
    );
    setup.finish().await
}

/// A Deployment whose pod schedules only where `values.webNodeSelector` says.
const WEB: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ release.name }}-web
spec:
  replicas: 1
  selector:
    matchLabels: {app: {{ release.name }}-web}
  template:
    metadata:
      labels: {app: {{ release.name }}-web}
    spec:
      nodeSelector: {{ values.webNodeSelector | tojson }}
      containers:
        - name: web
          image: registry.example/web:1
"#;

const READY_HOOK: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-ready\n  \
                          annotations:\n    helm.sh/hook: post-install,post-upgrade\ndata: {}\n";

/// A post-install Job that fails (`activeDeadlineSeconds`) when its pod cannot be scheduled.
const CHECK_HOOK: &str = r#"apiVersion: batch/v1
kind: Job
metadata:
  name: {{ release.name }}-check
  annotations:
    helm.sh/hook: post-install
    helm.sh/hook-weight: "1"
    helm.sh/hook-delete-policy: hook-failed
spec:
  backoffLimit: 0
  activeDeadlineSeconds: 3
  template:
    spec:
      restartPolicy: Never
      nodeSelector: {{ values.checkNodeSelector | tojson }}
      containers:
        - name: check
          image: registry.example/check:1
"#;

#[tokio::test]
async fn post_install_hooks_wait_for_health_and_a_failed_one_fails_the_revision() -> TestResult {
    let setup = Setup::new("post-hooks").await?;
    setup.publish(
        "gated",
        "1.0.0",
        &[
            (
                "values.yaml",
                "webNodeSelector: {}\ncheckNodeSelector: {}\n",
            ),
            ("templates/web.yaml", WEB),
            ("templates/ready.yaml", READY_HOOK),
            ("templates/check.yaml", CHECK_HOOK),
        ],
    )?;
    setup.apply_repository().await?;
    let chart = json!({"repository": {"repositoryRef": {"name": "charts"}, "name": "gated",
                                      "version": "1.0.0"}});
    let nowhere = json!({"capstan.dev/no-such-node": "true"});
    let config_maps = setup.namespace.api::<ConfigMap>();
    let jobs = setup.namespace.api::<Job>();

    // Applied but not healthy: no post-install hook yet.
    setup
        .apply_deployment_with(
            "late",
            json!({"chart": chart, "timeout": "120s",
                   "values": {"webNodeSelector": nowhere}}),
        )
        .await?;
    setup
        .wait_deployment(
            "late",
            ready_is("Unknown", |reason| reason == "Progressing"),
        )
        .await?;
    assert!(
        config_maps.get_opt("late-ready").await?.is_none(),
        "a post-install hook ran before the release was healthy"
    );
    assert!(jobs.get_opt("late-check").await?.is_none());
    // The pod may go anywhere now: the release gets healthy, then its post-install hooks run.
    setup
        .namespace
        .api::<Deployment>()
        .patch(
            "late-web",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"template": {"spec": {"nodeSelector": null}}}})),
        )
        .await?;
    let healthy = setup
        .wait_deployment("late", ready_is("True", |_| true))
        .await?;
    assert!(ready_message(&healthy).contains("all healthy"));
    assert!(config_maps.get_opt("late-ready").await?.is_some());
    let check = jobs.get("late-check").await?;
    assert!(complete(&check), "the post-install Job did not complete");
    let outcomes: Vec<&str> = healthy
        .status
        .as_ref()
        .map(|s| s.history.iter().map(|e| e.outcome.as_str()).collect())
        .unwrap_or_default();
    assert_eq!(outcomes, ["Healthy"]);

    // Healthy at once, but the post-install Job fails: so does the revision.
    setup
        .apply_deployment_with(
            "failing",
            json!({"chart": chart, "timeout": "60s",
                   "values": {"checkNodeSelector": nowhere}}),
        )
        .await?;
    let failed = setup
        .wait_deployment(
            "failing",
            ready_is("False", |reason| reason == "HookFailed"),
        )
        .await?;
    let message = ready_message(&failed);
    let job = format!("Job {}/failing-check", setup.namespace.name());
    assert!(
        message.contains("post-install hook") && message.contains(&job),
        "{message}"
    );
    let status = failed.status.as_ref().ok_or("no status")?;
    assert_eq!(
        status
            .inventory
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>(),
        ["failing-web"],
        "the revision's objects are recorded as applied"
    );
    assert_eq!(
        status.history.first().map(|e| e.outcome.as_str()),
        Some("Failed")
    );
    assert!(config_maps.get_opt("failing-ready").await?.is_some());
    assert!(
        jobs.get_opt("failing-check").await?.is_none(),
        "a failed hook-failed hook was kept"
    );
    setup.finish().await
}
