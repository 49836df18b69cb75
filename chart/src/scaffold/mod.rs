//! `capstan create`: a new chart with the same parts `helm create` gives, written in Jinja.
//!
//! The files are embedded in the binary so `create` works offline and always matches the renderer
//! and linter it ships with. `<CHARTNAME>` in any file is replaced with the new chart's name, the
//! same placeholder Helm uses, so Helm-style starter charts work with `--starter` too.

use crate::model::ChartMetadata;
use crate::names::check_chart_name;
use std::fs;
use std::path::{Path, PathBuf};

/// The placeholder replaced by the chart name in scaffold and starter files.
pub const CHART_NAME_PLACEHOLDER: &str = "<CHARTNAME>";

/// Bounds on what is copied from a starter, so a wrong `--starter` path (say, `/`) fails quickly.
const MAX_STARTER_FILES: usize = 1_000;
const MAX_STARTER_BYTES: u64 = 20 * 1024 * 1024;

/// The built-in scaffold: chart-relative path and contents, before placeholder replacement.
const SCAFFOLD: &[(&str, &str)] = &[
    ("Chart.yaml", include_str!("files/Chart.yaml")),
    ("values.yaml", include_str!("files/values.yaml")),
    (
        "values.schema.json",
        include_str!("files/values.schema.json"),
    ),
    (".helmignore", include_str!("files/.helmignore")),
    (
        "templates/_helpers.tpl",
        include_str!("files/templates/_helpers.tpl"),
    ),
    (
        "templates/deployment.yaml",
        include_str!("files/templates/deployment.yaml"),
    ),
    (
        "templates/service.yaml",
        include_str!("files/templates/service.yaml"),
    ),
    (
        "templates/serviceaccount.yaml",
        include_str!("files/templates/serviceaccount.yaml"),
    ),
    (
        "templates/ingress.yaml",
        include_str!("files/templates/ingress.yaml"),
    ),
    (
        "templates/httproute.yaml",
        include_str!("files/templates/httproute.yaml"),
    ),
    (
        "templates/hpa.yaml",
        include_str!("files/templates/hpa.yaml"),
    ),
    (
        "templates/NOTES.txt",
        include_str!("files/templates/NOTES.txt"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error(
        "{name:?} is not a valid chart name: {reason}. Chart names use lowercase letters, digits \
         and dashes, and start and end with a letter or digit, for example \"my-app\""
    )]
    InvalidName { name: String, reason: String },
    #[error("cannot tell the chart name from {}; give a directory name such as \"my-app\"", path.display())]
    NoName { path: PathBuf },
    #[error("{} already exists and is not empty; choose another name or empty it first", path.display())]
    NotEmpty { path: PathBuf },
    #[error("{} exists and is not a directory; choose another name", path.display())]
    NotADirectory { path: PathBuf },
    #[error("starter {}: {reason}", path.display())]
    Starter { path: PathBuf, reason: String },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ScaffoldError + '_ {
    move |source| ScaffoldError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The built-in scaffold files for a chart called `name`, as (relative path, contents).
pub fn scaffold_files(name: &str) -> Vec<(String, String)> {
    SCAFFOLD
        .iter()
        .map(|(path, text)| (path.to_string(), text.replace(CHART_NAME_PLACEHOLDER, name)))
        .collect()
}

/// Creates a chart in `dest`, named after the last component of `dest`, from the built-in
/// scaffold or from a starter chart directory. Returns the files written, relative to `dest`.
///
/// `dest` must not exist or be an empty directory: overwriting a chart an author is working on
/// would lose their edits.
pub fn create(dest: &Path, starter: Option<&Path>) -> Result<Vec<String>, ScaffoldError> {
    let name = dest
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| ScaffoldError::NoName {
            path: dest.to_path_buf(),
        })?;
    check_chart_name(name).map_err(|reason| ScaffoldError::InvalidName {
        name: name.to_string(),
        reason,
    })?;
    ensure_empty_destination(dest)?;
    let files = match starter {
        None => scaffold_files(name),
        Some(dir) => starter_files(dir, name)?,
    };
    for (relative, text) in &files {
        let path = dest.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(io_error(parent))?;
        }
        fs::write(&path, text).map_err(io_error(&path))?;
    }
    Ok(files.into_iter().map(|(relative, _)| relative).collect())
}

