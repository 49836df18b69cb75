//! Errors of the reconcile pipeline, and how each one is reported and retried.
//!
//! Every error knows two things the controller needs: the condition `reason` a user sees, and
//! whether retrying can help. Errors that only a change to the spec or its inputs can fix are
//! *stalled*: they are reported with `Stalled=True` and the resource waits for a change (or the
//! long interval) instead of retrying hot.
//!
//! The `Display` of an error is what lands in a condition message and an event: one readable
//! sentence that names the object, what failed and the cause's own message (for the API server,
//! its `message`, never a debug dump of the response). The cause itself stays reachable through
//! [`std::error::Error::source`] for logs.

use std::time::Duration;

use capstan_chart::expand::ExpandError;
use capstan_chart::load::LoadError;
use capstan_chart::provenance::ProvenanceError;
use capstan_sources::http::HttpError;
use capstan_sources::oci::OciError;
use capstan_sources::s3::S3Error;

/// Longest message of a remote cause kept in a condition: API server messages are short, but
/// an aggregated API or a webhook can answer with a whole page.
const MAX_CAUSE_CHARS: usize = 300;

/// The longest wait before a deployment refused by RBAC is tried again. A refusal is fixed
/// outside the deployment, by a grant the operator does not watch (it has no rights on RBAC
/// objects), so the retry itself notices it: within a minute, where other stalled errors wait
/// five. A retry of a refused revision costs a render and a dry run of each object.
pub const FORBIDDEN_RETRY_CAP: Duration = Duration::from_secs(60);

