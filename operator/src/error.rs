//! Errors of the reconcile pipeline, and how each one is reported and retried.
//!
//! Every error knows two things the controller needs: the condition `reason` a user sees, and
//! whether retrying can help. Errors that only a change to the spec or its inputs can fix are
//! *stalled*: they are reported with `Stalled=True` and the resource waits for a change (or the
//! long interval) instead of retrying hot.

use std::time::Duration;

/// Everything that can stop a reconcile.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API request failed: {0}")]
    Kube(#[from] kube::Error),

    #[error("{0}")]
    InvalidSpec(String),

    #[error("{what}: {message}")]
    InputMissing { what: String, message: String },

    #[error("provenance verification failed: {0}")]
    Verification(String),

    #[error(
        "digest mismatch: {url} has sha256 {actual} but the repository index lists {expected}; \
         the archive was changed after indexing or the index is stale, nothing was applied"
    )]
    DigestMismatch {
        url: String,
        expected: String,
        actual: String,
    },

    #[error("chart not found in ChartRepository index {0}")]
    ChartNotFound(String),

    #[error("fetching {what} failed: {message}")]
    Fetch { what: String, message: String },

    /// The server refused the credentials (or their absence). The message comes from the
    /// clients, which never include credentials.
    #[error("authentication for {what} failed: {message}")]
    Authentication { what: String, message: String },
    #[error(
        "the index of ChartRepository {repository} is larger than the operator's limit of \
         {limit} bytes; nothing of it was used. Raise the limit (capstan-operator run \
         --max-index-bytes, or CAPSTAN_MAX_INDEX_BYTES) if the repository really is this large"
    )]
    IndexTooLarge { repository: String, limit: u64 },

    #[error("loading the chart archive failed: {0}")]
    Load(String),

    #[error("rendering the chart failed: {0}")]
    Render(String),

    #[error("{0}")]
    Conflict(String),

    #[error("applying {object} failed: {message}")]
    Apply { object: String, message: String },

    #[error("CustomResourceDefinition {name} did not become Established within {seconds}s")]
    CrdNotEstablished { name: String, seconds: u64 },

    #[error(
        "{kind} is not served by the cluster (apiVersion {api_version}); install its CRD or fix the chart"
    )]
    UnknownKind { api_version: String, kind: String },

    #[error("pruning {object} failed: {message}")]
    Prune { object: String, message: String },
}

impl Error {
    /// A failed download of `what`: refused credentials become [`Error::Authentication`].
    pub fn from_http(what: String, error: capstan_sources::http::HttpError) -> Self {
        use capstan_sources::http::HttpError;
        // HttpError never shows credentials or query strings.
        let message = error.to_string();
        match error {
            HttpError::Status {
                status: 401 | 403, ..
            } => Error::Authentication { what, message },
            _ => Error::Fetch { what, message },
        }
    }

    /// A failed read of `what` from an S3 bucket: a refused signature becomes
    /// [`Error::Authentication`], a missing bucket or object [`Error::Fetch`] naming both.
    pub fn from_s3(what: String, error: capstan_sources::s3::S3Error) -> Self {
        use capstan_sources::s3::S3Error;
        // S3Error never shows the secret key, a signature or a query string.
        match error {
            S3Error::Refused { .. } => Error::Authentication {
                what,
                message: error.to_string(),
            },
            S3Error::NotFound { .. } => Error::Fetch {
                what,
                message: error.to_string(),
            },
            S3Error::Http(error) => Error::from_http(what, error),
            S3Error::InvalidLocation { .. }
            | S3Error::InvalidEndpoint { .. }
            | S3Error::InvalidConfig { .. }
            | S3Error::InvalidKey { .. } => Error::InvalidSpec(format!("{what}: {error}")),
        }
    }