fn ensure_empty_destination(dest: &Path) -> Result<(), ScaffoldError> {
    match fs::metadata(dest) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error(dest)(e)),
        Ok(meta) if !meta.is_dir() => Err(ScaffoldError::NotADirectory {
            path: dest.to_path_buf(),
        }),
        Ok(_) => {
            let mut entries = fs::read_dir(dest).map_err(io_error(dest))?;
            if entries.next().is_some() {
                Err(ScaffoldError::NotEmpty {
                    path: dest.to_path_buf(),
                })
            } else {
                Ok(())
            }
        }
    }
}

/// Reads every file of a starter chart, replacing the placeholder, and makes sure its
/// `Chart.yaml` ends up with the new chart's name even if the starter hard-codes its own.
fn starter_files(dir: &Path, name: &str) -> Result<Vec<(String, String)>, ScaffoldError> {
    let starter_error = |reason: String| ScaffoldError::Starter {
        path: dir.to_path_buf(),
        reason,
    };
    let mut files = Vec::new();
    let mut total_bytes = 0u64;
    collect_starter_files(dir, "", &mut files, &mut total_bytes, &starter_error)?;
    files.sort();
    let chart_yaml = files
        .iter_mut()
        .find(|(path, _)| path == "Chart.yaml")
        .ok_or_else(|| {
            starter_error("it has no Chart.yaml; a starter must be a chart directory".into())
        })?;
    let text = chart_yaml.1.replace(CHART_NAME_PLACEHOLDER, name);
    let metadata: ChartMetadata = serde_saphyr::from_str(&text)
        .map_err(|e| starter_error(format!("Chart.yaml does not parse: {e}")))?;
    chart_yaml.1 = if metadata.name == name {
        text
    } else {
        rename_in_chart_yaml(&text, name)
    };
    for (_, text) in files.iter_mut() {
        if text.contains(CHART_NAME_PLACEHOLDER) {
            *text = text.replace(CHART_NAME_PLACEHOLDER, name);
        }
    }
    Ok(files)
}

/// Replaces the top-level `name:` line, keeping the rest of the author's file (comments, order).
fn rename_in_chart_yaml(text: &str, name: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut replaced = false;
    for line in text.split_inclusive('\n') {
        if !replaced && line.starts_with("name:") {
            out.push_str(&format!("name: {name}\n"));
            replaced = true;
        } else {
            out.push_str(line);
        }
    }
    out
}

