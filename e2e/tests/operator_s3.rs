//! ChartRepositories in a private S3-compatible bucket (`s3://BUCKET/PREFIX`), against the
//! cluster's S3 server (versitygw, a real S3 server checking SigV4, buckets and preconditions,
//! started by `e2e/cluster up`), in a bucket of this test's own. Charts and the index are uploaded with presigned PUTs; the
//! operator reads them with presigned GETs using keys from a Secret. A wrong secret key must give
//! `AuthenticationFailed` without the key, a signature or a presigned query string showing up in
//! any status, event or operator log line.
//!
//! A private peer (`e2e/peers/s3/peer.sh`) serves HTTPS with the local CA's loopback certificate: with the CA from
//! `certSecretRef` the repository is Ready and its chart deploys; without it the repository says the
//! certificate is not trusted, again without keys or signatures.

use capstan_api::{ChartDeployment, ChartRepository};
use capstan_chart::index::index_directory;
use capstan_e2e::gnupg::GnuPg;
use capstan_e2e::operator::{Setup, TestResult, applied, config_map, ready_is};
use capstan_e2e::s3_peer::S3Peer;
use capstan_e2e::{Cluster, ToolCommand, workspace_binary};
use capstan_sources::s3::S3Repository;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Secret};
use kube::api::{ListParams, PostParams};
use serde_json::json;

/// Uploads `objects` (path in the bucket, bytes) with presigned PUTs, trusting `ca_pem` if given.
async fn upload(
    bucket: &S3Repository,
    ca_pem: Option<&[u8]>,
    objects: Vec<(&str, Vec<u8>)>,
) -> TestResult {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut uploader = reqwest::Client::builder();
    if let Some(ca_pem) = ca_pem {
        uploader = uploader.add_root_certificate(reqwest::Certificate::from_pem(ca_pem)?);
    }
    let uploader = uploader.build()?;
    for (path, body) in objects {
        let response = uploader
            .put(bucket.presigned_put(path)?)
            .body(body)
            .send()
            .await?;
        assert!(
            response.status().is_success(),
            "PUT {path}: {}",
            response.status()
        );
    }
    Ok(())
}

/// A key no server knows, unique per run, so finding it anywhere means it leaked.
fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    format!("{prefix}-{nanos}")
}

/// The Ready condition of a repository: `(status, reason, message)`.
fn repository_ready(repository: Option<&ChartRepository>) -> Option<(String, String, String)> {
    repository
        .and_then(capstan_e2e::operator::repository_ready)
        .map(|c| (c.status.clone(), c.reason.clone(), c.message.clone()))
}

async fn create_secret(
    setup: &Setup,
    name: &str,
    access_key: &str,
    secret_key: &str,
) -> TestResult {
    let secret: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name},
        "stringData": {"accessKeyID": access_key, "secretAccessKey": secret_key},
    }))?;
    setup
        .namespace
        .api::<Secret>()
        .create(&PostParams::default(), &secret)
        .await?;
    Ok(())
}

