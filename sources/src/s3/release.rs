//! Releasing a packaged chart into an `s3://` chart repository: the archive, its provenance, and
//! its entry in the repository's `index.yaml`.
//!
//! Several pipelines may release into one repository at the same time. Each index update reads
//! the index with its version, adds the entry as a text edit ([`splice_entry`], so every other
//! entry stays byte for byte), and writes it back only if the index is still that version; when
//! another release got there first the write is refused (HTTP 412) and the update starts over
//! from the new index. Nothing is lost, and nothing waits on a lock that a crashed pipeline could
//! leave behind.
//!
//! That only holds if the server checks the preconditions. A server that ignores them would
//! store every write and silently drop concurrent entries, so before touching the index the
//! release asks the server to do something it must refuse (re-create the archive it just stored,
//! replace it "only if" a version it is not) and stops with [`ReleaseError::NoConditionalWrites`]
//! if the server complies. Those probe writes store the archive's own bytes again, so they change
//! nothing even on such a server.
//!
//! Chart versions are immutable: an archive (or provenance file) already stored under the same
//! name with other bytes is refused unless `force` is set; the same bytes again are accepted, so a
//! retried pipeline succeeds.

use super::{ObjectError, ObjectVersion, Precondition, PutOutcome, S3Repository};
use crate::http::DownloadLimits;
use capstan_chart::index::{
    ChartVersion, IndexError, IndexFile, join_url, new_index, now_rfc3339, splice_entry,
};
use capstan_chart::load::{LoadError, load_archive};
use capstan_chart::provenance::archive_digest;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// Index updates tried before giving up on a repository that others keep changing.
pub const MAX_INDEX_ATTEMPTS: u32 = 40;

/// The largest `index.yaml` read back for splicing: public repositories of thousands of charts
/// run to tens of MiB, far more than the chart archives the HTTP client's default limit is for.
pub const MAX_INDEX_BYTES: u64 = 100 * 1024 * 1024;

/// The longest pause between two index updates.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// What to release.
#[derive(Debug, Clone)]
pub struct Release<'a> {
    /// The packaged chart (`.tgz`).
    pub archive: &'a [u8],
    /// Its provenance file (`.tgz.prov`), if signed.
    pub provenance: Option<&'a [u8]>,
    /// Replace an archive, provenance file or index entry of the same version whose bytes
    /// differ. Without it they are refused.
    pub force: bool,
    /// Base URL written in the entry's `urls` (`https://charts.example.com/stable`); empty for a
    /// URL relative to `index.yaml`, which every client resolves against wherever it read the
    /// index from.
    pub base_url: String,
}

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Uploaded; it was not there.
    New,
    /// Already there with the same bytes; left alone.
    Unchanged,
    /// Replaced other bytes (with `force`).
    Replaced,
}

/// What happened to the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexChange {
    /// The repository had no index; one was created with this entry.
    Created,
    /// The entry was added.
    Added,
    /// The index already listed this version with this digest.
    AlreadyListed,
    /// An entry of the same version with another digest was replaced (with `force`).
    Replaced,
}

/// The outcome of a release.
#[derive(Debug, Clone)]
pub struct Released {
    pub name: String,
    pub version: String,
    /// `sha256:<hex>` of the archive.
    pub digest: String,
    /// `s3://bucket/prefix/NAME-VERSION.tgz`.
    pub archive_location: String,
    pub archive: Stored,
    pub provenance: Option<Stored>,
    pub index: IndexChange,
    /// Index writes tried, 1 unless other releases interfered.
    pub index_attempts: u32,
}

/// Why a release failed. Messages name objects by `s3://` location and URLs without their
/// signature; no key, token or signature appears.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("the archive is not a chart: {0}")]
    NotAChart(#[source] LoadError),
    #[error("{what}: {source}")]
    Object {
        what: String,
        #[source]
        source: ObjectError,
    },
    #[error(
        "{location} already exists with other content (sha256 {existing}, this one {new}): chart versions are immutable; release a new version (bump `version` in Chart.yaml), or pass --force to replace it"
    )]
    VersionExists {
        location: String,
        existing: String,
        new: String,
    },
    #[error(
        "{location} changed while it was being replaced; another release of the same version is running, retry when it is done"
    )]
    ReplacedConcurrently { location: String },
    #[error(
        "the server at {endpoint} does not support conditional writes (it stored a PUT whose {header} precondition could not hold), so releases running at the same time could silently drop each other's index entries; nothing was changed in the index: use a server that supports conditional writes (AWS S3, Google Cloud Storage, MinIO, Ceph RGW and most current S3 servers do)"
    )]
    NoConditionalWrites {
        endpoint: String,
        header: &'static str,
    },
    #[error(
        "{location}: gave up after {attempts} attempts to update the index, other releases kept changing it; retry"
    )]
    Contention { location: String, attempts: u32 },
    #[error(transparent)]
    Index(#[from] IndexError),
}