fn collect_starter_files(
    dir: &Path,
    prefix: &str,
    files: &mut Vec<(String, String)>,
    total_bytes: &mut u64,
    starter_error: &dyn Fn(String) -> ScaffoldError,
) -> Result<(), ScaffoldError> {
    for entry in fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let path = entry.path();
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else {
            return Err(starter_error(format!(
                "{} has a name that is not UTF-8",
                path.display()
            )));
        };
        let relative = format!("{prefix}{file_name}");
        let kind = entry.file_type().map_err(io_error(&path))?;
        if kind.is_dir() {
            collect_starter_files(
                &path,
                &format!("{relative}/"),
                files,
                total_bytes,
                starter_error,
            )?;
        } else if kind.is_file() {
            *total_bytes += entry.metadata().map_err(io_error(&path))?.len();
            if files.len() >= MAX_STARTER_FILES || *total_bytes > MAX_STARTER_BYTES {
                return Err(starter_error(format!(
                    "more than {MAX_STARTER_FILES} files or {MAX_STARTER_BYTES} bytes; is this a chart directory?"
                )));
            }
            let bytes = fs::read(&path).map_err(io_error(&path))?;
            let text = String::from_utf8(bytes).map_err(|_| {
                starter_error(format!(
                    "{relative} is not UTF-8 text; starters hold text files only"
                ))
            })?;
            files.push((relative, text));
        }
        // Symlinks and other special files are skipped: a starter is copied, not linked.
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaffold_has_helm_parts_and_no_placeholder_left() {
        let files = scaffold_files("web");
        let paths: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
        for expected in [
            "Chart.yaml",
            "values.yaml",
            "values.schema.json",
            ".helmignore",
            "templates/_helpers.tpl",
            "templates/deployment.yaml",
            "templates/service.yaml",
            "templates/serviceaccount.yaml",
            "templates/NOTES.txt",
        ] {
            assert!(paths.contains(&expected), "missing {expected}");
        }
        assert!(
            files
                .iter()
                .all(|(_, text)| !text.contains(CHART_NAME_PLACEHOLDER))
        );
        let metadata: ChartMetadata = serde_saphyr::from_str(&files[0].1).unwrap();
        assert_eq!(metadata.name, "web");
        assert_eq!(metadata.api_version, "v2");
        assert_eq!(
            metadata
                .annotations
                .get(crate::model::ENGINE_ANNOTATION)
                .map(String::as_str),
            Some(crate::model::ENGINE_JINJA)
        );
    }

    #[test]
    fn scaffold_values_have_helm_keys_and_schema_parses() {
        let files = scaffold_files("web");
        let values_text = &files.iter().find(|(p, _)| p == "values.yaml").unwrap().1;
        let values: serde_json::Map<String, serde_json::Value> =
            serde_saphyr::from_str(values_text).unwrap();
        for key in [
            "replicaCount",
            "image",
            "imagePullSecrets",
            "nameOverride",
            "fullnameOverride",
            "serviceAccount",
            "podAnnotations",
            "podLabels",
            "podSecurityContext",
            "securityContext",
            "service",
            "ingress",
            "httpRoute",
            "resources",
            "livenessProbe",
            "readinessProbe",
            "autoscaling",
            "volumes",
            "volumeMounts",
            "nodeSelector",
            "tolerations",
            "affinity",
        ] {
            assert!(values.contains_key(key), "values.yaml lacks {key}");
        }
        let schema_text = &files
            .iter()
            .find(|(p, _)| p == "values.schema.json")
            .unwrap()
            .1;
        let schema: serde_json::Value = serde_json::from_str(schema_text).unwrap();
        assert_eq!(schema["type"], "object");
    }

    #[test]
    fn refuses_bad_name_and_non_empty_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let err = create(&tmp.path().join("My_App"), None).unwrap_err();
        assert!(matches!(err, ScaffoldError::InvalidName { .. }), "{err}");

        let busy = tmp.path().join("busy");
        fs::create_dir(&busy).unwrap();
        fs::write(busy.join("keep.txt"), "mine").unwrap();
        let err = create(&busy, None).unwrap_err();
        assert!(matches!(err, ScaffoldError::NotEmpty { .. }), "{err}");
        assert_eq!(fs::read_to_string(busy.join("keep.txt")).unwrap(), "mine");
    }

    #[test]
    fn creates_into_empty_directory_and_from_starter() {
        let tmp = tempfile::tempdir().unwrap();
        let empty = tmp.path().join("first");
        fs::create_dir(&empty).unwrap();
        let written = create(&empty, None).unwrap();
        assert!(written.contains(&"templates/deployment.yaml".to_string()));

        let starter = tmp.path().join("starter");
        fs::create_dir_all(starter.join("templates")).unwrap();
        fs::write(
            starter.join("Chart.yaml"),
            "apiVersion: v2\nname: starter\nversion: 1.0.0\n",
        )
        .unwrap();
        fs::write(starter.join("templates/cm.yaml"), "name: <CHARTNAME>-cm\n").unwrap();
        let second = tmp.path().join("second");
        create(&second, Some(&starter)).unwrap();
        assert!(
            fs::read_to_string(second.join("Chart.yaml"))
                .unwrap()
                .contains("name: second\n")
        );
        assert_eq!(
            fs::read_to_string(second.join("templates/cm.yaml")).unwrap(),
            "name: second-cm\n"
        );
    }
}
