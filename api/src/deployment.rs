//! `ChartDeployment`: a chart, its values and where its objects go.

use crate::duration::Duration;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{Connection, Revision};
use crate::repository::VerificationPolicy;

/// A chart deployed into the cluster. The operator renders the chart with the given values and
/// applies the result with server-side apply, keeps an inventory of what it applied, prunes what a
/// new revision drops and removes everything when this resource is deleted.
// Each printcolumn repeats keys such as `type_`, which clippy mistakes for duplicated attributes.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "capstan.dev",
    version = "v1alpha1",
    kind = "ChartDeployment",
    doc = "A chart deployed into the cluster: fetched, verified, rendered with its values and applied by server-side apply, with an inventory that prunes and deletes what it applied.",
    namespaced,
    status = "ChartDeploymentStatus",
    shortname = "cdep",
    category = "capstan",
    printcolumn(
        name = "Chart",
        type_ = "string",
        json_path = ".status.lastAppliedRevision.chart"
    ),
    printcolumn(
        name = "Version",
        type_ = "string",
        json_path = ".status.lastAppliedRevision.version"
    ),
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
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ChartDeploymentSpec {
    /// Where the chart comes from: exactly one of `repository`, `package` or `oci`.
    pub chart: ChartSource,

    /// Release name the chart sees as `release.name`. Defaults to the name of this resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_name: Option<String>,

    /// Namespace for the chart's namespaced objects that do not name one. Defaults to the
    /// namespace of this resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_namespace: Option<String>,

    /// Values for the chart, merged over its values.yaml and over everything in `valuesFrom`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::deployment::free_form_object")]
    pub values: Option<serde_json::Map<String, serde_json::Value>>,

    /// Values read from ConfigMaps and Secrets in this namespace, merged in order (later wins),
    /// before `values`. A change in one of them triggers a new reconcile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values_from: Vec<ValuesReference>,

    /// How often to re-check the chart source and correct drift, as a Go duration. Defaults to 10m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,

    /// How long one reconcile (download, render, apply, wait for CRDs) may take. Defaults to 5m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Duration>,

    /// The ServiceAccount, in this namespace, whose rights every read of the chart's live
    /// objects, every apply, prune and delete of this deployment uses (the operator
    /// impersonates it), along with the reads of the ConfigMaps and Secrets it names. The
    /// deployment can then do exactly what that ServiceAccount may: objects in other
    /// namespaces or cluster-scoped ones only when its RBAC allows them. Defaults to the
    /// operator's `--default-service-account`, if set; otherwise the operator's own identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')").message("must be the name of a ServiceAccount"))]
    pub service_account_name: Option<String>,

    /// Take over objects the chart renders that already exist without belonging to any
    /// ChartDeployment (made by hand, by another tool, or by a Helm release). Off by default:
    /// such an object is never changed or deleted, and the deployment reports it with reason
    /// `AdoptionRefused`. Objects another ChartDeployment owns are never taken over.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub adopt: bool,

    /// Other ChartDeployments that must be Ready before this one is applied (same namespace;
    /// another namespace only when the operator allows cross-namespace references). Waiting says
    /// which; a cycle is reported as such.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<DependencyReference>,

    /// How changes made to the applied objects by others are handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_detection: Option<DriftDetection>,

    /// `Automatic` (the default): each new revision is applied as soon as it is known.
    /// `Manual`: each change (a new chart version, new values, or drift that would be corrected)
    /// is first planned: rendered and checked by a server-side dry run of every object, with
    /// what would be created, changed and pruned written to `status.plan` (and every object's
    /// diff to ConfigMaps it names) and nothing applied until `approvedPlan` names that plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,

    /// The digest of the plan (`status.plan.digest`) approved for applying. A plan whose digest
    /// differs (anything changed since: a chart version, a value, a live object) is not applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_plan: Option<String>,

    /// What a first install does with the chart's CRDs (from `crds/` or its templates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install: Option<InstallPolicy>,

    /// What an upgrade does with the chart's CRDs (from `crds/` or its templates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade: Option<UpgradePolicy>,

    /// What deleting this ChartDeployment deletes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uninstall: Option<UninstallPolicy>,

    /// How many revisions `status.history` keeps. Defaults to 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub max_history: Option<u32>,

    /// Stop reconciling: nothing is applied or pruned until this is false again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspend: bool,
}

