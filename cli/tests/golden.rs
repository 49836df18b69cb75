//! Golden tests of the built `capstan` binary: `create`, then `lint` and `template` on the result
//! and on the example charts. The full stdout, stderr and exit code are compared with files under
//! `tests/golden/`; run with `CAPSTAN_UPDATE_GOLDEN=1` to rewrite them after an intended change.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `capstan args...` in `dir` and renders the result as one comparable text.
fn run_capstan(dir: &Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the capstan binary runs");
    format!(
        "$ capstan {}\n# exit: {}\n# stdout:\n{}# stderr:\n{}",
        args.join(" "),
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn check_golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("CAPSTAN_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with CAPSTAN_UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{} differs from the output; if the change is intended, rerun with CAPSTAN_UPDATE_GOLDEN=1\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}

#[test]
fn create_then_lint_then_template() {
    let tmp = tempfile::tempdir().unwrap();
    let mut transcript = run_capstan(tmp.path(), &["create", "web"]);
    transcript += &run_capstan(tmp.path(), &["create", "web"]);
    transcript += &run_capstan(tmp.path(), &["create", "Web_App"]);
    transcript += &run_capstan(tmp.path(), &["lint", "web", "--strict"]);
    transcript += &run_capstan(tmp.path(), &["lint", "web", "--output", "json"]);
    transcript += &run_capstan(
        tmp.path(),
        &["template", "web", "--name", "demo", "--notes"],
    );
    transcript += &run_capstan(
        tmp.path(),
        &["template", "web", "--show-only", "templates/service.yaml"],
    );
    check_golden("create-lint-template.txt", &transcript);
}

#[test]
fn example_charts() {
    let root = repo_root();
    let mut transcript = run_capstan(&root, &["lint", "charts/hello", "charts/shop"]);
    transcript += &run_capstan(&root, &["template", "charts/hello", "--name", "hello"]);
    transcript += &run_capstan(&root, &["template", "charts/shop", "--name", "shop"]);
    transcript += &run_capstan(&root, &["show", "chart", "charts/shop"]);
    check_golden("example-charts.txt", &transcript);
}
