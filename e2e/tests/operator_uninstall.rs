//! Deleting a ChartDeployment waits until what it applied is gone, as `helm uninstall --wait`
//! does: an object held by its own finalizer keeps the ChartDeployment until it goes, up to
//! `spec.timeout` (then a `UninstallTimedOut` event names it), or not at all with
//! `spec.uninstall.disableWait`. The release's `pre-delete` hooks run before its objects are
//! deleted and its `post-delete` hooks once they are gone, as the deployment's ServiceAccount;
//! a hook that fails or runs out of time is named in an event and does not keep the
//! ChartDeployment, and hooks whose delete policy says so are not left behind.

use capstan_api::ChartDeployment;
use capstan_e2e::Cluster;
use capstan_e2e::operator::{Setup, TestResult, WAIT, applied};
use capstan_e2e::wait::{wait_for, wait_for_deletion};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Event};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use serde_json::json;

/// A ConfigMap `<release>-held` that a finalizer of someone else holds once deleted.
const HELD: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-held\n  \
                    finalizers: [capstan.test/hold]\ndata:\n  a: b\n";

#[tokio::test]
async fn deletion_waits_for_finalizing_objects_up_to_the_timeout() -> TestResult {
    let setup = Setup::new("uninstall").await?;
    setup.publish("held", "1.0.0", &[("templates/held.yaml", HELD)])?;
    setup.apply_repository().await?;
    let chart = json!({"repository": {"repositoryRef": {"name": "charts"}, "name": "held",
                                      "version": "1.0.0"}});
    let deployments = setup.namespace.api::<ChartDeployment>();
    let config_maps = setup.namespace.api::<ConfigMap>();
    let release_hold = |name: String| {
        let config_maps = config_maps.clone();
        async move {
            config_maps
                .patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(json!({"metadata": {"finalizers": null}})),
                )
                .await
                .map(drop)
        }
    };
    let finalizing = |config_map: Option<&ConfigMap>| {
        config_map.is_some_and(|c| c.metadata.deletion_timestamp.is_some())
    };

    for (name, extra) in [
        ("waits", json!({})),
        ("quick", json!({"uninstall": {"disableWait": true}})),
        ("bounded", json!({"timeout": "5s"})),
    ] {
        let mut spec = json!({"chart": chart});
        spec.as_object_mut()
            .ok_or("spec")?
            .extend(extra.as_object().ok_or("extra")?.clone());
        setup.apply_deployment_with(name, spec).await?;
        setup.wait_deployment(name, applied("1.0.0")).await?;
    }

    // Default: the ChartDeployment stays until its ConfigMap is gone.
    let uid = |d: &ChartDeployment| d.metadata.uid.clone().unwrap_or_default();
    let waits = deployments.get("waits").await?;
    deployments
        .delete("waits", &DeleteParams::default())
        .await?;
    wait_for(&config_maps, "waits-held", "ConfigMap", WAIT, finalizing).await?;
    // The operator sent the delete and found it held: it cannot have let the deployment go.
    assert!(
        deployments.get_opt("waits").await?.is_some(),
        "the ChartDeployment went while its ConfigMap was still finalizing"
    );
    release_hold("waits-held".into()).await?;
    wait_for_deletion(&deployments, "waits", &uid(&waits), WAIT).await?;

    // disableWait: gone while the ConfigMap is still held.
    let quick = deployments.get("quick").await?;
    deployments
        .delete("quick", &DeleteParams::default())
        .await?;
    wait_for_deletion(&deployments, "quick", &uid(&quick), WAIT).await?;
    assert!(finalizing(
        config_maps.get_opt("quick-held").await?.as_ref()
    ));
    release_hold("quick-held".into()).await?;

    // spec.timeout bounds the wait; the event names what was left finalizing.
    let bounded = deployments.get("bounded").await?;
    deployments
        .delete("bounded", &DeleteParams::default())
        .await?;
    wait_for_deletion(&deployments, "bounded", &uid(&bounded), WAIT).await?;
    assert!(finalizing(
        config_maps.get_opt("bounded-held").await?.as_ref()
    ));
    let events = setup
        .namespace
        .api::<Event>()
        .list(&ListParams::default().fields("reason=UninstallTimedOut"))
        .await?;
    assert!(
        events.items.iter().any(
            |event| event.message.as_deref().is_some_and(
                |message| message.contains("ConfigMap") && message.contains("bounded-held")
            )
        ),
        "no UninstallTimedOut event names the ConfigMap: {:?}",
        events.items.iter().map(|e| &e.message).collect::<Vec<_>>()
    );
    release_hold("bounded-held".into()).await?;
    setup.finish().await
}

