//! Loading a chart from a directory, a `.tgz` file or `.tgz` bytes received over the network.
//!
//! Charts come from untrusted places (repositories, OCI registries, pull requests), so every load
//! runs under [`LoadLimits`]: sizes and entry counts are checked while the archive is streamed,
//! before any entry is buffered, and one budget is shared by a chart and all of its subcharts so
//! that nested archives cannot multiply it. The first problem found is returned with the path of the
//! file (inside the archive when there is one) that caused it.

mod archive;
mod assemble;
mod directory;
mod helmignore;

pub use helmignore::{IgnoreError, IgnoreRules};

use crate::model::Chart;
use crate::values::ValuesError;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The name of the ignore file read from the root of a chart directory.
pub const HELMIGNORE_FILE: &str = ".helmignore";

/// Bounds on what one load may consume. The defaults fit every chart seen in public repositories
/// with a wide margin and keep the worst case at about 100 MiB of memory for a whole chart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadLimits {
    /// Largest compressed archive accepted (the `.tgz` itself). Default 20 MiB.
    pub max_archive_bytes: u64,
    /// Largest single file once decompressed. Default 5 MiB, Helm's per-file limit.
    pub max_file_bytes: u64,
    /// Largest sum of all decompressed files of a chart and its subcharts. Default 100 MiB, Helm's
    /// chart limit.
    pub max_total_bytes: u64,
    /// Most archive entries (files, directories and headers) or directory entries, over the chart and
    /// all subcharts. Default 10 000.
    pub max_entries: usize,
    /// Deepest nesting of subcharts (`charts/a/charts/b/...`). Default 10.
    pub max_depth: usize,
}

impl Default for LoadLimits {
    fn default() -> Self {
        const MIB: u64 = 1024 * 1024;
        Self {
            max_archive_bytes: 20 * MIB,
            max_file_bytes: 5 * MIB,
            max_total_bytes: 100 * MIB,
            max_entries: 10_000,
            max_depth: 10,
        }
    }
}

/// Why a chart could not be loaded. Messages name the file and say how to fix the chart or which
/// limit to raise.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {}: {cause}", path.display())]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{}: {cause}", path.display())]
    InFile {
        path: PathBuf,
        cause: Box<LoadError>,
    },
    #[error("{} is neither a chart directory nor a chart archive file", path.display())]
    NotAChart { path: PathBuf },
    #[error(
        "chart archive is {size} bytes, more than the limit of {limit} (LoadLimits::max_archive_bytes)"
    )]
    ArchiveTooLarge { size: u64, limit: u64 },
    #[error(
        "chart archive is not a valid gzip-compressed tar file (after entry {after:?}): {cause}"
    )]
    CorruptArchive {
        after: String,
        cause: std::io::Error,
    },
    #[error("chart archive holds no files; package the chart again")]
    EmptyArchive,
    #[error(
        "archive entry {entry:?} {reason}; a chart archive holds only relative paths under one top-level directory"
    )]
    UnsafePath { entry: String, reason: &'static str },
    #[error(
        "archive entry {entry:?} is not under the archive's top-level directory {expected:?}; a chart archive holds exactly one chart directory"
    )]
    SeveralTopLevelDirectories { entry: String, expected: String },
    #[error(
        "archive entry {entry:?} is a {kind}; chart archives may hold only regular files and directories"
    )]
    ForbiddenEntryType { entry: String, kind: String },
    #[error("{file} appears twice in the chart; remove one copy")]
    Duplicate { file: String },
    #[error(
        "{file} is larger than the limit of {limit} bytes per file (LoadLimits::max_file_bytes)"
    )]
    FileTooLarge { file: String, limit: u64 },
    #[error(
        "the chart's files add up to more than {limit} bytes (reached at {file}; LoadLimits::max_total_bytes)"
    )]
    ChartTooLarge { file: String, limit: u64 },
    #[error("the chart has more than {limit} entries (reached at {file}; LoadLimits::max_entries)")]
    TooManyEntries { file: String, limit: usize },
    #[error("subcharts are nested more than {limit} levels deep at {file} (LoadLimits::max_depth)")]
    TooDeep { file: String, limit: usize },
    #[error("{} points outside the chart directory; copy the target into the chart instead", path.display())]
    SymlinkOutsideChart { path: PathBuf },
    #[error("{} leads back to a directory it is in (a symlink loop)", path.display())]
    SymlinkLoop { path: PathBuf },
    #[error("{} is not a regular file (device, socket or pipe); remove it from the chart", path.display())]
    IrregularFile { path: PathBuf },
    #[error("{file}: {cause}")]
    Ignore { file: String, cause: IgnoreError },
    #[error("{file} is missing; every chart needs one at its root")]
    MissingChartYaml { file: String },
    #[error("{file} is not valid: {message}")]
    InvalidChartYaml { file: String, message: String },
    #[error(transparent)]
    Values(#[from] ValuesError),
    #[error("{file} is not valid JSON: {cause}")]
    InvalidSchemaJson {
        file: String,
        cause: serde_json::Error,
    },
    #[error(
        "{file} is neither a chart directory nor a .tgz archive; move it out of charts/ or prefix its name with '_' to keep it there"
    )]
    NotASubchart { file: String },
    #[error("in subchart {file}: {cause}")]
    Subchart { file: String, cause: Box<LoadError> },
}

