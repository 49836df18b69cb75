//! The chart deployed many times: a podinfo-sized application (a Deployment, a Service, a
//! HorizontalPodAutoscaler and a ConfigMap), written twice to the same shape: in Jinja from the
//! scaffold `capstan create` writes, and in Go templates from the one `helm create` writes, both
//! trimmed to those four objects.
//!
//! Version `1.1.0` differs from `1.0.0` in its ConfigMap and in a pod annotation, so an upgrade
//! rolls every Deployment.

use std::path::{Path, PathBuf};

use capstan_chart::package::{PackageOptions, package_dir};
use capstan_chart::scaffold::scaffold_files;

use crate::error::{E2eError, Result};
use crate::tools::ToolCommand;

/// The chart's name, in both engines.
pub const CHART: &str = "bench";

/// Templates of the scaffolds that are not part of the measured application.
const LEFT_OUT: &[&str] = &[
    "templates/ingress.yaml",
    "templates/httproute.yaml",
    "templates/serviceaccount.yaml",
    "templates/NOTES.txt",
    "templates/tests",
];

const JINJA_CONFIG_MAP: &str = r#"{%- import "_helpers.tpl" as helpers -%}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ helpers.fullname() }}
  labels:
    {{- helpers.labels() | nindent(4) }}
data:
  chartVersion: "{{ chart.version }}"
  greeting: "{{ values.greeting }}"
"#;

const GO_CONFIG_MAP: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "bench.fullname" . }}
  labels:
    {{- include "bench.labels" . | nindent 4 }}
data:
  chartVersion: {{ .Chart.Version | quote }}
  greeting: {{ .Values.greeting | quote }}
"#;

/// Writes the Jinja chart at `version` into `dir` (which must not exist) and returns `dir`.
pub fn write_jinja_chart(dir: &Path, version: &str) -> Result<PathBuf> {
    for (path, text) in scaffold_files(CHART) {
        if LEFT_OUT.iter().any(|left| path.starts_with(left)) {
            continue;
        }
        let text = match path.as_str() {
            "Chart.yaml" => set_chart_version(&text, version, &path)?,
            "values.yaml" => adapt_values(&text, version, &path)?,
            _ => text,
        };
        write(&dir.join(&path), &text)?;
    }
    write(&dir.join("templates/configmap.yaml"), JINJA_CONFIG_MAP)?;
    Ok(dir.to_path_buf())
}

/// Packages the Jinja chart at `version` into `into` and returns the archive's path.
pub fn package_jinja_chart(work: &Path, version: &str, into: &Path) -> Result<PathBuf> {
    let dir = write_jinja_chart(&work.join(format!("jinja-{version}")).join(CHART), version)?;
    let (file_name, bytes) = package_dir(&dir, &PackageOptions::default())
        .map_err(|error| E2eError::Unavailable(format!("packaging {}: {error}", dir.display())))?;
    std::fs::create_dir_all(into).map_err(io(into))?;
    let archive = into.join(file_name);
    std::fs::write(&archive, bytes).map_err(io(&archive))?;
    Ok(archive)
}

