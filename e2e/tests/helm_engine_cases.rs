//! `capstan template` against the real `helm template` (Helm v3.22.0) on small charts written
//! here, each aimed at one corner of Helm's chart assembly that real charts rarely all touch:
//! subchart conditions, tags, aliases, import-values, globals and nulls; YAML 1.1 values; hooks,
//! test hooks and documents holding only comments; nested `tpl`; `.Files`; library charts; CRDs;
//! `--show-only`, `--skip-tests`, `--is-upgrade` and `kubeVersion`. Outputs (or the fact that
//! both tools refuse the chart) must be identical.
//!
//! Needs the Helm binary the e2e scripts build (`CAPSTAN_E2E_HELM`, the running cluster's env
//! file, or `~/.cache/capstan/bin/helm-v3.22.0/helm`) and the `capstan` binary of the workspace.

use std::path::{Path, PathBuf};

use capstan_e2e::{E2eEnv, ToolCommand, workspace_binary};

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

fn helm_binary() -> Fallible<PathBuf> {
    if let Some(path) = std::env::var_os("CAPSTAN_E2E_HELM").filter(|path| !path.is_empty()) {
        return Ok(path.into());
    }
    if let Ok(env) = E2eEnv::load(&E2eEnv::default_path()) {
        return Ok(env.helm);
    }
    let home = std::env::var_os("HOME").ok_or("HOME is not set")?;
    let cached = Path::new(&home).join(".cache/capstan/bin/helm-v3.22.0/helm");
    if cached.is_file() {
        Ok(cached)
    } else {
        Err("no Helm binary: set CAPSTAN_E2E_HELM or run e2e/cluster build".into())
    }
}

/// Writes `files` (path, text) under `root`.
fn write_chart(root: &Path, files: &[(&str, &str)]) -> Fallible<()> {
    for (path, text) in files {
        let full = root.join(path);
        std::fs::create_dir_all(full.parent().ok_or("no parent")?)?;
        std::fs::write(full, text)?;
    }
    Ok(())
}

/// Runs `tool template NAME CHART args...`: stdout on success, `Err` with stderr otherwise.
async fn template(
    command: ToolCommand,
    chart: &Path,
    args: &[&str],
) -> Fallible<Result<String, String>> {
    let output = command
        .arg("template")
        .arg("rel")
        .arg(chart)
        .args(["--namespace", "cases", "--kube-version", "v1.36.0"])
        .args(args)
        .output()
        .await?;
    Ok(if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(output.stderr)
    })
}

/// Renders `chart` with both tools for each flag set and requires the same result.
async fn same_as_helm(chart: &Path, flag_sets: &[&[&str]]) -> Fallible<()> {
    let scratch = tempfile::tempdir()?;
    let helm = helm_binary()?;
    let capstan = workspace_binary("CAPSTAN_BIN", "capstan");
    for flags in flag_sets {
        let helm_home = scratch.path().join("helm");
        let helm_command = ToolCommand::new(&helm)
            .env("HOME", &helm_home)
            .env("HELM_CONFIG_HOME", helm_home.join("config"))
            .env("HELM_CACHE_HOME", helm_home.join("cache"))
            .env("HELM_DATA_HOME", helm_home.join("data"));
        let capstan_command = ToolCommand::new(&capstan).env("HOME", scratch.path());
        let theirs = template(helm_command, chart, flags).await?;
        let ours = template(capstan_command, chart, flags).await?;
        match (&theirs, &ours) {
            (Ok(theirs), Ok(ours)) => assert_eq!(
                ours,
                theirs,
                "{} {flags:?}: capstan template differs from helm template",
                chart.display()
            ),
            (Err(_), Err(_)) => {}
            _ => panic!(
                "{} {flags:?}: helm gave {theirs:?} but capstan gave {ours:?}",
                chart.display()
            ),
        }
    }
    Ok(())
}

#[tokio::test]
async fn subchart_conditions_tags_aliases_imports_globals_and_nulls() -> Fallible<()> {
    let dir = tempfile::tempdir()?;
    let chart = dir.path().join("parent");
    let dump = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Chart.Name }}\ndata:\n  values: {{ toJson .Values | quote }}\n";
    write_chart(
        &chart,
        &[
            (
                "Chart.yaml",
                "apiVersion: v2\nname: parent\nversion: 1.0.0\nkubeVersion: \">=1.20.0-0\"\ndependencies:\n  - name: sub1\n    version: \"1.x\"\n    condition: sub1.enabled\n    import-values:\n      - data\n      - child: exports.more\n        parent: imported.more\n  - name: sub2\n    alias: second\n    tags: [back]\n  - name: sub2\n    alias: third\n    version: \"*\"\n    condition: third.on,global.third\n  - name: lib\n    version: 0.1.0\n  - name: sub3\n    version: 1.0.0\n    tags: [front]\n",
            ),
            (
                "values.yaml",
                "global:\n  region: eu\n  nested: {a: 1}\ntags:\n  back: true\n  front: false\nsub1:\n  enabled: true\n  value: from-parent\n  nulled: null\nthird:\n  on: true\nimported:\n  keep: me\n",
            ),
            (
                "templates/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: parent\ndata:\n  values: {{ toJson .Values | quote }}\n  subcharts: {{ keys .Subcharts | sortAlpha | join \",\" | quote }}\n  deps: {{ range .Chart.Dependencies }}{{ .Name }}/{{ .Alias }}/{{ .Enabled }} {{ end }}\n  lib: {{ include \"lib.hello\" . | quote }}\n",
            ),
            (
                "charts/sub1/Chart.yaml",
                "apiVersion: v2\nname: sub1\nversion: 1.2.0\n",
            ),
            (
                "charts/sub1/values.yaml",
                "value: default\nnulled: was-set\nexports:\n  data:\n    fromsub: yes\n  more:\n    x: 1\nglobal:\n  region: us\n  own: sub1\n",
            ),
            ("charts/sub1/templates/cm.yaml", dump),
            (
                "charts/sub2/Chart.yaml",
                "apiVersion: v2\nname: sub2\nversion: 2.0.0\n",
            ),
            ("charts/sub2/values.yaml", "who: sub2\n"),
            ("charts/sub2/templates/cm.yaml", dump),
            (
                "charts/lib/Chart.yaml",
                "apiVersion: v2\nname: lib\nversion: 0.1.0\ntype: library\n",
            ),
            (
                "charts/lib/templates/_lib.tpl",
                "{{- define \"lib.hello\" }}hello from {{ .Chart.Name }}{{ end }}\n",
            ),
            ("charts/lib/templates/cm.yaml", "this: is not rendered\n"),
            (
                "charts/sub3/Chart.yaml",
                "apiVersion: v2\nname: sub3\nversion: 1.0.0\n",
            ),
            ("charts/sub3/templates/cm.yaml", dump),
        ],
    )?;
    same_as_helm(
        &chart,
        &[
            &[],
            &["--set", "sub1.enabled=false,tags.front=true"],
            &["--set", "global.region=us,sub1.value=null"],
            &["--kube-version", "v1.19.0"],
        ],
    )
    .await
}

