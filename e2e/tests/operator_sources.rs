//! The operator's chart sources against the real peers: charts pushed with `helm push` to the
//! OCI registries (plain, with basic auth, with TLS) and Helm repositories on the chart servers
//! (with basic auth, with TLS), reached with credentials and CAs from Secrets. Each test has its
//! own namespace, its own registry paths and chart directories, and its own operator process,
//! whose log is read back to check that no credential ever shows up in it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use capstan_api::{ChartDeployment, ChartRepository};
use capstan_chart::index::index_directory;
use capstan_chart::package::{PackageOptions, package_dir};
use capstan_e2e::operator::{
    OperatorProcess, applied, install_crds, ready_is, ready_message, repository_ready,
    repository_ready_is,
};
use capstan_e2e::wait::wait_for;
use capstan_e2e::{Cluster, TestNamespace, ToolCommand};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Secret};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::runtime::wait::Condition;
use serde_json::{Value, json};

type TestResult = Result<(), Box<dyn std::error::Error>>;
type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

const WAIT: Duration = Duration::from_secs(90);

/// A ConfigMap named after the release, holding the chart version it came from.
const TEMPLATE: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ release.name }}-cm
data:
  version: "{{ chart.version }}"
  greeting: "{{ values.greeting }}"
"#;

/// One test's world: the cluster, a namespace, a scratch directory (charts, Helm's state, the
/// operator log) and the operator process.
struct Setup {
    /// Dropped (killed) first, so a failed test's namespace can release the finalizers.
    _operator: OperatorProcess,
    cluster: &'static Cluster,
    namespace: TestNamespace,
    work: tempfile::TempDir,
    log: PathBuf,
    /// Chart-server directories to remove at the end.
    served: Vec<PathBuf>,
}

impl Setup {
    async fn new(prefix: &str) -> Fallible<Self> {
        let cluster = Cluster::shared()?;
        install_crds(cluster).await?;
        let namespace = TestNamespace::create(cluster, prefix).await?;
        let work = tempfile::tempdir()?;
        let log = work.path().join("operator.log");
        let operator = OperatorProcess::start(cluster, namespace.name(), Some(&log))?;
        Ok(Setup {
            cluster,
            namespace,
            work,
            log,
            served: Vec::new(),
            _operator: operator,
        })
    }

    fn helm(&self) -> ToolCommand {
        self.cluster.helm(&self.work.path().join("helm"))
    }

    /// Packages chart `name` at `version` into the scratch directory; returns the archive.
    fn package(&self, name: &str, version: &str) -> Fallible<PathBuf> {
        let dir = self.work.path().join("src").join(version).join(name);
        std::fs::create_dir_all(dir.join("templates"))?;
        std::fs::write(
            dir.join("Chart.yaml"),
            format!(
                "apiVersion: v2\nname: {name}\nversion: {version}\n\
                 annotations:\n  capstan.dev/engine: jinja\n"
            ),
        )?;
        std::fs::write(dir.join("values.yaml"), "greeting: hello\n")?;
        std::fs::write(dir.join("templates/cm.yaml"), TEMPLATE)?;
        let (file_name, bytes) = package_dir(&dir, &PackageOptions::default())?;
        let archive = self.work.path().join("packages").join(file_name);
        std::fs::create_dir_all(archive.parent().ok_or("no parent")?)?;
        std::fs::write(&archive, bytes)?;
        Ok(archive)
    }

    /// `helm push`es `archive` to `oci://<destination>`; returns the manifest digest Helm printed.
    async fn push(
        &self,
        archive: &Path,
        destination: &str,
        transport: &[&str],
    ) -> Fallible<String> {
        let pushed = self
            .helm()
            .arg("push")
            .arg(archive)
            .arg(format!("oci://{destination}"))
            .args(transport)
            .run()
            .await?;
        Ok(pushed
            .stdout
            .lines()
            .chain(pushed.stderr.lines())
            .find_map(|line| line.strip_prefix("Digest: "))
            .ok_or("helm push printed no digest")?
            .trim()
            .to_string())
    }

    /// Publishes `archives` as a Helm repository in the chart servers' directory under
    /// `<namespace>/<label>`, indexed for `base` (the server that will serve it); returns its URL.
    fn serve(&mut self, label: &str, base: &str, archives: &[&Path]) -> Fallible<String> {
        let relative = format!("{}/{label}", self.namespace.name());
        let dir = self.cluster.env().charts_dir.join(&relative);
        std::fs::create_dir_all(&dir)?;
        self.served.push(dir.clone());
        for archive in archives {
            std::fs::copy(
                archive,
                dir.join(archive.file_name().ok_or("no file name")?),
            )?;
        }
        let url = format!("{base}/{relative}");
        let index = index_directory(&dir, &url)?;
        std::fs::write(dir.join("index.yaml"), index.index.to_yaml()?)?;
        Ok(url)
    }

