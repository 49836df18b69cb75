//! The operator's remaining guarantees against the real control plane: upgrades triggered by a
//! change in a valuesFrom ConfigMap or Secret, a repository that goes down and comes back, two
//! deployments claiming one object, a steady state that sends no write request (shown by the API
//! server's audit log), a repository polling an unchanged index without a write or waking
//! the deployments that use it (a new index or its deletion does), and the kustomize install with least-privilege RBAC.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use capstan_api::{ChartDeployment, ChartRepository};
use capstan_e2e::Cluster;
use capstan_e2e::operator::{Setup, WAIT, applied, ready_is};
use capstan_e2e::wait::wait_for;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::wait::Condition;
use serde_json::json;
use support::{AuditLog, ChartServer, Outcome, TestResult, ready_message, repository_ready_is};

const GREETING: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ release.name }}-main
data:
  greeting: {{ values.greeting }}
  word: {{ values.word }}
";

fn publish_greet(setup: &Setup) -> TestResult {
    setup.publish(
        "greet",
        "1.0.0",
        &[
            ("values.yaml", "greeting: hello\nword: none\n"),
            ("templates/main.yaml", GREETING),
        ],
    )?;
    Ok(())
}

/// Creates ConfigMap `name` with `values_yaml` under `values.yaml`, for `valuesFrom`.
async fn create_values(setup: &Setup, name: &str, values_yaml: &str) -> TestResult {
    let config_map: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": name},
        "data": {"values.yaml": values_yaml},
    }))?;
    setup
        .namespace
        .api::<ConfigMap>()
        .create(&PostParams::default(), &config_map)
        .await?;
    Ok(())
}

/// Waits until ConfigMap `name` has `key: value`.
async fn wait_data(setup: &Setup, name: &str, key: &str, value: &str) -> Outcome<ConfigMap> {
    let api = setup.namespace.api::<ConfigMap>();
    let found = wait_for(&api, name, "ConfigMap", WAIT, |cm: Option<&ConfigMap>| {
        cm.and_then(|cm| cm.data.as_ref())
            .and_then(|data| data.get(key))
            .is_some_and(|found| found == value)
    })
    .await?;
    Ok(found.ok_or("the ConfigMap disappeared")?)
}

fn values_digest(deployment: &ChartDeployment) -> String {
    deployment
        .status
        .as_ref()
        .and_then(|s| s.last_applied_revision.as_ref())
        .map(|r| r.values_digest.clone())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_change_in_a_values_from_config_map_or_secret_upgrades_without_touching_the_spec()
-> TestResult {
    let setup = Setup::new("op-valuesfrom").await?;
    publish_greet(&setup)?;
    let config_maps = setup.namespace.api::<ConfigMap>();
    let secrets = setup.namespace.api::<Secret>();
    create_values(&setup, "web-values", "greeting: hi\n").await?;
    let values_secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "web-secret-values"},
        "stringData": {"values.yaml": "word: alpha\n"},
    }))?;
    secrets
        .create(&PostParams::default(), &values_secret)
        .await?;
    setup.apply_repository().await?;
    // A long interval: only the watches on the ConfigMap and the Secret can explain an upgrade
    // within the test's time.
    setup
        .apply_deployment_with(
            "web",
            json!({
                "chart": {"repository": {"repositoryRef": {"name": "charts"}, "name": "greet",
                                         "version": "1.0.0"}},
                "valuesFrom": [
                    {"kind": "ConfigMap", "name": "web-values"},
                    {"kind": "Secret", "name": "web-secret-values"},
                ],
                "interval": "1h",
            }),
        )
        .await?;
    let installed = setup.wait_deployment("web", applied("1.0.0")).await?;
    let generation = installed.metadata.generation;
    let first_digest = values_digest(&installed);
    let main = wait_data(&setup, "web-main", "greeting", "hi").await?;
    assert_eq!(main.data.unwrap_or_default()["word"], "alpha");

    // Edit the ConfigMap only.
    config_maps
        .patch(
            "web-values",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"values.yaml": "greeting: hey\n"}})),
        )
        .await?;
    wait_data(&setup, "web-main", "greeting", "hey").await?;
    let digest_changed =
        |old: String| move |d: Option<&ChartDeployment>| d.is_some_and(|d| values_digest(d) != old);
    let upgraded = setup
        .wait_deployment("web", digest_changed(first_digest.clone()))
        .await?;
    let second_digest = values_digest(&upgraded);
    assert_eq!(upgraded.metadata.generation, generation, "the spec changed");
    assert!(
        ready_is("True", |r| r == "Applied").matches_object(Some(&upgraded)),
        "{:?}",
        upgraded.status
    );

    // Edit the Secret only.
    secrets
        .patch(
            "web-secret-values",
            &PatchParams::default(),
            &Patch::Merge(json!({"stringData": {"values.yaml": "word: beta\n"}})),
        )
        .await?;
    let main = wait_data(&setup, "web-main", "word", "beta").await?;
    assert_eq!(main.data.unwrap_or_default()["greeting"], "hey");
    let upgraded = setup
        .wait_deployment("web", digest_changed(second_digest.clone()))
        .await?;
    assert_ne!(values_digest(&upgraded), first_digest);
    assert_eq!(upgraded.metadata.generation, generation, "the spec changed");
    setup.finish().await
}