/// What a first install (no revision applied yet) does with the chart's CRDs, and when it fails.
#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallPolicy {
    /// `Create` (the default): create the chart's CRDs, leaving ones that exist as they are;
    /// `CreateReplace`: create and update them; `Skip`: leave CRDs alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crds: Option<CrdPolicy>,

    /// What to do when the install fails. Unset: a failed install is reported and tried again
    /// with back-off like any error, and one whose objects fail their health check stays as it
    /// is (`HealthCheckFailed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<InstallRemediation>,
}

/// What to do when an install fails: its objects failed their health check (an object failed,
/// or they were not healthy within `spec.timeout`), the API server rejected one of them as
/// invalid, or one of its hooks failed or did not finish in time. Errors that are not the
/// revision's own (the API server unreachable, a conflict with another owner, missing
/// permissions, a kind discovery does not list yet) are retried as usual and not counted.
#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallRemediation {
    /// How many times a failed install is tried again (waiting 10s, then twice as long each
    /// time, up to 5m) before `strategy` runs. Defaults to 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 100))]
    pub retries: Option<u32>,

    /// `Uninstall`: once the retries are used up, delete what the failed install applied (the
    /// ChartDeployment stays, and CRDs are kept). Unset: leave the failed install in place. Either
    /// way the revision is not tried again until the spec, the values or the chart change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<InstallRemediationStrategy>,
}

/// How a failed install is remediated.
#[derive(JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InstallRemediationStrategy {
    /// Delete what the failed install applied.
    Uninstall,
}

/// What an upgrade (any revision after the first applied) does with the chart's CRDs.
#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradePolicy {
    /// `Skip` (the default, as Flux does), `Create` (only missing ones) or `CreateReplace`
    /// (create and update; an update that drops a version still stored in etcd is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crds: Option<CrdPolicy>,

    /// What to do when an upgrade fails. Unset: the failed revision stays applied and is
    /// reported (`HealthCheckFailed`, or the error's reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<UpgradeRemediation>,
}

/// What to do when an upgrade fails: its objects failed their health check (an object failed,
/// or they were not healthy within `spec.timeout`), the API server rejected one of them as
/// invalid, or one of its hooks failed or did not finish in time. Errors that are not the
/// revision's own (the API server unreachable, a conflict with another owner, missing
/// permissions, a kind discovery does not list yet) are retried as usual and not counted.
#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeRemediation {
    /// How many times a failed upgrade is tried again (waiting 10s, then twice as long each
    /// time, up to 5m) before `strategy` runs. Defaults to 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 100))]
    pub retries: Option<u32>,

    /// `Rollback`: once the retries are used up, apply again the objects of the last revision
    /// that was healthy. Unset: leave the failed upgrade in place. Either way the failed revision
    /// is not tried again until the spec, the values or the chart change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<RemediationStrategy>,
}

/// How a failed upgrade is remediated.
#[derive(JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RemediationStrategy {
    /// Roll back to the last healthy revision.
    Rollback,
}

/// What deleting the ChartDeployment deletes.
#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UninstallPolicy {
    /// Delete the chart's CRDs too (and with them every custom resource of their kinds, in every
    /// namespace). Off by default: CRDs are never deleted by pruning or deletion.
    #[serde(
        default,
        rename = "deleteCRDs",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub delete_crds: bool,

    /// Release the ChartDeployment as soon as its objects are deleted, without waiting until
    /// their own finalizers let them go. By default deletion waits for that, up to
    /// `spec.timeout`, so a ChartDeployment is gone only once what it applied is.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub disable_wait: bool,
}