    /// The `reason` of the `Ready=False` condition and of the Warning event.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Kube(_) => "KubernetesError",
            Error::InvalidSpec(_) => "InvalidSpec",
            Error::InputMissing { .. } => "InputMissing",
            Error::Verification(_) | Error::DigestMismatch { .. } => "VerificationFailed",
            Error::ChartNotFound(_) => "ChartNotFound",
            Error::Fetch { .. } => "FetchFailed",
            Error::Authentication { .. } => "AuthenticationFailed",
            Error::IndexTooLarge { .. } => "IndexTooLarge",
            Error::Load(_) => "LoadFailed",
            Error::Render(_) => "RenderFailed",
            Error::Conflict(_) => "OwnershipConflict",
            Error::Apply { .. } | Error::CrdNotEstablished { .. } => "ApplyFailed",
            Error::UnknownKind { .. } => "UnknownKind",
            Error::Prune { .. } => "PruneFailed",
        }
    }

    /// Whether only a change to the spec, the chart or the referenced inputs can fix this.
    /// Such errors set `Stalled=True` and are retried slowly; the watches on the inputs trigger a
    /// reconcile as soon as something changes.
    pub fn is_stalled(&self) -> bool {
        matches!(
            self,
            Error::InvalidSpec(_)
                | Error::Verification(_)
                | Error::DigestMismatch { .. }
                | Error::ChartNotFound(_)
                | Error::IndexTooLarge { .. }
                | Error::Load(_)
                | Error::Render(_)
                | Error::Conflict(_)
                | Error::UnknownKind { .. }
        )
    }

    /// How long to wait before the next attempt after `failures` consecutive failures:
    /// exponential from 5s, capped at 5 minutes; stalled errors wait for the cap straight away.
    pub fn retry_after(&self, failures: u32) -> Duration {
        const FIRST: u64 = 5;
        const CAP: u64 = 300;
        if self.is_stalled() {
            return Duration::from_secs(CAP);
        }
        let exponent = failures.saturating_sub(1).min(16);
        Duration::from_secs(FIRST.saturating_mul(1 << exponent).min(CAP))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_errors_back_off_exponentially_up_to_a_cap() {
        let error = Error::Apply {
            object: "ConfigMap apps/web".into(),
            message: "connection refused".into(),
        };
        let waits: Vec<u64> = (1..=8).map(|n| error.retry_after(n).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(error.retry_after(u32::MAX).as_secs(), 300);
    }

    #[test]
    fn refused_credentials_are_an_authentication_failure() {
        let error = Error::from_http(
            "the index".into(),
            capstan_sources::http::HttpError::Status {
                url: "http://repo/index.yaml".into(),
                status: 401,
            },
        );
        assert_eq!(error.reason(), "AuthenticationFailed");
        assert!(!error.is_stalled());
        let error = Error::from_http(
            "the index".into(),
            capstan_sources::http::HttpError::Status {
                url: "http://repo/index.yaml".into(),
                status: 500,
            },
        );
        assert_eq!(error.reason(), "FetchFailed");
    }

    #[test]
    fn s3_refusals_and_missing_objects_keep_their_reasons() {
        use capstan_sources::s3::S3Error;
        let refused = Error::from_s3(
            "the index".into(),
            S3Error::Refused {
                url: "http://127.0.0.1:9000/charts/index.yaml".into(),
                bucket: "charts".into(),
                status: 403,
            },
        );
        assert_eq!(refused.reason(), "AuthenticationFailed");
        let missing = Error::from_s3(
            "the index".into(),
            S3Error::NotFound {
                url: "http://127.0.0.1:9000/nope/index.yaml".into(),
                bucket: "nope".into(),
                key: "index.yaml".into(),
            },
        );
        assert_eq!(missing.reason(), "FetchFailed");
        assert!(missing.to_string().contains("s3://nope"), "{missing}");
        let invalid = Error::from_s3(
            "chart app".into(),
            S3Error::InvalidKey {
                bucket: "charts".into(),
                path: "s3://other/a.tgz".into(),
                reason: "another bucket".into(),
            },
        );
        assert!(invalid.is_stalled());
    }

    #[test]
    fn stalled_errors_do_not_retry_hot() {
        let error = Error::Render("templates/a.yaml line 3: undefined".into());
        assert!(error.is_stalled());
        assert_eq!(error.retry_after(1).as_secs(), 300);
        assert_eq!(error.reason(), "RenderFailed");
    }
}
