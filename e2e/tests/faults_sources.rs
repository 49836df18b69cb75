//! Sources in trouble: a chart repository whose archives hang (the server accepts and never
//! answers), trickle a byte per second, or are cut off half-way; a repository whose index hangs;
//! a registry that hangs; and a registry whose chart layers trickle or are cut off half-way.
//! Each deployment or repository that depends on one says so in its
//! Ready condition within its own timeout and is tried again; a deployment of the same repository
//! whose archive is served normally becomes Ready while the operator is still held by a hanging
//! download, so one stuck source delays nobody else.
//!
//! The same counting registry shows what a healthy registry is asked: deployments of one chart
//! share its answer to which manifest a version names, rather than each asking on every pass.
//!
//! Nothing asserts on wall-clock time: the timeouts are the resources' own (`spec.timeout`), and
//! "not delayed" is shown by order (Ready while a hanging connection is still open).

use std::sync::Arc;
use std::time::Duration;

use capstan_api::{ChartDeployment, ChartRepository};
use capstan_chart::index::index_directory;
use capstan_chart::provenance::archive_digest;
use capstan_e2e::fault_server::{Behaviour, FaultServer};
use capstan_e2e::operator::{
    Setup, TestResult, applied, config_map, ready_is, ready_message, repository_ready,
    repository_ready_is,
};
use capstan_sources::oci::{CHART_LAYER_MEDIA_TYPE, CONFIG_MEDIA_TYPE};
use kube::runtime::wait::Condition;

/// The faulty repository's timeout for the index and each archive.
const SOURCE_TIMEOUT: &str = "30s";
/// Long enough for a timeout, a back-off and a second attempt, on a loaded machine.
const PATIENCE: Duration = Duration::from_secs(240);

fn failed_fetch(deployment: Option<&ChartDeployment>) -> bool {
    ready_is("False", |reason| reason == "FetchFailed").matches_object(deployment)
}

fn message_of(deployment: &ChartDeployment) -> String {
    ready_message(deployment)
}

