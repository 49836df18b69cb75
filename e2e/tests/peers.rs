//! Proofs that the test peers are real: the OCI registries take pushes and serve pulls (plain, with
//! basic auth, with TLS), the chart servers serve a Helm repository, and the Helm CLI runs.

use std::path::{Path, PathBuf};

use capstan_e2e::{Cluster, ToolCommand};
use tempfile::TempDir;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const CHART_NAME: &str = "e2e-peer-demo";
const CHART_VERSION: &str = "0.1.0";

/// Writes a minimal chart and packages it with Helm; returns the archive's path.
async fn package_chart(
    cluster: &Cluster,
    work: &Path,
) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let source = work.join(CHART_NAME);
    std::fs::create_dir_all(source.join("templates"))?;
    std::fs::write(
        source.join("Chart.yaml"),
        format!("apiVersion: v2\nname: {CHART_NAME}\nversion: {CHART_VERSION}\n"),
    )?;
    std::fs::write(
        source.join("templates/configmap.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  greeting: hello\n",
    )?;
    let out = work.join("packaged");
    cluster
        .helm(&work.join("helm"))
        .arg("package")
        .arg(&source)
        .arg("--destination")
        .arg(&out)
        .run()
        .await?;
    Ok(out.join(format!("{CHART_NAME}-{CHART_VERSION}.tgz")))
}

/// A repository path that no other test run uses, so reruns against the same registry do not clash.
fn unique_path(label: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    format!("{label}-{}-{nanos}", std::process::id())
}

/// What every peer test starts from: the cluster, a scratch directory and a packaged chart.
struct Fixture {
    cluster: &'static Cluster,
    work: TempDir,
    archive: PathBuf,
}

impl Fixture {
    async fn new() -> Result<Self, Box<dyn std::error::Error>> {
        let cluster = Cluster::shared()?;
        let work = TempDir::new()?;
        let archive = package_chart(cluster, work.path()).await?;
        Ok(Self {
            cluster,
            work,
            archive,
        })
    }

    /// Helm with its state in this fixture's scratch directory.
    fn helm(&self) -> ToolCommand {
        self.cluster.helm(&self.work.path().join("helm"))
    }

    /// Pushes the archive with `helm push`, pulls it back with `helm pull` and checks the bytes
    /// match. `transport` carries `--plain-http` or `--ca-file`. Returns `<repository>:<tag>` and
    /// the digest Helm reported.
    async fn push_and_pull(
        &self,
        registry: &str,
        transport: &[&str],
    ) -> Result<(String, String), Box<dyn std::error::Error>> {
        let repository = format!("{registry}/{}", unique_path("charts"));
        let pushed = self
            .helm()
            .arg("push")
            .arg(&self.archive)
            .arg(format!("oci://{repository}"))
            .args(transport)
            .run()
            .await?;
        let digest = pushed
            .stdout
            .lines()
            .chain(pushed.stderr.lines())
            .find_map(|line| line.strip_prefix("Digest: "))
            .ok_or("helm push printed no digest")?
            .trim()
            .to_string();
        let destination = self.work.path().join(unique_path("pulled"));
        std::fs::create_dir_all(&destination)?;
        self.helm()
            .arg("pull")
            .arg(format!("oci://{repository}/{CHART_NAME}"))
            .args(["--version", CHART_VERSION, "--destination"])
            .arg(&destination)
            .args(transport)
            .run()
            .await?;
        self.assert_pulled_unchanged(&destination, "registry")?;
        Ok((format!("{repository}/{CHART_NAME}:{CHART_VERSION}"), digest))
    }

    fn assert_pulled_unchanged(
        &self,
        destination: &Path,
        source: &str,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let pulled = std::fs::read(destination.join(format!("{CHART_NAME}-{CHART_VERSION}.tgz")))?;
        assert_eq!(
            pulled,
            std::fs::read(&self.archive)?,
            "the {source} returned other bytes than were published"
        );
        Ok(())
    }
}

#[tokio::test]
async fn helm_reports_its_version() -> TestResult {
    let cluster = Cluster::shared()?;
    let work = TempDir::new()?;
    let output = cluster
        .helm(work.path())
        .args(["version", "--template", "{{ .Version }}"])
        .run()
        .await?;
    assert_eq!(output.stdout.trim(), cluster.env().helm_version);
    Ok(())
}

