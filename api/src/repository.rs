//! `ChartRepository`: where charts come from, and how they must be verified.

use crate::duration::Duration;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{Connection, SecretReference};

/// A Helm-compatible chart repository (an HTTP server or an S3 bucket with an `index.yaml`) or an
/// OCI registry path. The operator fetches a repository's index once per interval and shares it
/// with every ChartDeployment that uses it; charts in a registry resolve over their tags.
// Each printcolumn repeats keys such as `type_`, which clippy mistakes for duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "capstan.dev",
    version = "v1alpha1",
    kind = "ChartRepository",
    doc = "A Helm-compatible chart repository whose index the operator fetches once per interval and shares with every ChartDeployment that uses it.",
    namespaced,
    status = "ChartRepositoryStatus",
    shortname = "crepo",
    category = "capstan",
    printcolumn(name = "URL", type_ = "string", json_path = ".spec.url"),
    printcolumn(name = "Charts", type_ = "integer", json_path = ".status.chartCount"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Status",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].message"
    ),
    printcolumn(
        name = "Index Changed",
        type_ = "date",
        json_path = ".status.indexChangeTime"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(
    validation = Rule::new("!has(self.s3) || self.url.startsWith('s3://')").message("s3 is only for s3:// URLs"),
    validation = Rule::new("!self.url.startsWith('s3://') || has(self.secretRef)").message("an s3:// repository needs secretRef, a Secret with accessKeyID and secretAccessKey"),
    validation = Rule::new("!self.url.startsWith('s3://') || !((has(self.passCredentials) && self.passCredentials) || (has(self.plainHttp) && self.plainHttp))").message("passCredentials and plainHttp have no effect on s3:// repositories: the keys only sign requests to the bucket, and an http:// s3.endpoint gives plain HTTP")
)]
#[serde(rename_all = "camelCase")]
pub struct ChartRepositorySpec {
    /// URL of the repository: `https://` or `http://` for a Helm HTTP repository (the operator
    /// reads `<url>/index.yaml`), `s3://BUCKET[/PREFIX]` for one in a private S3-compatible
    /// bucket (the operator reads `PREFIX/index.yaml`; see `s3`), or `oci://host[:port]/path`
    /// for charts in an OCI registry (a chart `name` is the repository `host/path/name`, its
    /// versions are its tags).
    #[x_kube(validation = Rule::new("self.startsWith('https://') || self.startsWith('http://') || self.startsWith('s3://') || self.startsWith('oci://')").message("url must start with https://, http://, s3:// or oci://"))]
    pub url: String,

    /// Where and how to reach the S3-compatible service of an `s3://` URL (only for those).
    /// Without it, AWS S3 in us-east-1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Settings>,

    /// How often to fetch the index, as a Go duration (`10m`, `1h`). Defaults to 10m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,

    /// How long one fetch of the index or of a chart archive may take. Defaults to 60s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,

    /// Credentials, TLS and provenance verification for the repository.
    #[serde(flatten)]
    pub connection: Connection,

    /// Send the credentials also to other hosts the index points chart downloads at (Helm's
    /// `--pass-credentials`). Off by default: only the repository's own host receives them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pass_credentials: bool,

    /// Stop fetching the index; deployments keep using the last index fetched.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspend: bool,
}

/// The S3-compatible service an `s3://` repository lives on. Requests are signed with AWS
/// Signature Version 4 in the query string (presigned URLs), which AWS, MinIO, Ceph and most
/// other S3-compatible servers accept.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Settings {
    /// Base URL of the S3 API, e.g. `https://s3.eu-west-1.amazonaws.com` or
    /// `http://minio.storage:9000`. Defaults to `https://s3.<region>.amazonaws.com`. A CA for
    /// it goes in `certSecretRef` as for HTTP repositories.
    #[x_kube(validation = Rule::new("self.startsWith('https://') || self.startsWith('http://')").message("endpoint must start with https:// or http://"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,

    /// The region signatures name. Defaults to `us-east-1`, which most self-hosted servers
    /// expect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,

    /// Address objects as `ENDPOINT/BUCKET/KEY` (path style, what AWS SDKs call
    /// `forcePathStyle`) instead of `BUCKET.ENDPOINT-HOST/KEY` (virtual-host style). Defaults to
    /// path style for endpoints that are an IP address or `localhost`, which have no bucket
    /// subdomains, and to virtual-host style otherwise; set it to `true` for servers such as
    /// MinIO that serve every bucket under one host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_style: Option<bool>,
}

/// Provenance verification of chart archives, with the keys that may sign them.
#[derive(KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[x_kube(validation = Rule::new("self.mode == 'Ignore' || has(self.keyringSecretRef)").message("keyringSecretRef is required unless mode is Ignore"))]
#[serde(rename_all = "camelCase")]
pub struct VerificationPolicy {
    /// `Required`: every archive needs a `.prov` signed by a key in the keyring. `IfPresent`: a
    /// `.prov`, when the repository has one, must verify. `Ignore`: provenance is not checked.
    pub mode: VerificationMode,
    /// Secret whose `keyring.gpg` (or any key ending in `.gpg`/`.asc`) holds the trusted public
    /// keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyring_secret_ref: Option<SecretReference>,
}

/// How strictly provenance is checked.
#[derive(JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum VerificationMode {
    /// Every archive must have a valid signature from the keyring.
    Required,
    /// Archives that have a `.prov` must verify; archives without one are accepted.
    IfPresent,
    /// Provenance is not checked.
    #[default]
    Ignore,
}

/// What the operator last observed of the repository.
#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartRepositoryStatus {
    /// `Ready`, `Reconciling` and `Stalled`, as kstatus reads them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `sha256:<hex>` of the last index fetched; a change triggers the deployments that use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_digest: Option<String>,
    /// Number of chart versions in the last index fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_count: Option<i64>,
    /// When the operator first fetched the index now listed in `indexDigest`. A fetch that finds
    /// the same index, with the same outcome, writes nothing: polling an unchanged repository
    /// costs the API server no write (the fetches are counted in the operator's metrics,
    /// `capstan_index_fetches_total`). Not set for `oci://` registries, which have no index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index_change_time: Option<Time>,
    /// While a failed fetch waits for its retry: when the back-off ends. Unset once a fetch
    /// succeeds, and while the repository is suspended. The deployments that use the repository
    /// are woken only when the index or the conditions change.
    pub next_fetch_time: Option<Time>,
}