/// Polls `probe` every 200 ms until it holds or `PATIENCE` runs out.
async fn until(what: &str, mut probe: impl FnMut() -> bool) -> TestResult {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !probe() {
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("gave up waiting for {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

#[tokio::test]
async fn hanging_slow_and_cut_off_sources_fail_alone_and_are_retried() -> TestResult {
    let setup = Setup::new("fault-src").await?;
    let template = config_map("cm");
    let files = [
        ("templates/cm.yaml", template.as_str()),
        ("values.yaml", "greeting: hello\n"),
    ];
    let names = ["steady", "hang", "slow", "cut"];
    let mut archives = Vec::new();
    for name in names {
        archives.push(setup.package(name, "1.0.0", &files)?);
    }
    let dir = archives[0].parent().ok_or("the package has no directory")?;

    let server = FaultServer::start().await?;
    let index = index_directory(dir, &server.url())?.index;
    server.route(
        "/index.yaml",
        Behaviour::Serve(Arc::new(index.to_yaml()?.into_bytes())),
    );
    let body = |at: usize| std::fs::read(&archives[at]).map(Arc::new);
    server.route("/steady-1.0.0.tgz", Behaviour::Serve(body(0)?));
    server.route("/hang-1.0.0.tgz", Behaviour::Hang);
    server.route(
        "/slow-1.0.0.tgz",
        Behaviour::Trickle(body(2)?, Duration::from_secs(1)),
    );
    server.route("/cut-1.0.0.tgz", Behaviour::CutOff(body(3)?));
    // A second repository whose index never comes, and a registry that never answers.
    server.route("/stalled/index.yaml", Behaviour::Hang);
    server.route_prefix("/v2/", Behaviour::Hang);

    setup
        .apply_repository_with(
            "faulty",
            serde_json::json!({"url": server.url(), "interval": "1m", "timeout": SOURCE_TIMEOUT}),
        )
        .await?;
    setup
        .apply_repository_with(
            "stalled",
            serde_json::json!({"url": format!("{}/stalled", server.url()), "interval": "1m",
                               "timeout": SOURCE_TIMEOUT}),
        )
        .await?;
    for name in ["hang", "slow", "cut"] {
        setup
            .apply_deployment_with(
                name,
                serde_json::json!({"chart": {"repository": {"repositoryRef": {"name": "faulty"},
                                                            "name": name, "version": "1.0.0"}}}),
            )
            .await?;
    }
    setup
        .apply_deployment_with(
            "registry",
            serde_json::json!({"chart": {"oci": {"reference": format!("oci://{}/charts/hung:1.0.0", server.host()),
                                                 "plainHttp": true}},
                               "timeout": SOURCE_TIMEOUT}),
        )
        .await?;

    // The operator is now held by the hanging archive; a healthy chart of the same repository
    // still goes through, while that download is still open.
    until("the operator to be waiting on the hanging archive", || {
        server.counts("/hang-1.0.0.tgz").open > 0
    })
    .await?;
    setup
        .apply_deployment_with(
            "steady",
            serde_json::json!({"chart": {"repository": {"repositoryRef": {"name": "faulty"},
                                                        "name": "steady", "version": "1.0.0"}}}),
        )
        .await?;
    setup.wait_deployment("steady", applied("1.0.0")).await?;
    let held = server.counts("/hang-1.0.0.tgz");
    let registry_held = server.requests_under("/v2/");
    println!(
        "steady Ready while the hanging archive held {} connection(s); registry requests so far: {registry_held}",
        held.open
    );
    assert!(
        held.open > 0,
        "the hanging download ended before the healthy chart was Ready, so this run shows \
         nothing about isolation: {held:?}"
    );
    // A second deployment of the same chart version is installed from the archive already
    // downloaded: one download per chart version, not per deployment.
    setup
        .apply_deployment_with(
            "steady-again",
            serde_json::json!({"chart": {"repository": {"repositoryRef": {"name": "faulty"},
                                                        "name": "steady", "version": "1.0.0"}}}),
        )
        .await?;
    setup
        .wait_deployment("steady-again", applied("1.0.0"))
        .await?;
    assert_eq!(
        server.counts("/steady-1.0.0.tgz").requests,
        1,
        "the archive of a chart version two deployments install is downloaded once"
    );

    // Each fault is reported as such, within the source's timeout.
    for (name, says) in [
        ("hang", "timed out"),
        ("slow", "timed out"),
        ("cut", "cut-1.0.0.tgz"),
    ] {
        let failed = setup
            .wait_deployment_for(name, PATIENCE, failed_fetch)
            .await?;
        let message = message_of(&failed);
        println!("{name}: {message}");
        assert!(message.contains(&format!("{name}-1.0.0.tgz")), "{message}");
        assert!(message.contains(says), "{name}: {message}");
    }
    let registry = setup
        .wait_deployment_for(
            "registry",
            PATIENCE,
            ready_is("False", |reason| !reason.is_empty()),
        )
        .await?;
    let message = message_of(&registry);
    println!("registry: {message}");
    // The registry client's own read timeout is longer: the deployment's timeout cuts it off.
    assert!(
        message.contains("within spec.timeout") && message.contains("fetching the chart"),
        "{message}"
    );
    let stalled = setup
        .wait_repository_for(
            "stalled",
            PATIENCE,
            repository_ready_is("False", |reason| reason == "FetchFailed"),
        )
        .await?;
    let message = repository_ready(&stalled)
        .map(|condition| condition.message.clone())
        .unwrap_or_default();
    println!("stalled repository: {message}");
    assert!(message.contains("timed out"), "{message}");
    assert!(message.contains("/stalled/index.yaml"), "{message}");

    // And each is tried again, without anyone touching it.
    for path in ["/hang-1.0.0.tgz", "/cut-1.0.0.tgz", "/stalled/index.yaml"] {
        until(&format!("a second request for {path}"), || {
            server.counts(path).requests >= 2
        })
        .await?;
    }
    until("a second attempt at the registry", || {
        server.requests_under("/v2/") >= 2
    })
    .await?;
    println!(
        "requests: hang {}, slow {}, cut {}, stalled index {}, registry {}",
        server.counts("/hang-1.0.0.tgz").requests,
        server.counts("/slow-1.0.0.tgz").requests,
        server.counts("/cut-1.0.0.tgz").requests,
        server.counts("/stalled/index.yaml").requests,
        server.requests_under("/v2/")
    );
    let steady = setup
        .namespace
        .api::<ChartDeployment>()
        .get("steady")
        .await?;
    assert!(applied("1.0.0").matches_object(Some(&steady)), "{steady:?}");
    let faulty = setup
        .namespace
        .api::<ChartRepository>()
        .get("faulty")
        .await?;
    assert!(
        repository_ready(&faulty).is_some_and(|condition| condition.status == "True"),
        "the repository with a good index is Ready whatever its archives do: {faulty:?}"
    );

    setup.finish().await?;
    drop(server);
    Ok(())
}

/// A chart's manifest as a registry stores it: the Helm config and one chart layer, `archive`.
fn chart_manifest(archive: &[u8]) -> Vec<u8> {
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": CONFIG_MEDIA_TYPE,
                   "digest": archive_digest(b"{}"), "size": 2},
        "layers": [{"mediaType": CHART_LAYER_MEDIA_TYPE,
                    "digest": archive_digest(archive), "size": archive.len()}],
    })
    .to_string()
    .into_bytes()
}

