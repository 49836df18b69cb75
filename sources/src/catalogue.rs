//! A compact, immutable view of a repository index, built once and shared by every deployment
//! that uses the repository.
//!
//! Public indexes reach 15-50 MB of YAML, and the full [`IndexFile`] keeps every description,
//! maintainer, keyword and annotation of every version. A deployment only needs to pick a version
//! and download it, so a [`Catalogue`] keeps just that: per chart, its versions newest first with
//! the parsed version, digest, URLs, app version, `kubeVersion`, deprecation and creation time.
//! Strings that repeat across thousands of entries (app and Kubernetes versions) are interned,
//! everything else is boxed to its exact length, and the full index is dropped chart by chart as
//! it is converted. The catalogue never changes after it is built, so it can sit behind an
//! `Arc<Catalogue>` and be read from any task without locking; a new index means a new catalogue.

use capstan_chart::index::{IndexError, IndexFile, LoadedIndex};
use capstan_chart::version::{Constraint, Version, parse_version};
use sha2::{Digest as _, Sha256};
use std::collections::HashSet;
use std::sync::Arc;

/// Bounds on what a catalogue accepts, so a hostile or mistaken repository cannot exhaust the
/// operator's memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueLimits {
    /// Largest index accepted, in bytes. Default 100 MiB (the largest public indexes are ~50 MB).
    pub max_index_bytes: usize,
    /// Most distinct chart names. Default 50,000.
    pub max_charts: usize,
    /// Most chart versions over all charts. Default 500,000.
    pub max_entries: usize,
}

impl Default for CatalogueLimits {
    fn default() -> Self {
        CatalogueLimits {
            max_index_bytes: 100 * 1024 * 1024,
            max_charts: 50_000,
            max_entries: 500_000,
        }
    }
}

/// At most this many skipped-entry warnings are kept; the rest are only counted.
const MAX_KEPT_WARNINGS: usize = 100;

/// How many versions a "no matching version" error lists.
const CLOSEST_SHOWN: usize = 5;

/// Why a catalogue could not be built or a chart not resolved.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// The index itself is unreadable, or a chart name or constraint is wrong (the messages say
    /// which file, chart or constraint).
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error(
        "{source_name}: the index is {size} bytes, more than the catalogue limit of {limit}; raise the limit if the repository really is this large"
    )]
    IndexTooLarge {
        source_name: String,
        size: usize,
        limit: usize,
    },
    #[error(
        "{source_name}: the index lists {count} {what}, more than the catalogue limit of {limit}; raise the limit if the repository really is this large"
    )]
    TooManyEntries {
        source_name: String,
        what: &'static str,
        count: usize,
        limit: usize,
    },
    #[error(
        "chart {name:?} has no version matching {constraint:?}; closest: {}; {total} versions in all, newest {newest}",
        .closest.join(", ")
    )]
    NoMatchingVersion {
        name: String,
        constraint: String,
        /// A few versions nearest to the one the constraint names, newest first.
        closest: Vec<String>,
        total: usize,
        newest: String,
    },
    #[error("chart {name:?} is listed in the index with no usable version")]
    NoVersions { name: String },
}

/// One chart version: only what resolution and download need.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogueEntry {
    version: Box<str>,
    semver: Version,
    digest: Option<Box<str>>,
    urls: Box<[Box<str>]>,
    app_version: Option<Arc<str>>,
    kube_version: Option<Arc<str>>,
    created: Option<jiff::Timestamp>,
    deprecated: bool,
}

impl CatalogueEntry {
    /// The version exactly as the index writes it (it may differ from [`Self::semver`]'s display,
    /// e.g. `v1.2`).
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn semver(&self) -> &Version {
        &self.semver
    }

    /// The archive's sha256 as bare lowercase hex, if the index gives one.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// Where the archive can be downloaded, as the index writes them: absolute, or relative to
    /// the repository URL (join them with [`capstan_chart::index::join_url`]).
    pub fn urls(&self) -> impl ExactSizeIterator<Item = &str> {
        self.urls.iter().map(|url| &**url)
    }

    pub fn app_version(&self) -> Option<&str> {
        self.app_version.as_deref()
    }

