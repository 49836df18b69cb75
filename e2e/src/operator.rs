//! Running the operator against the real control plane: each test gets its own namespace, its
//! own chart repository directory on the HTTP test peer and its own operator process watching
//! only that namespace (killed when the test ends, pass or fail).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use capstan_api::{ChartDeployment, ChartRepository};
use capstan_chart::index::index_directory;
use capstan_chart::load::load_dir;
use capstan_chart::package::{PackageOptions, archive_chart, package_dir, reproducible_mtime};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition as MetaCondition;
use kube::api::{Patch, PatchParams, PostParams};
use kube::runtime::wait::Condition;
use serde_json::json;
use tokio::process::{Child, Command};

use crate::error::{E2eError, Result};
use crate::wait::wait_for;
use crate::{Cluster, TestNamespace};

/// What the operator tests return: any error fails the test with its message.
pub type TestResult<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// How long a test waits for the operator to reach a state.
pub const WAIT: Duration = Duration::from_secs(90);

/// The operator binary: `CAPSTAN_OPERATOR_BIN`, else the workspace's debug build (built by
/// `cargo build -p capstan-operator`).
pub fn operator_binary() -> PathBuf {
    crate::tools::workspace_binary("CAPSTAN_OPERATOR_BIN", "capstan-operator")
}

/// A running operator; dropping it kills the process.
pub struct OperatorProcess {
    child: Child,
}

impl OperatorProcess {
    /// Starts the operator watching `namespace` with the admin kubeconfig. Its output goes
    /// to `log` when given (tests read it back), else to the test's stderr.
    pub fn start(cluster: &Cluster, namespace: &str, log: Option<&Path>) -> Result<Self> {
        Self::launch(namespace, &cluster.env().kubeconfig, &[], log)
    }

    /// Starts the operator watching `namespace` as `kubeconfig`'s user, with extra environment.
    pub fn launch(
        namespace: &str,
        kubeconfig: &Path,
        env: &[(&str, &str)],
        log: Option<&Path>,
    ) -> Result<Self> {
        OperatorCommand::new(kubeconfig)
            .args(["--namespace", namespace])
            .envs(env)
            .spawn(log)
    }

    /// The operator's process id while it runs (`prlimit` execs the operator in its own
    /// process), for signals and for reading its resource use.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Whether the process has exited (crashed, killed, or out of memory), and how.
    pub fn exited(&mut self) -> Result<Option<std::process::ExitStatus>> {
        self.child
            .try_wait()
            .map_err(|e| E2eError::Unavailable(format!("checking the operator process: {e}")))
    }

