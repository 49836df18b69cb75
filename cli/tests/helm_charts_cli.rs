//! Go-template (Helm) charts through the archive commands of the built `capstan` binary: package
//! (signed), verify, show, lint and template of the archive, which must print what templating
//! the directory prints. The chart is written here (a Helm chart as `helm create` lays them out);
//! the byte-for-byte comparison with `helm template` itself is `e2e/tests/helm_corpus.rs`.

use std::path::Path;
use std::process::{Command, Output};

const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/testdata/helm");

fn capstan(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the capstan binary runs")
}

fn succeed(dir: &Path, args: &[&str]) -> String {
    let output = capstan(dir, args);
    assert!(
        output.status.success(),
        "capstan {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("output is UTF-8")
}

/// A Helm chart without Capstan's annotation: helpers, a Deployment, a test hook, NOTES.txt and a
/// file read through `.Files`.
fn write_helm_chart(root: &Path) {
    let files: &[(&str, &str)] = &[
        (
            "Chart.yaml",
            "apiVersion: v2\nname: webapp\ndescription: A Helm chart\ntype: application\nversion: 0.3.0\nappVersion: \"1.27\"\n",
        ),
        (
            "values.yaml",
            "replicaCount: 2\nimage:\n  repository: nginx\n  tag: \"\"\nservice:\n  port: 80\n",
        ),
        (
            "templates/_helpers.tpl",
            "{{- define \"webapp.fullname\" -}}\n{{- printf \"%s-%s\" .Release.Name .Chart.Name | trunc 63 | trimSuffix \"-\" }}\n{{- end }}\n{{- define \"webapp.labels\" -}}\napp.kubernetes.io/name: {{ .Chart.Name }}\napp.kubernetes.io/instance: {{ .Release.Name }}\n{{- end }}\n",
        ),
        (
            "templates/deployment.yaml",
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ include \"webapp.fullname\" . }}\n  labels:\n    {{- include \"webapp.labels\" . | nindent 4 }}\nspec:\n  replicas: {{ .Values.replicaCount }}\n  selector:\n    matchLabels:\n      {{- include \"webapp.labels\" . | nindent 6 }}\n  template:\n    metadata:\n      labels:\n        {{- include \"webapp.labels\" . | nindent 8 }}\n    spec:\n      containers:\n        - name: {{ .Chart.Name }}\n          image: \"{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}\"\n",
        ),
        (
            "templates/configmap.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ include \"webapp.fullname\" . }}\ndata:\n{{ (.Files.Glob \"files/*\").AsConfig | indent 2 }}\n",
        ),
        (
            "templates/tests/test-connection.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \"{{ include \"webapp.fullname\" . }}-test\"\n  annotations:\n    \"helm.sh/hook\": test\nspec:\n  containers:\n    - name: wget\n      image: busybox\n  restartPolicy: Never\n",
        ),
        (
            "templates/NOTES.txt",
            "Visit {{ include \"webapp.fullname\" . }} on port {{ .Values.service.port }}.\n",
        ),
        ("files/app.conf", "listen 80;\n"),
        ("README.md", "# webapp\n"),
    ];
    for (path, text) in files {
        let full = root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
    }
}

#[test]
fn a_helm_chart_packages_shows_lints_and_renders_from_its_archive() {
    let work = tempfile::tempdir().unwrap();
    write_helm_chart(&work.path().join("webapp"));
    let from_dir = succeed(work.path(), &["template", "demo", "webapp"]);
    assert!(
        from_dir.starts_with("---\n# Source: webapp/templates/configmap.yaml\n"),
        "{from_dir}"
    );
    assert!(from_dir.contains("  name: demo-webapp\ndata:\n  app.conf: |\n    listen 80;\n"));
    assert!(from_dir.contains("image: \"nginx:1.27\""));
    assert!(from_dir.ends_with(
        "---\n# Source: webapp/templates/tests/test-connection.yaml\napiVersion: v1\nkind: Pod\nmetadata:\n  name: \"demo-webapp-test\"\n  annotations:\n    \"helm.sh/hook\": test\nspec:\n  containers:\n    - name: wget\n      image: busybox\n  restartPolicy: Never\n"
    ));
    let without_tests = succeed(work.path(), &["template", "demo", "webapp", "--skip-tests"]);
    assert!(!without_tests.contains("test-connection"));

    succeed(work.path(), &["package", "webapp"]);
    let archive = "webapp-0.3.0.tgz";
    assert_eq!(
        succeed(work.path(), &["template", "demo", archive]),
        from_dir
    );
    assert!(succeed(work.path(), &["show", "chart", archive]).contains("name: webapp\n"));
    assert!(succeed(work.path(), &["show", "values", archive]).contains("replicaCount: 2\n"));
    assert_eq!(
        succeed(work.path(), &["show", "readme", archive]),
        "# webapp\n"
    );
    let lint = succeed(work.path(), &["lint", archive]);
    assert!(lint.contains("0 chart(s) failed"), "{lint}");
}

#[test]
#[ignore = "needs ../shared/testdata/helm"]
fn a_signed_helm_chart_archive_verifies() {
    let work = tempfile::tempdir().unwrap();
    write_helm_chart(&work.path().join("webapp"));
    let passphrase = work.path().join("passphrase");
    std::fs::write(&passphrase, "secret\n").unwrap();
    let keyring = format!("{TESTDATA}/provenance/helm-password-key.secret");
    succeed(
        work.path(),
        &[
            "package",
            "webapp",
            "--sign",
            "--key",
            "fake@helm.sh",
            "--keyring",
            &keyring,
            "--passphrase-file",
            passphrase.to_str().unwrap(),
        ],
    );
    let verified = succeed(
        work.path(),
        &["verify", "webapp-0.3.0.tgz", "--keyring", &keyring],
    );
    assert!(
        verified.starts_with("Signed by: password key (fake) <fake@helm.sh>\n"),
        "{verified}"
    );
}