/// Parses and checks `Chart.yaml` as the loader does: a missing apiVersion means v1, only v1 and
/// v2 are accepted, and name and version are required. `file` names it in errors.
pub fn parse_chart_yaml(
    bytes: &[u8],
    file: &str,
) -> Result<crate::model::ChartMetadata, LoadError> {
    assemble::parse_metadata(bytes, file)
}

/// Loads a chart directory with the default limits. See [`load_dir_with`].
pub fn load_dir(path: impl AsRef<Path>) -> Result<Chart, LoadError> {
    load_dir_with(path, &LoadLimits::default())
}

/// Loads a chart directory: applies its `.helmignore`, follows symlinks that stay inside the
/// directory and refuses those that leave it, and loads `charts/` subcharts (directories or
/// `.tgz`).
pub fn load_dir_with(path: impl AsRef<Path>, limits: &LoadLimits) -> Result<Chart, LoadError> {
    let mut budget = Budget::new(limits);
    let files = directory::read_chart_dir(path.as_ref(), &mut budget)?;
    assemble::assemble(files, "", &mut budget, 0)
}

/// Loads a chart from the bytes of a `.tgz` archive with the default limits.
pub fn load_archive(bytes: &[u8]) -> Result<Chart, LoadError> {
    load_archive_with(bytes, &LoadLimits::default())
}

/// Loads a chart from the bytes of a `.tgz` archive, as `helm package` writes them.
pub fn load_archive_with(bytes: &[u8], limits: &LoadLimits) -> Result<Chart, LoadError> {
    let mut budget = Budget::new(limits);
    archive::load_nested_archive(bytes, "", &mut budget, 0)
}

/// Loads a chart from a directory or a `.tgz` file, whichever `path` is, with the default limits.
pub fn load_path(path: impl AsRef<Path>) -> Result<Chart, LoadError> {
    load_path_with(path, &LoadLimits::default())
}

/// Loads a chart from a directory or a `.tgz` file, whichever `path` is.
pub fn load_path_with(path: impl AsRef<Path>, limits: &LoadLimits) -> Result<Chart, LoadError> {
    let path = path.as_ref();
    let io_error = |cause| LoadError::Io {
        path: path.to_path_buf(),
        cause,
    };
    let metadata = std::fs::metadata(path).map_err(io_error)?;
    if metadata.is_dir() {
        return load_dir_with(path, limits);
    }
    if !metadata.is_file() {
        return Err(LoadError::NotAChart {
            path: path.to_path_buf(),
        });
    }
    if metadata.len() > limits.max_archive_bytes {
        return Err(LoadError::ArchiveTooLarge {
            size: metadata.len(),
            limit: limits.max_archive_bytes,
        });
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| {
            file.take(limits.max_archive_bytes + 1)
                .read_to_end(&mut bytes)
        })
        .map_err(io_error)?;
    load_archive_with(&bytes, limits).map_err(|cause| LoadError::InFile {
        path: path.to_path_buf(),
        cause: Box::new(cause),
    })
}

/// What is left of the [`LoadLimits`] while a chart and its subcharts load.
struct Budget<'a> {
    limits: &'a LoadLimits,
    remaining_bytes: u64,
    remaining_entries: usize,
}

impl<'a> Budget<'a> {
    fn new(limits: &'a LoadLimits) -> Self {
        Self {
            limits,
            remaining_bytes: limits.max_total_bytes,
            remaining_entries: limits.max_entries,
        }
    }

    /// Counts one more entry (file, directory or archive header) against the limit.
    fn count_entry(&mut self, file: &str) -> Result<(), LoadError> {
        if self.remaining_entries == 0 {
            return Err(LoadError::TooManyEntries {
                file: file.to_string(),
                limit: self.limits.max_entries,
            });
        }
        self.remaining_entries -= 1;
        Ok(())
    }

    /// Reads one file whose size is announced as `declared`, refusing it before reading when the
    /// announcement is over a limit and stopping the read as soon as the real size is, so a lying
    /// header costs no more than the limit. A UTF-8 byte-order mark is dropped, as Helm does.
    fn read_file(
        &mut self,
        file: &str,
        declared: u64,
        reader: impl Read,
        on_read_error: impl FnOnce(std::io::Error) -> LoadError,
    ) -> Result<Vec<u8>, LoadError> {
        let per_file = self.limits.max_file_bytes;
        let too_large = || LoadError::FileTooLarge {
            file: file.to_string(),
            limit: per_file,
        };
        let chart_too_large = || LoadError::ChartTooLarge {
            file: file.to_string(),
            limit: self.limits.max_total_bytes,
        };
        if declared > per_file {
            return Err(too_large());
        }
        if declared > self.remaining_bytes {
            return Err(chart_too_large());
        }
        let cap = per_file.min(self.remaining_bytes);
        let mut data = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
        reader
            .take(cap + 1)
            .read_to_end(&mut data)
            .map_err(on_read_error)?;
        let read = data.len() as u64;
        if read > per_file {
            return Err(too_large());
        }
        if read > self.remaining_bytes {
            return Err(chart_too_large());
        }
        self.remaining_bytes -= read;
        if data.starts_with(UTF8_BOM) {
            data.drain(..UTF8_BOM.len());
        }
        Ok(data)
    }
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";