    /// Asks the operator to shut down (SIGTERM, as Kubernetes does) and waits until it has.
    pub async fn terminate(mut self) -> Result<std::process::ExitStatus> {
        let unavailable =
            |e: std::io::Error| E2eError::Unavailable(format!("terminating the operator: {e}"));
        let pid = self
            .child
            .id()
            .ok_or_else(|| E2eError::Unavailable("the operator has already exited".into()))?;
        // The shell's builtin: /bin/kill (procps) is not on every minimal system.
        let sent = std::process::Command::new("sh")
            .args(["-c", r#"kill -TERM "$1""#, "sh", &pid.to_string()])
            .status()
            .map_err(unavailable)?;
        if !sent.success() {
            return Err(E2eError::Unavailable(format!("kill -TERM {pid} failed")));
        }
        match tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await {
            Ok(status) => status.map_err(unavailable),
            Err(_) => Err(E2eError::Unavailable(format!(
                "the operator (pid {pid}) did not exit within 30s of SIGTERM"
            ))),
        }
    }

    /// Kills the operator and waits until it is gone.
    pub async fn stop(mut self) -> Result<()> {
        self.child
            .kill()
            .await
            .map_err(|e| E2eError::Unavailable(format!("stopping the operator: {e}")))
    }
}

/// How to start an operator: `capstan-operator run` with extra arguments and environment, as a
/// kubeconfig's user, optionally under a memory limit.
pub struct OperatorCommand {
    kubeconfig: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    memory_limit: Option<u64>,
}

impl OperatorCommand {
    /// `capstan-operator run` as `kubeconfig`'s user.
    pub fn new(kubeconfig: &Path) -> Self {
        OperatorCommand {
            kubeconfig: kubeconfig.to_path_buf(),
            args: vec!["run".into()],
            env: Vec::new(),
            memory_limit: None,
        }
    }

    pub fn args<S: AsRef<str>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args
            .extend(args.into_iter().map(|arg| arg.as_ref().to_string()));
        self
    }

    pub fn envs(mut self, env: &[(&str, &str)]) -> Self {
        self.env.extend(
            env.iter()
                .map(|(key, value)| (key.to_string(), value.to_string())),
        );
        self
    }

    /// Runs the operator under `prlimit --data=<bytes>`: its heap, anonymous mappings and
    /// thread stacks together may not exceed `bytes` (an allocation beyond fails, which aborts
    /// a Rust program), close to what a container's memory limit allows.
    pub fn memory_limit(mut self, bytes: u64) -> Self {
        self.memory_limit = Some(bytes);
        self
    }

    /// Starts the operator; its output goes to `log` (appended to) when given, else to the
    /// test's stderr.
    pub fn spawn(&self, log: Option<&Path>) -> Result<OperatorProcess> {
        let binary = operator_binary();
        let (stdout, stderr) = match log {
            Some(path) => {
                let io_error = |source| E2eError::Io {
                    path: path.to_path_buf(),
                    source,
                };
                // Appended to, so an operator restarted by a test keeps its earlier lines.
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(io_error)?;
                let copy = file.try_clone().map_err(io_error)?;
                (Stdio::from(file), Stdio::from(copy))
            }
            None => (Stdio::null(), Stdio::inherit()),
        };
        let mut command = match self.memory_limit {
            Some(bytes) => {
                let mut command = Command::new("prlimit");
                command
                    .arg(format!("--data={bytes}"))
                    .arg("--")
                    .arg(&binary);
                command
            }
            None => Command::new(&binary),
        };
        let child = command
            .args(&self.args)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("RUST_LOG", "info")
            // Tests use intervals of a few seconds to watch periodic work happen.
            .env("CAPSTAN_MIN_INTERVAL", "1s")
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                E2eError::Unavailable(format!(
                    "starting {}{}: {e}; build it with `cargo build -p capstan-operator` or set \
                     CAPSTAN_OPERATOR_BIN",
                    binary.display(),
                    if self.memory_limit.is_some() {
                        " under prlimit (util-linux)"
                    } else {
                        ""
                    }
                ))
            })?;
        Ok(OperatorProcess { child })
    }
}

/// One test's world: namespace, repository directory and operator process.
pub struct Setup {
    /// Declared (so dropped) before the namespace: a failed test's operator is killed before the
    /// namespace releases its finalizers, or it could put them back and leave the namespace
    /// Terminating.
    operator: Option<OperatorProcess>,
    pub namespace: TestNamespace,
    /// This test's directory on the shared chart server.
    pub repo_dir: PathBuf,
    /// URL of [`Setup::repo_dir`] on the plain-HTTP chart server.
    pub repo_url: String,
    charts: tempfile::TempDir,
    launch: Launch,
    /// Shows the operator's log when the test ends without [`Setup::finish`].
    failure_log: FailureLog,
}

/// Prints the end of an operator's log to the test's output when dropped unfinished: a test
/// that fails returns (or panics) without calling [`Setup::finish`], and its log lives in a
/// state directory that CI removes with the cluster, so the harness's captured output is the
/// one place it survives.
struct FailureLog {
    path: PathBuf,
    finished: bool,
}

/// How many of the log's last lines a failed test shows, and how much of each.
const FAILURE_LOG_LINES: usize = 80;
const FAILURE_LOG_LINE_CHARS: usize = 400;

impl Drop for FailureLog {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let Ok(text) = std::fs::read_to_string(&self.path) else {
            eprintln!(
                "(the operator log {} could not be read)",
                self.path.display()
            );
            return;
        };
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(FAILURE_LOG_LINES);
        eprintln!(
            "---- last {} lines of the operator log {} ----",
            lines.len() - start,
            self.path.display()
        );
        for line in &lines[start..] {
            let cut: String = line.chars().take(FAILURE_LOG_LINE_CHARS).collect();
            eprintln!("{cut}");
        }
    }
}

/// How [`Setup`] starts its operator, kept to start it again after [`Setup::stop_operator`].
struct Launch {
    namespace: String,
    kubeconfig: PathBuf,
    env: Vec<(String, String)>,
    log: PathBuf,
    /// Where the operator serves `/metrics`, the same port across restarts.
    metrics_url: String,
}