/// The release's own ConfigMap, held by a finalizer of someone else when `values.hold`.
const MAIN: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-main\n\
                    {% if values.hold %}  finalizers: [capstan.test/hold]\n{% endif %}data:\n  a: b\n";

/// A ConfigMap hook of `phase`, left in place after it ran (`before-hook-creation`, the default).
fn config_map_hook(suffix: &str, phase: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{{{ release.name }}}}-{suffix}\n  \
         annotations:\n    helm.sh/hook: {phase}\ndata: {{}}\n"
    )
}

/// A Job hook of `phase`, weight 1, deleted whether it succeeds or fails, rendered when
/// `values.<suffix>` is set; its pod schedules only where `values.nodeSelector` says.
fn job_hook(suffix: &str, phase: &str) -> String {
    format!(
        r#"{{% if values.{suffix} %}}apiVersion: batch/v1
kind: Job
metadata:
  name: {{{{ release.name }}}}-{suffix}
  annotations:
    helm.sh/hook: {phase}
    helm.sh/hook-weight: "1"
    helm.sh/hook-delete-policy: hook-succeeded,hook-failed
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      nodeSelector: {{{{ values.nodeSelector | tojson }}}}
      containers:
        - name: {suffix}
          image: registry.example/{suffix}:1
{{% endif %}}"#
    )
}

/// A ServiceAccount `deployer` in `namespace` that may manage ConfigMaps and Secrets there (not
/// Jobs).
async fn grant_deployer(cluster: &Cluster, namespace: &str) -> TestResult {
    let binding = format!("{namespace}:deployer");
    let commands: [&[&str]; 3] = [
        &["create", "serviceaccount", "deployer"],
        &[
            "create",
            "role",
            "deployer",
            "--verb=get,list,watch,create,update,patch,delete",
            "--resource=configmaps,secrets",
        ],
        &[
            "create",
            "rolebinding",
            "deployer",
            "--role=deployer",
            "--serviceaccount",
            &binding,
        ],
    ];
    for args in commands {
        cluster
            .kubectl()
            .args(args)
            .args(["--namespace", namespace])
            .run()
            .await?;
    }
    Ok(())
}

