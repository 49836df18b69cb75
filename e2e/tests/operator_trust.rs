//! What the operator trusts and when it moves by itself: provenance policies with keys made by
//! real GnuPG, versions published to a repository rolling out without a spec change, and how it
//! treats repository indexes (conditional requests, the index size limit).

use std::path::Path;

use capstan_api::{ChartDeployment, ChartRepository};
use capstan_chart::index::index_directory;
use capstan_e2e::Cluster;
use capstan_e2e::file_server::{Counts, FileServer, Validation};
use capstan_e2e::gnupg::GnuPg;
use capstan_e2e::operator::{
    Setup, TestResult, WAIT, applied, config_map, ready_is, ready_message, repository_ready,
};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::wait::Condition as _;
use serde_json::json;

fn greeting_chart(name: &str, greeting: &str) -> [(&'static str, String); 2] {
    [
        ("values.yaml", format!("greeting: {greeting}\n")),
        ("templates/main.yaml", config_map(name)),
    ]
}

fn files<'a>(chart: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    chart
        .iter()
        .map(|(path, text)| (*path, text.as_str()))
        .collect()
}

async fn create_keyring_secret(setup: &Setup, name: &str, keyring: Vec<u8>) -> TestResult {
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        data: Some([("keyring.gpg".to_string(), ByteString(keyring))].into()),
        ..Secret::default()
    };
    setup
        .namespace
        .api::<Secret>()
        .create(&PostParams::default(), &secret)
        .await?;
    Ok(())
}

fn deployment_spec(
    repository: &str,
    chart: &str,
    verify: Option<serde_json::Value>,
) -> serde_json::Value {
    let mut source =
        json!({"repositoryRef": {"name": repository}, "name": chart, "version": "1.0.0"});
    if let Some(verify) = verify {
        source["verify"] = verify;
    }
    json!({"chart": {"repository": source}})
}