impl Launch {
    fn start(&self) -> Result<OperatorProcess> {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
            .collect();
        OperatorProcess::launch(&self.namespace, &self.kubeconfig, &env, Some(&self.log))
    }
}

impl Setup {
    /// Creates the namespace and starts an operator for it, with the operator's default flags.
    pub async fn new(prefix: &str) -> TestResult<Self> {
        Self::with_operator_env(prefix, &[]).await
    }

    /// Like [`Setup::new`], with extra environment variables for the operator process.
    pub async fn with_operator_env(prefix: &str, env: &[(&str, &str)]) -> TestResult<Self> {
        Self::start(prefix, env, None, None).await
    }

    /// Like [`Setup::new`], with the repository served from `repo_dir` at `repo_url` by the test
    /// itself (e.g. a server it can take down) instead of the shared chart server.
    pub async fn serving_from(
        prefix: &str,
        repo_dir: PathBuf,
        repo_url: String,
    ) -> TestResult<Self> {
        Self::start(prefix, &[], None, Some((repo_dir, repo_url))).await
    }

    /// Like [`Setup::with_operator_env`], with the operator authenticating with `kubeconfig`
    /// instead of as the cluster admin.
    pub async fn with_kubeconfig(
        prefix: &str,
        kubeconfig: &Path,
        env: &[(&str, &str)],
    ) -> TestResult<Self> {
        Self::start(prefix, env, Some(kubeconfig), None).await
    }

    async fn start(
        prefix: &str,
        env: &[(&str, &str)],
        kubeconfig: Option<&Path>,
        repository: Option<(PathBuf, String)>,
    ) -> TestResult<Self> {
        let cluster = Cluster::shared()?;
        install_crds(cluster).await?;
        let namespace = TestNamespace::create(cluster, prefix).await?;
        let (repo_dir, repo_url) = match repository {
            Some(repository) => repository,
            None => (
                cluster.env().charts_dir.join(namespace.name()),
                format!("{}/{}", cluster.env().charts, namespace.name()),
            ),
        };
        std::fs::create_dir_all(&repo_dir)?;
        // The operator's log outlives the test in the state directory, for reading after a failure.
        let log_dir = cluster.env().state_dir.join("logs");
        std::fs::create_dir_all(&log_dir)?;
        let log = log_dir.join(format!("operator-{}.log", namespace.name()));
        // A port free a moment ago; the operator binds it at start (and exits if it cannot, which
        // the test sees). Its counts show work that leaves no other trace, such as an interval
        // pass that finds nothing to change. A test's own address, if it gives one, wins.
        let metrics_address = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let mut launch_env = vec![(
            "CAPSTAN_METRICS_BIND_ADDRESS".to_string(),
            metrics_address.to_string(),
        )];
        launch_env.extend(
            env.iter()
                .map(|(key, value)| (key.to_string(), value.to_string())),
        );
        let metrics_url = match env
            .iter()
            .find(|(key, _)| *key == "CAPSTAN_METRICS_BIND_ADDRESS")
        {
            Some((_, address)) => format!("http://{address}/metrics"),
            None => format!("http://{metrics_address}/metrics"),
        };
        let launch = Launch {
            namespace: namespace.name().to_string(),
            kubeconfig: kubeconfig
                .unwrap_or(cluster.env().kubeconfig.as_path())
                .to_path_buf(),
            env: launch_env,
            log,
            metrics_url,
        };
        let operator = launch.start()?;
        let failure_log = FailureLog {
            path: launch.log.clone(),
            finished: false,
        };
        Ok(Setup {
            namespace,
            repo_dir,
            repo_url,
            charts: tempfile::tempdir()?,
            operator: Some(operator),
            launch,
            failure_log,
        })
    }

    /// Stops this test's operator (killed, as a crash or a node loss would), until
    /// [`Setup::start_operator`].
    pub async fn stop_operator(&mut self) -> TestResult {
        if let Some(operator) = self.operator.take() {
            operator.stop().await?;
        }
        Ok(())
    }

    /// The pid of this test's operator process, if one runs.
    pub fn operator_pid(&self) -> Option<u32> {
        self.operator.as_ref().and_then(OperatorProcess::pid)
    }