    /// The chart's `kubeVersion` constraint, if any.
    pub fn kube_version(&self) -> Option<&str> {
        self.kube_version.as_deref()
    }

    /// When the version was added to the index; `None` if absent or not RFC 3339.
    pub fn created(&self) -> Option<jiff::Timestamp> {
        self.created
    }

    pub fn deprecated(&self) -> bool {
        self.deprecated
    }
}

/// The version a constraint selected, with the chart's name, owned so it can outlive the
/// catalogue it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedChart {
    pub name: String,
    pub entry: CatalogueEntry,
}

/// One chart's name and its versions, newest first.
#[derive(Debug)]
struct ChartVersions {
    name: Box<str>,
    versions: Box<[CatalogueEntry]>,
}

/// A repository index reduced to what deployments need. Build it once per index download and
/// share it as `Arc<Catalogue>`.
#[derive(Debug)]
pub struct Catalogue {
    /// Sorted by name for binary search.
    charts: Box<[ChartVersions]>,
    entry_count: usize,
    index_digest: Box<str>,
    warnings: Box<[Box<str>]>,
    warning_count: usize,
}

impl Catalogue {
    /// Builds a catalogue from `index.yaml` (or JSON) bytes; errors call the source `index.yaml`.
    pub fn from_index_bytes(
        bytes: &[u8],
        limits: &CatalogueLimits,
    ) -> Result<Self, CatalogueError> {
        Self::from_named_index_bytes(bytes, "index.yaml", limits)
    }

    /// Builds a catalogue from index bytes. `source_name` (a path or a URL without credentials or
    /// query string) names the index in errors and warnings.
    pub fn from_named_index_bytes(
        bytes: &[u8],
        source_name: &str,
        limits: &CatalogueLimits,
    ) -> Result<Self, CatalogueError> {
        if bytes.len() > limits.max_index_bytes {
            return Err(CatalogueError::IndexTooLarge {
                source_name: source_name.into(),
                size: bytes.len(),
                limit: limits.max_index_bytes,
            });
        }
        let index_digest = hex::encode(Sha256::digest(bytes)).into_boxed_str();
        let LoadedIndex { index, warnings } = IndexFile::parse(bytes, source_name)?;
        let too_many = |what, count, limit| CatalogueError::TooManyEntries {
            source_name: source_name.into(),
            what,
            count,
            limit,
        };
        if index.entries.len() > limits.max_charts {
            return Err(too_many("charts", index.entries.len(), limits.max_charts));
        }
        let entry_count: usize = index.entries.values().map(Vec::len).sum();
        if entry_count > limits.max_entries {
            return Err(too_many("chart versions", entry_count, limits.max_entries));
        }
        let mut interner = Interner::default();
        let mut charts = Vec::with_capacity(index.entries.len());
        // Consuming the map frees each chart's full metadata as soon as it is converted.
        for (name, versions) in index.entries {
            let compact: Box<[CatalogueEntry]> = versions
                .into_iter()
                .filter_map(|full| {
                    // The index parser only keeps entries whose version parses.
                    let semver = full.semver()?.clone();
                    let digest = full.digest_hex().map(String::into_boxed_str);
                    Some(CatalogueEntry {
                        version: full.version.into_boxed_str(),
                        semver,
                        digest,
                        urls: full.urls.into_iter().map(String::into_boxed_str).collect(),
                        app_version: interner.intern(full.app_version),
                        kube_version: interner.intern(full.kube_version),
                        created: full.created.parse().ok(),
                        deprecated: full.deprecated,
                    })
                })
                .collect();
            charts.push(ChartVersions {
                name: name.into_boxed_str(),
                versions: compact,
            });
        }
        // BTreeMap iteration is already sorted by name; binary search relies on it.
        debug_assert!(charts.windows(2).all(|pair| pair[0].name < pair[1].name));
        let warning_count = warnings.len();
        Ok(Catalogue {
            charts: charts.into_boxed_slice(),
            entry_count,
            index_digest,
            warnings: warnings
                .into_iter()
                .take(MAX_KEPT_WARNINGS)
                .map(String::into_boxed_str)
                .collect(),
            warning_count,
        })
    }