#[tokio::test]
async fn a_repository_that_goes_down_is_reported_retried_and_recovers_by_itself() -> TestResult {
    let mut server = ChartServer::start().await?;
    let setup = Setup::serving_from("op-down", server.dir().to_path_buf(), server.url()).await?;
    publish_greet(&setup)?;
    setup.apply_repository().await?;
    setup
        .wait_repository("charts", repository_ready_is("True", |_| true))
        .await?;

    // Down: the port refuses connections.
    server.stop();
    let down = setup
        .wait_repository(
            "charts",
            repository_ready_is("False", |r| r == "FetchFailed"),
        )
        .await?;
    let conditions = down.status.unwrap_or_default().conditions;
    assert!(
        conditions[0]
            .message
            .contains("index of ChartRepository charts"),
        "{conditions:?}"
    );
    assert!(
        conditions
            .iter()
            .any(|c| c.type_ == "Reconciling" && c.status == "True"),
        "a retryable failure is Reconciling: {conditions:?}"
    );

    // A deployment created meanwhile resolves the chart from the last index but cannot download it.
    setup
        .apply_deployment("web", "greet", "1.0.0", json!({}))
        .await?;
    let failed = setup
        .wait_deployment("web", ready_is("False", |r| r == "FetchFailed"))
        .await?;
    assert!(
        ready_message(&failed).contains("chart greet"),
        "{}",
        ready_message(&failed)
    );
    let config_maps = setup.namespace.api::<ConfigMap>();
    assert!(config_maps.get_opt("web-main").await?.is_none());

    // Still down, but answering 503: every attempt is counted. Retries keep coming by
    // themselves, spaced by the back-off rather than in a hot loop.
    server.set_unavailable(true);
    server.resume().await?;
    let unavailable = setup
        .wait_deployment("web", |d: Option<&ChartDeployment>| {
            d.is_some_and(|d| ready_message(d).contains("503"))
        })
        .await?;
    assert!(ready_is("False", |r| r == "FetchFailed").matches_object(Some(&unavailable)));
    tokio::time::sleep(Duration::from_secs(20)).await;
    let (index_attempts, archive_attempts) =
        (server.requests("/index.yaml"), server.requests(".tgz"));
    assert!(
        index_attempts >= 1 && archive_attempts >= 1,
        "retried by themselves: index {index_attempts}, archive {archive_attempts}"
    );
    // Back-off from 5s doubling allows a handful of attempts in this window (plus one per
    // status change that wakes the deployment); a hot loop would make hundreds.
    assert!(
        index_attempts <= 8 && archive_attempts <= 8,
        "retries back off: index {index_attempts}, archive {archive_attempts}"
    );

    // Back up: both recover without anything being touched.
    server.set_unavailable(false);
    let recovery = Duration::from_secs(400);
    setup
        .wait_repository_for("charts", recovery, repository_ready_is("True", |_| true))
        .await?;
    setup
        .wait_deployment_for("web", recovery, applied("1.0.0"))
        .await?;
    wait_data(&setup, "web-main", "greeting", "hello").await?;
    setup.finish().await
}

const SHARED: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: common
data:
  greeting: {{ values.greeting }}
";

const OWN: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ release.name }}-own
data:
  greeting: {{ values.greeting }}
";