/// Everything that can stop a reconcile.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request to the API server about the resource's own inputs (reading a Secret, a
    /// ChartRepository, discovery) failed.
    #[error("{action} failed: {}", kube_message(.source))]
    Kube {
        /// What was being done: `reading Secret apps/creds`, `discovering the served kinds`.
        action: String,
        #[source]
        source: kube::Error,
    },

    /// The spec (or an object it names) is wrong in a way only its author can fix.
    #[error("{0}")]
    InvalidSpec(String),

    /// Something the spec names does not exist (yet).
    #[error("{what}: {message}")]
    InputMissing { what: String, message: String },

    /// A healthy repository's index is not in this operator's cache yet: the operator has just
    /// started, or the repository was just created. Its controller is fetching it and wakes the
    /// deployment when it arrives, so this is a wait, not a failure: nothing is reported and
    /// nothing written (an operator restart must not flip every deployment's Ready condition).
    #[error("ChartRepository {repository}: this operator has not fetched its index yet")]
    IndexPending { repository: String },

    #[error("provenance verification of {archive} failed: {source}")]
    Verification {
        archive: String,
        #[source]
        source: ProvenanceError,
    },

    /// The policy asked for a check the chart cannot pass (no `.prov` under `Required`, no keyring).
    #[error("provenance verification failed: {0}")]
    VerificationPolicy(String),

    #[error(
        "digest mismatch: {url} has sha256 {actual} but the repository index lists {expected}; \
         the archive was changed after indexing or the index is stale, nothing was applied"
    )]
    DigestMismatch {
        url: String,
        expected: String,
        actual: String,
    },

    /// The source has no chart (or no version) matching the spec.
    #[error("chart not found in {source_name}: {message}")]
    ChartNotFound {
        source_name: String,
        message: String,
    },

    /// What a registry served is not a usable chart (not a Helm chart, too large).
    #[error("the chart from {what} cannot be used: {source}")]
    NotAChart {
        what: String,
        #[source]
        source: OciError,
    },

    #[error("fetching {what} failed: {source}")]
    Fetch {
        what: String,
        /// Boxed: the clients' errors are large, and every `Result` of the operator carries this.
        #[source]
        source: Box<FetchError>,
    },

    /// The server refused the credentials (or their absence). The cause comes from the
    /// clients, which never include credentials.
    #[error("authentication for {what} failed: {source}")]
    Authentication {
        what: String,
        /// Boxed, as in `Fetch`.
        #[source]
        source: Box<FetchError>,
    },

    #[error(
        "the index of ChartRepository {repository} is larger than the operator's limit of \
         {limit} bytes; nothing of it was used. Raise the limit (capstan-operator run \
         --max-index-bytes, or CAPSTAN_MAX_INDEX_BYTES) if the repository really is this large"
    )]
    IndexTooLarge { repository: String, limit: u64 },

    #[error("the index of {repository} could not be read: {problem}")]
    IndexInvalid {
        repository: String,
        problem: crate::repository::fetch_index::IndexProblem,
    },

    #[error("loading the chart archive failed: {0}")]
    Load(#[source] LoadError),

    #[error("rendering the chart failed: {0}")]
    Render(#[source] ExpandError),

    /// The rendered objects are not something that can be applied (no name, twice the same).
    #[error("the chart's output cannot be applied: {0}")]
    Manifest(String),

    #[error("{0}")]
    Conflict(String),

    /// The identity the deployment acts as may not read or write an object of the chart.
    #[error(
        "{identity} may not act on {object}: {}; grant it the permission (RBAC), and the \
         deployment is tried again within a minute, or change the chart or targetNamespace",
        shorten(message)
    )]
    Forbidden {
        object: String,
        identity: String,
        /// The API server's message, which names the verb, resource and namespace refused.
        message: String,
    },

    /// A failed upgrade was to be rolled back, and there is nothing to go back to.
    #[error(
        "the upgrade failed and cannot be rolled back: {0}; fix the chart or its values, or \
         remove spec.upgrade.remediation"
    )]
    RollbackUnavailable(String),

    /// A Helm hook of the chart failed: the revision stops there.
    #[error(
        "the {phase} hook {hook} failed: {}; fix the chart or its values (a new revision runs \
         the hooks again)",
        shorten(message)
    )]
    HookFailed {
        hook: String,
        phase: &'static str,
        message: String,
    },

    /// An update of a CRD would stop serving a version objects are still stored in.
    #[error(
        "CustomResourceDefinition {crd}: the new definition drops version(s) {versions}, which \
         status.storedVersions says objects are still stored in; migrate those objects to a \
         version the chart keeps and remove the old one from storedVersions first, or set \
         spec.upgrade.crds: Skip"
    )]
    CrdVersionDropped { crd: String, versions: String },

    /// An object the chart renders exists and belongs to no ChartDeployment.
    #[error(
        "{object} exists and was not created by this ChartDeployment{helm}; it is left \
         untouched. Delete it, annotate it with capstan.dev/deployment: {owner}, or set \
         spec.adopt: true to take it over"
    )]
    AdoptionRefused {
        object: String,
        owner: String,
        /// `, but by Helm release <namespace>/<name>` when Helm's annotations say so.
        helm: String,
    },

    #[error("applying {object} failed: {}", kube_message(.source))]
    Apply {
        object: String,
        #[source]
        source: kube::Error,
    },

    /// Reading the live state of an object the chart renders failed.
    #[error("reading {object} failed: {}", kube_message(.source))]
    ReadLive {
        object: String,
        #[source]
        source: kube::Error,
    },

    /// Watching a CRD of the chart until it is Established failed.
    #[error("watching CustomResourceDefinition {name} until it is Established failed: {source}")]
    CrdWatch {
        name: String,
        #[source]
        source: kube::runtime::wait::Error,
    },

    #[error("CustomResourceDefinition {name} did not become Established within {seconds}s")]
    CrdNotEstablished { name: String, seconds: u64 },

    #[error(
        "{kind} is not served by the cluster (apiVersion {api_version}); install its CRD or fix the chart"
    )]
    UnknownKind { api_version: String, kind: String },

    #[error("pruning {object} failed: {}", kube_message(.source))]
    Prune {
        object: String,
        #[source]
        source: kube::Error,
    },

    /// A ChartDeployment named in `spec.dependsOn` is not Ready yet.
    #[error("waiting for dependencies: {0}")]
    DependencyNotReady(String),

    /// `spec.dependsOn` leads back to this ChartDeployment.
    #[error("spec.dependsOn forms a cycle: {0}; remove one of the dependencies")]
    DependencyCycle(String),

    /// `spec.timeout` ran out before the reconcile finished.
    #[error(
        "the reconcile did not finish within spec.timeout ({seconds}s) while {stage}; it is \
         retried with back-off (raise spec.timeout if the source is slow but working)"
    )]
    TimedOut { seconds: u64, stage: &'static str },

    /// A first install failed halfway, and deleting what it had created failed too: those
    /// objects carry this deployment's marks, so the next attempt takes them over.
    #[error(
        "{cause}; deleting what the attempt had created failed ({}), so {left} stayed: they are \
         this deployment's and its next attempt takes them over",
        kube_message(.source)
    )]
    UndoFailed {
        cause: Box<Error>,
        /// The objects left, as `Kind namespace/name`, comma-separated.
        left: String,
        #[source]
        source: kube::Error,
    },
}

