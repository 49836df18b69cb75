//! The benchmark `e2e/bench` runs: the same chart deployed N times by each tool on the same
//! control plane, one namespace per measurement (deleted after it, so runs do not load each other).
//!
//! - floor: the rendered objects applied with `kubectl apply --server-side`, one process per
//!   deployment and one batch, until every Deployment is Available;
//! - Helm: `helm upgrade --install --wait` per deployment, serially and 10 at a time;
//! - Capstan: N ChartDeployments from one repository until all are Ready, then a no-op resync (the
//!   operator restarted with everything Ready) and an upgrade wave (a new chart version); and N
//!   ChartDeployments of a chart in an OCI registry until all are Ready.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use capstan_api::ChartDeployment;
use capstan_chart::expand::{ExpandInput, expand};
use capstan_chart::index::index_directory;
use capstan_chart::load::load_dir;
use capstan_chart::render::RenderOptions;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

use super::audit::{Cursor, Requests};
use super::chart::{CHART, package_jinja_chart, write_helm_chart, write_jinja_chart};
use super::count::{not_done, wait_until_count};
use super::usage::{ControlPlaneCpu, Usage};
use crate::finalizer_policy::FinalizerPolicy;
use crate::operator::{OperatorProcess, TestResult, install_crds};
use crate::wait::is_deployment_available;
use crate::{Cluster, TestNamespace};

/// How often the operator polls the repository: long enough that a resync falls quiet between
/// polls ([`QUIET`]), and the most the upgrade wave waits before the operator sees the new version.
const REPOSITORY_INTERVAL: &str = "30s";

/// How long the operator makes no request before a no-op resync counts as over.
const QUIET: Duration = Duration::from_secs(5);

/// How many Helm releases the parallel run installs at once.
pub const HELM_PARALLEL: usize = 10;

/// Each row's reference: the batched floor measured last before it (itself, for a floor; the
/// first floor for rows measured before any). The control plane's state moves during a long
/// run (etcd grows, the controller-manager catches up on what the last row deleted), and a
/// ratio is only fair between measurements taken back to back.
pub fn references(rows: &[Row]) -> Vec<Duration> {
    let first = rows
        .iter()
        .find(|row| row.reference)
        .map_or(Duration::ZERO, |row| row.elapsed);
    let mut last = first;
    rows.iter()
        .map(|row| {
            if row.reference {
                last = row.elapsed;
            }
            last
        })
        .collect()
}

/// One row of the table.
#[derive(Clone, Debug, Default)]
pub struct Row {
    pub what: String,
    pub elapsed: Duration,
    /// The operator's peak RSS and CPU time (Capstan rows only).
    pub usage: Option<Usage>,
    /// The operator's API requests (Capstan rows only).
    pub requests: Option<Requests>,
    /// A batched floor: the reference of the rows after it, up to the next one.
    pub reference: bool,
    /// The control plane's CPU time during the measurement.
    pub control_plane: Option<ControlPlaneCpu>,
    /// When the last of the row's Deployments became Available (Capstan's rollouts): how much
    /// of the row the cluster's own rollout took, and how far the operator's Ready trailed it.
    pub workloads_available: Option<Duration>,
}

impl Row {
    /// The row's time, and when its Deployments were all Available where that was counted.
    pub fn time(&self) -> String {
        let elapsed = self.elapsed.as_secs_f64();
        match self.workloads_available {
            Some(available) => format!(
                "{elapsed:.1} s (Deployments Available at {:.1} s)",
                available.as_secs_f64()
            ),
            None => format!("{elapsed:.1} s"),
        }
    }
}

/// Everything one N measures.
pub struct Bench<'a> {
    cluster: &'a Cluster,
    deployments: usize,
    /// How long any one measurement may take before it fails.
    timeout: Duration,
    work: tempfile::TempDir,
}

impl<'a> Bench<'a> {
    pub fn new(cluster: &'a Cluster, deployments: usize) -> TestResult<Self> {
        Ok(Bench {
            cluster,
            deployments,
            // Generous: a measurement that fails says how far it got; 1 s per deployment plus slack.
            timeout: Duration::from_secs(300 + 3 * deployments as u64),
            work: tempfile::tempdir()?,
        })
    }

