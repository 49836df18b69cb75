//! `capstan write` and `capstan lint` of Capstan resources, through the built binary: what is
//! written lints clean, broken resource files fail with the file, line and field, in text and
//! JSON, with the same exit codes as chart lint.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn capstan(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("capstan runs")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn hello_chart() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/hello")
}

#[test]
fn written_resources_lint_clean_alone_and_in_a_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let repository = stdout(&capstan(
        dir,
        &[
            "write",
            "repository",
            "charts",
            "--url",
            "https://charts.example.com",
            "--interval",
            "10m",
        ],
    ));
    std::fs::write(dir.join("repository.yaml"), &repository).unwrap();
    std::fs::write(dir.join("prod.yaml"), "replicaCount: 2\n").unwrap();
    let deployment = stdout(&capstan(
        dir,
        &[
            "write",
            "deployment",
            "web",
            "--chart",
            "charts/hello",
            "-f",
            "prod.yaml",
            "--set",
            "greeting=hi",
        ],
    ));
    assert!(deployment.contains("replicaCount: 2"), "{deployment}");
    std::fs::create_dir(dir.join("gitops")).unwrap();
    std::fs::write(dir.join("gitops/web.yaml"), &deployment).unwrap();
    let chart = hello_chart();
    stdout(&capstan(
        dir,
        &["package", chart.to_str().unwrap(), "-d", "."],
    ));
    let packaged = stdout(&capstan(
        dir,
        &[
            "write",
            "deployment",
            "hello",
            "--from-package",
            "hello-0.1.0.tgz",
            "--as-secret",
        ],
    ));
    assert!(
        packaged.starts_with("apiVersion: v1\nkind: Secret\n"),
        "{packaged}"
    );
    assert!(packaged.contains("\n---\napiVersion: capstan.dev/v1alpha1\nkind: ChartDeployment\n"));
    std::fs::write(dir.join("gitops/hello.yml"), &packaged).unwrap();
    std::fs::write(
        dir.join("gitops/other.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    )
    .unwrap();

    let lint = stdout(&capstan(
        dir,
        &["lint", "repository.yaml", "gitops", chart.to_str().unwrap()],
    ));
    assert!(lint.contains("==> Linting repository.yaml\n"), "{lint}");
    assert!(lint.contains("==> Linting gitops/hello.yml\n"), "{lint}");
    assert!(lint.contains("==> Linting gitops/web.yaml\n"), "{lint}");
    assert!(!lint.contains("other.yaml"), "{lint}");
    assert!(
        lint.ends_with("1 chart(s) and 3 resource file(s) linted, 0 failed\n"),
        "{lint}"
    );
}

#[test]
fn broken_resources_fail_with_file_line_and_field() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("broken.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n---\n\
         apiVersion: capstan.dev/v1alpha1\nkind: ChartDeployment\nmetadata:\n  name: web\nspec:\n  chart:\n    repository:\n      repositoryRef: {name: charts}\n      name: web\n      verison: ^1\n  interval: 5 minutes\n",
    )
    .unwrap();
    let output = capstan(dir, &["lint", "broken.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("[ERROR] broken.yaml:14: document 2 (ChartDeployment web): spec.chart.repository.verison: unknown field"),
        "{text}"
    );
    assert!(
        text.ends_with("0 chart(s) and 1 resource file(s) linted, 1 failed\n"),
        "{text}"
    );

    let output = capstan(dir, &["lint", "broken.yaml", "--output", "json"]);
    assert_eq!(output.status.code(), Some(1));
    let reports: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let finding = &reports[0]["findings"][0];
    assert_eq!(reports[0]["chart"], "broken.yaml");
    assert_eq!(finding["severity"], "error");
    assert_eq!(finding["file"], "broken.yaml");
    assert_eq!(finding["line"], 14);

    // Once the schema holds, the duration is checked as the operator parses it.
    let fixed = std::fs::read_to_string(dir.join("broken.yaml"))
        .unwrap()
        .replace("verison", "version");
    std::fs::write(dir.join("broken.yaml"), fixed).unwrap();
    let output = capstan(dir, &["lint", "broken.yaml"]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("[ERROR] broken.yaml:15: document 2 (ChartDeployment web): spec.interval: \"5 minutes\" is not a duration"),
        "{text}"
    );
}

#[test]
fn files_without_resources_warn_and_fail_only_when_strict() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("plain.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    )
    .unwrap();
    let output = capstan(dir, &["lint", "plain.yaml"]);
    let text = stdout(&output);
    assert!(
        text.contains("[WARNING] plain.yaml: no capstan.dev/v1alpha1 resources"),
        "{text}"
    );
    let output = capstan(dir, &["lint", "plain.yaml", "--strict"]);
    assert_eq!(output.status.code(), Some(1));

    std::fs::create_dir(dir.join("empty")).unwrap();
    let output = capstan(dir, &["lint", "empty"]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains("[ERROR] empty: neither a chart (no Chart.yaml)"),
        "{text}"
    );
}

#[test]
fn write_errors_exit_one_with_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let output = capstan(
        tmp.path(),
        &[
            "write",
            "deployment",
            "web",
            "--from-package",
            "missing.tgz",
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with("Error: cannot read missing.tgz"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
    // Usage errors are clap's: exit 2.
    let output = capstan(
        tmp.path(),
        &[
            "write",
            "deployment",
            "web",
            "--chart",
            "c/x",
            "--from-package",
            "x.tgz",
        ],
    );
    assert_eq!(output.status.code(), Some(2));
}