#[tokio::test]
async fn delete_hooks_run_around_the_uninstall_and_never_hold_it() -> TestResult {
    let setup = Setup::new("delete-hooks").await?;
    let namespace = setup.namespace.name().to_string();
    grant_deployer(Cluster::shared()?, &namespace).await?;
    let pre = config_map_hook("pre", "pre-delete");
    let post = config_map_hook("post", "post-delete");
    let backup = job_hook("backup", "pre-delete");
    let notify = job_hook("notify", "post-delete");
    setup.publish(
        "hooked",
        "1.0.0",
        &[
            (
                "values.yaml",
                "hold: false\nbackup: true\nnotify: true\nnodeSelector: {}\n",
            ),
            ("templates/main.yaml", MAIN),
            ("templates/pre.yaml", &pre),
            ("templates/post.yaml", &post),
            ("templates/backup.yaml", &backup),
            ("templates/notify.yaml", &notify),
        ],
    )?;
    setup.apply_repository().await?;
    let chart = json!({"repository": {"repositoryRef": {"name": "charts"}, "name": "hooked",
                                      "version": "1.0.0"}});
    let nowhere = json!({"capstan.dev/no-such-node": "true"});
    for (name, extra) in [
        ("clean", json!({"values": {"hold": true}})),
        (
            "stuck",
            json!({"timeout": "8s", "values": {"nodeSelector": nowhere}}),
        ),
        (
            "tenant",
            json!({"serviceAccountName": "deployer", "values": {"backup": false}}),
        ),
    ] {
        let mut spec = json!({"chart": chart});
        spec.as_object_mut()
            .ok_or("spec")?
            .extend(extra.as_object().ok_or("extra")?.clone());
        setup.apply_deployment_with(name, spec).await?;
        setup.wait_deployment(name, applied("1.0.0")).await?;
    }
    let deployments = setup.namespace.api::<ChartDeployment>();
    let config_maps = setup.namespace.api::<ConfigMap>();
    let jobs = setup.namespace.api::<Job>();
    let uid = |d: &ChartDeployment| d.metadata.uid.clone().unwrap_or_default();
    assert!(
        config_maps.get_opt("clean-pre").await?.is_none(),
        "a pre-delete hook ran on install"
    );

    // pre-delete hooks before the objects are deleted, post-delete hooks once they are gone.
    let clean = deployments.get("clean").await?;
    deployments
        .delete("clean", &DeleteParams::default())
        .await?;
    wait_for(
        &config_maps,
        "clean-main",
        "ConfigMap",
        WAIT,
        |c: Option<&ConfigMap>| c.is_some_and(|c| c.metadata.deletion_timestamp.is_some()),
    )
    .await?;
    assert!(
        config_maps.get_opt("clean-pre").await?.is_some(),
        "the objects were deleted before the pre-delete hooks ran"
    );
    assert!(
        jobs.get_opt("clean-backup").await?.is_none(),
        "a hook-succeeded pre-delete Job was kept"
    );
    assert!(
        config_maps.get_opt("clean-post").await?.is_none(),
        "a post-delete hook ran while the objects were still there"
    );
    config_maps
        .patch(
            "clean-main",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": null}})),
        )
        .await?;
    wait_for_deletion(&deployments, "clean", &uid(&clean), WAIT).await?;
    assert!(config_maps.get_opt("clean-post").await?.is_some());
    assert!(
        jobs.get_opt("clean-notify").await?.is_none(),
        "a hook-succeeded post-delete Job was kept"
    );

    // A pre-delete Job that cannot finish: named in an event, and the uninstall goes on.
    let stuck = deployments.get("stuck").await?;
    deployments
        .delete("stuck", &DeleteParams::default())
        .await?;
    wait_for_deletion(&deployments, "stuck", &uid(&stuck), WAIT).await?;
    assert!(config_maps.get_opt("stuck-main").await?.is_none());
    let backup_job = wait_for(&jobs, "stuck-backup", "Job", WAIT, |job: Option<&Job>| {
        job.is_none()
    })
    .await?;
    assert!(backup_job.is_none(), "a timed-out hook-failed Job was kept");

    // The tenant's hooks are written as its ServiceAccount, which may not create Jobs.
    let tenant = deployments.get("tenant").await?;
    deployments
        .delete("tenant", &DeleteParams::default())
        .await?;
    wait_for_deletion(&deployments, "tenant", &uid(&tenant), WAIT).await?;
    assert!(config_maps.get_opt("tenant-post").await?.is_some());
    assert!(jobs.get_opt("tenant-notify").await?.is_none());

    let messages: Vec<String> = setup
        .namespace
        .api::<Event>()
        .list(&ListParams::default().fields("reason=UninstallHookFailed"))
        .await?
        .items
        .into_iter()
        .filter_map(|event| event.message)
        .collect();
    let names = |text: &str| messages.iter().any(|message| message.contains(text));
    assert!(
        names(&format!(
            "pre-delete hook Job {namespace}/stuck-backup failed"
        )),
        "{messages:?}"
    );
    assert!(
        names(&format!("ServiceAccount {namespace}/deployer")) && names("tenant-notify"),
        "{messages:?}"
    );
    assert!(!names("clean-"), "{messages:?}");
    setup.finish().await
}