    /// Whether this test's operator process has exited (and how), without waiting.
    pub fn operator_exited(&mut self) -> TestResult<Option<std::process::ExitStatus>> {
        match self.operator.as_mut() {
            Some(operator) => Ok(operator.exited()?),
            None => Err("no operator was started".into()),
        }
    }

    /// The file this test's operator logs to.
    pub fn operator_log(&self) -> &Path {
        &self.launch.log
    }

    /// How many reconciles of `controller` (`ChartDeployment`, `ChartRepository`) this test's
    /// operator has finished since it started, successful or not, from its `/metrics`.
    pub async fn reconciles(&self, controller: &str) -> TestResult<u64> {
        let url = &self.launch.metrics_url;
        let text = reqwest::get(url).await?.error_for_status()?.text().await?;
        let prefix = format!("capstan_reconciles_total{{controller=\"{controller}\"");
        let mut total = 0;
        for line in text.lines().filter(|line| line.starts_with(&prefix)) {
            let count = line.rsplit(' ').next().unwrap_or_default();
            total += count
                .parse::<f64>()
                .map_err(|e| format!("{url}: reading {line:?}: {e}"))? as u64;
        }
        Ok(total)
    }

    /// Starts this test's operator again, with the same settings and log file.
    pub fn start_operator(&mut self) -> TestResult {
        if self.operator.is_none() {
            self.operator = Some(self.launch.start()?);
        }
        Ok(())
    }

    /// Writes a Jinja chart (`files` relative to its directory) and packages it into `<name>-<version>.tgz`
    /// in the scratch directory, returning its path; nothing is published yet.
    pub fn package(
        &self,
        name: &str,
        version: &str,
        files: &[(&str, &str)],
    ) -> TestResult<PathBuf> {
        package_chart(self.charts.path(), name, version, files)
    }

    /// Packages a chart into the repository and re-indexes it; returns the archive's path there.
    pub fn publish(
        &self,
        name: &str,
        version: &str,
        files: &[(&str, &str)],
    ) -> TestResult<PathBuf> {
        let packaged = self.package(name, version, files)?;
        publish_package(&packaged, &self.repo_dir, &self.repo_url)
    }

    /// Publishes `greet` 1.0.0: one ConfigMap `<release>-main` whose `data.greeting` comes from
    /// `values.greeting` (default `hello`).
    pub fn publish_greet(&self) -> TestResult<PathBuf> {
        self.publish(
            "greet",
            "1.0.0",
            &[
                ("values.yaml", "greeting: hello\n"),
                ("templates/main.yaml", &config_map("main")),
            ],
        )
    }

    /// Rewrites the repository's `index.yaml` from the archives in it.
    pub fn reindex(&self) -> TestResult {
        reindex(&self.repo_dir, &self.repo_url)
    }

    /// Creates the ChartRepository `charts` for this test's directory, polled every 5s.
    pub async fn apply_repository(&self) -> TestResult {
        self.apply_repository_with("charts", json!({"url": self.repo_url, "interval": "5s"}))
            .await
    }

    /// Creates a ChartRepository with the given spec.
    pub async fn apply_repository_with(&self, name: &str, spec: serde_json::Value) -> TestResult {
        let repository: ChartRepository = serde_json::from_value(json!({
            "apiVersion": "capstan.dev/v1alpha1", "kind": "ChartRepository",
            "metadata": {"name": name},
            "spec": spec,
        }))?;
        self.namespace
            .api::<ChartRepository>()
            .create(&PostParams::default(), &repository)
            .await?;
        Ok(())
    }

    /// Creates a ChartDeployment of `chart` at `version` from the repository `charts`.
    pub async fn apply_deployment(
        &self,
        name: &str,
        chart: &str,
        version: &str,
        values: serde_json::Value,
    ) -> TestResult {
        let spec = json!({"chart": {"repository": {
            "repositoryRef": {"name": "charts"}, "name": chart, "version": version}},
            "values": values});
        self.apply_deployment_with(name, spec).await
    }

    /// Creates a ChartDeployment with the given spec.
    pub async fn apply_deployment_with(&self, name: &str, spec: serde_json::Value) -> TestResult {
        let deployment: ChartDeployment = serde_json::from_value(json!({
            "apiVersion": "capstan.dev/v1alpha1", "kind": "ChartDeployment",
            "metadata": {"name": name},
            "spec": spec,
        }))?;
        self.namespace
            .api::<ChartDeployment>()
            .create(&PostParams::default(), &deployment)
            .await?;
        Ok(())
    }