#[tokio::test]
async fn charts_from_a_private_s3_bucket_and_wrong_keys_never_leak() -> TestResult {
    let peer = S3Peer::shared("operator-s3")?;
    let secret_key = peer.secret_key.clone();
    let setup = Setup::new("s3").await?;
    let prefix = setup.namespace.name().to_string();
    let location = peer.location(&prefix);
    let bucket = peer.client(&location, None)?;

    // `greet` lives in the bucket (a relative URL in the index: fetched signed); `public` lives on
    // the shared plain chart server (an absolute URL to another host: fetched without the keys).
    let template = config_map("cm");
    let files = [
        ("templates/cm.yaml", template.as_str()),
        ("values.yaml", "greeting: hello\n"),
    ];
    let greet = setup.package("greet", "1.0.0", &files)?;
    let public = setup.publish("public", "2.0.0", &files)?;
    let bucket_dir = greet.parent().ok_or("the package has no directory")?;
    let mut index = index_directory(bucket_dir, "")?.index;
    let elsewhere = index_directory(&setup.repo_dir, &setup.repo_url)?.index;
    index.entries.extend(elsewhere.entries);
    assert_eq!(
        index.entries["public"][0].urls,
        [format!("{}/public-2.0.0.tgz", setup.repo_url)]
    );
    assert!(public.exists());

    upload(
        &bucket,
        None,
        vec![
            ("greet-1.0.0.tgz", std::fs::read(&greet)?),
            ("index.yaml", index.to_yaml()?.into_bytes()),
        ],
    )
    .await?;

    // The apiserver's own rules: an s3:// repository needs its keys, and `s3` needs s3://.
    for (spec, rule) in [
        (json!({"url": location}), "needs secretRef"),
        (
            json!({"url": "https://charts.example.com", "s3": {"region": "eu-west-1"}}),
            "s3 is only for s3:// URLs",
        ),
        (
            json!({"url": location, "secretRef": {"name": "s3-keys"}, "plainHttp": true}),
            "passCredentials and plainHttp have no effect on s3:// repositories",
        ),
    ] {
        let error = setup
            .apply_repository_with("refused", spec)
            .await
            .err()
            .ok_or("the apiserver accepted an invalid ChartRepository")?;
        assert!(error.to_string().contains(rule), "{error}");
    }

    create_secret(&setup, "s3-keys", &peer.access_key, &secret_key).await?;
    let s3 = json!({"endpoint": peer.endpoint, "region": peer.region});
    setup
        .apply_repository_with(
            "charts",
            json!({"url": location, "interval": "5s", "s3": s3, "secretRef": {"name": "s3-keys"}}),
        )
        .await?;
    setup
        .apply_deployment("greet", "greet", "1.0.0", json!({"greeting": "from-s3"}))
        .await?;
    setup
        .apply_deployment(
            "public",
            "public",
            "2.0.0",
            json!({"greeting": "elsewhere"}),
        )
        .await?;
    let repository = setup
        .wait_repository("charts", |r: Option<&ChartRepository>| {
            repository_ready(r).is_some_and(|(status, _, _)| status == "True")
        })
        .await?;
    assert_eq!(
        repository.status.as_ref().and_then(|s| s.chart_count),
        Some(2)
    );
    let deployed = setup.wait_deployment("greet", applied("1.0.0")).await?;
    let digest = deployed
        .status
        .and_then(|s| s.last_applied_revision)
        .map(|r| r.archive_digest)
        .ok_or("no applied revision")?;
    assert_eq!(
        digest,
        format!("sha256:{}", index.entries["greet"][0].digest)
    );
    setup.wait_deployment("public", applied("2.0.0")).await?;
    let config_maps = setup.namespace.api::<ConfigMap>();
    let greeting = |name: &str| {
        let config_maps = config_maps.clone();
        let name = name.to_string();
        async move {
            config_maps
                .get(&name)
                .await
                .map(|cm| cm.data.unwrap_or_default().remove("greeting"))
        }
    };
    assert_eq!(greeting("greet-cm").await?.as_deref(), Some("from-s3"));
    assert_eq!(greeting("public-cm").await?.as_deref(), Some("elsewhere"));

    // The right access key with the wrong secret key: refused, and said so without the key.
    let wrong_key = unique("not-the-secret-key");
    create_secret(&setup, "wrong-keys", &peer.access_key, &wrong_key).await?;
    setup
        .apply_repository_with(
            "denied",
            json!({"url": location, "interval": "5s", "s3": s3, "secretRef": {"name": "wrong-keys"}}),
        )
        .await?;
    let denied = setup
        .wait_repository("denied", |r: Option<&ChartRepository>| {
            repository_ready(r).is_some_and(|(status, _, _)| status == "False")
        })
        .await?;
    let (_, reason, message) = repository_ready(Some(&denied)).ok_or("no Ready condition")?;
    assert_eq!(reason, "AuthenticationFailed", "{message}");
    assert!(message.contains("HTTP 403"), "{message}");
    assert!(
        message.contains(&format!("s3://{}", peer.bucket)),
        "{message}"
    );

    // A bucket that does not exist: FetchFailed, with the server's NoSuchBucket answer.
    setup
        .apply_repository_with(
            "missing",
            json!({"url": "s3://capstan-no-such-bucket/charts", "interval": "5s", "s3": s3,
                   "secretRef": {"name": "s3-keys"}}),
        )
        .await?;
    let missing = setup
        .wait_repository("missing", |r: Option<&ChartRepository>| {
            repository_ready(r).is_some_and(|(status, _, _)| status == "False")
        })
        .await?;
    let (_, reason, message) = repository_ready(Some(&missing)).ok_or("no Ready condition")?;
    assert_eq!(reason, "FetchFailed", "{message}");
    assert!(message.contains("s3://capstan-no-such-bucket"), "{message}");
    assert!(message.contains("NoSuchBucket"), "{message}");

    // The Warning events are written right after the status; wait until the denial's is there.
    let events = setup.namespace.api::<Event>();
    let mut seen = Vec::new();
    for _ in 0..50 {
        seen = events.list(&ListParams::default()).await?.items;
        if seen
            .iter()
            .any(|e| e.reason.as_deref() == Some("AuthenticationFailed"))
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(
        seen.iter()
            .any(|e| e.reason.as_deref() == Some("AuthenticationFailed")),
        "no AuthenticationFailed event"
    );
    let repositories = setup
        .namespace
        .api::<ChartRepository>()
        .list(&ListParams::default())
        .await?;
    let deployments = setup
        .namespace
        .api::<ChartDeployment>()
        .list(&ListParams::default())
        .await?;
    let shown = serde_json::to_string(&(
        repositories
            .items
            .iter()
            .map(|r| &r.status)
            .collect::<Vec<_>>(),
        deployments
            .items
            .iter()
            .map(|d| &d.status)
            .collect::<Vec<_>>(),
        seen.iter().map(|e| &e.message).collect::<Vec<_>>(),
    ))?;
    let log_path = Cluster::shared()?
        .env()
        .state_dir
        .join("logs")
        .join(format!("operator-{}.log", setup.namespace.name()));
    let log = std::fs::read_to_string(&log_path)?;
    assert!(
        log.contains("AuthenticationFailed") || log.contains("authentication"),
        "the operator log has no word of the refusal: {}",
        log_path.display()
    );
    for secret in [
        wrong_key.as_str(),
        secret_key.as_str(),
        "X-Amz-Signature",
        "X-Amz-Credential",
    ] {
        assert!(
            !shown.contains(secret),
            "{secret:?} is in a status or event"
        );
        assert!(
            !log.contains(secret),
            "{secret:?} is in the operator log {}",
            log_path.display()
        );
    }

    setup.finish().await?;
    drop(peer);
    Ok(())
}

#[tokio::test]
async fn charts_from_an_s3_bucket_over_tls_trusted_through_cert_secret_ref() -> TestResult {
    let env = Cluster::shared()?.env().clone();
    // The local CA's serving certificate for 127.0.0.1, made by `e2e/lib/pki.sh` next to the CA.
    let pki = env.ca.parent().ok_or("CAPSTAN_E2E_CA has no directory")?;
    let (certificate, key) = (pki.join("peers.crt"), pki.join("peers.key"));
    for file in [&certificate, &key] {
        if !file.is_file() {
            return Err(format!(
                "{} is missing; `e2e/cluster up` writes it with the local CA",
                file.display()
            )
            .into());
        }
    }
    let secret_key = unique("capstan-e2e-secret");
    let peer = S3Peer::start_tls(&secret_key, &certificate, &key, &env.ca)?;
    assert!(peer.endpoint.starts_with("https://"), "{}", peer.endpoint);
    let setup = Setup::new("s3tls").await?;
    let ca_pem = std::fs::read(&env.ca)?;
    let location = peer.location(setup.namespace.name());
    let bucket = peer.client(&location, Some(&ca_pem))?;

    let template = config_map("cm");
    let files = [
        ("templates/cm.yaml", template.as_str()),
        ("values.yaml", "greeting: hello\n"),
    ];
    let greet = setup.package("greet", "1.0.0", &files)?;
    let index = index_directory(greet.parent().ok_or("the package has no directory")?, "")?.index;
    upload(
        &bucket,
        Some(&ca_pem),
        vec![
            ("greet-1.0.0.tgz", std::fs::read(&greet)?),
            ("index.yaml", index.to_yaml()?.into_bytes()),
        ],
    )
    .await?;
    // A signed GET through the library client that trusts the CA reads back what was uploaded.
    assert_eq!(bucket.get_index().await?, index.to_yaml()?.into_bytes());

    create_secret(&setup, "s3-keys", &peer.access_key, &secret_key).await?;
    let ca: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "s3-ca"},
        "stringData": {"ca.crt": String::from_utf8(ca_pem)?},
    }))?;
    setup
        .namespace
        .api::<Secret>()
        .create(&PostParams::default(), &ca)
        .await?;
    let s3 = json!({"endpoint": peer.endpoint, "region": "us-east-1"});
    setup
        .apply_repository_with(
            "secure",
            json!({"url": location, "interval": "5s", "s3": s3,
                   "secretRef": {"name": "s3-keys"}, "certSecretRef": {"name": "s3-ca"}}),
        )
        .await?;
    // The same bucket without the CA: the peer's certificate is not trusted by default.
    setup
        .apply_repository_with(
            "untrusted",
            json!({"url": location, "interval": "5s", "s3": s3,
                   "secretRef": {"name": "s3-keys"}}),
        )
        .await?;
    setup
        .apply_deployment_with(
            "greet",
            json!({"chart": {"repository": {"repositoryRef": {"name": "secure"},
                                            "name": "greet", "version": "1.0.0"}},
                   "values": {"greeting": "over-tls"}}),
        )
        .await?;

    let secure = setup
        .wait_repository("secure", |r: Option<&ChartRepository>| {
            repository_ready(r).is_some_and(|(status, _, _)| status == "True")
        })
        .await?;
    assert_eq!(secure.status.as_ref().and_then(|s| s.chart_count), Some(1));
    let deployed = setup.wait_deployment("greet", applied("1.0.0")).await?;
    assert_eq!(
        deployed
            .status
            .and_then(|s| s.last_applied_revision)
            .map(|r| r.archive_digest),
        Some(format!("sha256:{}", index.entries["greet"][0].digest))
    );
    assert_eq!(
        greeting_of(&setup, "greet-cm").await?.as_deref(),
        Some("over-tls")
    );

    let untrusted = setup
        .wait_repository("untrusted", |r: Option<&ChartRepository>| {
            repository_ready(r).is_some_and(|(status, _, _)| status == "False")
        })
        .await?;
    let (_, reason, message) = repository_ready(Some(&untrusted)).ok_or("no Ready condition")?;
    assert_eq!(reason, "FetchFailed", "{message}");
    assert!(
        message.to_lowercase().contains("certificate"),
        "the message should say the server certificate is not trusted: {message}"
    );
    assert!(message.contains("certSecretRef"), "{message}");
    assert!(message.contains(&peer.endpoint), "{message}");
    for secret in [secret_key.as_str(), "X-Amz-Signature", "X-Amz-Credential"] {
        assert!(!message.contains(secret), "{secret:?} is in: {message}");
    }

    setup.finish().await?;
    drop(peer);
    Ok(())
}