/// How a chart's CRDs, from its `crds/` directories or its templates, are applied. A CRD is
/// never deleted by pruning, and by deletion only with `uninstall.deleteCRDs`.
#[derive(JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CrdPolicy {
    /// Leave the chart's CRDs alone.
    Skip,
    /// Create the CRDs that do not exist; leave existing ones as they are (Helm's behaviour).
    Create,
    /// Create and update them, as any other object (adoption rules included); an update that
    /// drops a version still listed in the CRD's `status.storedVersions` is refused.
    CreateReplace,
}

/// When a revision is applied.
#[derive(JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Approval {
    /// As soon as it is known.
    #[default]
    Automatic,
    /// Once `spec.approvedPlan` names its plan.
    Manual,
}

/// A ChartDeployment this one depends on.
#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DependencyReference {
    /// Name of the ChartDeployment.
    pub name: String,
    /// Its namespace; defaults to this ChartDeployment's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Drift detection: what happens when someone else changes a field of an applied object.
#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DriftDetection {
    /// `Enabled` (the default): drifted objects are applied again at each interval, with a
    /// `DriftCorrected` event. `Warn`: drift is reported (condition `Drifted`, `status.drift`, a
    /// `DriftDetected` event) and left alone. `Disabled`: live objects are not compared.
    #[serde(default)]
    pub mode: DriftMode,
    /// Fields never counted as drift.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore: Vec<DriftIgnoreRule>,
}

/// How drift is handled.
#[derive(JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DriftMode {
    #[default]
    Enabled,
    Warn,
    Disabled,
}

/// Fields drift detection skips, in every object or in those a target selects.
#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftIgnoreRule {
    /// JSON pointers (RFC 6901) of the fields, e.g. `/spec/replicas`.
    pub paths: Vec<String>,
    /// The objects the rule applies to; all when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<DriftTarget>,
}

/// Selects objects by kind and, optionally, name.
#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftTarget {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Where the chart comes from.
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[x_kube(validation = Rule::new("(has(self.repository) ? 1 : 0) + (has(self.package) ? 1 : 0) + (has(self.oci) ? 1 : 0) == 1").message("set exactly one of repository, package or oci"))]
#[serde(rename_all = "camelCase")]
pub struct ChartSource {
    /// A chart from a ChartRepository in this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<RepositoryChart>,
    /// A chart archive stored in a ConfigMap or Secret in this namespace (no repository needed:
    /// `capstan write deployment --from-package` writes both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<PackageSource>,
    /// A chart in an OCI registry, stored as Helm stores it (`helm push`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oci: Option<OciChart>,
}

/// A chart from a ChartRepository.
#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RepositoryChart {
    /// Name of the ChartRepository, in this namespace.
    pub repository_ref: RepositoryReference,
    /// Name of the chart in the repository's index.
    pub name: String,
    /// Version constraint in Helm's syntax (`1.2.3`, `^1.2`, `>=1.0.0 <2.0.0`). The highest
    /// matching version wins; empty means the latest stable version. A constraint that is not a
    /// single exact version follows the repository: when its index gains a newer matching
    /// version, the deployment upgrades to it without a change here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Provenance verification for this deployment, replacing the repository's `spec.verify`
    /// (for example `mode: Required` for one deployment of a repository that only asks for
    /// `IfPresent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerificationPolicy>,
}

/// A reference to a ChartRepository in the same namespace.
#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepositoryReference {
    /// Name of the ChartRepository.
    pub name: String,
}

/// A chart archive (`.tgz`) and optionally its provenance (`.prov`), stored in a ConfigMap
/// (`binaryData`) or a Secret (`data`).
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[x_kube(validation = Rule::new("has(self.configMapRef) != has(self.secretRef)").message("set exactly one of configMapRef or secretRef"))]
#[serde(rename_all = "camelCase")]
pub struct PackageSource {
    /// ConfigMap holding the package in `binaryData`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<LocalReference>,
    /// Secret holding the package in `data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalReference>,
    /// Key of the chart archive. Defaults to `chart.tgz`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_key: Option<String>,
    /// Key of the provenance file. Defaults to `chart.tgz.prov`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance_key: Option<String>,
    /// Provenance verification of the package. Defaults to `mode: Ignore`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<VerificationPolicy>,
}

