//! `capstan lint PATH...`: check charts before they are packaged or deployed, and Capstan
//! resources (ChartRepository, ChartDeployment YAML) before they are applied.

use super::values_args::ValuesArgs;
use capstan_chart::lint::{Finding, LintOptions, LintReport, lint_path};
use capstan_chart::render::RenderOptions;
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Check chart directories and archives (Chart.yaml, values, templates and the objects they
/// render) and YAML files of ChartRepository and ChartDeployment resources (against the CRD
/// schema and its rules, offline). Exits 1 when anything has errors (or warnings, with --strict).
#[derive(Debug, Args)]
pub struct LintArgs {
    /// Chart directories or .tgz archives; .yaml/.yml files, or directories without a
    /// Chart.yaml, are checked as Capstan resources (documents of other API groups are skipped).
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Fail on warnings too.
    #[arg(long)]
    pub strict: bool,
    /// `text` for people, `json` for pipelines.
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Kubernetes version to check APIs and kubeVersion against (default: the renderer's).
    #[arg(long, value_name = "VERSION")]
    pub kube_version: Option<String>,
    #[command(flatten)]
    pub values: ValuesArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

pub fn run(args: LintArgs) -> anyhow::Result<ExitCode> {
    let mut render = RenderOptions::default();
    if let Some(kube_version) = args.kube_version {
        render.kube_version = kube_version;
    }
    let options = LintOptions {
        user_values: args.values.layers()?,
        render,
    };
    let mut reports = Vec::new();
    let mut resource_files = 0;
    for path in &args.paths {
        if resources::is_resource_path(path) {
            let found = resources::lint(path);
            resource_files += found.len();
            reports.extend(found);
        } else {
            reports.push(lint_path(path, &options));
        }
    }
    let failed = reports.iter().filter(|r| r.fails(args.strict)).count();
    match args.output {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(&reports)?),
        OutputFormat::Text => print_text(&reports, resource_files, failed),
    }
    Ok(if failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn print_text(reports: &[LintReport], resource_files: usize, failed: usize) {
    for report in reports {
        println!("==> Linting {}", report.chart);
        for finding in &report.findings {
            println!("{finding}");
        }
        println!();
    }
    let charts = reports.len() - resource_files;
    if resource_files == 0 {
        println!("{charts} chart(s) linted, {failed} chart(s) failed");
    } else {
        println!("{charts} chart(s) and {resource_files} resource file(s) linted, {failed} failed");
    }
}

/// Capstan resources in YAML files.
mod resources {
    use super::{Finding, LintReport};
    use std::io::Read;
    use std::path::{Path, PathBuf};

    /// Largest YAML file read; resource files are small, and this bounds memory.
    const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;
    /// Most YAML files read from one directory tree, and how deep it is walked.
    const MAX_FILES: usize = 10_000;
    const MAX_DEPTH: usize = 16;

    fn is_yaml(path: &Path) -> bool {
        path.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml"))
    }

    /// A `.yaml`/`.yml` file, or a directory that is not a chart (no `Chart.yaml`).
    pub fn is_resource_path(path: &Path) -> bool {
        if path.is_dir() {
            !path.join("Chart.yaml").exists()
        } else {
            is_yaml(path)
        }
    }

    /// One report per file that holds Capstan resources (or that could not be read). A file
    /// named on the command line always gets a report; files found in a directory only when
    /// they hold Capstan resources or fail to parse, so a GitOps tree can be given whole.
    pub fn lint(path: &Path) -> Vec<LintReport> {
        if !path.is_dir() {
            let (mut report, checked) = lint_file(path);
            if report.findings.is_empty() && checked == 0 {
                report.findings.push(Finding::warning(
                    path.display().to_string(),
                    format!(
                        "no {}/{} resources in this file; nothing was checked",
                        capstan_api::GROUP,
                        capstan_api::VERSION
                    ),
                ));
            }
            return vec![report];
        }
        let mut files = Vec::new();
        let mut findings = Vec::new();
        collect(path, 0, &mut files, &mut findings);
        let mut reports: Vec<LintReport> = files
            .iter()
            .map(|file| lint_file(file))
            .filter(|(report, checked)| !report.findings.is_empty() || *checked > 0)
            .map(|(report, _)| report)
            .collect();
        if reports.is_empty() {
            findings.push(Finding::error(
                path.display().to_string(),
                format!(
                    "neither a chart (no Chart.yaml) nor a directory with {}/{} resources in .yaml or .yml files",
                    capstan_api::GROUP,
                    capstan_api::VERSION
                ),
            ));
        }
        if !findings.is_empty() {
            reports.insert(
                0,
                LintReport {
                    chart: path.display().to_string(),
                    findings,
                },
            );
        }
        reports
    }

    /// YAML files under `dir`, sorted, skipping hidden entries.
    fn collect(dir: &Path, depth: usize, files: &mut Vec<PathBuf>, findings: &mut Vec<Finding>) {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(error) => {
                findings.push(Finding::error(
                    dir.display().to_string(),
                    format!("cannot read the directory: {error}"),
                ));
                return;
            }
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        paths.sort();
        for path in paths {
            if files.len() >= MAX_FILES {
                findings.push(Finding::error(
                    dir.display().to_string(),
                    format!("more than {MAX_FILES} YAML files; lint a smaller directory"),
                ));
                return;
            }
            if path.is_dir() {
                if depth + 1 < MAX_DEPTH && !path.join("Chart.yaml").exists() {
                    collect(&path, depth + 1, files, findings);
                }
            } else if is_yaml(&path) {
                files.push(path);
            }
        }
    }

    /// The report of one file and how many Capstan resources it holds.
    fn lint_file(path: &Path) -> (LintReport, usize) {
        let file = path.display().to_string();
        let mut findings = Vec::new();
        let mut checked = 0;
        match read(path) {
            Err(message) => findings.push(Finding::error(&file, message)),
            Ok(text) => {
                let report = capstan_api::check(&text);
                checked = report.checked;
                for problem in &report.problems {
                    findings.push(
                        Finding::error(&file, problem.to_string()).at_line(Some(problem.line)),
                    );
                }
            }
        }
        let report = LintReport {
            chart: file,
            findings,
        };
        (report, checked)
    }

    fn read(path: &Path) -> Result<String, String> {
        let file = std::fs::File::open(path).map_err(|e| format!("cannot read the file: {e}"))?;
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read the file: {e}"))?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(format!(
                "larger than {MAX_FILE_BYTES} bytes; resource files are expected to be small"
            ));
        }
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        String::from_utf8(bytes.to_vec()).map_err(|_| "not UTF-8 text".to_string())
    }
}