    /// Merges `spec` into the ChartDeployment's spec.
    pub async fn patch_spec(&self, name: &str, spec: serde_json::Value) -> TestResult {
        self.namespace
            .api::<ChartDeployment>()
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "spec": spec })),
            )
            .await?;
        Ok(())
    }

    /// Waits up to [`WAIT`] until the ChartDeployment meets `condition`.
    pub async fn wait_deployment(
        &self,
        name: &str,
        condition: impl Condition<ChartDeployment>,
    ) -> TestResult<ChartDeployment> {
        self.wait_deployment_for(name, WAIT, condition).await
    }

    /// Waits up to `timeout` until the ChartDeployment meets `condition`.
    pub async fn wait_deployment_for(
        &self,
        name: &str,
        timeout: Duration,
        condition: impl Condition<ChartDeployment>,
    ) -> TestResult<ChartDeployment> {
        let api = self.namespace.api::<ChartDeployment>();
        Ok(wait_for(&api, name, "ChartDeployment", timeout, condition)
            .await?
            .ok_or("the ChartDeployment disappeared")?)
    }

    /// Waits up to [`WAIT`] until the ChartRepository meets `condition`.
    pub async fn wait_repository(
        &self,
        name: &str,
        condition: impl Condition<ChartRepository>,
    ) -> TestResult<ChartRepository> {
        self.wait_repository_for(name, WAIT, condition).await
    }

    /// Waits up to `timeout` until the ChartRepository meets `condition`.
    pub async fn wait_repository_for(
        &self,
        name: &str,
        timeout: Duration,
        condition: impl Condition<ChartRepository>,
    ) -> TestResult<ChartRepository> {
        let api = self.namespace.api::<ChartRepository>();
        Ok(wait_for(&api, name, "ChartRepository", timeout, condition)
            .await?
            .ok_or("the ChartRepository disappeared")?)
    }

    /// Removes the repository directory and the namespace (waiting until it is gone).
    pub async fn finish(mut self) -> TestResult {
        std::fs::remove_dir_all(&self.repo_dir).ok();
        self.namespace.delete().await?;
        self.failure_log.finished = true;
        Ok(())
    }
}

/// Writes a chart (`files` relative to its directory, a Jinja chart unless its files say
/// otherwise) under `scratch` and packages it into `<name>-<version>.tgz` there, as `capstan
/// package` does (so it must pass lint); returns its path.
pub fn package_chart(
    scratch: &Path,
    name: &str,
    version: &str,
    files: &[(&str, &str)],
) -> TestResult<PathBuf> {
    let dir = write_chart(scratch, name, version, files)?;
    let (file_name, bytes) = package_dir(&dir, &PackageOptions::default())?;
    let archive = scratch.join(version).join(file_name);
    std::fs::write(&archive, bytes)?;
    Ok(archive)
}

/// Like [`package_chart`] but without lint, as a hostile author would pack a chart with any
/// tar: render bombs and charts that need values the deployment gives fail lint on purpose.
pub fn package_unlinted_chart(
    scratch: &Path,
    name: &str,
    version: &str,
    files: &[(&str, &str)],
) -> TestResult<PathBuf> {
    let dir = write_chart(scratch, name, version, files)?;
    let chart = load_dir(&dir)?;
    let bytes = archive_chart(&chart, reproducible_mtime())?;
    let archive = scratch.join(version).join(format!("{name}-{version}.tgz"));
    std::fs::write(&archive, bytes)?;
    Ok(archive)
}

/// Writes the chart directory `scratch/<version>/<name>`: a Jinja Chart.yaml and `files`.
fn write_chart(
    scratch: &Path,
    name: &str,
    version: &str,
    files: &[(&str, &str)],
) -> TestResult<PathBuf> {
    let dir = scratch.join(version).join(name);
    std::fs::create_dir_all(dir.join("templates"))?;
    std::fs::write(
        dir.join("Chart.yaml"),
        format!(
            "apiVersion: v2\nname: {name}\nversion: {version}\n\
             annotations:\n  capstan.dev/engine: jinja\n"
        ),
    )?;
    for (path, content) in files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, content)?;
    }
    Ok(dir)
}

