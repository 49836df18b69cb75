//! Downloading a repository's index: conditionally (ETag, Last-Modified), over HTTP or with a
//! signed GET from an S3 bucket, bounded by the operator's size limit, and parsed into the
//! compact catalogue only when its bytes changed.

use std::sync::Arc;
use std::time::Duration;

use capstan_api::ChartRepository;
use capstan_chart::index::IndexError;
use capstan_sources::catalogue::CatalogueError;
use capstan_sources::http::{Fetched, HttpError, HttpOptions, Validators};
use capstan_sources::s3::S3Error;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;

use crate::access::{Access, http_client};
use crate::context::Context;
use crate::deployment::package::sha256;
use crate::error::{Error, FetchError, Result};
use crate::object_key::ObjectKey;

use super::index_cache::{CachedIndex, parse_catalogue};

/// Default `spec.timeout`.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Fetches the index, conditionally when the cached entry is for the same URL: over HTTP, or
/// with a signed GET from an `s3://` bucket (S3 answers conditional requests too). Says also
/// whether the index was downloaded (`false`: the server answered that it had not changed).
pub async fn refresh(
    repository: &ChartRepository,
    ctx: &Context,
    cached: Option<&CachedIndex>,
) -> Result<(CachedIndex, bool)> {
    let spec = &repository.spec;
    let is_s3 = spec.url.starts_with("s3://");
    if !(is_s3 || spec.url.starts_with("https://") || spec.url.starts_with("http://")) {
        return Err(Error::InvalidSpec(format!(
            "spec.url {}: only https://, http://, s3:// and oci:// repositories are supported \
             by this operator build; use a ChartDeployment with spec.chart.package for other \
             sources",
            spec.url
        )));
    }
    let namespace = ObjectKey::of(repository).namespace;
    let timeout = spec.timeout.as_ref().map_or(DEFAULT_TIMEOUT, Into::into);
    let limit = ctx.settings.max_index_bytes;
    // Only an entry for the same URL may answer a conditional request.
    let cached = cached.filter(|cached| cached.url == spec.url);
    let validators = cached
        .map(|cached| cached.validators.clone())
        .unwrap_or_default();
    let name = repository.name_any();
    let what = format!("the index of ChartRepository {name}");
    let too_large = || Error::IndexTooLarge {
        repository: name.clone(),
        limit,
    };
    let (fetched, index_url, http, http_elsewhere, s3) = if is_s3 {
        let (bucket, options) = super::s3::repository(ctx, &namespace, spec, timeout).await?;
        let index_bucket = bucket.with_http(http_client(HttpOptions {
            max_body_bytes: limit,
            ..options.clone()
        })?);
        let fetched = index_bucket
            .get_index_conditional(&validators)
            .await
            .map_err(|error| match error {
                S3Error::Http(HttpError::TooLarge { .. }) => too_large(),
                other => Error::from_s3(what.clone(), other),
            })?;
        // No request outside the bucket carries its keys: one client without credentials.
        let plain = http_client(options)?;
        let index_url = format!("{}/index.yaml", bucket.location());
        (fetched, index_url, plain.clone(), plain, Some(bucket))
    } else {
        let access = Access::read(&ctx.client, &namespace, &spec.connection, "spec").await?;
        let options = access.http_options(timeout)?;
        let http_elsewhere = if spec.pass_credentials {
            http_client(options.clone())?
        } else {
            access.without_credentials().http_client(timeout)?
        };
        let index_http = http_client(HttpOptions {
            max_body_bytes: limit,
            ..options.clone()
        })?;
        let http = http_client(options)?;
        let index_url = capstan_chart::index::join_url(&spec.url, "index.yaml");
        let fetched = index_http
            .get_conditional(&index_url, &validators)
            .await
            .map_err(|error| match error {
                HttpError::TooLarge { .. } => too_large(),
                other => Error::from_http(what.clone(), other),
            })?;
        (fetched, index_url, http, http_elsewhere, None)
    };
    match (fetched, cached) {
        (Fetched::NotModified, Some(cached)) => Ok((
            CachedIndex {
                url: spec.url.clone(),
                uid: repository.metadata.uid.clone(),
                catalogue: Arc::clone(&cached.catalogue),
                digest: cached.digest.clone(),
                validators: cached.validators.clone(),
                http,
                http_elsewhere,
                s3,
            },
            false,
        )),
        (Fetched::NotModified, None) => Err(Error::Fetch {
            what,
            source: Box::new(FetchError::Protocol(
                "the server answered 304 Not Modified to an unconditional request".into(),
            )),
        }),
        (Fetched::Body { bytes, validators }, cached) => {
            let digest = sha256(&bytes);
            // A server without validators sends the same bytes again: keep the parsed catalogue.
            let catalogue = match cached.filter(|cached| cached.digest == digest) {
                Some(cached) => Arc::clone(&cached.catalogue),
                None => {
                    Arc::new(parse_catalogue(&bytes, &index_url, limit).map_err(
                        |error| match error {
                            CatalogueError::IndexTooLarge { .. } => too_large(),
                            other => Error::IndexInvalid {
                                repository: index_url.clone(),
                                problem: IndexProblem::of(&other),
                            },
                        },
                    )?)
                }
            };
            drop(bytes);
            let entry = CachedIndex {
                url: spec.url.clone(),
                uid: repository.metadata.uid.clone(),
                catalogue,
                digest,
                validators: strong_validators(validators, Timestamp::now()),
                http,
                http_elsewhere,
                s3,
            };
            Ok((entry, true))
        }
    }
}

