//! Types shared by both resources: references, durations, condition types and revisions.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::repository::VerificationPolicy;

/// A reference to a Secret in the same namespace as the resource that names it.
///
/// Cross-namespace references are deliberately not supported: reading a Secret is only allowed
/// where the resource itself lives, so a tenant cannot borrow another namespace's credentials.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SecretReference {
    /// Name of the Secret, in the namespace of this resource.
    pub name: String,
}

/// The `status` of a condition, as Kubernetes spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

impl ConditionStatus {
    /// The string the API expects in `conditions[].status`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        }
    }
}

/// Condition type: the resource reached its desired state.
pub const READY: &str = "Ready";
/// Condition type: the operator is working towards the desired state (kstatus).
pub const RECONCILING: &str = "Reconciling";
/// Condition type: the operator cannot make progress without a change to the spec or its inputs
/// (kstatus).
pub const STALLED: &str = "Stalled";

/// What was (or was to be) applied: the chart, its version and digests of the archive and of the
/// merged values. Two reconciles with the same revision produce the same objects, which is how
/// the operator knows it can skip writing anything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Revision {
    /// Name of the chart, from its Chart.yaml.
    pub chart: String,
    /// Version of the chart, from its Chart.yaml.
    pub version: String,
    /// `sha256:<hex>` of the chart archive.
    pub archive_digest: String,
    /// `sha256:<hex>` of the merged values (values from `values` and `valuesFrom`); the values
    /// themselves are never written to status because they may hold secrets.
    pub values_digest: String,
    /// `sha256:<hex>` of the OCI manifest the chart was pulled from (OCI sources only): the tag
    /// or constraint resolved to this digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_digest: Option<String>,
}

/// How to reach a chart source and how far to trust what it serves: credentials and TLS from
/// Secrets, and the provenance policy. A ChartRepository and a ChartDeployment's `oci` source
/// both carry these fields (flattened into their own spec).
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    /// Secret with credentials: `username` and `password` (basic auth, exchanged for a token when
    /// a registry asks) or `token` (a bearer token); for OCI registries also a
    /// `kubernetes.io/dockerconfigjson` Secret, whose `auths` entry for the registry's host is
    /// used; for `s3://` repositories (where it is required) `accessKeyID` and
    /// `secretAccessKey`, the keys Flux's Bucket reads. Credentials go only to the source's own
    /// host (scheme, host and port), or for `s3://` only to its bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretReference>,

    /// Secret with a `ca.crt` (PEM) to trust for the source's TLS certificate, in addition to
    /// the system roots, and optionally `tls.crt` and `tls.key` (PEM) as a client certificate
    /// (HTTP repositories only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_secret_ref: Option<SecretReference>,

    /// Accept any TLS certificate from the source. Only for test servers: it gives up the
    /// protection TLS offers.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_skip_tls_verify: bool,

    /// Speak plain HTTP to an OCI registry instead of HTTPS (`helm --plain-http`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub plain_http: bool,

    /// Whether chart archives must come with a valid provenance (`.prov`) file; for OCI charts,
    /// the provenance layer. Defaults to `mode: Ignore`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerificationPolicy>,
}