#[tokio::test]
async fn hooks_tests_comments_files_tpl_and_crds() -> Fallible<()> {
    let dir = tempfile::tempdir()?;
    let chart = dir.path().join("mixed");
    write_chart(
        &chart,
        &[
            (
                "Chart.yaml",
                "apiVersion: v2\nname: mixed\nversion: 0.1.0\nappVersion: \"2.0\"\n",
            ),
            (
                "values.yaml",
                "mode: 0755\nflag: on\nlist: [1, 2.5, \"3\"]\nbig: 1000000\nouter: \"a{{ tpl .Values.inner . }}b\"\ninner: \"\"\n",
            ),
            ("files/a.conf", "alpha=1\n"),
            ("files/b.conf", "beta=2\nlast\n"),
            ("files/sub/c.txt", "c\n"),
            (
                "crds/widget.yaml",
                "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\n",
            ),
            (
                "templates/all.yaml",
                "# a document of comments only\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-files\ndata:\n{{ (.Files.Glob \"files/*.conf\").AsConfig | indent 2 }}\n  lines: {{ .Files.Lines \"files/b.conf\" | toJson | quote }}\n  sub: {{ .Files.Get \"files/sub/c.txt\" | quote }}\n  tpl: {{ tpl .Values.outer . | quote }}\n  mode: \"{{ .Values.mode }} {{ .Values.flag }} {{ .Values.big }} {{ .Values.list }}\"\n  upgrade: \"{{ .Release.IsUpgrade }} {{ .Release.Revision }} {{ .Capabilities.KubeVersion }}\"\n  missing: \"[{{ .Values.nothing }}]\"\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-secret\ndata:\n{{ (.Files.Glob \"files/**\").AsSecrets | indent 2 }}\n",
            ),
            (
                "templates/hooks.yaml",
                "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: late\n  annotations:\n    helm.sh/hook: post-install\n    helm.sh/hook-weight: \"5\"\n---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: early\n  annotations:\n    helm.sh/hook: pre-install,pre-upgrade\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: odd\n  annotations:\n    helm.sh/hook: sometime\n",
            ),
            (
                "templates/tests/test.yaml",
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}-test\n  annotations:\n    \"helm.sh/hook\": test\n",
            ),
            ("templates/NOTES.txt", "Thanks for {{ .Chart.Name }}.\n"),
        ],
    )?;
    same_as_helm(
        &chart,
        &[
            &[],
            &["--include-crds"],
            &["--skip-tests", "--is-upgrade"],
            &["--show-only", "templates/hooks.yaml"],
            &["--show-only", "templates/nothing.yaml"],
        ],
    )
    .await
}

#[tokio::test]
async fn errors_are_helms() -> Fallible<()> {
    let dir = tempfile::tempdir()?;
    let chart = dir.path().join("failing");
    write_chart(
        &chart,
        &[
            (
                "Chart.yaml",
                "apiVersion: v2\nname: failing\nversion: 0.1.0\n",
            ),
            (
                "templates/cm.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  v: {{ required \"set .Values.v\" .Values.v }}\n",
            ),
        ],
    )?;
    let helm = helm_binary()?;
    let scratch = tempfile::tempdir()?;
    let capstan = workspace_binary("CAPSTAN_BIN", "capstan");
    let helm_error = template(
        ToolCommand::new(&helm).env("HOME", scratch.path()),
        &chart,
        &[],
    )
    .await?
    .expect_err("helm refuses the chart");
    let capstan_error = template(
        ToolCommand::new(&capstan).env("HOME", scratch.path()),
        &chart,
        &[],
    )
    .await?
    .expect_err("capstan refuses the chart");
    let message = "execution error at (failing/templates/cm.yaml:6:8): set .Values.v";
    assert!(helm_error.contains(message), "{helm_error}");
    assert!(capstan_error.contains(message), "{capstan_error}");
    same_as_helm(&chart, &[&["--set", "v=given"]]).await
}
