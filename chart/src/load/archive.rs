//! Reading a `.tgz` chart archive into chart-relative files, safely.
//!
//! Helm's rules: every entry sits under the archive's top-level directory (`<chart>/...`), which is
//! stripped; Windows `\` separators are turned into `/`; absolute paths, `..`, and drive letters
//! are refused; a `Chart.yaml` at the archive root is refused. Capstan adds: all entries share one
//! top-level directory, links and special files are refused (Helm would load them as empty files),
//! a path may appear only once, and sizes and entry counts are enforced while streaming.

use super::{Budget, LoadError, assemble};
use crate::model::{Chart, ChartFile};
use flate2::read::MultiGzDecoder;
use tar::EntryType;

/// Loads a chart archive, possibly one found in a parent chart's `charts/` (`origin` is then its
/// path in the parent, for error messages; `depth` is its nesting level).
pub(super) fn load_nested_archive(
    bytes: &[u8],
    origin: &str,
    budget: &mut Budget<'_>,
    depth: usize,
) -> Result<Chart, LoadError> {
    if bytes.len() as u64 > budget.limits.max_archive_bytes {
        return Err(LoadError::ArchiveTooLarge {
            size: bytes.len() as u64,
            limit: budget.limits.max_archive_bytes,
        });
    }
    let files = read_archive_files(bytes, budget)?;
    assemble::assemble(files, origin, budget, depth)
}

/// Streams the archive and returns its regular files with the top-level directory stripped.
fn read_archive_files(bytes: &[u8], budget: &mut Budget<'_>) -> Result<Vec<ChartFile>, LoadError> {
    let mut archive = tar::Archive::new(MultiGzDecoder::new(bytes));
    let mut last_entry = String::from("(start of archive)");
    let corrupt = |after: &str, cause| LoadError::CorruptArchive {
        after: after.to_string(),
        cause,
    };
    let entries = archive
        .entries()
        .map_err(|cause| corrupt(&last_entry, cause))?;
    let mut top_level: Option<String> = None;
    let mut files: Vec<ChartFile> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for entry in entries {
        let mut entry = entry.map_err(|cause| corrupt(&last_entry, cause))?;
        let raw_name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        budget.count_entry(&raw_name)?;
        last_entry.clone_from(&raw_name);
        let entry_type = entry.header().entry_type();
        if matches!(
            entry_type,
            EntryType::XGlobalHeader
                | EntryType::XHeader
                | EntryType::GNULongName
                | EntryType::GNULongLink
        ) {
            continue;
        }
        let is_dir = entry_type.is_dir();
        if !is_dir && !matches!(entry_type, EntryType::Regular | EntryType::Continuous) {
            return Err(LoadError::ForbiddenEntryType {
                entry: raw_name,
                kind: entry_kind(entry_type),
            });
        }
        if std::str::from_utf8(&entry.path_bytes()).is_err() {
            return Err(LoadError::UnsafePath {
                entry: raw_name,
                reason: "is not valid UTF-8",
            });
        }
        let (top, relative) = split_entry_path(&raw_name)?;
        match &top_level {
            None => top_level = Some(top.to_string()),
            Some(expected) if expected != top => {
                return Err(LoadError::SeveralTopLevelDirectories {
                    entry: raw_name,
                    expected: expected.clone(),
                });
            }
            Some(_) => {}
        }
        if is_dir {
            continue;
        }
        let Some(relative) = relative else {
            return Err(LoadError::UnsafePath {
                entry: raw_name,
                reason: "is a file at the archive root",
            });
        };
        if !seen.insert(relative.clone()) {
            return Err(LoadError::Duplicate { file: raw_name });
        }
        let declared = entry.size();
        let data = budget.read_file(&raw_name, declared, &mut entry, |cause| {
            corrupt(&raw_name, cause)
        })?;
        files.push(ChartFile {
            path: relative,
            data,
        });
    }
    if files.is_empty() {
        return Err(LoadError::EmptyArchive);
    }
    Ok(files)
}

/// Splits an entry name into its top-level directory and its chart-relative path (`None` for the
/// top-level directory itself), refusing every unsafe form.
fn split_entry_path(raw: &str) -> Result<(&str, Option<String>), LoadError> {
    let unsafe_path = |reason| LoadError::UnsafePath {
        entry: raw.to_string(),
        reason,
    };
    if raw.starts_with('/') || raw.starts_with('\\') || has_drive_letter(raw) {
        return Err(unsafe_path("is an absolute path"));
    }
    let (top, rest) = match raw.find(['/', '\\']) {
        Some(index) => (&raw[..index], &raw[index + 1..]),
        None => (raw, ""),
    };
    if top.is_empty() || top == "." || top == ".." {
        return Err(unsafe_path("has no named top-level directory"));
    }
    if top == "Chart.yaml" {
        return Err(unsafe_path("is a Chart.yaml outside the chart directory"));
    }
    if rest.starts_with(['/', '\\']) || has_drive_letter(rest) {
        return Err(unsafe_path("is an absolute path"));
    }
    let mut parts = Vec::new();
    for part in rest.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => return Err(unsafe_path("refers to a parent directory (..)")),
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return Ok((top, None));
    }
    let relative = parts.join("/");
    if has_drive_letter(&relative) {
        return Err(unsafe_path("names a drive"));
    }
    Ok((top, Some(relative)))
}

/// `c:/...` or `c:\...`: an absolute Windows path even once separators are normalised.
fn has_drive_letter(path: &str) -> bool {
    let bytes = path.as_bytes();
    bytes.len() >= 3
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && (bytes[2] == b'/' || bytes[2] == b'\\')
}

fn entry_kind(entry_type: EntryType) -> String {
    match entry_type {
        EntryType::Symlink => "symbolic link".into(),
        EntryType::Link => "hard link".into(),
        EntryType::Char => "character device".into(),
        EntryType::Block => "block device".into(),
        EntryType::Fifo => "named pipe".into(),
        EntryType::GNUSparse => "sparse file".into(),
        other => format!("entry of type {:?}", other.as_byte() as char),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_paths_are_split_and_normalised() {
        assert_eq!(split_entry_path("c/").unwrap(), ("c", None));
        assert_eq!(
            split_entry_path("c/templates/a.yaml").unwrap(),
            ("c", Some("templates/a.yaml".to_string()))
        );
        assert_eq!(
            split_entry_path("c\\templates\\a.yaml").unwrap(),
            ("c", Some("templates/a.yaml".to_string()))
        );
        assert_eq!(
            split_entry_path("c/./docs//x").unwrap(),
            ("c", Some("docs/x".to_string()))
        );
    }

    #[test]
    fn unsafe_entry_paths_are_refused() {
        for raw in [
            "/etc/passwd",
            "\\windows\\x",
            "c:/x",
            "c/../../etc/passwd",
            "c/a/../b",
            "c//etc/passwd",
            "c/d:/x",
            "c\\d:\\x",
            "../x",
            "./x",
            "Chart.yaml",
        ] {
            let err = split_entry_path(raw).unwrap_err();
            assert!(matches!(err, LoadError::UnsafePath { .. }), "{raw}: {err}");
            assert!(err.to_string().contains(&format!("{raw:?}")), "{err}");
        }
    }
}