impl PackageSource {
    /// Key of the archive when `archiveKey` is not set.
    pub const DEFAULT_ARCHIVE_KEY: &'static str = "chart.tgz";
    /// Key of the provenance file when `provenanceKey` is not set.
    pub const DEFAULT_PROVENANCE_KEY: &'static str = "chart.tgz.prov";

    /// The archive key in effect.
    pub fn archive_key(&self) -> &str {
        self.archive_key
            .as_deref()
            .unwrap_or(Self::DEFAULT_ARCHIVE_KEY)
    }

    /// The provenance key in effect.
    pub fn provenance_key(&self) -> &str {
        self.provenance_key
            .as_deref()
            .unwrap_or(Self::DEFAULT_PROVENANCE_KEY)
    }
}

/// A chart in an OCI registry (`oci://registry/path/chart`).
#[derive(KubeSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OciChart {
    /// The chart's reference: `oci://host[:port]/path/chart`, optionally with a tag
    /// (`:1.2.3`, `_` standing for `+`) or a digest (`@sha256:<hex>`).
    #[x_kube(validation = Rule::new("self.startsWith('oci://')").message("reference must start with oci://"))]
    pub reference: String,
    /// Version constraint in Helm's syntax (`^1.2`, `>=1.0.0 <2.0.0`), resolved over the
    /// repository's tags (the highest matching version wins), an exact version, or a digest
    /// (`sha256:<hex>`). Empty means the latest stable version. Not allowed when `reference`
    /// carries a tag or digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Credentials, TLS and provenance verification for the registry (the provenance layer of
    /// the manifest).
    #[serde(flatten)]
    pub connection: Connection,
}

/// A reference to an object in the same namespace.
#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalReference {
    /// Name of the object.
    pub name: String,
}

/// Values read from a key of a ConfigMap or Secret.
#[derive(JsonSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ValuesReference {
    /// `ConfigMap` or `Secret`.
    pub kind: ValuesSourceKind,
    /// Name of the ConfigMap or Secret, in this namespace.
    pub name: String,
    /// Key holding the values. Defaults to `values.yaml`. Without `targetPath` the key must hold
    /// a YAML mapping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Dotted path (`a.b.c`) at which the key's content is placed as a single value (a string,
    /// or YAML when it parses as a scalar); without it the content is merged at the top.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_path: Option<String>,
    /// Skip this entry, instead of failing, when the object or key does not exist.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

impl ValuesReference {
    /// Key used when `key` is not set.
    pub const DEFAULT_KEY: &'static str = "values.yaml";

    /// The key in effect.
    pub fn key(&self) -> &str {
        self.key.as_deref().unwrap_or(Self::DEFAULT_KEY)
    }
}

/// The kind of object a [`ValuesReference`] reads.
#[derive(JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ValuesSourceKind {
    ConfigMap,
    Secret,
}

/// One object applied for a ChartDeployment.
#[derive(
    JsonSchema, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "camelCase")]
pub struct InventoryEntry {
    /// `apiVersion` of the object (`apps/v1`).
    pub api_version: String,
    /// `kind` of the object.
    pub kind: String,
    /// Namespace of the object; absent for cluster-scoped objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name of the object.
    pub name: String,
}