/// Writes the Go-template chart at `version` under `work` with `helm create` (the given `helm`
/// command), trims it to the same four objects and returns its directory.
pub async fn write_helm_chart(helm: ToolCommand, work: &Path, version: &str) -> Result<PathBuf> {
    let parent = work.join(format!("helm-{version}"));
    std::fs::create_dir_all(&parent).map_err(io(&parent))?;
    let dir = parent.join(CHART);
    helm.arg("create").arg(&dir).run().await?;
    for left in LEFT_OUT {
        let path = dir.join(left);
        if path.is_dir() {
            std::fs::remove_dir_all(&path).map_err(io(&path))?;
        } else if path.exists() {
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
    }
    for (file, adapt) in [
        (
            "Chart.yaml",
            set_chart_version as fn(&str, &str, &str) -> Result<String>,
        ),
        ("values.yaml", adapt_values),
    ] {
        let path = dir.join(file);
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        write(&path, &adapt(&text, version, file)?)?;
    }
    write(&dir.join("templates/configmap.yaml"), GO_CONFIG_MAP)?;
    Ok(dir)
}

/// The scaffold's `version:` line set to `version`.
fn set_chart_version(text: &str, version: &str, file: &str) -> Result<String> {
    replace_line(text, "version: 0.1.0", &format!("version: {version}"), file)
}

/// The scaffold's values with autoscaling on (so the HPA is rendered), no ServiceAccount of its
/// own, a greeting for the ConfigMap, and from 1.1.0 a pod annotation that rolls the Deployment.
fn adapt_values(text: &str, version: &str, file: &str) -> Result<String> {
    let text = set_in_section(
        text,
        "autoscaling:",
        "enabled: false",
        "enabled: true",
        file,
    )?;
    let text = set_in_section(
        &text,
        "serviceAccount:",
        "create: true",
        "create: false",
        file,
    )?;
    let annotations = if version == "1.0.0" {
        "podAnnotations: {}".to_string()
    } else {
        format!("podAnnotations: {{bench.capstan.dev/version: \"{version}\"}}")
    };
    let text = replace_line(&text, "podAnnotations: {}", &annotations, file)?;
    Ok(format!("{text}\ngreeting: hello from {version}\n"))
}

/// `text` with its line `from` (trimmed) replaced by `to`; an error when there is none.
fn replace_line(text: &str, from: &str, to: &str, file: &str) -> Result<String> {
    let mut found = false;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            if !found && line.trim() == from {
                found = true;
                line.replace(from, to)
            } else {
                line.to_string()
            }
        })
        .collect();
    if !found {
        return Err(scaffold_changed(file, from));
    }
    Ok(lines.join("\n") + "\n")
}

/// `text` with the first line `from` after the top-level key `section` replaced by `to`.
fn set_in_section(text: &str, section: &str, from: &str, to: &str, file: &str) -> Result<String> {
    let start = text
        .lines()
        .position(|line| line == section)
        .ok_or_else(|| scaffold_changed(file, section))?;
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let line = lines[start + 1..]
        .iter_mut()
        .take_while(|line| line.is_empty() || line.starts_with([' ', '#']))
        .find(|line| line.trim() == from)
        .ok_or_else(|| scaffold_changed(file, &format!("{section} {from}")))?;
    *line = line.replace(from, to);
    Ok(lines.join("\n") + "\n")
}

fn scaffold_changed(file: &str, expected: &str) -> E2eError {
    E2eError::Unavailable(format!(
        "the scaffold's {file} has no `{expected}` line any more; adapt e2e/src/scale/chart.rs to it"
    ))
}

fn write(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    std::fs::write(path, text).map_err(io(path))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> E2eError + '_ {
    move |source| E2eError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_chart::expand::{ExpandInput, expand};
    use capstan_chart::load::load_dir;
    use capstan_chart::render::RenderOptions;

    fn kinds(version: &str) -> Vec<(String, serde_json::Value)> {
        let work = tempfile::tempdir().unwrap();
        let dir = write_jinja_chart(&work.path().join(CHART), version).unwrap();
        let input = ExpandInput {
            chart: load_dir(&dir).unwrap(),
            user_values: Vec::new(),
            opts: RenderOptions {
                release_name: "app-1".into(),
                ..RenderOptions::default()
            },
        };
        expand(&input)
            .unwrap()
            .manifests
            .into_iter()
            .map(|manifest| (manifest.kind, manifest.object))
            .collect()
    }

    #[test]
    fn the_jinja_chart_renders_the_four_objects() {
        let objects = kinds("1.0.0");
        let mut names: Vec<&str> = objects.iter().map(|(kind, _)| kind.as_str()).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "ConfigMap",
                "Deployment",
                "HorizontalPodAutoscaler",
                "Service"
            ]
        );
        let deployment = &objects
            .iter()
            .find(|(kind, _)| kind == "Deployment")
            .unwrap()
            .1;
        assert_eq!(
            deployment["spec"]["template"]["spec"]["serviceAccountName"],
            "default"
        );
        assert!(deployment["spec"]["template"]["metadata"]["annotations"].is_null());
    }

    #[test]
    fn version_1_1_0_changes_the_pod_template_and_the_config_map() {
        let objects = kinds("1.1.0");
        let find = |wanted: &str| &objects.iter().find(|(kind, _)| kind == wanted).unwrap().1;
        assert_eq!(
            find("Deployment")["spec"]["template"]["metadata"]["annotations"]["bench.capstan.dev/version"],
            "1.1.0"
        );
        assert_eq!(find("ConfigMap")["data"]["chartVersion"], "1.1.0");
    }
}