/// How long before the download a `Last-Modified` date must lie to be trusted for the next
/// conditional request.
const WEAK_DATE_SECONDS: i64 = 2;

/// The validators to send next time. A `Last-Modified` date less than a moment old is weak
/// (RFC 9110, section 8.8.2.2): dates have whole seconds, so the index may change again within
/// the same second and a server would answer 304 to that change forever. Such a date (or one
/// that does not parse) is dropped; the next fetch then downloads the index, and a repeated
/// download with the same digest is not parsed again.
fn strong_validators(validators: Validators, now: Timestamp) -> Validators {
    let last_modified = validators.last_modified.filter(|date| {
        let Some(rest) = date.strip_suffix(" GMT") else {
            return false;
        };
        k8s_openapi::jiff::fmt::strtime::parse("%a, %d %b %Y %H:%M:%S %z", format!("{rest} +0000"))
            .and_then(|parsed| parsed.to_timestamp())
            .is_ok_and(|modified| {
                now.duration_since(modified) >= SignedDuration::from_secs(WEAK_DATE_SECONDS)
            })
    });
    Validators {
        etag: validators.etag,
        last_modified,
    }
}

/// What is wrong with the index a server answered, said without quoting the answer. The URL
/// is the repository author's choice and may name an internal endpoint; a parser's message
/// would show that endpoint's content (a YAML error quotes the offending line, a type error the
/// value) in a status and events others read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexProblem {
    #[error("the answer is empty")]
    Empty,
    #[error("it has no apiVersion; a repository index starts with `apiVersion: v1`")]
    NoApiVersion,
    #[error(
        "the answer is not a YAML or JSON repository index (its content is not shown here; \
         check that the URL serves an index.yaml)"
    )]
    NotAnIndex,
    #[error(
        "it lists {count} {what}, more than the operator's limit of {limit}; raise the limit if \
         the repository really is this large"
    )]
    TooManyEntries {
        what: &'static str,
        count: usize,
        limit: usize,
    },
}

impl IndexProblem {
    /// The problem of a catalogue error from parsing an index. Errors that parsing does not
    /// produce (chart lookups) count as `NotAnIndex`, so no text of theirs is carried either.
    pub fn of(error: &CatalogueError) -> Self {
        match error {
            CatalogueError::Index(IndexError::Empty { .. }) => IndexProblem::Empty,
            CatalogueError::Index(IndexError::NoApiVersion { .. }) => IndexProblem::NoApiVersion,
            CatalogueError::TooManyEntries {
                what, count, limit, ..
            } => IndexProblem::TooManyEntries {
                what,
                count: *count,
                limit: *limit,
            },
            _ => IndexProblem::NotAnIndex,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unparsable_answer_is_described_without_quoting_it() {
        let url = "http://10.0.0.1/index.yaml";
        for answer in [
            "SECRET-BANNER internal-db ready; password hunter2\n",
            "<html><title>SECRET-BANNER</title></html>\n",
            "apiVersion: v1\nentries: SECRET-BANNER hunter2\n",
        ] {
            let error = parse_catalogue(answer.as_bytes(), url, 1 << 20).expect_err(answer);
            let parser_says = error.to_string();
            let problem = IndexProblem::of(&error);
            let reported = Error::IndexInvalid {
                repository: url.into(),
                problem,
            }
            .to_string();
            assert!(
                !reported.contains("SECRET-BANNER") && !reported.contains("hunter2"),
                "{reported}"
            );
            // The parser itself would have shown it: this is what the type keeps out.
            assert!(
                parser_says.contains("SECRET-BANNER") || parser_says.contains("hunter2"),
                "{answer}: {parser_says}"
            );
        }
    }

    #[test]
    fn empty_and_versionless_indexes_keep_their_own_advice() {
        let problem = |text: &str| {
            IndexProblem::of(&parse_catalogue(text.as_bytes(), "i", 1 << 20).expect_err(text))
        };
        assert_eq!(problem("  \n"), IndexProblem::Empty);
        assert_eq!(problem("entries: {}\n"), IndexProblem::NoApiVersion);
    }

    #[test]
    fn fresh_or_unreadable_modification_dates_are_not_sent_back() {
        let now = Timestamp::from_second(1_764_675_936).unwrap(); // Tue, 02 Dec 2025 11:45:36 GMT
        let with = |date: &str| Validators {
            etag: Some("\"e\"".into()),
            last_modified: Some(date.into()),
        };
        let old = strong_validators(with("Tue, 02 Dec 2025 11:45:30 GMT"), now);
        assert_eq!(
            old.last_modified.as_deref(),
            Some("Tue, 02 Dec 2025 11:45:30 GMT")
        );
        for weak in [
            "Tue, 02 Dec 2025 11:45:36 GMT",
            "Tue, 02 Dec 2025 11:45:35 GMT",
            "Tue, 02 Dec 2025 11:46:00 GMT",
            "yesterday",
        ] {
            let kept = strong_validators(with(weak), now);
            assert_eq!(kept.last_modified, None, "{weak}");
            assert_eq!(kept.etag.as_deref(), Some("\"e\""));
        }
    }
}
