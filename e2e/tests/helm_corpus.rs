//! `capstan template` against `helm template` (Helm v3.22.0) on real Helm charts: the corpus in
//! `../shared/corpus/helm` with its default values and each values file under
//! `e2e/helm-corpus/values/<chart>/`, Helm's own test charts in `../shared/testdata/helm`, and the
//! scaffold `helm create` writes. The output must be byte-identical.
//!
//! Each run prints a table row (chart, values, documents identical / total, bytes identical) and,
//! when they differ, a unified diff of the first differing document; the test fails if any run
//! differs. Helm is found through `CAPSTAN_E2E_HELM`, then the env file `e2e/cluster up` writes,
//! then the cache `e2e/cluster build` fills; capstan through `CAPSTAN_BIN` or the workspace build.
//!
//! Both tools get `--kube-version` explicitly: without it Helm uses the Kubernetes version it was
//! linked with (v1.20.0 for a `go install`ed Helm, v1.37.0 for a release build) and capstan its own
//! default, so the default would compare two different clusters.
//!
//! Some charts draw random strings (test hook names, generated passwords and certificates). Helm
//! renders every chart twice; lines that differ between its two runs may differ in capstan's output
//! too, as long as the document has the same number of lines. Everything else must be identical.

use capstan_e2e::{E2eEnv, ToolCommand, workspace_binary};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

const RELEASE: &str = "corpus";
const NAMESPACE: &str = "corpus-ns";
/// capstan's default Kubernetes version, given to both tools.
const KUBE_VERSION: &str = "v1.36.0";
const HELM_VERSION: &str = "v3.22.0";
/// Rendering a large chart takes a second or two; this bounds a stuck tool.
const RENDER_TIMEOUT: Duration = Duration::from_secs(120);

/// Root of the repository (the parent of `e2e/`).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ has a parent")
        .to_path_buf()
}

fn shared_dir() -> PathBuf {
    repo_root().join("../shared")
}

fn values_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("helm-corpus/values")
}

/// The Helm binary: `CAPSTAN_E2E_HELM`, the env file of a running local cluster, or the cache
/// that `e2e/cluster build` fills.
fn helm_binary() -> Fallible<PathBuf> {
    if let Some(path) = std::env::var_os("CAPSTAN_E2E_HELM").filter(|path| !path.is_empty()) {
        return Ok(path.into());
    }
    if let Ok(env) = E2eEnv::load(&E2eEnv::default_path()) {
        return Ok(env.helm);
    }
    let cache = std::env::var_os("CAPSTAN_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache/capstan")))
        .ok_or("neither CAPSTAN_CACHE nor HOME is set")?;
    let cached = cache.join(format!("bin/helm-{HELM_VERSION}/helm"));
    if cached.is_file() {
        return Ok(cached);
    }
    Err(format!(
        "no Helm binary: set CAPSTAN_E2E_HELM, or build Helm {HELM_VERSION} with `e2e/cluster build` (it goes to {})",
        cached.display()
    )
    .into())
}

fn capstan_binary() -> Fallible<PathBuf> {
    let binary = workspace_binary("CAPSTAN_BIN", "capstan");
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(format!(
            "{} is missing: build it with `cargo build -p capstan-cli` or set CAPSTAN_BIN",
            binary.display()
        )
        .into())
    }
}

/// One rendering to compare: a chart, at most one values file, and the cluster it is rendered for.
#[derive(Clone, Debug)]
struct Run {
    chart: PathBuf,
    /// Shown in the table.
    chart_label: String,
    values: Option<PathBuf>,
    kube_version: String,
    api_versions: Vec<String>,
}

impl Run {
    fn new(chart: PathBuf, chart_label: impl Into<String>, values: Option<PathBuf>) -> Self {
        Self {
            chart,
            chart_label: chart_label.into(),
            values,
            kube_version: KUBE_VERSION.to_string(),
            api_versions: Vec::new(),
        }
    }