#[tokio::test]
async fn required_provenance_installs_signed_charts_and_refuses_the_rest() -> TestResult {
    let cluster = Cluster::shared()?;
    let Some(gpg) = cluster.env().gpg.clone() else {
        return Err("GnuPG is missing; install it (apt-get install gnupg)".into());
    };
    let setup = Setup::new("op-trust-verify").await?;
    let signer = GnuPg::new(&gpg, "Capstan Release <release@example.com>")?;
    let stranger = GnuPg::new(&gpg, "Someone Else <else@example.com>")?;

    // Signed by the trusted key.
    let signed = setup.publish("signed", "1.0.0", &files(&greeting_chart("main", "signed")))?;
    signer.sign(&signed)?;
    // Signed, then the archive replaced and re-indexed: the index digest matches, the .prov not.
    let tampered = setup.publish("tampered", "1.0.0", &files(&greeting_chart("main", "good")))?;
    signer.sign(&tampered)?;
    let changed = setup.package("tampered", "1.0.0", &files(&greeting_chart("main", "evil")))?;
    std::fs::copy(&changed, &tampered)?;
    setup.reindex()?;
    // Signed by a key nobody trusts.
    let foreign = setup.publish(
        "foreign",
        "1.0.0",
        &files(&greeting_chart("main", "foreign")),
    )?;
    stranger.sign(&foreign)?;
    // Not signed at all.
    setup.publish("plain", "1.0.0", &files(&greeting_chart("main", "plain")))?;

    create_keyring_secret(&setup, "trusted-keys", signer.public_key()?).await?;
    let required = json!({"mode": "Required", "keyringSecretRef": {"name": "trusted-keys"}});
    setup
        .apply_repository_with(
            "strict",
            json!({"url": setup.repo_url, "interval": "5s", "verify": required}),
        )
        .await?;
    // The same charts without a policy, for the per-deployment override.
    setup
        .apply_repository_with("open", json!({"url": setup.repo_url, "interval": "5s"}))
        .await?;

    setup
        .apply_deployment_with("signed", deployment_spec("strict", "signed", None))
        .await?;
    for chart in ["tampered", "foreign", "plain"] {
        setup
            .apply_deployment_with(chart, deployment_spec("strict", chart, None))
            .await?;
    }
    // The deployment's policy replaces the repository's, in both directions.
    setup
        .apply_deployment_with(
            "relaxed",
            deployment_spec("strict", "plain", Some(json!({"mode": "Ignore"}))),
        )
        .await?;
    setup
        .apply_deployment_with(
            "tightened",
            deployment_spec("open", "plain", Some(required.clone())),
        )
        .await?;

    let installed = setup.wait_deployment("signed", applied("1.0.0")).await?;
    let status = installed.status.unwrap_or_default();
    let provenance = status
        .provenance
        .ok_or("status.provenance is missing for a verified chart")?;
    assert_eq!(provenance.signer, "Capstan Release <release@example.com>");
    assert_eq!(provenance.key_fingerprint, signer.fingerprint()?);
    let revision = status.last_applied_revision.ok_or("no applied revision")?;
    assert_eq!(provenance.archive_digest, revision.archive_digest);

    let refused = [
        ("tampered", "tampered-1.0.0.tgz"),
        ("foreign", "foreign-1.0.0.tgz"),
        ("plain", "no provenance"),
        ("tightened", "no provenance"),
    ];
    for (name, expected) in refused {
        let failed = setup
            .wait_deployment(name, ready_is("False", |r| r == "VerificationFailed"))
            .await?;
        let message = ready_message(&failed);
        assert!(message.contains(expected), "{name}: {message}");
        let status = failed.status.unwrap_or_default();
        assert!(status.last_applied_revision.is_none(), "{name}: {status:?}");
        assert!(status.inventory.is_empty(), "{name}: {status:?}");
    }

    let relaxed = setup.wait_deployment("relaxed", applied("1.0.0")).await?;
    assert!(relaxed.status.unwrap_or_default().provenance.is_none());

    // Only the signed chart and the explicitly relaxed one created anything.
    let config_maps = setup.namespace.api::<ConfigMap>();
    let greeting = |cm: ConfigMap| cm.data.unwrap_or_default().remove("greeting");
    assert_eq!(
        greeting(config_maps.get("signed-main").await?).as_deref(),
        Some("signed")
    );
    assert!(config_maps.get_opt("relaxed-main").await?.is_some());
    for name in ["tampered", "foreign", "plain", "tightened"] {
        let made = config_maps.get_opt(&format!("{name}-main")).await?;
        assert!(made.is_none(), "{name} applied {made:?}");
    }
    // A repository that starts asking for provenance has what it already applied checked again at
    // once, not at the deployment's next interval (an hour here): the unsigned chart is refused.
    let mut hourly = deployment_spec("open", "plain", None);
    hourly["interval"] = json!("1h");
    setup.apply_deployment_with("later", hourly).await?;
    setup.wait_deployment("later", applied("1.0.0")).await?;
    setup
        .namespace
        .api::<ChartRepository>()
        .patch(
            "open",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"verify": required}})),
        )
        .await?;
    let rechecked = setup
        .wait_deployment("later", ready_is("False", |r| r == "VerificationFailed"))
        .await?;
    let message = ready_message(&rechecked);
    assert!(message.contains("no provenance"), "later: {message}");

    // A key revoked from the keyring Secret a deployment's own policy names re-checks the applied
    // chart at once (again an hourly interval): the Secret now trusts only a stranger's key.
    create_keyring_secret(&setup, "pinned-keys", signer.public_key()?).await?;
    let pinned_policy = json!({"mode": "Required", "keyringSecretRef": {"name": "pinned-keys"}});
    let mut pinned = deployment_spec("open", "signed", Some(pinned_policy));
    pinned["interval"] = json!("1h");
    setup.apply_deployment_with("pinned", pinned).await?;
    setup.wait_deployment("pinned", applied("1.0.0")).await?;
    let revoked = Secret {
        data: Some(
            [(
                "keyring.gpg".to_string(),
                ByteString(stranger.public_key()?),
            )]
            .into(),
        ),
        ..Secret::default()
    };
    setup
        .namespace
        .api::<Secret>()
        .patch(
            "pinned-keys",
            &PatchParams::default(),
            &Patch::Merge(&revoked),
        )
        .await?;
    let refused = setup
        .wait_deployment("pinned", ready_is("False", |r| r == "VerificationFailed"))
        .await?;
    let message = ready_message(&refused);
    assert!(message.contains("signed-1.0.0.tgz"), "pinned: {message}");

    // The same through a keyring the repository's policy names: `signed`, from `strict`, whose
    // interval is the default ten minutes, is refused once `trusted-keys` no longer holds its key.
    setup
        .namespace
        .api::<Secret>()
        .patch(
            "trusted-keys",
            &PatchParams::default(),
            &Patch::Merge(&revoked),
        )
        .await?;
    let refused = setup
        .wait_deployment("signed", ready_is("False", |r| r == "VerificationFailed"))
        .await?;
    let message = ready_message(&refused);
    assert!(message.contains("signed-1.0.0.tgz"), "signed: {message}");

    drop((signer, stranger));
    setup.finish().await
}