#[tokio::test]
async fn the_first_deployment_keeps_an_object_two_of_them_render() -> TestResult {
    let setup = Setup::new("op-conflict").await?;
    setup.publish(
        "pair",
        "1.0.0",
        &[
            ("values.yaml", "greeting: hello\n"),
            ("templates/own.yaml", OWN),
            ("templates/shared.yaml", SHARED),
        ],
    )?;
    setup.apply_repository().await?;
    setup
        .apply_deployment("first", "pair", "1.0.0", json!({"greeting": "from-first"}))
        .await?;
    setup.wait_deployment("first", applied("1.0.0")).await?;
    setup
        .apply_deployment(
            "second",
            "pair",
            "1.0.0",
            json!({"greeting": "from-second"}),
        )
        .await?;
    let refused = setup
        .wait_deployment("second", ready_is("False", |r| r == "OwnershipConflict"))
        .await?;
    let namespace = setup.namespace.name();
    let message = ready_message(&refused);
    assert!(
        message.contains(&format!("ConfigMap {namespace}/common")),
        "names the object: {message}"
    );
    assert!(
        message.contains(&format!("ChartDeployment {namespace}/first")),
        "names the owner: {message}"
    );
    let status = refused.status.unwrap_or_default();
    assert!(status.last_applied_revision.is_none());
    assert!(status.inventory.is_empty());
    assert!(
        status
            .conditions
            .iter()
            .any(|c| c.type_ == "Stalled" && c.status == "True"),
        "a conflict waits for a change: {:?}",
        status.conditions
    );

    // The first keeps the object, and nothing of the second's was applied.
    let config_maps = setup.namespace.api::<ConfigMap>();
    let common = config_maps.get("common").await?;
    assert_eq!(
        common.data.clone().unwrap_or_default()["greeting"],
        "from-first"
    );
    assert_eq!(
        common.annotations().get("capstan.dev/deployment"),
        Some(&format!("{namespace}/first"))
    );
    assert!(config_maps.get_opt("second-own").await?.is_none());
    let first = setup.wait_deployment("first", applied("1.0.0")).await?;
    assert_eq!(first.status.unwrap_or_default().inventory.len(), 2);
    setup.finish().await
}

#[tokio::test]
async fn a_reconcile_that_changes_nothing_sends_no_write_request() -> TestResult {
    let audit = AuditLog::of(Cluster::shared()?)?;
    let start = audit.position()?;
    let server = ChartServer::start().await?;
    let mut setup =
        Setup::serving_from("op-quiet", server.dir().to_path_buf(), server.url()).await?;
    publish_greet(&setup)?;
    // The repository keeps its default interval: each fetch records its time in status (see
    // `a_repository_records_each_fetch_and_an_unchanged_index_wakes_no_deployment`), so only
    // the deployment is re-checked here, every few seconds.
    setup
        .apply_repository_with("charts", json!({"url": setup.repo_url}))
        .await?;
    setup
        .apply_deployment_with(
            "web",
            json!({
                "chart": {"repository": {"repositoryRef": {"name": "charts"}, "name": "greet",
                                         "version": "1.0.0"}},
                "interval": "3s",
            }),
        )
        .await?;
    setup.wait_deployment("web", applied("1.0.0")).await?;
    wait_data(&setup, "web-main", "greeting", "hello").await?;
    let namespace = setup.namespace.name().to_string();

    // The audit log does record the operator's writes: the apply of the ConfigMap and the status.
    let install = audit.writes_since(start, &namespace)?;
    let wrote = |resource: &str, name: &str| {
        install
            .iter()
            .any(|w| w.verb == "patch" && w.resource == resource && w.name == name)
    };
    assert!(wrote("configmaps", "web-main"), "{install:#?}");
    assert!(wrote("chartdeployments", "web"), "{install:#?}");

    // Let the last writes of the install land, then watch several intervals of the deployment.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let quiet_from = audit.position()?;
    let reconciles_before = setup.reconciles("ChartDeployment").await?;
    tokio::time::sleep(Duration::from_secs(15)).await;
    let writes = audit.writes_since(quiet_from, &namespace)?;
    let reconciles = setup.reconciles("ChartDeployment").await? - reconciles_before;
    // The interval-driven reconciles did run: the deployment rendered and compared its chart
    // again (from the archive the operator keeps, so the download count says nothing here).
    assert!(
        reconciles >= 2,
        "the deployment reconciled {reconciles} times"
    );
    assert!(
        writes.is_empty(),
        "writes while nothing changed: {writes:#?}"
    );

    // A restart changes nothing either. The new process reconciles the deployment at once,
    // before it has fetched the repository's index itself (held back here, as a slow
    // repository would): it waits for the index instead of reporting it missing, which would
    // flip Ready and publish an event on every restart. Only the repository records its fetch
    // in its own status.
    setup.stop_operator().await?;
    server.set_index_delay(Duration::from_secs(3));
    let restarted_from = audit.position()?;
    let archive_before = server.requests(".tgz");
    setup.start_operator()?;
    tokio::time::sleep(Duration::from_secs(10)).await;
    let reconciles = setup.reconciles("ChartDeployment").await?;
    server.set_index_delay(Duration::ZERO);
    let writes: Vec<_> = audit
        .writes_since(restarted_from, &namespace)?
        .into_iter()
        .filter(|write| write.resource != "chartrepositories")
        .collect();
    assert!(
        writes.is_empty(),
        "writes after a restart while nothing changed: {writes:#?}"
    );
    // A new process has no archive kept: it downloads the chart once to compare it.
    let archive_fetches = server.requests(".tgz") - archive_before;
    assert!(
        reconciles >= 1 && archive_fetches >= 1,
        "the restarted operator never looked at the chart: {reconciles} reconciles, archive \
         fetched {archive_fetches} times"
    );

    // A change is still applied: drift in an applied object is corrected on the next interval.
    setup
        .namespace
        .api::<ConfigMap>()
        .patch(
            "web-main",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"greeting": "drifted"}})),
        )
        .await?;
    wait_data(&setup, "web-main", "greeting", "hello").await?;
    setup.finish().await
}