    fn values_label(&self) -> String {
        let mut label = match &self.values {
            Some(path) => path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default(),
            None => "(defaults)".to_string(),
        };
        if self.kube_version != KUBE_VERSION {
            let _ = write!(label, " kube {}", self.kube_version);
        }
        for api in &self.api_versions {
            let _ = write!(label, " +{api}");
        }
        label
    }

    /// The flags both tools take in the same form.
    fn shared_flags(&self) -> Vec<String> {
        let mut flags = vec![
            "--namespace".to_string(),
            NAMESPACE.to_string(),
            "--kube-version".to_string(),
            self.kube_version.clone(),
        ];
        if let Some(values) = &self.values {
            flags.push("-f".to_string());
            flags.push(values.display().to_string());
        }
        for api in &self.api_versions {
            flags.push("--api-versions".to_string());
            flags.push(api.clone());
        }
        flags
    }
}

/// Helm and capstan with their homes confined to one scratch directory.
struct Tools {
    helm: PathBuf,
    capstan: PathBuf,
    scratch: TempDir,
}

impl Tools {
    fn new() -> Fallible<Self> {
        Ok(Self {
            helm: helm_binary()?,
            capstan: capstan_binary()?,
            scratch: TempDir::new()?,
        })
    }

    fn helm(&self) -> ToolCommand {
        let home = self.scratch.path().join("helm");
        ToolCommand::new(&self.helm)
            .env("HOME", &home)
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_DATA_HOME", home.join("data"))
            .timeout(RENDER_TIMEOUT)
    }

    fn capstan(&self) -> ToolCommand {
        ToolCommand::new(&self.capstan)
            .env("HOME", self.scratch.path().join("capstan"))
            .timeout(RENDER_TIMEOUT)
    }

    /// `helm template RELEASE CHART ...`.
    async fn helm_template(&self, run: &Run) -> Fallible<Result<String, String>> {
        let output = self
            .helm()
            .arg("template")
            .arg(RELEASE)
            .arg(&run.chart)
            .args(run.shared_flags())
            .output()
            .await?;
        Ok(if output.status.success() {
            Ok(output.stdout)
        } else {
            Err(output.stderr)
        })
    }

    /// `capstan template CHART --name RELEASE ...` (capstan names the release with a flag).
    async fn capstan_template(&self, run: &Run) -> Fallible<Result<String, String>> {
        let output = self
            .capstan()
            .arg("template")
            .arg(&run.chart)
            .args(["--name", RELEASE])
            .args(run.shared_flags())
            .output()
            .await?;
        Ok(if output.status.success() {
            Ok(output.stdout)
        } else {
            Err(output.stderr)
        })
    }
}

/// The documents of a `template` output: split before each `---` line, the separator kept.
fn documents(stream: &str) -> Vec<&str> {
    let mut starts: Vec<usize> = Vec::new();
    let mut offset = 0;
    for line in stream.split_inclusive('\n') {
        if line.trim_end_matches(['\n', '\r']) == "---" {
            starts.push(offset);
        }
        offset += line.len();
    }
    if starts.first() != Some(&0) {
        starts.insert(0, 0);
    }
    let mut docs = Vec::with_capacity(starts.len());
    for (i, start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(stream.len());
        if end > *start {
            docs.push(&stream[*start..end]);
        }
    }
    docs
}

/// How capstan's document compares with Helm's.
#[derive(Debug, PartialEq)]
enum DocMatch {
    Identical,
    /// Equal except on lines where Helm's own two renderings differ (random values).
    EqualButRandom,
    Different,
}

/// Compares one document, allowing differences only on the lines that differ between Helm's two
/// runs (same line count in all three).
fn compare_document(helm: &str, helm_again: &str, capstan: &str) -> DocMatch {
    if helm == capstan {
        return DocMatch::Identical;
    }
    if helm == helm_again {
        return DocMatch::Different;
    }
    let (ours, first, second): (Vec<_>, Vec<_>, Vec<_>) = (
        capstan.split('\n').collect(),
        helm.split('\n').collect(),
        helm_again.split('\n').collect(),
    );
    if ours.len() != first.len() || first.len() != second.len() {
        return DocMatch::Different;
    }
    let stable_lines_equal = ours
        .iter()
        .zip(first.iter().zip(&second))
        .all(|(mine, (a, b))| a != b || mine == a);
    if stable_lines_equal {
        DocMatch::EqualButRandom
    } else {
        DocMatch::Different
    }
}