fn oci_deployment(server: &FaultServer, name: &str) -> serde_json::Value {
    serde_json::json!({
        "chart": {"oci": {"reference": format!("oci://{}/charts/{name}:1.0.0", server.host()),
                          "plainHttp": true}},
        "timeout": SOURCE_TIMEOUT,
    })
}

#[tokio::test]
async fn a_registry_whose_chart_layers_trickle_or_are_cut_off_fails_alone_and_is_retried()
-> TestResult {
    let setup = Setup::new("fault-oci").await?;
    let template = config_map("cm");
    let files = [
        ("templates/cm.yaml", template.as_str()),
        ("values.yaml", "greeting: hello\n"),
    ];
    // A registry that answers its ping, tags and manifests, and serves each chart's layer
    // normally (steady), a byte a second (slow) or half of it before closing (cut).
    let server = FaultServer::start().await?;
    server.route("/v2/", Behaviour::Serve(Arc::new(b"{}".to_vec())));
    let mut layers = Vec::new();
    for name in ["steady", "slow", "cut"] {
        let archive = std::fs::read(setup.package(name, "1.0.0", &files)?)?;
        server.route_prefix(
            &format!("/v2/charts/{name}/manifests/"),
            Behaviour::Serve(Arc::new(chart_manifest(&archive))),
        );
        let layer = format!("/v2/charts/{name}/blobs/{}", archive_digest(&archive));
        let archive = Arc::new(archive);
        server.route(
            &layer,
            match name {
                "steady" => Behaviour::Serve(archive),
                "slow" => Behaviour::Trickle(archive, Duration::from_secs(1)),
                _ => Behaviour::CutOff(archive),
            },
        );
        layers.push(layer);
    }
    let [steady_layer, slow_layer, cut_layer] = &layers[..] else {
        unreachable!("three charts")
    };
    for name in ["slow", "cut"] {
        setup
            .apply_deployment_with(name, oci_deployment(&server, name))
            .await?;
    }

    // While the operator is held by the trickling layer, a chart of the same registry goes
    // through.
    until("the operator to be reading the trickling layer", || {
        server.counts(slow_layer).open > 0
    })
    .await?;
    setup
        .apply_deployment_with("steady", oci_deployment(&server, "steady"))
        .await?;
    setup.wait_deployment("steady", applied("1.0.0")).await?;
    let held = server.counts(slow_layer);
    println!(
        "steady Ready from the registry (its layer asked {} time(s)) while the trickling layer \
         held {} connection(s)",
        server.counts(steady_layer).requests,
        held.open
    );
    assert!(
        held.open > 0,
        "the trickling download ended before the healthy chart was Ready, so this run shows \
         nothing about isolation: {held:?}"
    );

    // Each fault is reported: the trickle by the deployment's own timeout, the cut by the
    // client that saw the answer end early.
    let slow = setup
        .wait_deployment_for("slow", PATIENCE, ready_is("False", |r| !r.is_empty()))
        .await?;
    let message = message_of(&slow);
    println!("slow: {message}");
    assert!(
        message.contains("within spec.timeout") && message.contains("fetching the chart"),
        "{message}"
    );
    let cut = setup
        .wait_deployment_for("cut", PATIENCE, failed_fetch)
        .await?;
    let message = message_of(&cut);
    println!("cut: {message}");
    assert!(
        message.contains("/v2/charts/cut/blobs/sha256:")
            && message.contains("closed before the answer was complete"),
        "{message}"
    );

    // And each is tried again, without anyone touching it.
    for layer in [slow_layer, cut_layer] {
        until(&format!("a second request for {layer}"), || {
            server.counts(layer).requests >= 2
        })
        .await?;
    }
    println!(
        "requests: slow layer {}, cut layer {}, ping {}",
        server.counts(slow_layer).requests,
        server.counts(cut_layer).requests,
        server.counts("/v2/").requests
    );
    // The registry sends no challenge, and that is remembered per repository: the retries of
    // each layer did not ping it again.
    assert!(
        server.counts("/v2/").requests <= 3,
        "one ping per repository: {:?}",
        server.counts("/v2/")
    );
    setup.finish().await?;
    drop(server);
    Ok(())
}