/// What the operator last observed and did.
#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartDeploymentStatus {
    /// `Ready`, `Reconciling` and `Stalled`, as kstatus and `kubectl wait` read them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The revision the last reconcile tried to apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempted_revision: Option<Revision>,
    /// The revision that was last applied completely.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_revision: Option<Revision>,
    /// The release number of `lastAppliedRevision`, which templates see as the release's
    /// revision: 1 for the first revision applied, one more for each revision applied since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_number: Option<i64>,
    /// When `lastAppliedRevision` last changed: the time the current chart version (or values)
    /// was rolled out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_applied_time: Option<Time>,
    /// Who signed the chart of `lastAppliedRevision`, when its provenance was verified; absent
    /// when verification was not asked for or the chart had no provenance under `IfPresent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<ProvenanceStatus>,
    /// Every object applied by the last successful reconcile, in install order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inventory: Vec<InventoryEntry>,
    /// The last revisions applied, newest first, at most `spec.maxHistory`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<HistoryEntry>,
    /// Objects that differ from what was applied, as the last check found them (drift detection
    /// `Warn`); at most 20 objects and 10 fields each. Values are never shown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drift: Vec<DriftedObject>,
    /// The change waiting for approval (`spec.approval: Manual`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<PlanStatus>,

    /// The revision that failed and was rolled back (`spec.upgrade.remediation`); it is not
    /// applied again until the spec or the chart changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back_from: Option<Revision>,

    /// The failed attempts at the revision being installed or upgraded to, under
    /// `spec.install.remediation` or `spec.upgrade.remediation`. They count for that revision
    /// and that generation of the spec only: a change of the spec, the values or the chart
    /// starts afresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<Failures>,
}

/// Failed attempts at one revision, under one generation of the spec.
#[derive(JsonSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Failures {
    /// The revision attempted.
    pub revision: Revision,
    /// The generation of the spec it was attempted under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// `Install` or `Upgrade`.
    pub action: ReleaseAction,
    /// How many attempts failed.
    pub count: u32,
    /// When the last one failed: the next attempt waits out its back-off from then.
    pub last_failure_time: Time,
    /// Why the last one failed.
    pub message: String,
    /// What was done once the retries were used up: `RolledBack`, `Uninstalled` or
    /// `RetriesExhausted` (left in place); absent while attempts remain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remediation: Option<String>,
}

/// Whether an attempt installs (nothing applied before) or upgrades.
#[derive(JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReleaseAction {
    Install,
    Upgrade,
}

/// A planned change, as `status.plan` summarises it.
#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanStatus {
    /// `sha256:<hex>` of the whole plan: approve by setting `spec.approvedPlan` to it.
    pub digest: String,
    /// The chart and version planned.
    pub chart: String,
    pub version: String,
    /// How many objects would be created, changed, pruned, and stay as they are.
    pub create: i64,
    pub change: i64,
    pub prune: i64,
    pub unchanged: i64,
    /// The objects that would change, with what (at most 50; `truncated` says when more).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objects: Vec<PlannedObject>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// ConfigMaps in this namespace holding every object's diff (Secret values masked).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_maps: Vec<String>,
}

/// One object of a plan.
#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedObject {
    /// `Kind namespace/name`.
    pub object: String,
    /// `Create`, `Change` or `Prune`.
    pub action: String,
    /// JSON pointers of the changed fields (at most 10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
}

/// One revision in `status.history`.
#[derive(JsonSchema, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub chart: String,
    pub version: String,
    pub archive_digest: String,
    pub values_digest: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_digest: Option<String>,
    /// The key fingerprint of the verified signature, when provenance was checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
    /// The release number the templates saw.
    pub release_number: i64,
    /// When it was applied.
    pub applied_time: Time,
    /// `Progressing`, `Healthy`, `Failed`, `Superseded` (a newer revision replaced it before
    /// it was healthy), `RolledBack` (an earlier release applied again by a rollback) or
    /// `Uninstalled` (a failed install whose objects were deleted).
    pub outcome: String,
    /// The approved plan it was applied from (`spec.approval: Manual`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_digest: Option<String>,
}

/// An object whose live state differs from what was applied.
#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftedObject {
    /// `Kind namespace/name`.
    pub object: String,
    /// JSON pointers of the fields that differ.
    pub paths: Vec<String>,
}

/// The verified signature of a chart archive.
#[derive(JsonSchema, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvenanceStatus {
    /// The signing key's primary user ID, e.g. `Name (comment) <email>`.
    pub signer: String,
    /// Fingerprint of the signing key (its primary key), upper-case hex.
    pub key_fingerprint: String,
    /// `sha256:<hex>` of the archive the provenance file vouches for.
    pub archive_digest: String,
}

/// Schema of a free-form object: any keys, any values, kept as given
/// (`x-kubernetes-preserve-unknown-fields`).
pub(crate) fn free_form_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}