/// `status.indexChangeTime` of a repository.
fn index_change_time(repository: &ChartRepository) -> Outcome<Timestamp> {
    let status = repository
        .status
        .as_ref()
        .ok_or("the repository has no status")?;
    let changed = status
        .index_change_time
        .as_ref()
        .ok_or("status.indexChangeTime is missing")?;
    Ok(changed.0)
}

#[tokio::test]
async fn a_repository_polls_an_unchanged_index_without_a_write_or_waking_a_deployment() -> TestResult
{
    let audit = AuditLog::of(Cluster::shared()?)?;
    let server = ChartServer::start().await?;
    let setup =
        Setup::serving_from("op-fetchtimes", server.dir().to_path_buf(), server.url()).await?;
    publish_greet(&setup)?;
    let namespace = setup.namespace.name().to_string();
    // The deployment reads its values from this ConfigMap whenever it is reconciled, so the
    // audit log's reads of it show when that happened. Its own interval is long: in this test
    // only the repository can wake it.
    create_values(&setup, "web-values", "greeting: hi\n").await?;
    setup
        .apply_repository_with("charts", json!({"url": setup.repo_url, "interval": "2s"}))
        .await?;
    setup
        .apply_deployment_with(
            "web",
            json!({
                "chart": {"repository": {"repositoryRef": {"name": "charts"}, "name": "greet",
                                         "version": "^1.0.0"}},
                "valuesFrom": [{"kind": "ConfigMap", "name": "web-values"}],
                "interval": "1h",
            }),
        )
        .await?;
    setup.wait_deployment("web", applied("1.0.0")).await?;
    let repositories = setup.namespace.api::<ChartRepository>();
    // The deployment may apply from the cached index a moment before the repository's status
    // write lands: wait for the status.
    let first = setup
        .wait_repository("charts", |r: Option<&ChartRepository>| {
            r.and_then(|r| r.status.as_ref())
                .is_some_and(|s| s.index_change_time.is_some())
        })
        .await?;
    let first_changed = index_change_time(&first)?;
    let first_status = first.status.clone().unwrap_or_default();
    assert_eq!(first_status.next_fetch_time, None, "{first_status:?}");

    // Let the install settle, then watch several fetches of the same index.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let quiet_from = audit.position()?;
    let index_before = server.requests("/index.yaml");
    tokio::time::sleep(Duration::from_secs(9)).await;
    let index_fetches = server.requests("/index.yaml") - index_before;
    assert!(index_fetches >= 3, "index fetched {index_fetches} times");
    // Nothing in the status moved, and nothing in the namespace was written...
    let later = repositories.get("charts").await?;
    assert_eq!(later.status.unwrap_or_default(), first_status);
    let writes = audit.writes_since(quiet_from, &namespace)?;
    assert!(writes.is_empty(), "{writes:#?}");
    // ...and the fetches did not wake the deployment: it did not read its values.
    let reads = audit.config_map_reads_since(quiet_from, &namespace)?;
    assert!(
        !reads.iter().any(|read| read.name == "web-values"),
        "{reads:#?}"
    );

    // A new version in the index does wake it, long before its own interval.
    let upgrade_from = audit.position()?;
    setup.publish(
        "greet",
        "1.1.0",
        &[
            ("values.yaml", "greeting: hello\nword: new\n"),
            ("templates/main.yaml", GREETING),
        ],
    )?;
    setup.wait_deployment("web", applied("1.1.0")).await?;
    wait_data(&setup, "web-main", "word", "new").await?;
    let reads = audit.config_map_reads_since(upgrade_from, &namespace)?;
    assert!(
        reads.iter().any(|read| read.name == "web-values"),
        "{reads:#?}"
    );

    // The status records the new index and when it arrived.
    let upgraded = setup
        .wait_repository("charts", |r: Option<&ChartRepository>| {
            r.and_then(|r| r.status.as_ref())
                .is_some_and(|s| s.index_digest != first_status.index_digest)
        })
        .await?;
    assert!(index_change_time(&upgraded)? > first_changed);

    // Suspended, the repository is not fetched; the last index stays listed.
    repositories
        .patch(
            "charts",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"suspend": true}})),
        )
        .await?;
    // A fetch under way when the suspension lands still completes.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let index_before = server.requests("/index.yaml");
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(server.requests("/index.yaml"), index_before);
    let suspended = repositories.get("charts").await?;
    let suspended_status = suspended.status.unwrap_or_default();
    assert_eq!(
        suspended_status.index_digest,
        upgraded.status.and_then(|s| s.index_digest)
    );
    assert_eq!(suspended_status.next_fetch_time, None);

    // Deleting the repository wakes the deployment at once too (its interval is an hour): it
    // reports the repository missing and keeps what it applied.
    repositories
        .delete("charts", &kube::api::DeleteParams::default())
        .await?;
    let orphaned = setup
        .wait_deployment("web", ready_is("False", |reason| reason == "InputMissing"))
        .await?;
    assert!(
        ready_message(&orphaned).contains("ChartRepository charts"),
        "{}",
        ready_message(&orphaned)
    );
    wait_data(&setup, "web-main", "word", "new").await?;

    // Created again, even with an hour's interval, it is fetched at once (a new object, not the
    // old one's schedule), and the deployment is back to Ready; twice, so that the second
    // object has the very spec and generation of the first.
    for _ in 0..2 {
        let _ = repositories
            .delete("charts", &kube::api::DeleteParams::default())
            .await;
        wait_for(
            &repositories,
            "charts",
            "ChartRepository",
            WAIT,
            |r: Option<&ChartRepository>| r.is_none(),
        )
        .await?;
        setup
            .wait_deployment("web", ready_is("False", |reason| reason == "InputMissing"))
            .await?;
        setup
            .apply_repository_with("charts", json!({"url": setup.repo_url, "interval": "1h"}))
            .await?;
        let again = setup
            .wait_repository("charts", repository_ready_is("True", |_| true))
            .await?;
        assert_eq!(again.status.and_then(|s| s.chart_count), Some(2));
        setup
            .wait_deployment("web", ready_is("True", |_| true))
            .await?;
    }
    // The repository went missing twice the same way: one Event, counted twice on its series,
    // and no two InputMissing Events say the same.
    let missing: Vec<_> = setup
        .namespace
        .api::<Event>()
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .filter(|event| event.reason.as_deref() == Some("InputMissing"))
        .collect();
    let notes: std::collections::BTreeSet<_> = missing.iter().map(|e| e.note.clone()).collect();
    assert_eq!(notes.len(), missing.len(), "{missing:#?}");
    let counted: Vec<_> = missing
        .iter()
        .filter_map(|event| event.series.as_ref().map(|series| series.count))
        .collect();
    assert_eq!(counted, [2], "{missing:#?}");
    setup.finish().await
}