/// Why a chart source could not be read: the client that failed, with its own error.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error(transparent)]
    S3(#[from] S3Error),
    #[error(transparent)]
    Oci(#[from] OciError),
    /// A protocol-level surprise that no client error describes.
    #[error("{0}")]
    Protocol(String),
}

impl Error {
    /// A request about `action` (`reading Secret apps/creds`) failed.
    pub fn kube(action: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
        let action = action.into();
        move |source| Error::Kube { action, source }
    }

    /// A failed download of `what`: refused credentials become [`Error::Authentication`].
    pub fn from_http(what: String, error: HttpError) -> Self {
        match error {
            HttpError::Status {
                status: 401 | 403, ..
            } => Error::Authentication {
                what,
                source: Box::new(error.into()),
            },
            _ => Error::Fetch {
                what,
                source: Box::new(error.into()),
            },
        }
    }

    /// A failed read of `what` from an S3 bucket: a refused signature becomes
    /// [`Error::Authentication`], a missing bucket or object [`Error::Fetch`] naming both.
    pub fn from_s3(what: String, error: S3Error) -> Self {
        match error {
            S3Error::Refused { .. } => Error::Authentication {
                what,
                source: Box::new(error.into()),
            },
            S3Error::NotFound { .. } => Error::Fetch {
                what,
                source: Box::new(error.into()),
            },
            S3Error::Http(error) => Error::from_http(what, error),
            S3Error::InvalidLocation { .. }
            | S3Error::InvalidEndpoint { .. }
            | S3Error::InvalidConfig { .. }
            | S3Error::InvalidKey { .. } => Error::InvalidSpec(format!("{what}: {error}")),
        }
    }

    /// A failed registry operation on `what`: refused credentials become
    /// [`Error::Authentication`], a reference or constraint the user wrote [`Error::InvalidSpec`],
    /// no matching tag [`Error::ChartNotFound`]. Registry messages carry URLs and registry error
    /// codes, never the credentials.
    pub fn from_oci(what: String, error: OciError) -> Self {
        match error {
            OciError::Unauthorized { .. } => Error::Authentication {
                what,
                source: Box::new(error.into()),
            },
            OciError::InvalidReference { .. }
            | OciError::InvalidConstraint { .. }
            | OciError::Credentials { .. } => Error::InvalidSpec(error.to_string()),
            OciError::NoMatchingVersion { .. } => Error::ChartNotFound {
                source_name: what,
                message: error.to_string(),
            },
            OciError::NotAChart { .. }
            | OciError::TooLarge { .. }
            | OciError::InvalidArchive(_) => Error::NotAChart {
                what,
                source: error,
            },
            OciError::Registry { .. } => Error::Fetch {
                what,
                source: Box::new(error.into()),
            },
        }
    }

    /// The `reason` of the `Ready=False` condition and of the Warning event.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Kube { .. } => "KubernetesError",
            Error::InvalidSpec(_) => "InvalidSpec",
            Error::InputMissing { .. } => "InputMissing",
            Error::IndexPending { .. } => "IndexPending",
            Error::Verification { .. }
            | Error::VerificationPolicy(_)
            | Error::DigestMismatch { .. } => "VerificationFailed",
            Error::ChartNotFound { .. } => "ChartNotFound",
            Error::Fetch { .. } => "FetchFailed",
            Error::Authentication { .. } => "AuthenticationFailed",
            Error::IndexTooLarge { .. } => "IndexTooLarge",
            Error::IndexInvalid { .. } => "FetchFailed",
            Error::Load(_) | Error::NotAChart { .. } => "LoadFailed",
            Error::Render(_) | Error::Manifest(_) => "RenderFailed",
            Error::Conflict(_) => "OwnershipConflict",
            Error::Forbidden { .. } => "Forbidden",
            Error::AdoptionRefused { .. } => "AdoptionRefused",
            Error::CrdVersionDropped { .. } => "CRDVersionDropped",
            Error::HookFailed { .. } => "HookFailed",
            Error::RollbackUnavailable(_) => "RollbackUnavailable",
            Error::Apply { .. }
            | Error::ReadLive { .. }
            | Error::CrdWatch { .. }
            | Error::CrdNotEstablished { .. } => "ApplyFailed",
            Error::UnknownKind { .. } => "UnknownKind",
            Error::Prune { .. } => "PruneFailed",
            Error::TimedOut { .. } => "TimedOut",
            Error::DependencyNotReady(_) => "DependencyNotReady",
            Error::DependencyCycle(_) => "DependencyCycle",
            Error::UndoFailed { cause, .. } => cause.reason(),
        }
    }

    /// Whether only a change to the spec, the chart or the referenced inputs can fix this.
    /// Such errors set `Stalled=True` and are retried slowly; the watches on the inputs trigger a
    /// reconcile as soon as something changes.
    pub fn is_stalled(&self) -> bool {
        if let Error::UndoFailed { cause, .. } = self {
            return cause.is_stalled();
        }
        matches!(
            self,
            Error::InvalidSpec(_)
                | Error::Verification { .. }
                | Error::VerificationPolicy(_)
                | Error::DigestMismatch { .. }
                | Error::ChartNotFound { .. }
                | Error::IndexTooLarge { .. }
                | Error::Load(_)
                | Error::NotAChart { .. }
                | Error::Render(_)
                | Error::Manifest(_)
                | Error::Conflict(_)
                | Error::Forbidden { .. }
                | Error::AdoptionRefused { .. }
                | Error::CrdVersionDropped { .. }
                | Error::RollbackUnavailable(_)
                | Error::DependencyCycle(_)
                | Error::UnknownKind { .. }
        )
    }

    /// How long to wait before the next attempt after `failures` consecutive failures:
    /// exponential from 5s, capped at 5 minutes; stalled errors wait for the cap straight away,
    /// except a refusal by RBAC, capped at [`FORBIDDEN_RETRY_CAP`]. A failed undo waits as its
    /// cause would.
    pub fn retry_after(&self, failures: u32) -> Duration {
        if let Error::UndoFailed { cause, .. } = self {
            return cause.retry_after(failures);
        }
        const FIRST: u64 = 5;
        const CAP: u64 = 300;
        let exponential = |cap: u64| {
            let exponent = failures.saturating_sub(1).min(16);
            Duration::from_secs(FIRST.saturating_mul(1 << exponent).min(cap))
        };
        if matches!(self, Error::Forbidden { .. }) {
            return exponential(FORBIDDEN_RETRY_CAP.as_secs());
        }
        if self.is_stalled() {
            return Duration::from_secs(CAP);
        }
        exponential(CAP)
    }
}