#[tokio::test]
async fn plain_registry_accepts_a_push_and_serves_the_pull() -> TestResult {
    let fixture = Fixture::new().await?;
    let (tag, digest) = fixture
        .push_and_pull(&fixture.cluster.env().registry, &["--plain-http"])
        .await?;

    // A second client agrees on the manifest digest Helm reported.
    let crane_digest = fixture
        .cluster
        .crane(fixture.work.path())
        .args(["digest", "--insecure", &tag])
        .run()
        .await?;
    assert_eq!(crane_digest.stdout.trim(), digest);
    Ok(())
}

#[tokio::test]
async fn authenticated_registry_refuses_anonymous_pushes_and_accepts_after_login() -> TestResult {
    let fixture = Fixture::new().await?;
    let env = fixture.cluster.env();
    let anonymous = fixture
        .helm()
        .arg("push")
        .arg(&fixture.archive)
        .arg(format!(
            "oci://{}/{}",
            env.registry_auth,
            unique_path("anonymous")
        ))
        .arg("--plain-http")
        .output()
        .await?;
    assert!(!anonymous.status.success(), "anonymous push was accepted");

    fixture
        .helm()
        .args([
            "registry",
            "login",
            &env.registry_auth,
            "--plain-http",
            "--password-stdin",
        ])
        .args(["--username", &env.credentials.username])
        .stdin(env.credentials.password.clone())
        .run()
        .await?;
    fixture
        .push_and_pull(&env.registry_auth, &["--plain-http"])
        .await?;
    Ok(())
}

#[tokio::test]
async fn tls_registry_is_trusted_through_the_local_ca() -> TestResult {
    let fixture = Fixture::new().await?;
    let env = fixture.cluster.env();
    let ca = env.ca.to_string_lossy().into_owned();
    fixture
        .push_and_pull(&env.registry_tls, &["--ca-file", &ca])
        .await?;
    Ok(())
}

#[tokio::test]
async fn chart_servers_serve_a_helm_repository_plain_with_auth_and_with_tls() -> TestResult {
    let fixture = Fixture::new().await?;
    let env = fixture.cluster.env();
    let subdirectory = unique_path("repo");
    let served = env.charts_dir.join(&subdirectory);
    std::fs::create_dir_all(&served)?;
    let file_name = fixture.archive.file_name().ok_or("archive without name")?;
    std::fs::copy(&fixture.archive, served.join(file_name))?;
    fixture
        .helm()
        .arg("repo")
        .arg("index")
        .arg(&served)
        .run()
        .await?;

    let ca = env.ca.to_string_lossy().into_owned();
    let servers = [
        ("plain", &env.charts, vec![]),
        (
            "auth",
            &env.charts_auth,
            vec!["--username", &env.credentials.username, "--password-stdin"],
        ),
        ("tls", &env.charts_tls, vec!["--ca-file", &ca]),
    ];
    for (name, base, flags) in servers {
        let url = format!("{base}/{subdirectory}");
        let mut add = fixture
            .helm()
            .args(["repo", "add", name, &url])
            .args(&flags);
        if flags.contains(&"--password-stdin") {
            add = add.stdin(env.credentials.password.clone());
        }
        add.run().await?;
        let destination = fixture.work.path().join(format!("pulled-{name}"));
        std::fs::create_dir_all(&destination)?;
        fixture
            .helm()
            .args([
                "pull",
                &format!("{name}/{CHART_NAME}"),
                "--version",
                CHART_VERSION,
            ])
            .arg("--destination")
            .arg(&destination)
            .run()
            .await?;
        fixture.assert_pulled_unchanged(&destination, &format!("{name} chart server"))?;
    }

    let anonymous = fixture
        .helm()
        .args([
            "repo",
            "add",
            "anonymous",
            &format!("{}/{subdirectory}", env.charts_auth),
        ])
        .output()
        .await?;
    assert!(
        !anonymous.status.success(),
        "the auth server served an anonymous client"
    );
    std::fs::remove_dir_all(&served)?;
    Ok(())
}