/// Copies the archive `packaged` into the repository directory `repo_dir` served at `repo_url`
/// and re-indexes it; returns the archive's path there.
pub fn publish_package(packaged: &Path, repo_dir: &Path, repo_url: &str) -> TestResult<PathBuf> {
    let published = repo_dir.join(packaged.file_name().ok_or("the package has no file name")?);
    std::fs::copy(packaged, &published)?;
    reindex(repo_dir, repo_url)?;
    Ok(published)
}

/// Rewrites `index.yaml` of the repository directory `repo_dir` served at `repo_url`.
pub fn reindex(repo_dir: &Path, repo_url: &str) -> TestResult {
    let index = index_directory(repo_dir, repo_url)?;
    // Write then rename, so the server never serves a half-written index.
    let partial = repo_dir.join(".index.yaml.partial");
    std::fs::write(&partial, index.index.to_yaml()?)?;
    std::fs::rename(&partial, repo_dir.join("index.yaml"))?;
    Ok(())
}

/// Applies `crds/` (server-side, so concurrent tests agree) and waits until they are Established.
pub async fn install_crds(cluster: &Cluster) -> TestResult {
    let crds = concat!(env!("CARGO_MANIFEST_DIR"), "/../crds/capstan.dev.yaml");
    cluster
        .kubectl()
        .args(["apply", "--server-side", "--force-conflicts", "-f", crds])
        .run()
        .await?;
    cluster
        .kubectl()
        .args([
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/chartrepositories.capstan.dev",
            "crd/chartdeployments.capstan.dev",
        ])
        .run()
        .await?;
    Ok(())
}

/// `Ready` has `status` and its reason satisfies `reason`.
pub fn ready_is(
    status: &'static str,
    reason: impl Fn(&str) -> bool,
) -> impl Condition<ChartDeployment> {
    move |object: Option<&ChartDeployment>| {
        object
            .and_then(|d| d.status.as_ref())
            .into_iter()
            .flat_map(|s| &s.conditions)
            .any(|c| c.type_ == "Ready" && c.status == status && reason(&c.reason))
    }
}

/// The repository's `Ready` has `status` and its reason satisfies `reason`.
pub fn repository_ready_is(
    status: &'static str,
    reason: impl Fn(&str) -> bool,
) -> impl Condition<ChartRepository> {
    move |object: Option<&ChartRepository>| {
        object
            .and_then(repository_ready)
            .is_some_and(|c| c.status == status && reason(&c.reason))
    }
}

/// The repository's `Ready` condition.
pub fn repository_ready(repository: &ChartRepository) -> Option<&MetaCondition> {
    repository
        .status
        .iter()
        .flat_map(|s| &s.conditions)
        .find(|c| c.type_ == "Ready")
}

/// The message of `deployment`'s `Ready` condition.
pub fn ready_message(deployment: &ChartDeployment) -> String {
    deployment
        .status
        .iter()
        .flat_map(|s| &s.conditions)
        .find(|c| c.type_ == "Ready")
        .map(|c| c.message.clone())
        .unwrap_or_default()
}

/// Ready with `version` applied.
pub fn applied(version: &'static str) -> impl Condition<ChartDeployment> {
    move |object: Option<&ChartDeployment>| {
        let status = object.and_then(|d| d.status.as_ref());
        ready_is("True", |_| true).matches_object(object)
            && status
                .and_then(|s| s.last_applied_revision.as_ref())
                .is_some_and(|r| r.version == version)
    }
}

const CONFIG_MAP: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ release.name }}-{{ name }}
data:
  greeting: {{ values.greeting }}
";

/// A Jinja template of a Deployment `<release>-web` with one replica, scheduled by
/// `values.nodeSelector` (a selector no fake node matches keeps it unavailable), its image
/// tagged with the chart's version.
pub const WEB_WORKLOAD: &str = r#"apiVersion: apps/v1
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
      nodeSelector: {{ values.nodeSelector | tojson }}
      containers:
        - name: web
          image: registry.example/web:{{ chart.version }}
"#;

/// A template of a ConfigMap `<release>-<name>` with `data.greeting` from `values.greeting`.
pub fn config_map(name: &str) -> String {
    CONFIG_MAP.replace("{{ name }}", name)
}