    async fn secret(&self, name: &str, type_: Option<&str>, data: Value) -> TestResult {
        let mut secret = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name},
            "stringData": data,
        });
        if let Some(type_) = type_ {
            secret["type"] = json!(type_);
        }
        let secret: Secret = serde_json::from_value(secret)?;
        self.namespace
            .api::<Secret>()
            .create(&PostParams::default(), &secret)
            .await?;
        Ok(())
    }

    async fn repository(&self, name: &str, spec: Value) -> TestResult {
        let repository: ChartRepository = serde_json::from_value(json!({
            "apiVersion": "capstan.dev/v1alpha1", "kind": "ChartRepository",
            "metadata": {"name": name}, "spec": spec,
        }))?;
        self.namespace
            .api::<ChartRepository>()
            .create(&PostParams::default(), &repository)
            .await?;
        Ok(())
    }

    async fn deployment(&self, name: &str, chart: Value) -> TestResult {
        let deployment: ChartDeployment = serde_json::from_value(json!({
            "apiVersion": "capstan.dev/v1alpha1", "kind": "ChartDeployment",
            "metadata": {"name": name}, "spec": {"chart": chart},
        }))?;
        self.namespace
            .api::<ChartDeployment>()
            .create(&PostParams::default(), &deployment)
            .await?;
        Ok(())
    }

    async fn wait(
        &self,
        name: &str,
        condition: impl Condition<ChartDeployment>,
    ) -> Fallible<ChartDeployment> {
        let api = self.namespace.api::<ChartDeployment>();
        match wait_for(&api, name, "ChartDeployment", WAIT, condition).await {
            Ok(found) => Ok(found.ok_or("the ChartDeployment disappeared")?),
            Err(error) => {
                // Say where it got stuck.
                let status = api.get_opt(name).await?.and_then(|d| d.status);
                Err(format!("{error}; status: {}", serde_json::to_string(&status)?).into())
            }
        }
    }

    /// Waits until `name` is Ready with `version`; checks its ConfigMap holds that version and
    /// returns the manifest digest recorded in status.
    async fn installed(&self, name: &str, version: &'static str) -> Fallible<Option<String>> {
        let deployment = self.wait(name, applied(version)).await?;
        let config_map = self
            .namespace
            .api::<ConfigMap>()
            .get(&format!("{name}-cm"))
            .await?;
        let data = config_map.data.unwrap_or_default();
        assert_eq!(data.get("version").map(String::as_str), Some(version));
        let revision = deployment
            .status
            .and_then(|s| s.last_applied_revision)
            .ok_or("no applied revision")?;
        Ok(revision.manifest_digest)
    }

    /// Asserts `name` applied nothing.
    async fn nothing_applied(&self, name: &str) -> TestResult {
        let config_map = self
            .namespace
            .api::<ConfigMap>()
            .get_opt(&format!("{name}-cm"))
            .await?;
        assert!(config_map.is_none(), "{name} applied its ConfigMap");
        Ok(())
    }

    /// Asserts that `secret` appears in no status, event or operator log line.
    async fn never_shows(&self, secret: &str) -> TestResult {
        let deployments = self
            .namespace
            .api::<ChartDeployment>()
            .list(&ListParams::default())
            .await?;
        let repositories = self
            .namespace
            .api::<ChartRepository>()
            .list(&ListParams::default())
            .await?;
        let events = self
            .namespace
            .api::<Event>()
            .list(&ListParams::default())
            .await?;
        let statuses = serde_json::to_string(&(
            deployments
                .items
                .iter()
                .map(|d| &d.status)
                .collect::<Vec<_>>(),
            repositories
                .items
                .iter()
                .map(|r| &r.status)
                .collect::<Vec<_>>(),
            events.items.iter().map(|e| &e.message).collect::<Vec<_>>(),
        ))?;
        assert!(
            !statuses.contains(secret),
            "a credential is in status or events"
        );
        let log = std::fs::read_to_string(&self.log)?;
        assert!(!log.is_empty(), "the operator logged nothing");
        assert!(!log.contains(secret), "a credential is in the operator log");
        Ok(())
    }

    async fn finish(self) -> TestResult {
        for dir in &self.served {
            std::fs::remove_dir_all(dir).ok();
        }
        self.namespace.delete().await?;
        Ok(())
    }
}

/// A password no server knows, unique per run.
fn wrong_password() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    format!("not-the-password-{nanos}")
}