    fn release(index: usize) -> String {
        format!("app-{index}")
    }

    /// Waits until all N Deployments of `namespace` are Available; returns the time since `start`.
    async fn all_available(
        &self,
        namespace: &TestNamespace,
        start: Instant,
    ) -> TestResult<Duration> {
        wait_until_count(
            namespace.api::<Deployment>(),
            "Available Deployments",
            self.deployments,
            self.timeout,
            |deployment| is_deployment_available(Some(deployment)),
        )
        .await?;
        Ok(start.elapsed())
    }

    /// The rendered objects of every deployment, one `List` file each.
    fn render_floor(&self, namespace: &str) -> TestResult<Vec<PathBuf>> {
        let chart_dir = write_jinja_chart(&self.work.path().join("floor").join(CHART), "1.0.0")?;
        let chart = load_dir(&chart_dir)?;
        let out = self.work.path().join(format!("floor-{namespace}"));
        std::fs::create_dir_all(&out)?;
        (0..self.deployments)
            .map(|index| {
                let rendered = expand(&ExpandInput {
                    chart: chart.clone(),
                    user_values: Vec::new(),
                    opts: RenderOptions {
                        release_name: Self::release(index),
                        namespace: namespace.to_string(),
                        ..RenderOptions::default()
                    },
                })?;
                let items: Vec<serde_json::Value> =
                    rendered.manifests.into_iter().map(|m| m.object).collect();
                let path = out.join(format!("{}.json", Self::release(index)));
                let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
                std::fs::write(&path, serde_json::to_vec(&list)?)?;
                Ok(path)
            })
            .collect()
    }

    /// The floor with one `kubectl apply --server-side` per deployment, one after another.
    pub async fn floor_per_deployment(&self) -> TestResult<Row> {
        let namespace = TestNamespace::create(self.cluster, "bench-floor-each").await?;
        let files = self.render_floor(namespace.name())?;
        let cpu = self.control_plane_cpu()?;
        let start = Instant::now();
        for file in &files {
            self.apply_server_side(namespace.name(), file).await?;
        }
        let elapsed = self.all_available(&namespace, start).await?;
        let control_plane = Some(self.control_plane_cpu()?.since(cpu));
        namespace.delete_within(self.timeout).await?;
        Ok(Row {
            control_plane,
            ..row(
                "floor: kubectl apply --server-side, one per deployment",
                elapsed,
            )
        })
    }

    /// The floor with one `kubectl apply --server-side` of every deployment's objects.
    pub async fn floor_batch(&self) -> TestResult<Row> {
        let namespace = TestNamespace::create(self.cluster, "bench-floor-batch").await?;
        let files = self.render_floor(namespace.name())?;
        let dir = files[0]
            .parent()
            .ok_or("rendered files have no directory")?;
        let cpu = self.control_plane_cpu()?;
        let start = Instant::now();
        self.apply_server_side(namespace.name(), dir).await?;
        let elapsed = self.all_available(&namespace, start).await?;
        let control_plane = Some(self.control_plane_cpu()?.since(cpu));
        namespace.delete_within(self.timeout).await?;
        Ok(Row {
            reference: true,
            control_plane,
            ..row("floor: kubectl apply --server-side, one batch", elapsed)
        })
    }

    async fn apply_server_side(&self, namespace: &str, path: &Path) -> TestResult {
        self.cluster
            .kubectl()
            .args([
                "apply",
                "--server-side",
                "--field-manager",
                "bench",
                "-n",
                namespace,
                "-f",
            ])
            .arg(path)
            .timeout(self.timeout)
            .run()
            .await?;
        Ok(())
    }

