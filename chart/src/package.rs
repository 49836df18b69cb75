//! Packaging a chart directory into `<name>-<version>.tgz`, readable by Capstan and by Helm.
//!
//! The layout is Helm's (`pkg/chart/v2/util/save.go`): every entry sits under `<name>/`, there are
//! no directory entries, `Chart.yaml` comes first, then `Chart.lock`, `values.yaml` and
//! `values.schema.json`, then templates, then the other files, and subcharts are written expanded
//! under `<name>/charts/<subchart>/` in the same order. Unlike Helm, the archive is reproducible:
//! the same chart gives the same bytes whatever the file times, umask, directory walk order or
//! machine, because modes, owners and times are fixed and the gzip header carries no time or OS.
//! That makes digests in indexes and provenance files meaningful across rebuilds.

use crate::lint::{LintOptions, Severity, lint_path};
use crate::load::{LoadError, load_dir};
use crate::model::{Chart, ChartFile};
use crate::version::parse_version;
use flate2::{Compression, GzBuilder};
use std::io::Write;
use std::path::Path;

/// The environment variable reproducible-build tools use to pin timestamps.
pub const SOURCE_DATE_EPOCH: &str = "SOURCE_DATE_EPOCH";

/// Mode of every archive entry, as Helm writes it.
const ENTRY_MODE: u32 = 0o644;

/// Files Helm writes right after `Chart.yaml`, in this order, before templates and other files.
const LEADING_FILES: [&str; 3] = ["Chart.lock", "values.yaml", "values.schema.json"];

/// What to change while packaging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageOptions {
    /// Replaces `version` in Chart.yaml (and so the file name).
    pub version: Option<String>,
    /// Replaces `appVersion` in Chart.yaml.
    pub app_version: Option<String>,
    /// Modification time of every entry, in seconds since 1970.
    pub mtime: u64,
}

impl Default for PackageOptions {
    /// No changes, and the time from `SOURCE_DATE_EPOCH` when set, else 0.
    fn default() -> Self {
        PackageOptions {
            version: None,
            app_version: None,
            mtime: reproducible_mtime(),
        }
    }
}

/// `SOURCE_DATE_EPOCH` when it holds a number of seconds, else 0 (1970-01-01).
pub fn reproducible_mtime() -> u64 {
    std::env::var(SOURCE_DATE_EPOCH)
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(0)
}

/// Why a chart could not be packaged.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error(
        "{chart} has lint errors; fix them (see `capstan lint {chart}`) before packaging:\n{findings}"
    )]
    Lint { chart: String, findings: String },
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("--version {version:?} is not a valid SemVer version: {reason}")]
    InvalidVersion { version: String, reason: String },
    #[error("--app-version {0:?} contains a line break; give a single-line application version")]
    InvalidAppVersion(String),
    #[error("cannot rewrite {file}: {reason}")]
    RewriteChartYaml { file: String, reason: String },
    #[error("cannot write archive entry {entry}: {cause}")]
    Archive {
        entry: String,
        cause: std::io::Error,
    },
}

/// Packages the chart directory `dir`: lints it, loads it (applying `.helmignore`), applies the
/// version overrides and returns the archive file name and bytes. Nothing is written to disk.
pub fn package_dir(
    dir: &Path,
    options: &PackageOptions,
) -> Result<(String, Vec<u8>), PackageError> {
    let report = lint_path(dir, &LintOptions::default());
    let errors: Vec<String> = report
        .findings
        .iter()
        .filter(|finding| finding.severity >= Severity::Error)
        .map(|finding| format!("  {finding}"))
        .collect();
    if !errors.is_empty() {
        return Err(PackageError::Lint {
            chart: dir.display().to_string(),
            findings: errors.join("\n"),
        });
    }
    let mut chart = load_dir(dir)?;
    apply_overrides(&mut chart, options)?;
    let file_name = format!("{}-{}.tgz", chart.metadata.name, chart.metadata.version);
    Ok((file_name, archive_chart(&chart, options.mtime)?))
}

/// Sets `version` / `appVersion` in both the parsed metadata and the raw Chart.yaml that goes into
/// the archive. Chart.yaml is rewritten only when something changes, so comments survive a plain
/// package.
fn apply_overrides(chart: &mut Chart, options: &PackageOptions) -> Result<(), PackageError> {
    if options.version.is_none() && options.app_version.is_none() {
        return Ok(());
    }
    let mut document: serde_json::Map<String, serde_json::Value> =
        serde_saphyr::from_slice(&chart.raw_metadata).map_err(|e| {
            PackageError::RewriteChartYaml {
                file: "Chart.yaml".into(),
                reason: e.to_string(),
            }
        })?;
    if let Some(version) = &options.version {
        parse_version(version).map_err(|e| PackageError::InvalidVersion {
            version: version.clone(),
            reason: e.to_string(),
        })?;
        document.insert("version".into(), version.clone().into());
        chart.metadata.version = version.clone();
    }
    if let Some(app_version) = &options.app_version {
        if app_version.contains(['\n', '\r']) {
            return Err(PackageError::InvalidAppVersion(app_version.clone()));
        }
        document.insert("appVersion".into(), app_version.clone().into());
        chart.metadata.app_version = Some(app_version.clone());
    }
    let text = serde_saphyr::to_string(&document).map_err(|e| PackageError::RewriteChartYaml {
        file: "Chart.yaml".into(),
        reason: e.to_string(),
    })?;
    chart.raw_metadata = text.into_bytes();
    Ok(())
}

