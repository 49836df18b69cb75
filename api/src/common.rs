//! Types shared by both resources: references, durations, condition types and revisions.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