/// Removes what `kubectl apply -k config/` created, except the CRDs other tests share.
struct Installed {
    cluster: &'static Cluster,
}

impl Drop for Installed {
    fn drop(&mut self) {
        let env = self.cluster.env();
        for args in [
            &[
                "delete",
                "clusterrolebinding,clusterrole",
                "capstan-operator",
            ][..],
            &["delete", "namespace", "capstan-system", "--wait=false"][..],
        ] {
            let _ = std::process::Command::new(&env.kubectl)
                .env("KUBECONFIG", &env.kubeconfig)
                .args(args)
                .args(["--ignore-not-found", "--request-timeout=20s"])
                .stdout(std::process::Stdio::null())
                .status();
        }
    }
}

const SERVICE_ACCOUNT: &str = "system:serviceaccount:capstan-system:capstan-operator";

/// `kubectl auth can-i` as the operator's ServiceAccount.
async fn operator_can(cluster: &Cluster, verb: &str, resource: &str, scope: &[&str]) -> bool {
    let output = cluster
        .kubectl()
        .args(["auth", "can-i", verb, resource, "--as", SERVICE_ACCOUNT])
        .args(scope)
        .output()
        .await;
    matches!(output, Ok(output) if output.status.success())
}

#[tokio::test]
async fn the_kustomize_base_installs_a_least_privilege_operator() -> TestResult {
    let cluster = Cluster::shared()?;
    let _installed = Installed { cluster };
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../config");
    cluster
        .kubectl()
        .args(["apply", "-k", config])
        .run()
        .await?;
    for object in [
        "crd/chartrepositories.capstan.dev",
        "crd/chartdeployments.capstan.dev",
        "namespace/capstan-system",
        "clusterrole/capstan-operator",
        "clusterrolebinding/capstan-operator",
    ] {
        cluster.kubectl().args(["get", object]).run().await?;
    }
    for object in [
        "serviceaccount/capstan-operator",
        "deployment/capstan-operator",
    ] {
        cluster
            .kubectl()
            .args(["get", object, "--namespace", "capstan-system"])
            .run()
            .await?;
    }
    // The Deployment was accepted and its Pod admitted (KWOK plays the kubelet).
    cluster
        .kubectl()
        .args([
            "wait",
            "--for=condition=Available",
            "--timeout=90s",
            "--namespace",
            "capstan-system",
            "deployment/capstan-operator",
        ])
        .run()
        .await?;

    let all = ["--all-namespaces"];
    let elsewhere = ["--namespace", "some-app"];
    let exec = ["--namespace", "some-app", "--subresource=exec"];
    let token_request = ["--namespace", "some-app", "--subresource=token"];
    let own = ["--namespace", "capstan-system"];
    let needed: [(&str, &str, &[&str]); 12] = [
        ("create", "leases.coordination.k8s.io", &own),
        (
            "update",
            "leases.coordination.k8s.io/capstan-operator",
            &own,
        ),
        ("watch", "chartdeployments.capstan.dev", &all),
        ("watch", "chartrepositories.capstan.dev", &all),
        ("patch", "chartdeployments.capstan.dev/status", &elsewhere),
        ("patch", "chartrepositories.capstan.dev/status", &elsewhere),
        (
            "update",
            "chartdeployments.capstan.dev/finalizers",
            &elsewhere,
        ),
        ("patch", "chartdeployments.capstan.dev", &elsewhere),
        ("watch", "configmaps", &all),
        ("watch", "secrets", &all),
        ("create", "events.events.k8s.io", &elsewhere),
        ("impersonate", "serviceaccounts", &elsewhere),
    ];
    for (verb, resource, scope) in needed {
        assert!(
            operator_can(cluster, verb, resource, scope).await,
            "the operator needs to {verb} {resource} {scope:?}"
        );
    }
    // Nothing on what charts create: every write of a chart's objects is made as the
    // deployment's own ServiceAccount.
    let forbidden: [(&str, &str, &[&str]); 21] = [
        (
            "update",
            "leases.coordination.k8s.io/capstan-operator",
            &elsewhere,
        ),
        ("update", "leases.coordination.k8s.io/kube-scheduler", &own),
        ("delete", "namespaces", &[]),
        ("create", "namespaces", &[]),
        ("create", "clusterroles.rbac.authorization.k8s.io", &[]),
        (
            "create",
            "rolebindings.rbac.authorization.k8s.io",
            &elsewhere,
        ),
        ("escalate", "clusterroles.rbac.authorization.k8s.io", &[]),
        ("bind", "clusterroles.rbac.authorization.k8s.io", &[]),
        ("impersonate", "users", &[]),
        ("impersonate", "groups", &[]),
        ("patch", "configmaps", &elsewhere),
        ("delete", "services", &elsewhere),
        ("patch", "deployments.apps", &elsewhere),
        (
            "create",
            "customresourcedefinitions.apiextensions.k8s.io",
            &[],
        ),
        (
            "create",
            "clusterrolebindings.rbac.authorization.k8s.io",
            &[],
        ),
        ("create", "pods", &exec),
        ("create", "serviceaccounts", &token_request),
        ("update", "secrets", &elsewhere),
        ("delete", "secrets", &elsewhere),
        ("delete", "chartdeployments.capstan.dev", &elsewhere),
        ("delete", "nodes", &[]),
    ];
    for (verb, resource, scope) in forbidden {
        assert!(
            !operator_can(cluster, verb, resource, scope).await,
            "the operator must not {verb} {resource} {scope:?}"
        );
    }

    // Those permissions are enough: the operator, authenticated as its ServiceAccount and locked
    // down as config/ runs it, takes a chart all the way to Ready as the tenant's ServiceAccount,
    // and a ServiceAccount without rights gets nothing applied.
    let token = cluster
        .service_account_token("capstan-system", "capstan-operator")
        .await?;
    let home = tempfile::tempdir()?;
    let kubeconfig = home.path().join("kubeconfig");
    cluster.write_token_kubeconfig(&token, &kubeconfig)?;
    // With leader election, as config/ runs it: the Lease in capstan-system is allowed too.
    let setup = Setup::with_kubeconfig(
        "op-rbac",
        &kubeconfig,
        &[
            ("CAPSTAN_LEADER_ELECT", "true"),
            ("POD_NAMESPACE", "capstan-system"),
            ("CAPSTAN_DEFAULT_SERVICE_ACCOUNT", "deployer"),
        ],
    )
    .await?;
    grant_deployer(cluster, setup.namespace.name()).await?;
    publish_greet(&setup)?;
    create_values(&setup, "web-values", "greeting: least-privilege\n").await?;
    setup.apply_repository().await?;
    setup
        .apply_deployment_with(
            "web",
            json!({
                "chart": {"repository": {"repositoryRef": {"name": "charts"}, "name": "greet",
                                         "version": "1.0.0"}},
                "valuesFrom": [{"kind": "ConfigMap", "name": "web-values"}],
            }),
        )
        .await?;
    setup.wait_deployment("web", applied("1.0.0")).await?;
    let lease = Api::<Lease>::namespaced(cluster.client().await?, "capstan-system")
        .get("capstan-operator")
        .await?;
    assert!(
        lease
            .spec
            .and_then(|spec| spec.holder_identity)
            .is_some_and(|holder| !holder.is_empty()),
        "the operator holds the Lease"
    );
    let main = wait_data(&setup, "web-main", "greeting", "least-privilege").await?;
    let labels: BTreeMap<String, String> = main.labels().clone();
    assert!(labels.contains_key("capstan.dev/deployment"), "{labels:?}");

    cluster
        .kubectl()
        .args([
            "create",
            "serviceaccount",
            "nobody",
            "--namespace",
            setup.namespace.name(),
        ])
        .run()
        .await?;
    setup
        .apply_deployment_with(
            "denied",
            json!({
                "chart": {"repository": {"repositoryRef": {"name": "charts"}, "name": "greet",
                                         "version": "1.0.0"}},
                "serviceAccountName": "nobody",
            }),
        )
        .await?;
    let denied = setup
        .wait_deployment("denied", ready_is("False", |reason| reason == "Forbidden"))
        .await?;
    let message = ready_message(&denied);
    assert!(
        message.contains(&format!("ServiceAccount {}/nobody", setup.namespace.name())),
        "{message}"
    );
    assert!(
        setup
            .namespace
            .api::<ConfigMap>()
            .get_opt("denied-main")
            .await?
            .is_none(),
        "nothing applied for a ServiceAccount without rights"
    );
    setup.finish().await
}

/// A ServiceAccount `deployer` in `namespace` that may manage ConfigMaps there, as a tenant's
/// deployer would.
async fn grant_deployer(cluster: &Cluster, namespace: &str) -> TestResult {
    let binding = format!("{namespace}:deployer");
    let commands: [&[&str]; 3] = [
        &["create", "serviceaccount", "deployer"],
        &[
            "create",
            "role",
            "deployer",
            "--verb=get,list,watch,create,update,patch,delete",
            "--resource=configmaps",
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