/// Writes a loaded chart as a reproducible `.tgz` in Helm's layout.
pub fn archive_chart(chart: &Chart, mtime: u64) -> Result<Vec<u8>, PackageError> {
    let encoder = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::default());
    let mut tar = tar::Builder::new(encoder);
    tar.mode(tar::HeaderMode::Deterministic);
    write_chart(&mut tar, chart, "", mtime)?;
    let archive_error = |cause| PackageError::Archive {
        entry: "(end of archive)".into(),
        cause,
    };
    let encoder = tar.into_inner().map_err(archive_error)?;
    encoder.finish().map_err(archive_error)
}

fn write_chart<W: Write>(
    tar: &mut tar::Builder<W>,
    chart: &Chart,
    prefix: &str,
    mtime: u64,
) -> Result<(), PackageError> {
    let base = format!("{prefix}{}", chart.metadata.name);
    write_entry(
        tar,
        &format!("{base}/Chart.yaml"),
        &chart.raw_metadata,
        mtime,
    )?;
    for leading in LEADING_FILES {
        if let Some(file) = chart.file(leading) {
            write_entry(tar, &format!("{base}/{}", file.path), &file.data, mtime)?;
        }
    }
    for file in sorted(&chart.templates) {
        write_entry(tar, &format!("{base}/{}", file.path), &file.data, mtime)?;
    }
    let others = chart
        .files
        .iter()
        .chain(&chart.crds)
        .filter(|file| !LEADING_FILES.contains(&file.path.as_str()))
        .collect::<Vec<_>>();
    for file in sorted_refs(others) {
        write_entry(tar, &format!("{base}/{}", file.path), &file.data, mtime)?;
    }
    let mut subcharts: Vec<&Chart> = chart.dependencies.iter().collect();
    subcharts.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    for subchart in subcharts {
        write_chart(tar, subchart, &format!("{base}/charts/"), mtime)?;
    }
    Ok(())
}

fn sorted(files: &[ChartFile]) -> Vec<&ChartFile> {
    sorted_refs(files.iter().collect())
}

