//! Reading a chart directory into chart-relative files.
//!
//! As Helm does, the root `.helmignore` (plus Helm's default rule) applies to every path, ignored
//! directories are skipped whole, entries are visited in name order and symlinks are followed.
//! Unlike Helm, a symlink whose target lies outside the chart root is refused (a chart must not be
//! able to read `/etc` or a user's home when loaded), and a symlink loop is an error instead of an
//! endless walk.

use super::{Budget, HELMIGNORE_FILE, IgnoreRules, LoadError};
use crate::model::ChartFile;
use std::fs;
use std::path::{Path, PathBuf};

/// Reads every file of the chart rooted at `root` that `.helmignore` keeps.
pub(super) fn read_chart_dir(
    root: &Path,
    budget: &mut Budget<'_>,
) -> Result<Vec<ChartFile>, LoadError> {
    let io_error = |path: &Path| {
        let path = path.to_path_buf();
        move |cause| LoadError::Io { path, cause }
    };
    let canonical_root = fs::canonicalize(root).map_err(io_error(root))?;
    let rules = read_ignore_rules(&canonical_root, budget)?;
    let mut walk = Walk {
        root: canonical_root.clone(),
        rules,
        budget,
        files: Vec::new(),
        open_dirs: vec![canonical_root.clone()],
    };
    walk.visit_dir(&canonical_root, "")?;
    Ok(walk.files)
}

fn read_ignore_rules(root: &Path, budget: &mut Budget<'_>) -> Result<IgnoreRules, LoadError> {
    let path = root.join(HELMIGNORE_FILE);
    let file = match fs::File::open(&path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(IgnoreRules::defaults());
        }
        Err(cause) => return Err(LoadError::Io { path, cause }),
    };
    let declared = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bytes = budget.read_file(HELMIGNORE_FILE, declared, file, |cause| LoadError::Io {
        path: path.clone(),
        cause,
    })?;
    // The file is counted again when the walk loads it as a chart file; give the bytes back.
    budget.remaining_bytes += bytes.len() as u64;
    IgnoreRules::parse(&String::from_utf8_lossy(&bytes)).map_err(|cause| LoadError::Ignore {
        file: HELMIGNORE_FILE.to_string(),
        cause,
    })
}

struct Walk<'b, 'l> {
    root: PathBuf,
    rules: IgnoreRules,
    budget: &'b mut Budget<'l>,
    files: Vec<ChartFile>,
    /// Canonical paths of the directories being visited, to detect symlink loops.
    open_dirs: Vec<PathBuf>,
}

impl Walk<'_, '_> {
    fn visit_dir(&mut self, dir: &Path, relative_dir: &str) -> Result<(), LoadError> {
        let io_error = |path: &Path, cause| LoadError::Io {
            path: path.to_path_buf(),
            cause,
        };
        let mut names = Vec::new();
        for entry in fs::read_dir(dir).map_err(|cause| io_error(dir, cause))? {
            let entry = entry.map_err(|cause| io_error(dir, cause))?;
            let name = entry.file_name();
            let display = name.to_string_lossy().into_owned();
            self.budget
                .count_entry(&join_relative(relative_dir, &display))?;
            names.push(name);
        }
        names.sort();
        for name in names {
            let path = dir.join(&name);
            let Some(name) = name.to_str() else {
                return Err(LoadError::Io {
                    path,
                    cause: std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        "the file name is not valid UTF-8; rename it",
                    ),
                });
            };
            let relative = join_relative(relative_dir, name);
            self.visit_entry(&path, &relative)?;
        }
        Ok(())
    }

    fn visit_entry(&mut self, path: &Path, relative: &str) -> Result<(), LoadError> {
        let io_error = |cause| LoadError::Io {
            path: path.to_path_buf(),
            cause,
        };
        let link_metadata = fs::symlink_metadata(path).map_err(io_error)?;
        let real_path = if link_metadata.file_type().is_symlink() {
            let target = fs::canonicalize(path).map_err(io_error)?;
            if !target.starts_with(&self.root) {
                return Err(LoadError::SymlinkOutsideChart {
                    path: path.to_path_buf(),
                });
            }
            target
        } else {
            path.to_path_buf()
        };
        let metadata = fs::metadata(&real_path).map_err(io_error)?;
        if metadata.is_dir() {
            if self.rules.is_ignored(relative, true) {
                return Ok(());
            }
            if self.open_dirs.contains(&real_path) {
                return Err(LoadError::SymlinkLoop {
                    path: path.to_path_buf(),
                });
            }
            self.open_dirs.push(real_path.clone());
            let result = self.visit_dir(&real_path, relative);
            self.open_dirs.pop();
            return result;
        }
        if self.rules.is_ignored(relative, false) {
            return Ok(());
        }
        if !metadata.is_file() {
            return Err(LoadError::IrregularFile {
                path: path.to_path_buf(),
            });
        }
        let file = fs::File::open(&real_path).map_err(io_error)?;
        let data = self
            .budget
            .read_file(relative, metadata.len(), file, io_error)?;
        self.files.push(ChartFile {
            path: relative.to_string(),
            data,
        });
        Ok(())
    }
}

fn join_relative(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}