impl S3Repository {
    /// Uploads the chart and its provenance, checks that the server enforces conditional
    /// writes, then adds the chart to `index.yaml` without losing concurrent additions.
    pub async fn release(&self, release: &Release<'_>) -> Result<Released, ReleaseError> {
        let chart = load_archive(release.archive).map_err(ReleaseError::NotAChart)?;
        let name = chart.metadata.name.clone();
        let version = chart.metadata.version.clone();
        let file_name = format!("{name}-{version}.tgz");
        let digest = archive_digest(release.archive);
        // What is stored under our names is read back no further than a loader would read it.
        let limits = DownloadLimits::default();

        let archive = self
            .place(
                &file_name,
                release.archive,
                release.force,
                limits.archive_bytes,
            )
            .await?;
        let provenance = match release.provenance {
            Some(bytes) => Some(
                self.place(
                    &format!("{file_name}.prov"),
                    bytes,
                    release.force,
                    limits.provenance_bytes,
                )
                .await?,
            ),
            None => None,
        };
        self.check_conditional_writes(&file_name, release.archive)
            .await?;

        let mut entry = ChartVersion::from_metadata(&chart.metadata);
        entry.urls = vec![if release.base_url.is_empty() {
            file_name.clone()
        } else {
            join_url(&release.base_url, &file_name)
        }];
        entry.digest = digest.trim_start_matches("sha256:").to_string();
        let (index, index_attempts) = self.add_to_index(entry, release.force).await?;
        Ok(Released {
            archive_location: self.location_of(&file_name),
            name,
            version,
            digest,
            archive,
            provenance,
            index,
            index_attempts,
        })
    }

    /// `s3://bucket/prefix/path`, for messages.
    fn location_of(&self, path: &str) -> String {
        format!("{}/{path}", self.location())
    }

    /// Stores `bytes` at `path` unless the same bytes are there; other bytes are refused unless
    /// `force`. An object stored there over `max_bytes` is not read: that is an error.
    async fn place(
        &self,
        path: &str,
        bytes: &[u8],
        force: bool,
        max_bytes: u64,
    ) -> Result<Stored, ReleaseError> {
        let location = self.location_of(path);
        let object_error = |what: &str| {
            let what = format!("{what} {location}");
            move |source| ReleaseError::Object { what, source }
        };
        // Two rounds: a release of the same version may create the object between the read
        // and the create-only write; the second read then sees it.
        for _ in 0..2 {
            let existing = self
                .fetch_object(path, max_bytes)
                .await
                .map_err(object_error("reading"))?;
            let precondition = match existing {
                Some((stored, _)) if stored == bytes => return Ok(Stored::Unchanged),
                Some((_, version)) if force => Precondition::Matches(version),
                Some((stored, _)) => {
                    return Err(ReleaseError::VersionExists {
                        location,
                        existing: sha256_hex(&stored),
                        new: sha256_hex(bytes),
                    });
                }
                None => Precondition::Absent,
            };
            let replacing = precondition != Precondition::Absent;
            match self
                .put_object(path, bytes.to_vec(), &precondition)
                .await
                .map_err(object_error("uploading"))?
            {
                PutOutcome::Stored(_) if replacing => return Ok(Stored::Replaced),
                PutOutcome::Stored(_) => return Ok(Stored::New),
                PutOutcome::PreconditionFailed if replacing => {
                    return Err(ReleaseError::ReplacedConcurrently { location });
                }
                PutOutcome::PreconditionFailed => continue,
            }
        }
        Err(ReleaseError::ReplacedConcurrently { location })
    }