    /// `helm upgrade --install --wait` of every deployment, `parallel` at a time.
    pub async fn helm(&self, parallel: usize) -> TestResult<Row> {
        let namespace = TestNamespace::create(self.cluster, "bench-helm").await?;
        let home = self.work.path().join("helm-home");
        // Written by the first Helm measurement, used by the next.
        let mut chart = self.work.path().join("helm-1.0.0").join(CHART);
        if !chart.exists() {
            chart = write_helm_chart(self.cluster.helm(&home), self.work.path(), "1.0.0").await?;
        }
        let cpu = self.control_plane_cpu()?;
        let start = Instant::now();
        futures::stream::iter(0..self.deployments)
            .map(|index| {
                let command = self
                    .cluster
                    .helm(&home)
                    .args(["upgrade", "--install", &Self::release(index)])
                    .arg(&chart)
                    .args([
                        "--namespace",
                        namespace.name(),
                        "--wait",
                        "--timeout",
                        "10m",
                    ])
                    .timeout(self.timeout);
                async move { command.run().await }
            })
            .buffer_unordered(parallel)
            .try_collect::<Vec<_>>()
            .await?;
        let elapsed = self.all_available(&namespace, start).await?;
        let control_plane = Some(self.control_plane_cpu()?.since(cpu));
        namespace.delete_within(self.timeout).await?;
        let how = if parallel == 1 {
            "serial".to_string()
        } else {
            format!("{parallel} in parallel")
        };
        Ok(Row {
            control_plane,
            ..row(&format!("Helm: upgrade --install --wait, {how}"), elapsed)
        })
    }

    /// Capstan's rows with one repository: rollout, no-op resync and (with `upgrade`) the
    /// upgrade wave.
    pub async fn capstan(&self, upgrade: bool) -> TestResult<Vec<Row>> {
        let (kubeconfig, audit_log) = self.measured_identity().await?;
        let env = self.cluster.env();
        let namespace = TestNamespace::create(self.cluster, "bench-capstan").await?;
        let _policy = self.finalizer_policy(&namespace).await?;
        let repo_dir = env.charts_dir.join(namespace.name());
        let repo_url = format!("{}/{}", env.charts, namespace.name());
        package_jinja_chart(&self.work.path().join("capstan"), "1.0.0", &repo_dir)?;
        reindex(&repo_dir, &repo_url)?;
        create(
            &namespace,
            json!({"apiVersion": "capstan.dev/v1alpha1", "kind": "ChartRepository",
                   "metadata": {"name": "charts"}, "spec": {"url": repo_url, "interval": REPOSITORY_INTERVAL}}),
        )
        .await?;
        let log = self.operator_log(&namespace)?;
        let start_operator =
            || OperatorProcess::launch(namespace.name(), &kubeconfig, &[], Some(&log));

        let mut rows = Vec::new();
        let cursor = Cursor::at_end(&audit_log)?;
        let cpu = self.control_plane_cpu()?;
        let operator = start_operator()?;
        let start = Instant::now();
        self.create_deployments(
            &namespace,
            json!({"repository": {"repositoryRef": {"name": "charts"}, "name": CHART,
                                  "version": "^1.0"}}),
        )
        .await?;
        let (ready, available) = self.ready_and_available(&namespace, start).await?;
        rows.push(Row {
            workloads_available: Some(available),
            ..self.measured(
                "Capstan: N ChartDeployments, one repository",
                ready,
                &operator,
                &cursor,
                cpu,
            )?
        });

        // No-op resync: a restarted operator reconciles every deployment once.
        operator.terminate().await?;
        let cursor = Cursor::at_end(&audit_log)?;
        let cpu = self.control_plane_cpu()?;
        let operator = start_operator()?;
        let elapsed = until_quiet(&cursor, QUIET, self.timeout).await?;
        rows.push(self.measured(
            "Capstan: no-op resync (operator restarted)",
            elapsed,
            &operator,
            &cursor,
            cpu,
        )?);

        // Upgrade wave: 1.1.0 published; every deployment follows `^1.0`.
        if upgrade {
            let cursor = Cursor::at_end(&audit_log)?;
            let cpu = self.control_plane_cpu()?;
            package_jinja_chart(&self.work.path().join("capstan"), "1.1.0", &repo_dir)?;
            reindex(&repo_dir, &repo_url)?;
            let start = Instant::now();
            self.all_at_version(&namespace, "1.1.0").await?;
            rows.push(self.measured(
                "Capstan: upgrade wave to 1.1.0 (includes up to 30 s until the next repository poll)",
                start.elapsed(),
                &operator,
                &cursor,
                cpu,
            )?);
        }

        // Uninstalled by the running operator, so the namespace goes without stuck finalizers.
        namespace.delete_within(self.timeout).await?;
        operator.terminate().await?;
        std::fs::remove_dir_all(&repo_dir)?;
        Ok(rows)
    }