#[tokio::test]
async fn a_published_version_rolls_out_by_itself_and_a_pin_stays() -> TestResult {
    let setup = Setup::new("op-trust-upgrade").await?;
    setup.publish("greet", "1.0.0", &files(&greeting_chart("main", "hello")))?;
    setup.apply_repository().await?;
    setup
        .apply_deployment("floating", "greet", ">=1.0.0 <2.0.0", json!({}))
        .await?;
    setup
        .apply_deployment("pinned", "greet", "1.0.0", json!({}))
        .await?;
    let before = setup.wait_deployment("floating", applied("1.0.0")).await?;
    setup.wait_deployment("pinned", applied("1.0.0")).await?;
    let generation = before.metadata.generation;
    let first_time = before
        .status
        .and_then(|s| s.last_applied_time)
        .ok_or("status.lastAppliedTime is missing")?;

    // A new release in the repository, and a major version outside the constraint.
    setup.publish("greet", "1.1.0", &files(&greeting_chart("main", "bonjour")))?;
    setup.publish("greet", "2.0.0", &files(&greeting_chart("main", "hola")))?;
    let after = setup.wait_deployment("floating", applied("1.1.0")).await?;
    assert_eq!(
        after.metadata.generation, generation,
        "the spec did not change"
    );
    let status = after.status.unwrap_or_default();
    let rolled_at = status
        .last_applied_time
        .ok_or("status.lastAppliedTime is missing")?;
    assert!(
        rolled_at.0 > first_time.0,
        "{rolled_at:?} after {first_time:?}"
    );

    // The repository reports the new index: three versions.
    let repository = setup
        .wait_repository("charts", |r: Option<&ChartRepository>| {
            r.and_then(|r| r.status.as_ref())
                .is_some_and(|s| s.chart_count == Some(3))
        })
        .await?;
    assert!(
        repository
            .status
            .unwrap_or_default()
            .index_change_time
            .is_some()
    );

    let config_maps = setup.namespace.api::<ConfigMap>();
    let greeting = |cm: ConfigMap| cm.data.unwrap_or_default().remove("greeting");
    assert_eq!(
        greeting(config_maps.get("floating-main").await?).as_deref(),
        Some("bonjour")
    );
    // The pinned deployment saw the same index change and stayed where it was.
    let pinned = setup
        .namespace
        .api::<ChartDeployment>()
        .get("pinned")
        .await?;
    let pinned_revision = pinned
        .status
        .and_then(|s| s.last_applied_revision)
        .ok_or("pinned lost its revision")?;
    assert_eq!(pinned_revision.version, "1.0.0");
    assert_eq!(
        greeting(config_maps.get("pinned-main").await?).as_deref(),
        Some("hello")
    );
    setup.finish().await
}

/// Serves `archives` under `/<prefix>/` on `server`, with an index of them at
/// `/<prefix>/index.yaml`; returns the index's bytes.
fn serve_repository(server: &FileServer, prefix: &str, archives: &[&Path]) -> TestResult<Vec<u8>> {
    let dir = tempfile::tempdir()?;
    for archive in archives {
        let name = archive.file_name().ok_or("archive without a file name")?;
        std::fs::copy(archive, dir.path().join(name))?;
        let name = name.to_str().ok_or("non-UTF-8 archive name")?;
        server.put(&format!("{prefix}/{name}"), std::fs::read(archive)?);
    }
    let index = index_directory(dir.path(), &format!("{}/{prefix}", server.url()))?;
    let yaml = index.index.to_yaml()?.into_bytes();
    server.put(&format!("{prefix}/index.yaml"), yaml.clone());
    Ok(yaml)
}