/// The message of a Kubernetes client error as a user should read it: the API server's own
/// `message` for an API answer, else the client's error in one line; never longer than
/// [`MAX_CAUSE_CHARS`].
pub fn kube_message(error: &kube::Error) -> String {
    let message = match error {
        kube::Error::Api(status) if !status.message.is_empty() => {
            format!("{} (HTTP {})", status.message, status.code)
        }
        kube::Error::Api(status) => format!("{} (HTTP {})", status.reason, status.code),
        other => chain(other),
    };
    shorten(&message)
}

/// An error and its causes, joined as `a: b: c`, skipping causes the previous text already says.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        let next_text = next.to_string();
        if !text.contains(&next_text) {
            text.push_str(": ");
            text.push_str(&next_text);
        }
        cause = next.source();
    }
    text
}

/// `text` on one line and at most [`MAX_CAUSE_CHARS`] characters.
fn shorten(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= MAX_CAUSE_CHARS {
        return one_line;
    }
    let kept: String = one_line.chars().take(MAX_CAUSE_CHARS - 1).collect();
    format!("{kept}…")
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api_error(code: u16, message: &str) -> kube::Error {
        kube::Error::Api(
            Status::failure(message, "InternalError")
                .with_code(code)
                .boxed(),
        )
    }

    #[test]
    fn transient_errors_back_off_exponentially_up_to_a_cap() {
        let error = Error::Apply {
            object: "ConfigMap apps/web".into(),
            source: api_error(500, "connection refused"),
        };
        let waits: Vec<u64> = (1..=8).map(|n| error.retry_after(n).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(error.retry_after(u32::MAX).as_secs(), 300);
    }

    #[test]
    fn api_errors_read_as_one_sentence_with_the_servers_message() {
        let message = "Internal error occurred: failed to allocate a serviceIP: range is full";
        let error = Error::Apply {
            object: "Service cap/c1-web".into(),
            source: api_error(500, message),
        };
        let text = error.to_string();
        assert_eq!(
            text,
            format!("applying Service cap/c1-web failed: {message} (HTTP 500)")
        );
        assert!(!text.contains("Status {"), "{text}");
        assert!(std::error::Error::source(&error).is_some());
    }

    #[test]
    fn long_causes_are_cut_to_one_line() {
        let page = format!("line one\n{}", "x".repeat(2000));
        let text = Error::Prune {
            object: "ConfigMap a/b".into(),
            source: api_error(503, &page),
        }
        .to_string();
        assert!(!text.contains('\n'), "{text}");
        assert!(text.chars().count() < MAX_CAUSE_CHARS + 40, "{text}");
        assert!(text.ends_with('…'), "{text}");
    }

    #[test]
    fn refused_credentials_are_an_authentication_failure() {
        let status = |status| HttpError::Status {
            url: "http://repo/index.yaml".into(),
            status,
        };
        let error = Error::from_http("the index".into(), status(401));
        assert_eq!(error.reason(), "AuthenticationFailed");
        assert!(!error.is_stalled());
        let error = Error::from_http("the index".into(), status(500));
        assert_eq!(error.reason(), "FetchFailed");
        assert!(std::error::Error::source(&error).is_some());
    }

    #[test]
    fn s3_refusals_and_missing_objects_keep_their_reasons() {
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
    fn a_refusal_by_rbac_is_tried_again_within_a_minute() {
        let error = Error::Forbidden {
            object: "ConfigMap other/web".into(),
            identity: "ServiceAccount apps/default".into(),
            message: "configmaps is forbidden".into(),
        };
        assert!(error.is_stalled());
        let waits: Vec<u64> = (1..=6).map(|n| error.retry_after(n).as_secs()).collect();
        assert_eq!(waits, [5, 10, 20, 40, 60, 60]);
        assert_eq!(error.retry_after(u32::MAX), FORBIDDEN_RETRY_CAP);
        // Refused halfway through a first install, with the undo refused too.
        let undo_failed = Error::UndoFailed {
            cause: Box::new(error),
            left: "ConfigMap other/web".into(),
            source: api_error(403, "configmaps is forbidden"),
        };
        assert_eq!(undo_failed.retry_after(6), FORBIDDEN_RETRY_CAP);
    }

    #[test]
    fn stalled_errors_do_not_retry_hot() {
        let error = Error::Manifest("ConfigMap t/a is rendered twice".into());
        assert!(error.is_stalled());
        assert_eq!(error.retry_after(1).as_secs(), 300);
        assert_eq!(error.reason(), "RenderFailed");
        let timed_out = Error::TimedOut {
            seconds: 30,
            stage: "fetching the chart",
        };
        assert!(!timed_out.is_stalled());
        assert_eq!(timed_out.reason(), "TimedOut");
    }
}