    /// Capstan's rollout with the chart in an OCI registry: N ChartDeployments resolving `^1.0`
    /// against the registry's tags, until all are Ready.
    pub async fn capstan_oci(&self) -> TestResult<Row> {
        let (kubeconfig, audit_log) = self.measured_identity().await?;
        let namespace = TestNamespace::create(self.cluster, "bench-capstan-oci").await?;
        let _policy = self.finalizer_policy(&namespace).await?;
        let archive = package_jinja_chart(
            &self.work.path().join("capstan-oci"),
            "1.0.0",
            &self.work.path().join("oci-packages"),
        )?;
        let repository = format!("{}/{}", self.cluster.env().registry, namespace.name());
        self.cluster
            .helm(&self.work.path().join("helm-home"))
            .arg("push")
            .arg(&archive)
            .arg(format!("oci://{repository}"))
            .arg("--plain-http")
            .timeout(self.timeout)
            .run()
            .await?;
        let log = self.operator_log(&namespace)?;
        let cursor = Cursor::at_end(&audit_log)?;
        let cpu = self.control_plane_cpu()?;
        let operator = OperatorProcess::launch(namespace.name(), &kubeconfig, &[], Some(&log))?;
        let start = Instant::now();
        self.create_deployments(
            &namespace,
            json!({"oci": {"reference": format!("oci://{repository}/{CHART}"),
                           "version": "^1.0", "plainHttp": true}}),
        )
        .await?;
        let (ready, available) = self.ready_and_available(&namespace, start).await?;
        let row = Row {
            workloads_available: Some(available),
            ..self.measured(
                "Capstan: N ChartDeployments, one OCI registry",
                ready,
                &operator,
                &cursor,
                cpu,
            )?
        };
        namespace.delete_within(self.timeout).await?;
        operator.terminate().await?;
        Ok(row)
    }

    /// The kubeconfig of the identity the API server's audit log records (the operator runs as
    /// it, so its requests can be counted), and that audit log; installs the CRDs first.
    async fn measured_identity(&self) -> TestResult<(PathBuf, PathBuf)> {
        install_crds(self.cluster).await?;
        let env = self.cluster.env();
        let kubeconfig = env.measured_kubeconfig.clone().ok_or(
            "the cluster has no measured kubeconfig; re-create it with `e2e/cluster down && e2e/cluster up`",
        )?;
        let audit_log = env
            .audit_log
            .clone()
            .ok_or("the cluster writes no audit log; re-create it")?;
        Ok((kubeconfig, audit_log))
    }

    /// `config/finalizer-on-create` for `namespace`, as an install on Kubernetes 1.36 and later
    /// has it (`CAPSTAN_BENCH_FINALIZER_POLICY=0` leaves it out, so the operator adds each
    /// finalizer itself, as on older clusters).
    async fn finalizer_policy(
        &self,
        namespace: &TestNamespace,
    ) -> TestResult<Option<FinalizerPolicy>> {
        if std::env::var("CAPSTAN_BENCH_FINALIZER_POLICY").is_ok_and(|value| value == "0") {
            return Ok(None);
        }
        let policy = FinalizerPolicy::install(self.cluster, namespace.name()).await?;
        policy
            .wait_effective(&namespace.api::<ChartDeployment>())
            .await?;
        Ok(Some(policy))
    }

    /// The control plane's CPU time so far.
    fn control_plane_cpu(&self) -> TestResult<ControlPlaneCpu> {
        Ok(ControlPlaneCpu::now(&self.cluster.env().state_dir)?)
    }