fn sorted_refs(mut files: Vec<&ChartFile>) -> Vec<&ChartFile> {
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

/// One regular-file entry with a USTAR header, fixed mode and owner, and the given time.
fn write_entry<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    data: &[u8],
    mtime: u64,
) -> Result<(), PackageError> {
    let archive_error = |cause| PackageError::Archive {
        entry: name.to_string(),
        cause,
    };
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(ENTRY_MODE);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(mtime);
    header.set_size(data.len() as u64);
    tar.append_data(&mut header, name, data)
        .map_err(archive_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::load_archive;
    use flate2::read::GzDecoder;
    use std::fs;

    fn write(root: &Path, path: &str, text: &str) {
        let full = root.join(path);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(full, text).unwrap();
    }

    /// A small valid chart with a subchart, an ignored file and files in several directories.
    fn sample_chart(root: &Path) {
        write(
            root,
            "Chart.yaml",
            "# comment kept\napiVersion: v2\nname: demo\nversion: 0.1.0\ndescription: A demo chart\nappVersion: \"1.0\"\n",
        );
        write(root, "values.yaml", "replicas: 1\n");
        write(root, ".helmignore", "*.bak\n");
        write(root, "notes.bak", "ignored\n");
        write(root, "README.md", "# demo\n");
        write(
            root,
            "templates/configmap.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}\ndata:\n  replicas: \"{{ values.replicas }}\"\n",
        );
        write(
            root,
            "charts/sub/Chart.yaml",
            "apiVersion: v2\nname: sub\nversion: 0.2.0\ndescription: A subchart\n",
        );
        write(root, "charts/sub/values.yaml", "a: 1\n");
    }

    fn entries(archive: &[u8]) -> Vec<(String, u32, u64)> {
        let mut tar = tar::Archive::new(GzDecoder::new(archive));
        tar.entries()
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                let header = entry.header();
                (
                    entry.path().unwrap().display().to_string(),
                    header.mode().unwrap(),
                    header.mtime().unwrap(),
                )
            })
            .collect()
    }

    fn options(mtime: u64) -> PackageOptions {
        PackageOptions {
            version: None,
            app_version: None,
            mtime,
        }
    }

    #[test]
    fn layout_follows_helm() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("demo");
        sample_chart(&dir);
        let (name, archive) = package_dir(&dir, &options(0)).unwrap();
        assert_eq!(name, "demo-0.1.0.tgz");
        let listed = entries(&archive);
        let paths: Vec<&str> = listed.iter().map(|(p, _, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "demo/Chart.yaml",
                "demo/values.yaml",
                "demo/templates/configmap.yaml",
                "demo/.helmignore",
                "demo/README.md",
                "demo/charts/sub/Chart.yaml",
                "demo/charts/sub/values.yaml",
            ]
        );
        assert!(
            listed
                .iter()
                .all(|(_, mode, mtime)| *mode == 0o644 && *mtime == 0)
        );
        let header = &archive[..10];
        assert_eq!(&header[4..8], &[0, 0, 0, 0], "gzip MTIME must be zero");
        let loaded = load_archive(&archive).unwrap();
        assert_eq!(loaded.metadata.name, "demo");
        assert_eq!(loaded.dependencies.len(), 1);
    }

    #[test]
    fn output_is_reproducible_across_file_times_and_creation_order() {
        let (first_tmp, second_tmp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (first, second) = (
            first_tmp.path().join("demo"),
            second_tmp.path().join("demo"),
        );
        sample_chart(&first);
        // Same files created in another order, with other times and modes.
        write(
            &second,
            "templates/configmap.yaml",
            &fs::read_to_string(first.join("templates/configmap.yaml")).unwrap(),
        );
        write(&second, "charts/sub/values.yaml", "a: 1\n");
        write(&second, "README.md", "# demo\n");
        std::thread::sleep(std::time::Duration::from_millis(1100));
        for path in [
            "Chart.yaml",
            "values.yaml",
            ".helmignore",
            "notes.bak",
            "charts/sub/Chart.yaml",
        ] {
            write(
                &second,
                path,
                &fs::read_to_string(first.join(path)).unwrap(),
            );
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(second.join("README.md"), fs::Permissions::from_mode(0o600))
                .unwrap();
        }
        let (_, a) = package_dir(&first, &options(1_700_000_000)).unwrap();
        let (_, b) = package_dir(&second, &options(1_700_000_000)).unwrap();
        assert!(a == b, "archives differ");
        assert!(
            entries(&a)
                .iter()
                .all(|(_, _, mtime)| *mtime == 1_700_000_000)
        );
    }

    #[test]
    fn version_overrides_rewrite_chart_yaml() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("demo");
        sample_chart(&dir);
        let overrides = PackageOptions {
            version: Some("1.2.3-rc.1".into()),
            app_version: Some("9.9".into()),
            mtime: 0,
        };
        let (name, archive) = package_dir(&dir, &overrides).unwrap();
        assert_eq!(name, "demo-1.2.3-rc.1.tgz");
        let loaded = load_archive(&archive).unwrap();
        assert_eq!(loaded.metadata.version, "1.2.3-rc.1");
        assert_eq!(loaded.metadata.app_version.as_deref(), Some("9.9"));
        assert_eq!(loaded.metadata.description.as_deref(), Some("A demo chart"));

        let bad = PackageOptions {
            version: Some("one.two".into()),
            ..options(0)
        };
        let err = package_dir(&dir, &bad).unwrap_err();
        assert!(err.to_string().contains("--version \"one.two\""), "{err}");
    }

    #[test]
    fn charts_with_lint_errors_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("broken");
        write(&dir, "Chart.yaml", "apiVersion: v2\nname: broken\n");
        let err = package_dir(&dir, &options(0)).unwrap_err();
        assert!(matches!(err, PackageError::Lint { .. }), "{err}");
        assert!(err.to_string().contains("lint errors"), "{err}");
    }

    #[test]
    fn helm_reads_the_package() {
        let helm = capstan_testdata::tools::helm();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("plain");
        // Helm cannot render Jinja, so use a chart without templates for helm template.
        write(
            &dir,
            "Chart.yaml",
            "apiVersion: v2\nname: plain\nversion: 0.3.0\ndescription: No templates\n",
        );
        write(&dir, "values.yaml", "a: 1\n");
        write(&dir, "crds/crd.yaml", "# placeholder\n");
        let (name, archive) = package_dir(&dir, &options(0)).unwrap();
        let out = tempfile::tempdir().unwrap();
        let path = out.path().join(&name);
        fs::write(&path, &archive).unwrap();
        for args in [
            vec!["lint"],
            vec!["template", "release"],
            vec!["show", "chart"],
        ] {
            let output = std::process::Command::new(&helm)
                .args(&args)
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "helm {args:?} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}