    /// Asks the server to refuse two writes of `bytes`, which `path` already holds: a
    /// create-only PUT, and a PUT conditional on a version the object is not. A server that
    /// stores either ignores preconditions.
    async fn check_conditional_writes(&self, path: &str, bytes: &[u8]) -> Result<(), ReleaseError> {
        let probes = [
            (
                Precondition::Absent,
                if self.is_google_cloud_storage() {
                    "x-goog-if-generation-match: 0"
                } else {
                    "If-None-Match: *"
                },
            ),
            (
                Precondition::Matches(ObjectVersion {
                    etag: Some("\"capstan-no-such-version\"".into()),
                    generation: self.is_google_cloud_storage().then(|| "1".into()),
                }),
                if self.is_google_cloud_storage() {
                    "x-goog-if-generation-match"
                } else {
                    "If-Match"
                },
            ),
        ];
        for (precondition, header) in probes {
            let outcome = self
                .put_object(path, bytes.to_vec(), &precondition)
                .await
                .map_err(|source| ReleaseError::Object {
                    what: format!(
                        "checking that the server enforces conditional writes on {}",
                        self.location_of(path)
                    ),
                    source,
                })?;
            if outcome != PutOutcome::PreconditionFailed {
                return Err(ReleaseError::NoConditionalWrites {
                    endpoint: self.endpoint_shown(),
                    header,
                });
            }
        }
        Ok(())
    }

    /// Adds `entry` to `index.yaml`, starting over whenever another release changed the index
    /// between the read and the write. Returns what changed and the writes tried.
    async fn add_to_index(
        &self,
        mut entry: ChartVersion,
        force: bool,
    ) -> Result<(IndexChange, u32), ReleaseError> {
        let location = self.location_of("index.yaml");
        for attempt in 1..=MAX_INDEX_ATTEMPTS {
            let now = now_rfc3339();
            entry.created = now.clone();
            let current = self
                .fetch_object("index.yaml", MAX_INDEX_BYTES)
                .await
                .map_err(|source| ReleaseError::Object {
                    what: format!("reading {location}"),
                    source,
                })?;
            let (text, precondition, change) = match current {
                None => (
                    new_index(&entry, &now)?,
                    Precondition::Absent,
                    IndexChange::Created,
                ),
                Some((bytes, version)) => {
                    let listed = IndexFile::parse(&bytes, &location)?
                        .index
                        .entries
                        .get(&entry.name)
                        .and_then(|versions| {
                            versions
                                .iter()
                                .find(|v| v.version == entry.version)
                                .map(|v| v.digest_hex().unwrap_or_default())
                        });
                    let change = match listed {
                        Some(digest) if digest == entry.digest => {
                            return Ok((IndexChange::AlreadyListed, attempt));
                        }
                        Some(digest) if !force => {
                            return Err(ReleaseError::VersionExists {
                                location: format!(
                                    "the entry {} {} in {location}",
                                    entry.name, entry.version
                                ),
                                existing: digest,
                                new: entry.digest.clone(),
                            });
                        }
                        Some(_) => IndexChange::Replaced,
                        None => IndexChange::Added,
                    };
                    let text = splice_entry(&bytes, &location, &entry, &now, force)?;
                    (text, Precondition::Matches(version), change)
                }
            };
            let outcome = self
                .put_object("index.yaml", text.into_bytes(), &precondition)
                .await
                .map_err(|source| ReleaseError::Object {
                    what: format!("writing {location}"),
                    source,
                })?;
            match outcome {
                PutOutcome::Stored(_) => return Ok((change, attempt)),
                PutOutcome::PreconditionFailed => tokio::time::sleep(backoff(attempt)).await,
            }
        }
        Err(ReleaseError::Contention {
            location,
            attempts: MAX_INDEX_ATTEMPTS,
        })
    }
}

/// A random pause before update `attempt + 1`, growing with the attempts, so that releases
/// that collided do not collide again in step.
fn backoff(attempt: u32) -> Duration {
    let ceiling = Duration::from_millis(25 << attempt.min(7)).min(MAX_BACKOFF);
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    ceiling.mul_f64((random % 1000) as f64 / 1000.0) + Duration::from_millis(5)
}

fn sha256_hex(bytes: &[u8]) -> String {
    archive_digest(bytes)
        .trim_start_matches("sha256:")
        .to_string()
}