/// What one run came to.
struct Outcome {
    run: Run,
    identical_docs: usize,
    total_docs: usize,
    /// Whole outputs equal, or equal but for Helm's random lines.
    bytes_identical: bool,
    random_docs: usize,
    /// Helm refused the chart, and so did capstan.
    both_refused: bool,
    /// Why the run failed, with the first differing document's diff; `None` when it passed.
    failure: Option<String>,
}

fn unified_diff(helm: &str, capstan: &str) -> String {
    similar::TextDiff::from_lines(helm, capstan)
        .unified_diff()
        .context_radius(3)
        .header("helm template", "capstan template")
        .to_string()
}

async fn compare(tools: &Tools, run: Run) -> Fallible<Outcome> {
    let helm = tools.helm_template(&run).await?;
    let capstan = tools.capstan_template(&run).await?;
    let (helm, capstan) = match (helm, capstan) {
        (Err(_), Err(_)) => {
            // Helm refuses the chart and so does capstan: nothing to render, nothing to compare.
            return Ok(Outcome {
                run,
                identical_docs: 0,
                total_docs: 0,
                bytes_identical: true,
                random_docs: 0,
                both_refused: true,
                failure: None,
            });
        }
        (Err(helm_error), Ok(_)) => {
            return Ok(failed(
                run,
                format!("helm template failed but capstan rendered the chart:\n{helm_error}"),
            ));
        }
        (Ok(helm), Err(capstan_error)) => {
            let total = documents(&helm).len();
            let mut outcome = failed(run, format!("capstan template failed:\n{capstan_error}"));
            outcome.total_docs = total;
            return Ok(outcome);
        }
        (Ok(helm), Ok(capstan)) => (helm, capstan),
    };
    let helm_again = tools
        .helm_template(&run)
        .await?
        .map_err(|error| format!("the second helm template run failed: {error}"))?;
    Ok(judge(run, &helm, &helm_again, &capstan))
}

fn failed(run: Run, reason: String) -> Outcome {
    Outcome {
        run,
        identical_docs: 0,
        total_docs: 0,
        bytes_identical: false,
        random_docs: 0,
        both_refused: false,
        failure: Some(reason),
    }
}

/// Pairs documents by position and compares them.
fn judge(run: Run, helm: &str, helm_again: &str, capstan: &str) -> Outcome {
    let (helm_docs, again_docs, our_docs) =
        (documents(helm), documents(helm_again), documents(capstan));
    let mut identical_docs = 0;
    let mut random_docs = 0;
    let mut first_difference = None;
    for (index, helm_doc) in helm_docs.iter().enumerate() {
        let again = again_docs.get(index).copied().unwrap_or_default();
        let ours = our_docs.get(index).copied().unwrap_or_default();
        match compare_document(helm_doc, again, ours) {
            DocMatch::Identical => identical_docs += 1,
            DocMatch::EqualButRandom => {
                identical_docs += 1;
                random_docs += 1;
            }
            DocMatch::Different => {
                first_difference.get_or_insert_with(|| {
                    format!(
                        "document {} of {} differs:\n{}",
                        index + 1,
                        helm_docs.len(),
                        unified_diff(helm_doc, ours)
                    )
                });
            }
        }
    }
    if our_docs.len() > helm_docs.len() {
        first_difference.get_or_insert_with(|| {
            format!(
                "capstan printed {} documents, helm {}; the first extra one:\n{}",
                our_docs.len(),
                helm_docs.len(),
                unified_diff("", our_docs[helm_docs.len()])
            )
        });
    }
    let bytes_identical =
        helm == capstan || (first_difference.is_none() && our_docs.len() == helm_docs.len());
    Outcome {
        run,
        identical_docs,
        total_docs: helm_docs.len(),
        bytes_identical,
        random_docs,
        both_refused: false,
        failure: first_difference,
    }
}