#[tokio::test]
async fn deployments_of_one_chart_share_the_registry_answer_to_which_manifest_a_version_names()
-> TestResult {
    let setup = Setup::new("oci-reads").await?;
    let template = config_map("cm");
    let files = [
        ("templates/cm.yaml", template.as_str()),
        ("values.yaml", "greeting: hello\n"),
    ];
    let archive = std::fs::read(setup.package("greet", "1.0.0", &files)?)?;
    let server = FaultServer::start().await?;
    server.route("/v2/", Behaviour::Serve(Arc::new(b"{}".to_vec())));
    let tags = "/v2/charts/greet/tags/list";
    server.route(
        tags,
        Behaviour::Serve(Arc::new(
            br#"{"name":"charts/greet","tags":["1.0.0"]}"#.to_vec(),
        )),
    );
    server.route_prefix(
        "/v2/charts/greet/manifests/",
        Behaviour::Serve(Arc::new(chart_manifest(&archive))),
    );
    let layer = format!("/v2/charts/greet/blobs/{}", archive_digest(&archive));
    server.route(&layer, Behaviour::Serve(Arc::new(archive)));

    // Each with a constraint, so each pass would list the tags and then read the manifest the
    // newest matching tag names.
    let deployments = ["web-0", "web-1", "web-2", "web-3"];
    for name in deployments {
        setup
            .apply_deployment_with(
                name,
                serde_json::json!({
                    "chart": {"oci": {"reference": format!("oci://{}/charts/greet", server.host()),
                                      "version": "^1", "plainHttp": true}},
                }),
            )
            .await?;
    }
    for name in deployments {
        setup.wait_deployment(name, applied("1.0.0")).await?;
    }
    let passes = setup.reconciles("ChartDeployment").await?;
    let (listed, named, pulled) = (
        server.counts(tags).requests,
        server.counts("/v2/charts/greet/manifests/1.0.0").requests,
        server.counts(&layer).requests,
    );
    println!(
        "{} deployments, {passes} passes: tags listed {listed} time(s), the tag's manifest read \
         {named} time(s), the chart layer pulled {pulled} time(s)",
        deployments.len()
    );
    // Asking on every pass, each deployment would have listed the tags at least once.
    assert!(
        passes >= deployments.len() as u64,
        "every deployment reconciled: {passes}"
    );
    assert!(
        listed < deployments.len() && named < deployments.len(),
        "the deployments shared the registry's answer: tags listed {listed}, manifest read {named}"
    );
    assert_eq!(pulled, 1, "one pull for one chart version");
    setup.finish().await?;
    drop(server);
    Ok(())
}