    /// sha256 hex of the index bytes, to tell whether a new download changed anything.
    pub fn index_digest(&self) -> &str {
        &self.index_digest
    }

    /// Number of distinct chart names.
    pub fn chart_count(&self) -> usize {
        self.charts.len()
    }

    /// Number of chart versions over all charts.
    pub fn entry_count(&self) -> usize {
        self.entry_count
    }

    /// Chart names in alphabetical order.
    pub fn chart_names(&self) -> impl Iterator<Item = &str> {
        self.charts.iter().map(|chart| &*chart.name)
    }

    /// A chart's versions, newest first.
    pub fn versions(&self, name: &str) -> Option<&[CatalogueEntry]> {
        self.charts
            .binary_search_by(|chart| (*chart.name).cmp(name))
            .ok()
            .map(|position| &*self.charts[position].versions)
    }

    /// Entries the index parser skipped (at most the first 100), one line each.
    pub fn warnings(&self) -> impl Iterator<Item = &str> {
        self.warnings.iter().map(|warning| &**warning)
    }

    /// How many entries were skipped in all.
    pub fn warning_count(&self) -> usize {
        self.warning_count
    }

    /// Picks the version of `name` that Helm would: an entry whose version string equals
    /// `constraint` exactly, else the newest version matching it. An empty constraint means the
    /// newest release (prereleases excluded).
    pub fn resolve(&self, name: &str, constraint: &str) -> Result<ResolvedChart, CatalogueError> {
        let versions = self.versions(name).ok_or_else(|| IndexError::NoChartName {
            name: name.into(),
            similar: self.similar_names(name),
        })?;
        let resolved = |entry: &CatalogueEntry| ResolvedChart {
            name: name.into(),
            entry: entry.clone(),
        };
        if let Some(exact) = versions.iter().find(|entry| *entry.version == *constraint) {
            return Ok(resolved(exact));
        }
        let constraint_text = if constraint.trim().is_empty() {
            "*"
        } else {
            constraint
        };
        let parsed =
            Constraint::parse(constraint_text).map_err(|source| IndexError::Constraint {
                name: name.into(),
                source,
            })?;
        if let Some(found) = versions.iter().find(|entry| parsed.matches(&entry.semver)) {
            return Ok(resolved(found));
        }
        let newest = versions
            .first()
            .ok_or_else(|| CatalogueError::NoVersions { name: name.into() })?;
        Err(CatalogueError::NoMatchingVersion {
            name: name.into(),
            constraint: constraint_text.into(),
            closest: closest_versions(versions, constraint_text),
            total: versions.len(),
            newest: newest.version.to_string(),
        })
    }

    /// Up to five chart names that contain, or are contained in, `name` (case-insensitive).
    fn similar_names(&self, name: &str) -> Vec<String> {
        let wanted = name.to_ascii_lowercase();
        if wanted.is_empty() {
            return Vec::new();
        }
        self.chart_names()
            .filter(|candidate| {
                let candidate = candidate.to_ascii_lowercase();
                candidate.contains(&wanted) || wanted.contains(&candidate)
            })
            .take(5)
            .map(str::to_string)
            .collect()
    }
}

/// Shares one allocation among equal strings while a catalogue is built; dropped afterwards.
#[derive(Default)]
struct Interner {
    seen: HashSet<Arc<str>>,
}

impl Interner {
    fn intern(&mut self, text: Option<String>) -> Option<Arc<str>> {
        let text = text.filter(|text| !text.is_empty())?;
        if let Some(shared) = self.seen.get(text.as_str()) {
            return Some(Arc::clone(shared));
        }
        let shared: Arc<str> = Arc::from(text);
        self.seen.insert(Arc::clone(&shared));
        Some(shared)
    }
}

/// A few versions around the first version the constraint names, newest first: where that
/// version would sit in the list, with its neighbours on both sides. Without such a version, the
/// newest few.
fn closest_versions(versions: &[CatalogueEntry], constraint: &str) -> Vec<String> {
    let position = anchor_version(constraint)
        .map(|anchor| versions.partition_point(|entry| entry.semver > anchor))
        .unwrap_or(0);
    let start = position
        .saturating_sub(CLOSEST_SHOWN / 2)
        .min(versions.len().saturating_sub(CLOSEST_SHOWN));
    versions[start..]
        .iter()
        .take(CLOSEST_SHOWN)
        .map(|entry| entry.version.to_string())
        .collect()
}