/// Renders every run, prints the table and the diffs, and fails if any run differs.
async fn check_runs(runs: Vec<Run>) -> Fallible<()> {
    assert!(!runs.is_empty(), "no chart to render");
    let tools = Tools::new()?;
    let mut outcomes = Vec::with_capacity(runs.len());
    for run in runs {
        outcomes.push(compare(&tools, run).await?);
    }
    println!("{}", table(&outcomes));
    let failures: Vec<&Outcome> = outcomes
        .iter()
        .filter(|outcome| outcome.failure.is_some())
        .collect();
    for outcome in &failures {
        println!(
            "\n=== {} with {}: {}",
            outcome.run.chart_label,
            outcome.run.values_label(),
            outcome.failure.as_deref().unwrap_or_default()
        );
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} of {} renderings differ from helm template (table and diffs above)",
            failures.len(),
            outcomes.len()
        )
        .into())
    }
}

fn table(outcomes: &[Outcome]) -> String {
    let mut text = format!(
        "{:<36} {:<64} {:>11}  {}\n",
        "chart", "values", "docs same", "bytes same"
    );
    for outcome in outcomes {
        let verdict = if outcome.both_refused {
            "both refuse the chart".to_string()
        } else if !outcome.bytes_identical {
            "no".to_string()
        } else if outcome.random_docs > 0 {
            format!("yes ({} documents with random lines)", outcome.random_docs)
        } else {
            "yes".to_string()
        };
        let _ = writeln!(
            text,
            "{:<36} {:<64} {:>5}/{:<5}  {verdict}",
            outcome.run.chart_label,
            outcome.run.values_label(),
            outcome.identical_docs,
            outcome.total_docs,
        );
    }
    text
}