#[tokio::test]
async fn oci_charts_install_by_tag_constraint_and_digest_and_are_not_pulled_again() -> TestResult {
    let setup = Setup::new("src-oci").await?;
    let registry = setup.cluster.env().registry.clone();
    let path = format!("{registry}/{}", setup.namespace.name());
    let plain = ["--plain-http"];
    let first = setup.package("greet", "1.0.0")?;
    let digest_1_0 = setup.push(&first, &path, &plain).await?;
    let second = setup.package("greet", "1.1.0")?;
    let digest_1_1 = setup.push(&second, &path, &plain).await?;
    // Build metadata: the tag is `2.0.0_build.1`, read back as `2.0.0+build.1`.
    let third = setup.package("greet", "2.0.0+build.1")?;
    let digest_2_0 = setup.push(&third, &path, &plain).await?;
    let chart = format!("oci://{path}/greet");

    setup
        .deployment(
            "tag",
            json!({"oci": {"reference": format!("{chart}:1.0.0"), "plainHttp": true}}),
        )
        .await?;
    setup
        .deployment(
            "range",
            json!({"oci": {"reference": chart, "version": ">=1.1.0", "plainHttp": true}}),
        )
        .await?;
    setup
        .deployment(
            "pinned",
            json!({"oci": {"reference": format!("{chart}@{digest_1_1}"), "plainHttp": true}}),
        )
        .await?;
    setup
        .repository(
            "registry",
            json!({"url": format!("oci://{path}"), "plainHttp": true}),
        )
        .await?;
    setup
        .deployment(
            "via-repository",
            json!({"repository": {"repositoryRef": {"name": "registry"}, "name": "greet",
                   "version": "~1.1"}}),
        )
        .await?;

    assert_eq!(
        setup.installed("tag", "1.0.0").await?,
        Some(digest_1_0.clone())
    );
    assert_eq!(
        setup.installed("range", "2.0.0+build.1").await?,
        Some(digest_2_0)
    );
    assert_eq!(
        setup.installed("pinned", "1.1.0").await?,
        Some(digest_1_1.clone())
    );
    assert_eq!(
        setup.installed("via-repository", "1.1.0").await?,
        Some(digest_1_1)
    );

    // Remove 1.0.0's chart layer from the registry: the manifest still resolves to the same
    // digest, but a pull would fail. A new reconcile (a values change) still succeeds, so the
    // operator did not pull the unchanged digest again.
    let layer = format!(
        "sha256:{}",
        ToolCommand::new("sha256sum")
            .arg(&first)
            .run()
            .await?
            .stdout
            .split_whitespace()
            .next()
            .ok_or("no sha256sum output")?
    );
    let blob = format!(
        "http://{registry}/v2/{}/greet/blobs/{layer}",
        setup.namespace.name()
    );
    ToolCommand::new("curl")
        .args(["-sSf", "-X", "DELETE", &blob])
        .run()
        .await?;
    let status = ToolCommand::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", &blob])
        .run()
        .await?;
    assert_eq!(status.stdout, "404", "the layer is gone from the registry");
    setup
        .namespace
        .api::<ChartDeployment>()
        .patch(
            "tag",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"values": {"greeting": "again"}}})),
        )
        .await?;
    wait_for(
        &setup.namespace.api::<ConfigMap>(),
        "tag-cm",
        "ConfigMap",
        WAIT,
        |cm: Option<&ConfigMap>| {
            cm.and_then(|cm| cm.data.as_ref())
                .and_then(|d| d.get("greeting"))
                .is_some_and(|g| g == "again")
        },
    )
    .await?;
    let tag = setup.wait("tag", applied("1.0.0")).await?;
    let revision = tag.status.and_then(|s| s.last_applied_revision);
    assert_eq!(revision.and_then(|r| r.manifest_digest), Some(digest_1_0));
    setup.finish().await
}