    /// A Capstan row: the operator's use and requests, and the control plane's CPU since `cpu`.
    fn measured(
        &self,
        what: &str,
        elapsed: Duration,
        operator: &OperatorProcess,
        cursor: &Cursor,
        cpu: ControlPlaneCpu,
    ) -> TestResult<Row> {
        let control_plane = Some(self.control_plane_cpu()?.since(cpu));
        let pid = operator
            .pid()
            .ok_or("the operator exited during the measurement")?;
        Ok(Row {
            what: what.to_string(),
            elapsed,
            usage: Some(Usage::of(pid)?),
            requests: Some(cursor.requests()?),
            reference: false,
            control_plane,
            workloads_available: None,
        })
    }

    /// Where the operator measured in `namespace` logs (in the cluster's state directory).
    fn operator_log(&self, namespace: &TestNamespace) -> TestResult<PathBuf> {
        let dir = self.cluster.env().state_dir.join("logs");
        std::fs::create_dir_all(&dir)?;
        Ok(dir.join(format!("operator-{}.log", namespace.name())))
    }

    /// Creates the N ChartDeployments of `chart` (their `spec.chart`), 20 requests at a time.
    async fn create_deployments(
        &self,
        namespace: &TestNamespace,
        chart: serde_json::Value,
    ) -> TestResult {
        futures::stream::iter(0..self.deployments)
            .map(|index| {
                create(
                    namespace,
                    json!({"apiVersion": "capstan.dev/v1alpha1", "kind": "ChartDeployment",
                           "metadata": {"name": Self::release(index)},
                           "spec": {"chart": chart}}),
                )
            })
            .buffer_unordered(20)
            .try_collect::<Vec<_>>()
            .await?;
        Ok(())
    }

    /// Waits until all N ChartDeployments are Ready at 1.0.0 while counting their Deployments
    /// Available; returns when the last ChartDeployment became Ready and when the last
    /// Deployment became Available, each since `start`.
    async fn ready_and_available(
        &self,
        namespace: &TestNamespace,
        start: Instant,
    ) -> TestResult<(Duration, Duration)> {
        let ready = async {
            self.all_at_version(namespace, "1.0.0").await?;
            TestResult::Ok(start.elapsed())
        };
        let (ready, available) = tokio::join!(ready, self.all_available(namespace, start));
        Ok((ready?, available?))
    }

    /// Waits until all N ChartDeployments are Ready with `version` applied.
    async fn all_at_version(&self, namespace: &TestNamespace, version: &str) -> TestResult {
        let api = namespace.api::<ChartDeployment>();
        all_ready_at(&api, self.deployments, version, self.timeout).await
    }
}

/// Waits until `count` ChartDeployments of `api` are Ready with `version` applied; the error
/// names the ones that are not.
pub async fn all_ready_at(
    api: &Api<ChartDeployment>,
    count: usize,
    version: &str,
    timeout: Duration,
) -> TestResult {
    let done = |deployment: &ChartDeployment| is_ready_at(deployment, version);
    let waited = wait_until_count(
        api.clone(),
        &format!("ChartDeployments Ready at {version}"),
        count,
        timeout,
        done,
    )
    .await;
    if let Err(error) = waited {
        let stuck = not_done(api, done).await.unwrap_or_default();
        return Err(format!("{error}; not there: {}", stuck.join(", ")).into());
    }
    Ok(())
}