/// The files of a directory with the given extension, sorted; none when it does not exist.
fn files_with_extension(dir: &Path, extension: &str) -> Fallible<Vec<PathBuf>> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == extension) {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Every corpus chart with its defaults and with each of its values files.
fn corpus_runs() -> Fallible<Vec<Run>> {
    let corpus = shared_dir().join("corpus/helm");
    let mut charts: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .map_err(|error| format!("cannot read {}: {error}", corpus.display()))?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()?;
    charts.retain(|path| path.join("Chart.yaml").is_file());
    charts.sort();
    let mut runs = Vec::new();
    for chart in charts {
        let name = chart
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let values = files_with_extension(&values_dir().join(&name), "yaml")?;
        assert!(
            values.len() >= 2,
            "{name}: e2e/helm-corpus/values/{name}/ should hold at least two values files"
        );
        runs.push(Run::new(chart.clone(), name.clone(), None));
        for file in values {
            runs.push(Run::new(chart.clone(), name.clone(), Some(file)));
        }
    }
    Ok(runs)
}

/// Charts whose templates branch on `.Capabilities`, rendered for other clusters.
fn capability_runs() -> Vec<Run> {
    let corpus = shared_dir().join("corpus/helm");
    let values = |chart: &str, file: &str| Some(values_dir().join(chart).join(file));
    let mut old_cluster = Run::new(
        corpus.join("ingress-nginx"),
        "ingress-nginx",
        values("ingress-nginx", "everything-on.yaml"),
    );
    old_cluster.kube_version = "v1.30.0".to_string();
    let mut with_vpa = Run::new(
        corpus.join("kube-state-metrics"),
        "kube-state-metrics",
        values("kube-state-metrics", "everything-on.yaml"),
    );
    with_vpa.api_versions = vec!["autoscaling.k8s.io/v1".to_string()];
    let mut node_exporter_vpa = Run::new(
        corpus.join("prometheus-node-exporter"),
        "prometheus-node-exporter",
        values("prometheus-node-exporter", "everything-on.yaml"),
    );
    node_exporter_vpa.api_versions = vec!["autoscaling.k8s.io/v1".to_string()];
    let mut promtail_old_apis = Run::new(
        corpus.join("promtail"),
        "promtail",
        values("promtail", "daemonset-custom.yaml"),
    );
    promtail_old_apis.kube_version = "v1.22.0".to_string();
    promtail_old_apis.api_versions = vec![
        "autoscaling.k8s.io/v1".to_string(),
        "policy/v1beta1/PodSecurityPolicy".to_string(),
    ];
    vec![old_cluster, with_vpa, node_exporter_vpa, promtail_old_apis]
}

#[tokio::test]
#[ignore = "needs ../shared/corpus/helm"]
async fn corpus_charts_render_like_helm_template() -> Fallible<()> {
    let mut runs = corpus_runs()?;
    runs.extend(capability_runs());
    check_runs(runs).await
}

#[tokio::test]
#[ignore = "needs ../shared/testdata/helm"]
async fn helm_test_charts_render_like_helm_template() -> Fallible<()> {
    let testdata = shared_dir().join("testdata/helm");
    let mut runs = Vec::new();
    for dir in ["signtest/signtest", "loader/mariner", "provenance/hashtest"] {
        runs.push(Run::new(testdata.join(dir), dir, None));
    }
    for archive_dir in ["loader", "signtest"] {
        for archive in files_with_extension(&testdata.join(archive_dir), "tgz")? {
            let label = format!(
                "{archive_dir}/{}",
                archive.file_name().unwrap_or_default().to_string_lossy()
            );
            runs.push(Run::new(archive, label, None));
        }
    }
    check_runs(runs).await
}

#[tokio::test]
async fn helm_create_scaffold_renders_like_helm_template() -> Fallible<()> {
    let tools = Tools::new()?;
    let charts = TempDir::new()?;
    let chart = charts.path().join("scaffold");
    // `helm create` takes a path; the chart is named after its last element.
    tools.helm().arg("create").arg(&chart).run().await?;
    let mut runs = vec![Run::new(chart.clone(), "helm create", None)];
    for file in files_with_extension(&values_dir().join("helm-create"), "yaml")? {
        runs.push(Run::new(chart.clone(), "helm create", Some(file)));
    }
    assert!(
        runs.len() >= 3,
        "e2e/helm-corpus/values/helm-create/ should hold at least two values files"
    );
    check_runs(runs).await
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn splits_documents_before_each_separator() {
        let stream = "---\n# Source: a\nx: 1\n---\n# Source: b\ny: 2\n";
        assert_eq!(
            documents(stream),
            vec!["---\n# Source: a\nx: 1\n", "---\n# Source: b\ny: 2\n"]
        );
        assert_eq!(documents("x: 1\n---\ny: 2"), vec!["x: 1\n", "---\ny: 2"]);
        assert!(documents("").is_empty());
    }

    #[test]
    fn random_lines_may_differ_but_nothing_else() {
        let helm = "name: test-abc12\nkind: Pod\n";
        let again = "name: test-zz9q1\nkind: Pod\n";
        assert_eq!(
            compare_document(helm, again, "name: test-qqqqq\nkind: Pod\n"),
            DocMatch::EqualButRandom
        );
        assert_eq!(
            compare_document(helm, again, "name: test-qqqqq\nkind: Job\n"),
            DocMatch::Different
        );
        assert_eq!(
            compare_document(helm, helm, "name: test-abc12\nkind: Job\n"),
            DocMatch::Different
        );
        assert_eq!(compare_document(helm, again, helm), DocMatch::Identical);
    }

    #[test]
    fn judges_a_missing_document_as_a_difference() {
        let run = Run::new(PathBuf::from("chart"), "chart", None);
        let helm = "---\na: 1\n---\nb: 2\n";
        let outcome = judge(run, helm, helm, "---\na: 1\n");
        assert_eq!((outcome.identical_docs, outcome.total_docs), (1, 2));
        assert!(!outcome.bytes_identical);
        assert!(outcome.failure.unwrap().contains("+++ capstan template"));
    }
}