#[tokio::test]
async fn http_repositories_with_basic_auth_and_a_ca_from_secrets() -> TestResult {
    let mut setup = Setup::new("src-http").await?;
    let env = setup.cluster.env().clone();
    let archive = setup.package("greet", "1.0.0")?;
    let private = setup.serve("auth", &env.charts_auth, &[&archive])?;
    let secure = setup.serve("tls", &env.charts_tls, &[&archive])?;
    let wrong = wrong_password();
    setup
        .secret(
            "basic",
            None,
            json!({"username": env.credentials.username, "password": env.credentials.password}),
        )
        .await?;
    setup
        .secret(
            "wrong",
            None,
            json!({"username": env.credentials.username, "password": wrong}),
        )
        .await?;
    setup
        .secret(
            "ca",
            None,
            json!({"ca.crt": std::fs::read_to_string(&env.ca)?}),
        )
        .await?;
    setup
        .repository(
            "private",
            json!({"url": private, "secretRef": {"name": "basic"}}),
        )
        .await?;
    setup
        .repository(
            "secure",
            json!({"url": secure, "certSecretRef": {"name": "ca"}}),
        )
        .await?;
    setup
        .repository(
            "denied",
            json!({"url": private, "secretRef": {"name": "wrong"}}),
        )
        .await?;
    for (name, repository) in [
        ("private", "private"),
        ("secure", "secure"),
        ("denied", "denied"),
    ] {
        setup
            .deployment(
                name,
                json!({"repository": {"repositoryRef": {"name": repository}, "name": "greet"}}),
            )
            .await?;
    }
    setup.installed("private", "1.0.0").await?;
    setup.installed("secure", "1.0.0").await?;

    let repositories = setup.namespace.api::<ChartRepository>();
    let denied = wait_for(
        &repositories,
        "denied",
        "ChartRepository",
        WAIT,
        repository_ready_is("False", |_| true),
    )
    .await?
    .ok_or("the ChartRepository disappeared")?;
    let condition = repository_ready(&denied)
        .cloned()
        .ok_or("no Ready condition")?;
    assert_eq!(
        condition.reason, "AuthenticationFailed",
        "{}",
        condition.message
    );
    assert!(condition.message.contains("401"), "{}", condition.message);
    // The deployment says why once the repository's condition reaches it.
    setup
        .wait("denied", |d: Option<&ChartDeployment>| {
            ready_is("False", |_| true).matches_object(d)
                && d.is_some_and(|d| ready_message(d).contains("401"))
        })
        .await?;
    setup.nothing_applied("denied").await?;
    setup.never_shows(&wrong).await?;
    setup.never_shows(&env.credentials.password).await?;
    setup.finish().await
}

#[tokio::test]
async fn registries_with_docker_config_credentials_and_a_ca_and_wrong_credentials() -> TestResult {
    let setup = Setup::new("src-reg").await?;
    let env = setup.cluster.env().clone();
    let archive = setup.package("greet", "1.0.0")?;
    setup
        .helm()
        .args(["registry", "login", &env.registry_auth, "--plain-http"])
        .args(["--username", &env.credentials.username, "--password-stdin"])
        .stdin(env.credentials.password.clone())
        .run()
        .await?;
    let private = format!("{}/{}", env.registry_auth, setup.namespace.name());
    let digest = setup.push(&archive, &private, &["--plain-http"]).await?;
    let secure = format!("{}/{}", env.registry_tls, setup.namespace.name());
    let ca = env.ca.to_string_lossy().into_owned();
    let tls_digest = setup.push(&archive, &secure, &["--ca-file", &ca]).await?;

    let docker_config = json!({"auths": {env.registry_auth.clone(): {
        "username": env.credentials.username, "password": env.credentials.password}}});
    setup
        .secret(
            "pull",
            Some("kubernetes.io/dockerconfigjson"),
            json!({".dockerconfigjson": docker_config.to_string()}),
        )
        .await?;
    let wrong = wrong_password();
    setup
        .secret(
            "wrong",
            None,
            json!({"username": env.credentials.username, "password": wrong}),
        )
        .await?;
    setup
        .secret(
            "ca",
            None,
            json!({"ca.crt": std::fs::read_to_string(&env.ca)?}),
        )
        .await?;
    let chart = format!("oci://{private}/greet");
    setup
        .deployment(
            "private",
            json!({"oci": {"reference": chart, "version": "1.0.0", "plainHttp": true,
                   "secretRef": {"name": "pull"}}}),
        )
        .await?;
    setup
        .deployment(
            "denied",
            json!({"oci": {"reference": chart, "version": "1.0.0", "plainHttp": true,
                   "secretRef": {"name": "wrong"}}}),
        )
        .await?;
    setup
        .deployment(
            "anonymous",
            json!({"oci": {"reference": chart, "version": "1.0.0", "plainHttp": true}}),
        )
        .await?;
    setup
        .deployment(
            "secure",
            json!({"oci": {"reference": format!("oci://{secure}/greet:1.0.0"),
                   "certSecretRef": {"name": "ca"}}}),
        )
        .await?;

    assert_eq!(setup.installed("private", "1.0.0").await?, Some(digest));
    assert_eq!(setup.installed("secure", "1.0.0").await?, Some(tls_digest));
    for name in ["denied", "anonymous"] {
        let failed = setup
            .wait(name, ready_is("False", |r| r == "AuthenticationFailed"))
            .await?;
        let message = ready_message(&failed);
        assert!(message.contains(&private), "{name}: {message}");
        setup.nothing_applied(name).await?;
    }
    setup.never_shows(&wrong).await?;
    setup.never_shows(&env.credentials.password).await?;
    setup.finish().await
}