/// Waits up to [`WAIT`] until `server` has answered at least `requests` requests for `path`.
async fn wait_requests(server: &FileServer, path: &str, requests: usize) -> TestResult<Counts> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let counts = server.counts(path);
        if counts.requests >= requests {
            return Ok(counts);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("{path}: waited for {requests} requests, got {counts:?}").into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn an_unchanged_index_is_not_downloaded_again() -> TestResult {
    let setup = Setup::new("op-trust-cond").await?;
    let first = setup.package("greet", "1.0.0", &files(&greeting_chart("main", "hello")))?;
    let second = setup.package("greet", "1.1.0", &files(&greeting_chart("main", "bonjour")))?;
    // One repository per validator, so each is shown to work alone.
    let mut servers = Vec::new();
    for (name, validation) in [
        ("etag", Validation::ETag),
        ("dated", Validation::LastModified),
    ] {
        let server = FileServer::start(validation).await?;
        serve_repository(&server, "charts", &[&first])?;
        setup
            .apply_repository_with(
                name,
                json!({"url": format!("{}/charts", server.url()), "interval": "1s"}),
            )
            .await?;
        setup
            .apply_deployment_with(
                name,
                json!({"chart": {"repository": {
                    "repositoryRef": {"name": name}, "name": "greet", "version": ">=1.0.0"}}}),
            )
            .await?;
        servers.push((name, server));
    }
    for (name, server) in &servers {
        setup.wait_deployment(name, applied("1.0.0")).await?;
        // Several intervals later the index was downloaded once; every other request got 304.
        let counts = wait_requests(server, "charts/index.yaml", 5).await?;
        assert_eq!(counts.downloads, 1, "{name}: {counts:?}");
        assert_eq!(
            counts.not_modified,
            counts.requests - 1,
            "{name}: {counts:?}"
        );
    }
    // A changed index is downloaded again (the validators changed) and its new version rolls out.
    for (_, server) in &servers {
        serve_repository(server, "charts", &[&first, &second])?;
    }
    for (name, server) in &servers {
        setup.wait_deployment(name, applied("1.1.0")).await?;
        let counts = server.counts("charts/index.yaml");
        assert_eq!(counts.downloads, 2, "{name}: {counts:?}");
        let repository = setup.namespace.api::<ChartRepository>().get(name).await?;
        assert_eq!(
            repository.status.and_then(|s| s.chart_count),
            Some(2),
            "{name}"
        );
    }
    drop(servers);
    setup.finish().await
}

#[tokio::test]
async fn an_index_over_the_limit_is_refused_with_index_too_large() -> TestResult {
    const LIMIT: usize = 4096;
    let setup = Setup::with_operator_env(
        "op-trust-cap",
        &[("CAPSTAN_MAX_INDEX_BYTES", &LIMIT.to_string())],
    )
    .await?;
    let archive = setup.package("greet", "1.0.0", &files(&greeting_chart("main", "hello")))?;
    let server = FileServer::start(Validation::ETag).await?;
    let small = serve_repository(&server, "small", &[&archive])?;
    assert!(small.len() < LIMIT, "{} bytes", small.len());
    // The same valid index, padded with a comment past the limit.
    let mut big = serve_repository(&server, "big", &[&archive])?;
    big.extend_from_slice(format!("# {}\n", "x".repeat(LIMIT)).as_bytes());
    server.put("big/index.yaml", big);
    for name in ["small", "big"] {
        setup
            .apply_repository_with(
                name,
                json!({"url": format!("{}/{name}", server.url()), "interval": "5s"}),
            )
            .await?;
        setup
            .apply_deployment_with(
                name,
                json!({"chart": {"repository": {
                    "repositoryRef": {"name": name}, "name": "greet", "version": "1.0.0"}}}),
            )
            .await?;
    }

    let refused = setup
        .wait_repository("big", |r: Option<&ChartRepository>| {
            r.and_then(repository_ready)
                .is_some_and(|c| c.status == "False" && c.reason == "IndexTooLarge")
        })
        .await?;
    let message = repository_ready(&refused)
        .map(|c| c.message.clone())
        .unwrap_or_default();
    assert!(message.contains(&format!("{LIMIT} bytes")), "{message}");
    assert!(message.contains("--max-index-bytes"), "{message}");
    let status = refused.status.unwrap_or_default();
    assert!(status.chart_count.is_none(), "{status:?}");
    assert!(status.index_digest.is_none(), "{status:?}");

    // The deployment on that repository says why it has nothing to install.
    let waiting = setup
        .wait_deployment("big", |d: Option<&ChartDeployment>| {
            d.is_some_and(|d| {
                ready_is("False", |_| true).matches_object(Some(d))
                    && ready_message(d).contains("larger than the operator's limit")
            })
        })
        .await?;
    let message = ready_message(&waiting);
    assert!(message.contains(&format!("{LIMIT} bytes")), "{message}");
    assert!(waiting.status.unwrap_or_default().inventory.is_empty());
    assert!(
        setup
            .namespace
            .api::<ConfigMap>()
            .get_opt("big-main")
            .await?
            .is_none()
    );

    // The same operator installs from the repository under the limit.
    setup.wait_deployment("small", applied("1.0.0")).await?;
    drop(server);
    setup.finish().await
}