/// The first `MAJOR[.MINOR[.PATCH]]` in a constraint, e.g. `1.4` in `>= 1.4, < 2`.
fn anchor_version(constraint: &str) -> Option<Version> {
    let start = constraint.find(|c: char| c.is_ascii_digit())?;
    let rest = &constraint[start..];
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    parse_version(rest[..end].trim_end_matches('.')).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    use capstan_testdata::Vectors;

    /// An index file of the generated fixtures' repo/ (the layout of Helm's repo test vectors).
    fn vector(file: &str) -> Vec<u8> {
        Vectors::generated().read(&format!("repo/{file}"))
    }

    fn build(text: &[u8]) -> Catalogue {
        Catalogue::from_index_bytes(text, &CatalogueLimits::default()).unwrap()
    }

    capstan_testdata::vector_tests! {
    fn index_files_keep_what_resolution_needs(vectors) {
        for file in [
            "local-index.yaml",
            "local-index.json",
            "local-index-unordered.yaml",
            "chartmuseum-index.yaml",
        ] {
            let bytes = vectors.read(&format!("repo/{file}"));
            let catalogue = build(&bytes);
            assert_eq!(
                catalogue.chart_names().collect::<Vec<_>>(),
                ["alpine", "chartWithNoURL", "nginx"],
                "{file}"
            );
            assert_eq!(catalogue.chart_count(), 3, "{file}");
            assert_eq!(catalogue.entry_count(), 4, "{file}");
            assert_eq!(
                catalogue.index_digest(),
                hex::encode(Sha256::digest(&bytes)),
                "{file}"
            );
            let nginx: Vec<_> = catalogue.versions("nginx").unwrap().to_vec();
            assert_eq!(
                nginx
                    .iter()
                    .map(CatalogueEntry::version)
                    .collect::<Vec<_>>(),
                ["0.2.0", "0.1.0"],
                "{file}"
            );
            let alpine = catalogue.resolve("alpine", "").unwrap();
            assert_eq!(alpine.name, "alpine");
            assert_eq!(alpine.entry.urls().len(), 2, "{file}");
            assert_eq!(
                alpine.entry.digest(),
                Some(vectors.index_alpine_digest().as_str()),
                "{file}"
            );
            assert_eq!(
                catalogue.resolve("nginx", "<0.2").unwrap().entry.version(),
                "0.1.0"
            );
            assert_eq!(catalogue.warning_count(), 0, "{file}");
        }
    }
    }

    #[test]
    fn keeps_app_version_kube_version_deprecation_and_creation_time() {
        let text = b"apiVersion: v1\nentries:\n  app:\n    - name: app\n      version: v1.2\n      appVersion: '7.1'\n      kubeVersion: '>=1.30'\n      deprecated: true\n      created: '2026-01-02T03:04:05.123456789Z'\n      digest: sha256:ABCD\n      urls: [charts/app-1.2.0.tgz]\n    - name: app\n      version: 1.0.0\n      appVersion: '7.1'\n      created: yesterday\n";
        let catalogue = build(text);
        let newest = catalogue.resolve("app", "").unwrap().entry;
        assert_eq!(newest.version(), "v1.2");
        assert_eq!(newest.semver(), &Version::new(1, 2, 0));
        assert_eq!(newest.app_version(), Some("7.1"));
        assert_eq!(newest.kube_version(), Some(">=1.30"));
        assert!(newest.deprecated());
        assert_eq!(
            newest.created().map(|t| t.to_string()).as_deref(),
            Some("2026-01-02T03:04:05.123456789Z")
        );
        assert_eq!(newest.digest(), Some("abcd"));
        assert_eq!(newest.urls().collect::<Vec<_>>(), ["charts/app-1.2.0.tgz"]);
        let older = &catalogue.versions("app").unwrap()[1];
        assert_eq!(older.created(), None);
        assert_eq!(older.kube_version(), None);
        // Interned: both entries share one allocation for "7.1".
        assert!(Arc::ptr_eq(
            newest.app_version.as_ref().unwrap(),
            older.app_version.as_ref().unwrap()
        ));
    }

    #[test]
    fn resolution_follows_helm_and_explains_failures() {
        let mut text = String::from("apiVersion: v1\nentries:\n  app:\n");
        for version in [
            "1.0.0",
            "1.2.0",
            "2.0.0-rc.1",
            "1.2.0+hotfix",
            "3.1.0",
            "3.4.0",
            "5.0.0",
        ] {
            text.push_str(&format!("    - {{name: app, version: {version}}}\n"));
        }
        let catalogue = build(text.as_bytes());
        let pick = |constraint: &str| {
            catalogue
                .resolve("app", constraint)
                .map(|resolved| resolved.entry.version().to_string())
        };
        assert_eq!(pick("").unwrap(), "5.0.0");
        assert_eq!(pick("~1.0").unwrap(), "1.0.0");
        assert_eq!(pick("1.2.0+hotfix").unwrap(), "1.2.0+hotfix");
        assert_eq!(pick(">=2.0.0-0 <3").unwrap(), "2.0.0-rc.1");
        assert_eq!(pick("^3").unwrap(), "3.4.0");

        let err = pick("~3.2.1").unwrap_err().to_string();
        assert!(
            err.contains("closest: 5.0.0, 3.4.0, 3.1.0, 2.0.0-rc.1, 1.2.0"),
            "{err}"
        );
        assert!(err.contains("7 versions in all, newest 5.0.0"), "{err}");
        let err = pick("^0.5").unwrap_err();
        let CatalogueError::NoMatchingVersion { closest, .. } = &err else {
            panic!("{err}");
        };
        assert_eq!(
            closest,
            &["3.1.0", "2.0.0-rc.1", "1.2.0", "1.2.0+hotfix", "1.0.0"]
        );

        let err = catalogue.resolve("ap", "").unwrap_err().to_string();
        assert!(err.contains("did you mean app"), "{err}");
        let err = pick(">= nonsense").unwrap_err().to_string();
        assert!(err.contains("invalid version constraint"), "{err}");
    }

    #[test]
    fn limits_are_enforced_with_clear_errors() {
        let bytes = vector("local-index.yaml");
        let small = CatalogueLimits {
            max_index_bytes: 10,
            ..Default::default()
        };
        let err = Catalogue::from_named_index_bytes(&bytes, "https://h/index.yaml", &small)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("https://h/index.yaml: the index is"),
            "{err}"
        );
        let few_charts = CatalogueLimits {
            max_charts: 2,
            ..Default::default()
        };
        let few_versions = CatalogueLimits {
            max_entries: 3,
            ..Default::default()
        };
        for (limits, expected) in [
            (few_charts, "lists 3 charts"),
            (few_versions, "lists 4 chart versions"),
        ] {
            let err = Catalogue::from_index_bytes(&bytes, &limits).unwrap_err();
            assert!(err.to_string().contains(expected), "{err}");
        }
        let err = Catalogue::from_index_bytes(b"entries: {}\n", &CatalogueLimits::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("no API version specified"), "{err}");
    }

    #[test]
    fn skipped_entries_are_reported() {
        let text = b"apiVersion: v1\nentries:\n  good:\n    - {name: good, version: 1.0.0}\n    - {name: good, version: not-semver}\n  empty:\n    - {name: empty, version: nope}\n";
        let catalogue = build(text);
        assert_eq!(catalogue.warning_count(), 2);
        assert!(catalogue.warnings().any(|w| w.contains("not-semver")));
        let err = catalogue.resolve("empty", "").unwrap_err().to_string();
        assert!(err.contains("no usable version"), "{err}");
    }

    #[test]
    fn catalogue_can_be_shared_across_threads() {
        fn assert_shareable<T: Send + Sync>() {}
        assert_shareable::<Catalogue>();
        let shared = Arc::new(build(&vector("local-index.yaml")));
        let worker = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || shared.resolve("nginx", "0.1.0").map(|r| r.entry))
        };
        let entry = worker.join().unwrap().unwrap();
        assert_eq!(entry.version(), "0.1.0");
    }
}
