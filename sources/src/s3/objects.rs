//! Reading and writing single objects with their version, for tools that publish to a bucket.
//!
//! A bucket is shared: two releases may write the same `index.yaml` at once. Each write here
//! can carry a precondition the server checks atomically: `If-None-Match: *` (create only) or
//! `If-Match: ETAG` (replace only that version), as AWS S3 and most S3-compatible servers do on
//! PUT. Google Cloud Storage's XML API checks neither on writes; it checks the object's generation
//! number instead (`x-goog-if-generation-match`, `0` for "must not exist"), which it reports on
//! every answer, so the generation is used whenever the server gave one or the endpoint is GCS's.
//! The precondition headers are signed along with the host, so they cannot be stripped on the way
//! without the signature failing.

use super::{PRESIGNED_URL_LIFETIME, S3Error, S3Repository};
use crate::http::{Exchange, HttpError, MAX_ERROR_BODY_BYTES, display_url, sanitized};
use reqwest::header::HeaderMap;
use reqwest::{Method, Url};
use rusty_s3::S3Action;

/// The most of an error code kept: S3's codes are single words of at most a few dozen letters.
const MAX_CODE_CHARS: usize = 64;

/// The most of an error message kept. It is the server's text: control characters are blanked
/// and it is cut short, as registries' messages are.
const MAX_MESSAGE_CHARS: usize = 200;

/// A stored object's version as the server names it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectVersion {
    /// The `ETag` header, quotes included.
    pub etag: Option<String>,
    /// Google Cloud Storage's `x-goog-generation`.
    pub generation: Option<String>,
}

/// What a PUT requires of the object it replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// Nothing: create or overwrite.
    None,
    /// The object must not exist yet.
    Absent,
    /// The object must still be this version.
    Matches(ObjectVersion),
}

/// The answer to a conditional PUT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// Stored; the new version.
    Stored(ObjectVersion),
    /// The precondition did not hold (HTTP 412, or 409 when another conditional write to the
    /// same key was in flight): someone else wrote first.
    PreconditionFailed,
}

/// An S3 error answer: its status and, when the body is an S3 error document, its code and
/// message (`NoSuchBucket`, `The specified bucket does not exist`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    pub method: String,
    /// The object's URL without the signature.
    pub url: String,
    pub bucket: String,
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl ServiceError {
    /// The code and message of an error document (`<Error><Code>…</Code><Message>…</Message>`),
    /// empty when the body is not one. Only the fields are read; the body is bounded already.
    pub(super) fn read(answer: &Exchange) -> ServiceError {
        let body = String::from_utf8_lossy(&answer.body);
        let field = |name: &str| {
            let open = format!("<{name}>");
            let close = format!("</{name}>");
            body.find(&open)
                .and_then(|start| {
                    let rest = &body[start + open.len()..];
                    rest.find(&close).map(|end| xml_text(&rest[..end]))
                })
                .unwrap_or_default()
        };
        ServiceError {
            method: String::new(),
            url: String::new(),
            bucket: String::new(),
            status: answer.status,
            code: sanitized(&field("Code"), MAX_CODE_CHARS),
            message: sanitized(&field("Message"), MAX_MESSAGE_CHARS),
        }
    }

    /// What to do about this answer, by its code.
    pub fn hint(&self) -> String {
        let bucket = &self.bucket;
        match (self.code.as_str(), self.status) {
            ("NoSuchBucket", _) => format!(
                "; the bucket s3://{bucket} does not exist at this endpoint: create it, or check its name, the endpoint and the region"
            ),
            (
                "AccessDenied"
                | "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "InvalidToken"
                | "ExpiredToken"
                | "AllAccessDisabled",
                _,
            )
            | (_, 401 | 403) => format!(
                "; check the access key, secret key (and session token) and region used for s3://{bucket}, and that the key may {} it",
                if self.method == "PUT" {
                    "write to"
                } else {
                    "read"
                }
            ),
            (
                "PermanentRedirect"
                | "AuthorizationHeaderMalformed"
                | "IllegalLocationConstraintException",
                _,
            )
            | (_, 301) => format!(
                "; s3://{bucket} is in another region than the one signed for: set the bucket's region (--s3-region or AWS_REGION)"
            ),
            (_, 429 | 500..=599) => "; the server is failing or busy, retry later".into(),
            _ => String::new(),
        }
    }

    /// The error as an [`HttpError::Rejected`] when the server gave a code.
    pub(super) fn into_http_error(self) -> Option<HttpError> {
        if self.code.is_empty() {
            return None;
        }
        let message = format!("{}{}", self.message, self.hint());
        Some(HttpError::Rejected {
            method: self.method,
            url: self.url,
            status: self.status,
            code: self.code,
            message,
        })
    }
}

impl std::fmt::Display for ServiceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let code = if self.code.is_empty() {
            "no error code".to_string()
        } else if self.message.is_empty() {
            self.code.clone()
        } else {
            format!("{}: {}", self.code, self.message)
        };
        write!(
            f,
            "{} {}: HTTP {} ({code}){}",
            self.method,
            self.url,
            self.status,
            self.hint()
        )
    }
}