/// `data.greeting` of the ConfigMap `name` in the test's namespace.
async fn greeting_of(setup: &Setup, name: &str) -> TestResult<Option<String>> {
    let config_map = setup.namespace.api::<ConfigMap>().get(name).await?;
    Ok(config_map.data.unwrap_or_default().remove("greeting"))
}

/// The signer of the release pipeline below.
const RELEASER: &str = "Capstan Release <release@example.com>";

/// Writes the chart `pipeline` at `version` into `dir` (Jinja, a ConfigMap with a greeting).
fn write_release_chart(dir: &std::path::Path, version: &str) -> TestResult<std::path::PathBuf> {
    let chart = dir.join(version).join("pipeline");
    std::fs::create_dir_all(chart.join("templates"))?;
    std::fs::write(
        chart.join("Chart.yaml"),
        format!(
            "apiVersion: v2\nname: pipeline\nversion: {version}\n\
             annotations:\n  capstan.dev/engine: jinja\n"
        ),
    )?;
    std::fs::write(chart.join("values.yaml"), format!("greeting: v{version}\n"))?;
    std::fs::write(chart.join("templates/cm.yaml"), config_map("cm"))?;
    Ok(chart)
}

/// A release pipeline as the seed's workflows run one: `capstan package --sign`, then `capstan
/// push` to the bucket with the AWS CLI's environment; the operator deploys each new version
/// through a ChartRepository on `s3://` whose policy requires provenance, and refuses a version
/// released without a signature, staying on the last verified one.
#[tokio::test]
async fn a_release_pipeline_to_a_bucket_is_deployed_verified() -> TestResult {
    let env = Cluster::shared()?.env().clone();
    let gpg = env
        .gpg
        .clone()
        .ok_or("CAPSTAN_E2E_GPG is empty: install gnupg and re-run `e2e/cluster up`")?;
    let signer = GnuPg::new(&gpg, RELEASER)?;
    let (public_ring, secret_ring) = signer.export_keyrings()?;
    let peer = S3Peer::shared("pipeline")?;
    let setup = Setup::new("s3pipe").await?;
    let location = peer.location("stable");
    let work = tempfile::tempdir()?;
    let dist = work.path().join("dist");
    let capstan = |args: &[&str]| {
        ToolCommand::new(workspace_binary("CAPSTAN_BIN", "capstan"))
            .env("HOME", work.path())
            .env("AWS_ACCESS_KEY_ID", &peer.access_key)
            .env("AWS_SECRET_ACCESS_KEY", &peer.secret_key)
            .env("AWS_ENDPOINT_URL_S3", &peer.endpoint)
            .env("AWS_REGION", &peer.region)
            .args(args)
    };
    let release = |version: &'static str, sign: bool| {
        let chart = write_release_chart(&work.path().join("src"), version);
        let dist = dist.clone();
        let location = location.clone();
        let secret_ring = secret_ring.clone();
        let capstan = &capstan;
        async move {
            let chart = chart?;
            let mut package = capstan(&["package"]).arg(&chart).arg("-d").arg(&dist);
            if sign {
                package = package
                    .args(["--sign", "--key", RELEASER, "--keyring"])
                    .arg(&secret_ring);
            }
            package.run().await?;
            let archive = dist.join(format!("pipeline-{version}.tgz"));
            let pushed = capstan(&["push"])
                .arg(&archive)
                .arg(&location)
                .run()
                .await?;
            assert!(
                pushed
                    .stdout
                    .contains(&format!("Pushed: {location}/pipeline-{version}.tgz")),
                "{pushed:?}"
            );
            TestResult::Ok(())
        }
    };
    release("1.0.0", true).await?;

    create_secret(&setup, "s3-keys", &peer.access_key, &peer.secret_key).await?;
    let keyring: Secret = serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "release-keys"},
        "data": {"keyring.gpg": base64_encode(&std::fs::read(&public_ring)?)},
    }))?;
    setup
        .namespace
        .api::<Secret>()
        .create(&PostParams::default(), &keyring)
        .await?;
    setup
        .apply_repository_with(
            "releases",
            json!({"url": location, "interval": "2s",
                   "s3": {"endpoint": peer.endpoint, "region": peer.region},
                   "secretRef": {"name": "s3-keys"},
                   "verify": {"mode": "Required", "keyringSecretRef": {"name": "release-keys"}}}),
        )
        .await?;
    setup
        .apply_deployment_with(
            "app",
            json!({"chart": {"repository": {"repositoryRef": {"name": "releases"},
                                            "name": "pipeline", "version": "1.x"}}}),
        )
        .await?;
    let first = setup.wait_deployment("app", applied("1.0.0")).await?;
    let provenance = first
        .status
        .and_then(|s| s.provenance)
        .ok_or("status.provenance is missing for a verified chart")?;
    assert_eq!(provenance.signer, RELEASER);
    assert_eq!(provenance.key_fingerprint, signer.fingerprint()?);

    // The next release rolls out by itself, verified.
    release("1.1.0", true).await?;
    setup.wait_deployment("app", applied("1.1.0")).await?;
    assert_eq!(
        greeting_of(&setup, "app-cm").await?.as_deref(),
        Some("v1.1.0")
    );

    // A release that skipped signing is refused; what runs stays the verified 1.1.0.
    release("1.2.0", false).await?;
    let refused = setup
        .wait_deployment("app", ready_is("False", |r| r == "VerificationFailed"))
        .await?;
    let status = refused.status.unwrap_or_default();
    assert_eq!(
        status.last_applied_revision.map(|r| r.version).as_deref(),
        Some("1.1.0")
    );
    assert_eq!(
        greeting_of(&setup, "app-cm").await?.as_deref(),
        Some("v1.1.0")
    );

    setup.finish().await?;
    drop(signer);
    Ok(())
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