/// Ready, with `version` the last applied.
pub fn is_ready_at(deployment: &ChartDeployment, version: &str) -> bool {
    deployment.status.as_ref().is_some_and(|status| {
        status
            .last_applied_revision
            .as_ref()
            .is_some_and(|revision| revision.version == version)
            && status
                .conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

fn row(what: &str, elapsed: Duration) -> Row {
    Row {
        what: what.to_string(),
        elapsed,
        ..Row::default()
    }
}

/// Waits until the measured client has made no request for `quiet`; returns the time from now
/// until its last request (to the second at which it was seen).
async fn until_quiet(cursor: &Cursor, quiet: Duration, timeout: Duration) -> TestResult<Duration> {
    let start = Instant::now();
    let mut last_total = 0;
    let mut last_change = start;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let total = cursor.requests()?.total();
        if total != last_total {
            last_total = total;
            last_change = Instant::now();
        } else if total > 0 && last_change.elapsed() >= quiet {
            return Ok(last_change - start);
        }
        if start.elapsed() > timeout {
            return Err(format!("the operator was still making requests after {timeout:?}").into());
        }
    }
}

async fn create(namespace: &TestNamespace, object: serde_json::Value) -> TestResult {
    let kind = object["kind"].as_str().unwrap_or_default().to_string();
    match kind.as_str() {
        "ChartDeployment" => {
            let object: ChartDeployment = serde_json::from_value(object)?;
            namespace
                .api::<ChartDeployment>()
                .create(&PostParams::default(), &object)
                .await?;
        }
        _ => {
            let object: capstan_api::ChartRepository = serde_json::from_value(object)?;
            namespace
                .api::<capstan_api::ChartRepository>()
                .create(&PostParams::default(), &object)
                .await?;
        }
    }
    Ok(())
}

/// Rewrites `dir`'s `index.yaml` (written then renamed, so the server never serves half of it).
fn reindex(dir: &Path, url: &str) -> TestResult {
    let index = index_directory(dir, url)?;
    let partial = dir.join(".index.yaml.partial");
    std::fs::write(&partial, index.index.to_yaml()?)?;
    std::fs::rename(&partial, dir.join("index.yaml"))?;
    Ok(())
}

/// The table, as `e2e/bench` prints it.
pub fn table(deployments: usize, rows: &[Row], pace: Option<u32>) -> String {
    let pace = match pace {
        Some(qps) => format!("kube-controller-manager and kube-scheduler at {qps} requests/s"),
        None => "kube-controller-manager and kube-scheduler at their default 20 and 50 requests/s"
            .to_string(),
    };
    let mut out = format!(
        "N = {deployments} ({pace})\n| measurement | time | × floor (batch, the one measured last before) | operator peak RSS | operator CPU | operator API requests | control plane CPU |\n|---|---|---|---|---|---|---|\n"
    );
    for (row, floor) in rows.iter().zip(references(rows)) {
        let ratio = row.elapsed.as_secs_f64() / floor.as_secs_f64().max(0.001);
        let (rss, cpu) = match row.usage {
            Some(usage) => (
                format!("{:.1} MiB", usage.peak_rss_kib as f64 / 1024.0),
                format!("{:.1} s", usage.cpu.as_secs_f64()),
            ),
            None => ("".into(), "".into()),
        };
        let requests = match &row.requests {
            Some(requests) => format!(
                "{} (writes {}, reads/deployment {:.1})",
                requests.summary(),
                requests.writes(),
                requests.reads() as f64 / deployments as f64
            ),
            None => String::new(),
        };
        let control_plane = row.control_plane.map_or(String::new(), |cpu| cpu.summary());
        out.push_str(&format!(
            "| {} | {} | {ratio:.2} | {rss} | {cpu} | {requests} | {control_plane} |\n",
            row.what,
            row.time(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(seconds: u64, reference: bool) -> Row {
        Row {
            reference,
            ..row("measured", Duration::from_secs(seconds))
        }
    }

    #[test]
    fn each_row_is_measured_against_the_floor_run_last_before_it() {
        let rows = [
            measured(180, false),
            measured(60, true),
            measured(260, false),
            measured(70, true),
            measured(84, false),
            measured(90, false),
        ];
        let seconds: Vec<u64> = references(&rows).iter().map(|d| d.as_secs()).collect();
        assert_eq!(seconds, [60, 60, 60, 70, 70, 70]);
        let table = table(10, &rows, None);
        assert!(table.contains("| 84.0 s | 1.20 |"), "{table}");
        assert!(table.contains("| 260.0 s | 4.33 |"), "{table}");
    }
}
