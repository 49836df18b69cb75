//! Counting one client's API requests in the API server's audit log.
//!
//! The local control plane audits every request of the measured identity (user
//! `capstan-e2e-measured`, `CAPSTAN_E2E_MEASURED_KUBECONFIG`) at Metadata level. A [`Cursor`] marks
//! where the log ended; [`Cursor::requests`] counts what the identity asked for since, by verb.
//! A watch shows up twice in the log (when its response starts and when it ends): requests are told
//! apart by their audit ID.

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{E2eError, Result};

/// The user name of the measured client's certificate.
pub const MEASURED_USER: &str = "capstan-e2e-measured";

/// Verbs that change something.
pub const WRITES: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];

/// A position in the audit log.
#[derive(Clone, Debug)]
pub struct Cursor {
    path: PathBuf,
    inode: u64,
    offset: u64,
}

/// Requests by verb (`get`, `list`, `watch`, `create`, `patch`, ...).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Requests(pub BTreeMap<String, u64>);

impl Requests {
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    pub fn writes(&self) -> u64 {
        self.count(WRITES)
    }

    pub fn reads(&self) -> u64 {
        self.total() - self.writes()
    }

    /// Requests with any of `verbs`.
    pub fn count(&self, verbs: &[&str]) -> u64 {
        verbs.iter().filter_map(|verb| self.0.get(*verb)).sum()
    }

    /// `get 1200, list 12, ...`, most frequent first.
    pub fn summary(&self) -> String {
        let mut verbs: Vec<(&String, &u64)> = self.0.iter().collect();
        verbs.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        verbs
            .iter()
            .map(|(verb, count)| format!("{verb} {count}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Deserialize)]
struct Event {
    #[serde(rename = "auditID")]
    audit_id: String,
    verb: String,
    user: User,
}

#[derive(Deserialize)]
struct User {
    username: String,
}

impl Cursor {
    /// The end of the log at `path` now.
    pub fn at_end(path: &Path) -> Result<Self> {
        let metadata = std::fs::metadata(path).map_err(io(path))?;
        Ok(Cursor {
            path: path.to_path_buf(),
            inode: metadata.ino(),
            offset: metadata.len(),
        })
    }

    /// The measured client's requests logged since this cursor. When the log was rotated in the
    /// meantime, the rest of the rotated file (the newest `audit-*.log` beside it) is read first.
    pub fn requests(&self) -> Result<Requests> {
        let mut seen = HashSet::new();
        let mut requests = Requests::default();
        let current = std::fs::metadata(&self.path).map_err(io(&self.path))?;
        if current.ino() == self.inode {
            count_from(&self.path, self.offset, &mut seen, &mut requests)?;
        } else {
            let rotated = self.rotated()?;
            count_from(&rotated, self.offset, &mut seen, &mut requests)?;
            count_from(&self.path, 0, &mut seen, &mut requests)?;
        }
        Ok(requests)
    }

    /// The rotated file this cursor's log became.
    fn rotated(&self) -> Result<PathBuf> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let stem = self
            .path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        std::fs::read_dir(dir)
            .map_err(io(dir))?
            .filter_map(|entry| entry.ok())
            .filter(|entry| entry.metadata().is_ok_and(|m| m.ino() == self.inode))
            .map(|entry| entry.path())
            .find(|path| {
                path.file_name()
                    .is_some_and(|name| name.to_string_lossy().starts_with(&format!("{stem}-")))
            })
            .ok_or_else(|| {
                E2eError::Unavailable(format!(
                    "the audit log {} was rotated more than once during the measurement; raise \
                     --audit-log-maxsize in e2e/lib/controlplane.sh",
                    self.path.display()
                ))
            })
    }
}

fn count_from(
    path: &Path,
    offset: u64,
    seen: &mut HashSet<String>,
    requests: &mut Requests,
) -> Result<()> {
    let mut file = std::fs::File::open(path).map_err(io(path))?;
    file.seek(SeekFrom::Start(offset)).map_err(io(path))?;
    for line in BufReader::new(file).lines() {
        let line = line.map_err(io(path))?;
        // Most lines are other clients'; skip them before parsing.
        if !line.contains(MEASURED_USER) {
            continue;
        }
        // A line cut short by a write in progress is the last one: it is counted next time.
        let Ok(event) = serde_json::from_str::<Event>(&line) else {
            continue;
        };
        if event.user.username == MEASURED_USER && seen.insert(event.audit_id) {
            *requests.0.entry(event.verb).or_default() += 1;
        }
    }
    Ok(())
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
    use std::io::Write;

    fn line(id: &str, verb: &str, user: &str, stage: &str) -> String {
        format!(
            r#"{{"kind":"Event","auditID":"{id}","stage":"{stage}","verb":"{verb}","user":{{"username":"{user}"}}}}"#
        ) + "\n"
    }

    #[test]
    fn counts_the_measured_users_requests_after_the_cursor_once_each() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        std::fs::write(&path, line("a", "get", MEASURED_USER, "ResponseComplete")).unwrap();
        let cursor = Cursor::at_end(&path).unwrap();
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        for text in [
            line("b", "get", MEASURED_USER, "ResponseComplete"),
            line("c", "watch", MEASURED_USER, "ResponseStarted"),
            line("c", "watch", MEASURED_USER, "ResponseComplete"),
            line("d", "patch", "capstan-e2e-admin", "ResponseComplete"),
            line("e", "patch", MEASURED_USER, "ResponseComplete"),
        ] {
            file.write_all(text.as_bytes()).unwrap();
        }
        let requests = cursor.requests().unwrap();
        assert_eq!(requests.summary(), "get 1, patch 1, watch 1");
        assert_eq!((requests.reads(), requests.writes()), (2, 1));
    }

    #[test]
    fn reads_the_rest_of_a_rotated_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        std::fs::write(&path, line("a", "get", MEASURED_USER, "ResponseComplete")).unwrap();
        let cursor = Cursor::at_end(&path).unwrap();
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(line("b", "list", MEASURED_USER, "ResponseComplete").as_bytes())
            .unwrap();
        std::fs::rename(&path, dir.path().join("audit-2026-01-01T00-00-00.000.log")).unwrap();
        std::fs::write(&path, line("c", "get", MEASURED_USER, "ResponseComplete")).unwrap();
        assert_eq!(cursor.requests().unwrap().summary(), "get 1, list 1");
    }
}