/// The text of an XML element with the five predefined entities decoded.
fn xml_text(raw: &str) -> String {
    raw.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Why an object could not be read or written. No message carries a key or a signature.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error(transparent)]
    Location(#[from] S3Error),
    #[error("{0}")]
    Service(ServiceError),
    #[error(transparent)]
    Http(#[from] HttpError),
}

impl ObjectError {
    /// The server's error code, when it answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ObjectError::Service(error) if !error.code.is_empty() => Some(&error.code),
            _ => None,
        }
    }
}

impl S3Repository {
    /// Whether the endpoint is Google Cloud Storage's, whose XML API checks generation numbers
    /// rather than ETags on writes.
    pub(super) fn is_google_cloud_storage(&self) -> bool {
        self.bucket.base_url().host_str().is_some_and(|host| {
            host == "storage.googleapis.com" || host.ends_with(".storage.googleapis.com")
        })
    }

    /// The service's base URL without user info, for messages.
    pub(super) fn endpoint_shown(&self) -> String {
        let mut base = self.bucket.base_url().clone();
        base.set_path("");
        display_url(&base)
    }

    /// The error for a failed answer to `method` on `url`.
    pub(super) fn service_error(&self, method: &str, url: &Url, answer: &Exchange) -> ServiceError {
        ServiceError {
            method: method.into(),
            url: display_url(url),
            bucket: self.bucket.name().into(),
            ..ServiceError::read(answer)
        }
    }

    /// Downloads the object at `path` with its version, or `None` when the bucket has no such
    /// object. A missing bucket is an error, not `None`; one over `max_bytes` is refused while
    /// downloading.
    pub async fn fetch_object(
        &self,
        path: &str,
        max_bytes: u64,
    ) -> Result<Option<(Vec<u8>, ObjectVersion)>, ObjectError> {
        let key = self.object_key(path)?;
        let url = self
            .bucket
            .get_object(Some(&self.credentials), &key)
            .sign(PRESIGNED_URL_LIFETIME);
        let answer = self
            .http
            .exchange(Method::GET, &url, HeaderMap::new(), None, max_bytes)
            .await?;
        match answer.status {
            200..=299 => {
                let version = version_of(&answer);
                Ok(Some((answer.body, version)))
            }
            404 => {
                let error = self.service_error("GET", &url, &answer);
                if error.code == "NoSuchBucket" {
                    Err(ObjectError::Service(error))
                } else {
                    Ok(None)
                }
            }
            _ => Err(ObjectError::Service(
                self.service_error("GET", &url, &answer),
            )),
        }
    }

    /// Uploads `body` to `path` if `precondition` holds.
    pub async fn put_object(
        &self,
        path: &str,
        body: Vec<u8>,
        precondition: &Precondition,
    ) -> Result<PutOutcome, ObjectError> {
        let key = self.object_key(path)?;
        let conditions = self.precondition_headers(precondition);
        let mut action = self.bucket.put_object(Some(&self.credentials), &key);
        for (name, value) in &conditions {
            action.headers_mut().insert(*name, value.clone());
        }
        let url = action.sign(PRESIGNED_URL_LIFETIME);
        let mut headers = HeaderMap::new();
        for (name, value) in &conditions {
            let value = reqwest::header::HeaderValue::from_str(value).map_err(|_| {
                HttpError::Client(format!("the {name} value {value:?} is not a valid header"))
            })?;
            headers.insert(*name, value);
        }
        let answer = self
            .http
            .exchange(Method::PUT, &url, headers, Some(body), MAX_ERROR_BODY_BYTES)
            .await?;
        match answer.status {
            200..=299 => Ok(PutOutcome::Stored(version_of(&answer))),
            412 => Ok(PutOutcome::PreconditionFailed),
            // AWS answers 409 ConditionalRequestConflict while another conditional write to
            // the key is in flight: the same outcome, someone else is writing.
            409 if precondition != &Precondition::None => Ok(PutOutcome::PreconditionFailed),
            _ => Err(ObjectError::Service(
                self.service_error("PUT", &url, &answer),
            )),
        }
    }

    /// The headers expressing `precondition` on this server.
    fn precondition_headers(&self, precondition: &Precondition) -> Vec<(&'static str, String)> {
        let gcs = self.is_google_cloud_storage();
        match precondition {
            Precondition::None => Vec::new(),
            Precondition::Absent if gcs => vec![("x-goog-if-generation-match", "0".into())],
            Precondition::Absent => vec![("if-none-match", "*".into())],
            Precondition::Matches(version) => match (&version.generation, &version.etag) {
                (Some(generation), _) => {
                    vec![("x-goog-if-generation-match", generation.clone())]
                }
                (None, Some(etag)) => vec![("if-match", etag.clone())],
                // A version without either cannot be checked: demand something that never
                // matches, so the write fails rather than overwriting blindly.
                (None, None) => vec![("if-match", "\"\"".into())],
            },
        }
    }
}

/// The version an answer reports.
fn version_of(answer: &Exchange) -> ObjectVersion {
    ObjectVersion {
        etag: answer.header("etag"),
        generation: answer.header("x-goog-generation"),
    }
}
