//! Step 2 of a reconcile: every decision, as plain functions of what [`super::dereference`]
//! read. Nothing here talks to the cluster, so each rule is unit-tested from fixtures: whether
//! the revision changed, what verification says, which release number the templates see, which
//! objects to write (and with what right over their fields), and what to prune.

use std::collections::HashSet;
use std::time::Duration;

use capstan_api::{ChartDeployment, InventoryEntry, ProvenanceStatus, Revision};
use capstan_chart::model::Chart;
use capstan_chart::render::RenderOptions;
use capstan_sources::catalogue::ResolvedChart;
use k8s_openapi::api::core::v1::Secret;
use kube::Resource;

use crate::error::{Error, Result};
use crate::object_key::ObjectKey;

use super::dereference::Fetched;
use super::desired::{DesiredObject, describe, group_of};
use super::drift::DriftPolicy;
use super::live::{Live, NewObjects, Observed};
use super::oci::PulledChart;
use super::owner::{Owner, Ownership, helm_release, ownership};
use super::package::{Package, indexed_digest};
use super::policy::{self, Check, Policy};
use super::resolutions::REUSE_FOR_A_NEW_SPEC;
use capstan_api::deployment::DriftMode;

/// The revision a repository's index names, known before anything is downloaded (the index
/// lists the archive's digest); `None` when the index has no digest for it.
pub fn indexed_revision(entry: &ResolvedChart, values_digest: &str) -> Option<Revision> {
    Some(Revision {
        chart: entry.name.clone(),
        version: entry.entry.version().to_string(),
        archive_digest: indexed_digest(entry)?,
        values_digest: values_digest.to_string(),
        manifest_digest: None,
    })
}

/// The revision of a fetched chart with these values.
pub fn revision(chart: &Chart, fetched: &Fetched, values_digest: &str) -> Revision {
    Revision {
        chart: chart.metadata.name.clone(),
        version: chart.metadata.version.clone(),
        archive_digest: fetched.package.digest(),
        values_digest: values_digest.to_string(),
        manifest_digest: fetched.manifest_digest.clone(),
    }
}

/// The revision of a chart pulled from a registry, from what its archive said when pulled: the
/// same as [`revision`] of the loaded chart, without unpacking it.
pub fn pulled_revision(pulled: &PulledChart, fetched: &Fetched, values_digest: &str) -> Revision {
    Revision {
        chart: pulled.name.clone(),
        version: pulled.version.clone(),
        archive_digest: pulled.archive_digest.clone(),
        values_digest: values_digest.to_string(),
        manifest_digest: fetched.manifest_digest.clone(),
    }
}

/// Whether the status reports `revision` applied and Ready for the current generation.
pub fn reports_applied(deployment: &ChartDeployment, revision: &Revision) -> bool {
    let Some(status) = deployment.status.as_ref() else {
        return false;
    };
    let ready = status
        .conditions
        .iter()
        .any(|c| c.type_ == capstan_api::common::READY && c.status == "True");
    ready
        && status.last_applied_revision.as_ref() == Some(revision)
        && status.observed_generation == deployment.meta().generation
}

/// How long a registry's answer to which manifest the chart version names may be reused in this
/// pass (see [`super::resolutions`]): up to `interval` while the spec is the one the status
/// reports on, at most [`REUSE_FOR_A_NEW_SPEC`] for a spec not reported on yet, so a changed spec
/// is read against the registry as it is now, not as it was up to an interval ago.
pub fn resolution_reuse(deployment: &ChartDeployment, interval: Duration) -> Duration {
    let reported = deployment
        .status
        .as_ref()
        .is_some_and(|status| status.observed_generation == deployment.meta().generation);
    if reported {
        interval
    } else {
        interval.min(REUSE_FOR_A_NEW_SPEC)
    }
}

/// Whether nothing needs doing: the status reports `revision` applied, and it was applied in
/// full recently under the same verification policy (`applied_recently`), so drift is not due
/// to be checked yet.
pub fn is_unchanged(
    deployment: &ChartDeployment,
    revision: &Revision,
    applied_recently: bool,
) -> bool {
    applied_recently && reports_applied(deployment, revision)
}

/// What a reconcile has to do for `revision`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needed {
    /// Nothing: applied recently, under the same policy, and healthy.
    Nothing,
    /// Only to read the health of what was applied recently (it is on its way, or failed).
    HealthCheck,
    /// Apply (a new revision, or the same one again when drift is due to be checked).
    Apply,
}

/// What `revision` needs, given whether it was applied recently under the same policy.
pub fn needed(deployment: &ChartDeployment, revision: &Revision, applied_recently: bool) -> Needed {
    if is_rolled_back(deployment, revision) {
        return Needed::Nothing;
    }
    if !applied_recently {
        return Needed::Apply;
    }
    if reports_applied(deployment, revision) {
        return Needed::Nothing;
    }
    let same = deployment.status.as_ref().is_some_and(|status| {
        status.last_applied_revision.as_ref() == Some(revision)
            && status.observed_generation == deployment.meta().generation
            && super::status::awaiting_health(status)
    });
    if same {
        Needed::HealthCheck
    } else {
        Needed::Apply
    }
}

/// Whether `revision` failed and was rolled back under the current spec: it is not tried
/// again until the spec (its generation) or the chart changes.
pub fn is_rolled_back(deployment: &ChartDeployment, revision: &Revision) -> bool {
    deployment.status.as_ref().is_some_and(|status| {
        status.rolled_back_from.as_ref() == Some(revision)
            && status.observed_generation == deployment.meta().generation
    })
}

/// Checks the package's provenance as `policy` asks, against the keyring read for this
/// reconcile. `None` when nothing was to be verified.
pub fn verify(
    policy: &Policy,
    keyring: Option<&Secret>,
    package: &Package,
    revision: &Revision,
) -> Result<Option<ProvenanceStatus>> {
    if policy::decide(policy.mode, package.provenance.is_some())? == Check::Skip {
        return Ok(None);
    }
    let keyring = policy.keyring(keyring)?;
    let signed = package.provenance.as_deref().unwrap_or_default();
    let archive_name = format!("{}-{}.tgz", revision.chart, revision.version);
    let verified = policy::verify_signature(&archive_name, &package.archive, signed, &keyring)?;
    Ok(Some(ProvenanceStatus {
        signer: verified.signer,
        key_fingerprint: verified.fingerprint,
        archive_digest: verified.hash,
    }))
}

/// Where the chart's namespaced objects go unless they name a namespace.
pub fn target_namespace(deployment: &ChartDeployment) -> String {
    deployment
        .spec
        .target_namespace
        .clone()
        .unwrap_or_else(|| ObjectKey::of(deployment).namespace)
}

/// The release number the templates see for `revision`: 1 for the first revision applied, one
/// more for each revision applied since; the revision already applied keeps its number, so
/// re-rendering it to check for drift renders the same objects.
pub fn release_number(deployment: &ChartDeployment, revision: &Revision) -> u64 {
    let status = deployment.status.as_ref();
    let applied = status
        .and_then(|status| status.release_number)
        .and_then(|number| u64::try_from(number).ok())
        .unwrap_or(0);
    let same = status.and_then(|status| status.last_applied_revision.as_ref()) == Some(revision);
    if same && applied > 0 {
        applied
    } else {
        applied.saturating_add(1)
    }
}

/// The render options for `revision` of `deployment`.
pub fn render_options(
    deployment: &ChartDeployment,
    release_number: u64,
    (kube_version, api_versions): (String, Vec<String>),
) -> RenderOptions {
    RenderOptions {
        release_name: deployment
            .spec
            .release_name
            .clone()
            .unwrap_or_else(|| ObjectKey::of(deployment).name),
        namespace: target_namespace(deployment),
        revision: release_number,
        is_install: deployment
            .status
            .as_ref()
            .is_none_or(|status| status.last_applied_revision.is_none()),
        kube_version,
        api_versions,
    }
}

/// How the objects of a revision are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// A new revision: write every object, so fields the chart no longer sets are dropped.
    All,
    /// The revision last applied: write only objects that drifted from it.
    OnlyDrifted,
}

/// [`Mode::OnlyDrifted`] when `revision` is the one last applied.
pub fn apply_mode(deployment: &ChartDeployment, revision: &Revision) -> Mode {
    let previous = deployment
        .status
        .as_ref()
        .and_then(|status| status.last_applied_revision.as_ref());
    if previous == Some(revision) {
        Mode::OnlyDrifted
    } else {
        Mode::All
    }
}

/// What to do with one desired object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Write {
    /// The live object holds every desired field: nothing to send.
    UpToDate,
    /// Server-side apply. `force` takes over fields another manager set: only for objects this
    /// deployment already owns.
    Apply { force: bool },
    /// The revision already applied, and these fields (JSON pointers) changed since: corrected
    /// by an apply with force when `correct`, only reported otherwise (drift detection `Warn`).
    Drifted { paths: Vec<String>, correct: bool },
}

impl Write {
    /// Whether an apply is sent, and with force.
    pub fn sends(&self) -> Option<bool> {
        match self {
            Write::UpToDate | Write::Drifted { correct: false, .. } => None,
            Write::Apply { force } => Some(*force),
            Write::Drifted { correct: true, .. } => Some(true),
        }
    }
}

/// The rules a revision's writes follow.
#[derive(Clone, Debug)]
pub struct Rules {
    pub mode: Mode,
    pub adoption: Adoption,
    pub drift: DriftPolicy,
}

impl Rules {
    /// The rules for `revision` of `deployment`.
    pub fn of(deployment: &ChartDeployment, revision: &Revision) -> Self {
        Rules {
            mode: apply_mode(deployment, revision),
            adoption: Adoption::of(deployment),
            drift: DriftPolicy::from_spec(deployment.spec.drift_detection.as_ref()),
        }
    }
}

/// How a deployment treats objects that exist without belonging to any ChartDeployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adoption {
    /// Never change them (the default): the revision fails with `AdoptionRefused`.
    Refuse,
    /// Take them over (`spec.adopt: true`).
    TakeOver,
}

impl Adoption {
    /// The adoption `deployment` asks for.
    pub fn of(deployment: &ChartDeployment) -> Self {
        if deployment.spec.adopt {
            Adoption::TakeOver
        } else {
            Adoption::Refuse
        }
    }
}

/// Decides the write for `object` given its live state. An object another ChartDeployment owns
/// is a conflict; one that exists and belongs to none (made by hand, by another tool, by a Helm
/// release) is never changed unless `adoption` says to take it over, whatever its fields: a
/// chart that renders just the name of an existing object must not claim it (and later delete
/// it with the deployment).
pub fn write_for(
    object: &DesiredObject,
    live: Option<&Live>,
    owner: &Owner,
    rules: &Rules,
) -> Result<Write> {
    let Some(live) = live else {
        return Ok(Write::Apply { force: false });
    };
    let annotations = live.annotations();
    match ownership(Some(&annotations), owner) {
        Ownership::OtherDeployment(claimant) => {
            return Err(Error::Conflict(format!(
                "{} belongs to ChartDeployment {claimant}; remove it from one of the two charts \
                 or delete that deployment first",
                object.describe()
            )));
        }
        Ownership::Unclaimed if rules.adoption == Adoption::Refuse => {
            return Err(Error::AdoptionRefused {
                object: object.describe(),
                owner: owner.annotation_value(),
                helm: helm_release(&annotations)
                    .map(|release| format!(", but by Helm release {release}"))
                    .unwrap_or_default(),
            });
        }
        Ownership::Ours | Ownership::Unclaimed => {}
    }
    super::crds::check_stored_versions(object, &live.object)?;
    if rules.mode == Mode::OnlyDrifted {
        if rules.drift.mode == DriftMode::Disabled {
            return Ok(Write::UpToDate);
        }
        let paths = rules.drift.drifted(&live.object, &object.object);
        if paths.is_empty() {
            return Ok(Write::UpToDate);
        }
        return Ok(Write::Drifted {
            paths,
            correct: rules.drift.mode == DriftMode::Enabled,
        });
    }
    // Ours, or adopted on request: fields someone else changed are taken back.
    Ok(Write::Apply { force: true })
}

/// Checks every object whose live state is known before anything is written, so a conflict
/// or a refused adoption applies nothing of the revision.
pub fn check_before_writing(
    objects: &[DesiredObject],
    observed: &[Observed],
    owner: &Owner,
    rules: &Rules,
) -> Result<Vec<Option<Write>>> {
    objects
        .iter()
        .zip(observed)
        .map(|(object, observed)| match observed {
            Observed::Present(live) => write_for(object, Some(live), owner, rules).map(Some),
            Observed::Absent | Observed::Creatable(_) | Observed::Unread => {
                Ok(Some(Write::Apply { force: false }))
            }
            Observed::NotYetServed => Ok(None),
        })
        .collect()
}

/// How the objects new to `deployment` are observed before writing: not at all on its first
/// attempt at a first install (it lists nothing yet, see [`NewObjects::Unread`]), unless its
/// change waits for approval, whose plan shows each object as the API server's dry run makes it.
/// After an attempt that failed (the status names the revision attempted, and lists nothing),
/// each object is checked by a dry run first: a chart with an object the API server refuses
/// would otherwise create and take back its other objects at every retry.
pub fn new_objects(deployment: &ChartDeployment) -> NewObjects {
    let first_install = deployment.status.as_ref().is_none_or(|status| {
        status.inventory.is_empty() && status.last_attempted_revision.is_none()
    });
    let planned = deployment.spec.approval == Some(capstan_api::deployment::Approval::Manual);
    if first_install && !planned {
        NewObjects::Unread
    } else {
        NewObjects::DryRun
    }
}

/// The Namespaces the revision creates (rendered and absent so far).
pub fn namespaces_created(objects: &[DesiredObject], observed: &[Observed]) -> HashSet<String> {
    objects
        .iter()
        .zip(observed)
        .filter(|(object, observed)| {
            object.entry.kind == "Namespace"
                && object.entry.api_version == "v1"
                && matches!(
                    observed,
                    Observed::Absent | Observed::Creatable(_) | Observed::Unread
                )
        })
        .map(|(object, _)| object.entry.name.clone())
        .collect()
}

/// Refuses a `targetNamespace` other than the deployment's own namespace when the operator
/// runs with `--no-cross-namespace-refs`.
pub fn check_target_namespace(
    deployment: &ChartDeployment,
    no_cross_namespace_refs: bool,
) -> Result<()> {
    let own = ObjectKey::of(deployment).namespace;
    match &deployment.spec.target_namespace {
        Some(target) if no_cross_namespace_refs && *target != own => {
            Err(Error::InvalidSpec(format!(
                "spec.targetNamespace {target:?}: this operator runs with --no-cross-namespace-refs, \
             so a ChartDeployment deploys only into its own namespace ({own})"
            )))
        }
        _ => Ok(()),
    }
}

/// Entries of `previous` that are not in `next`, in reverse install order (dependents before
/// what they depend on, CRDs last). Entries compare by group, kind, namespace and name, so an
/// object whose apiVersion moved from `v1beta1` to `v1` is not pruned.
pub fn to_prune(previous: &[InventoryEntry], next: &[InventoryEntry]) -> Vec<InventoryEntry> {
    let keep: HashSet<_> = next.iter().map(identity).collect();
    previous
        .iter()
        .rev()
        .filter(|entry| !keep.contains(&identity(entry)))
        .cloned()
        .collect()
}

/// For each of `objects`, whether `previous` (the inventory of the revision applied before)
/// does not list it: an object most likely still to be created.
pub fn not_listed(objects: &[DesiredObject], previous: &[InventoryEntry]) -> Vec<bool> {
    let listed: HashSet<_> = previous.iter().map(identity).collect();
    objects
        .iter()
        .map(|object| !listed.contains(&identity(&object.entry)))
        .collect()
}

fn identity(entry: &InventoryEntry) -> (&str, &str, Option<&str>, &str) {
    (
        group_of(&entry.api_version),
        &entry.kind,
        entry.namespace.as_deref(),
        &entry.name,
    )
}

/// `Kind namespace/name` of each entry, for messages.
pub fn describe_all(entries: &[InventoryEntry]) -> Vec<String> {
    entries.iter().map(describe).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(status: serde_json::Value) -> ChartDeployment {
        serde_json::from_value(json!({
            "apiVersion": "capstan.dev/v1alpha1", "kind": "ChartDeployment",
            "metadata": {"name": "web", "namespace": "apps", "generation": 2},
            "spec": {"chart": {"package": {"configMapRef": {"name": "p"}}}},
            "status": status,
        }))
        .unwrap()
    }

    fn revision(version: &str) -> Revision {
        Revision {
            chart: "hello".into(),
            version: version.into(),
            archive_digest: format!("sha256:{version}"),
            values_digest: "sha256:v".into(),
            manifest_digest: None,
        }
    }

    fn applied(version: &str, release: u64, ready: &str) -> serde_json::Value {
        json!({
            "observedGeneration": 2,
            "lastAppliedRevision": revision(version),
            "releaseNumber": release,
            "conditions": [{"type": "Ready", "status": ready, "reason": "Applied", "message": "",
                            "lastTransitionTime": "2026-12-06T10:00:00Z"}],
        })
    }

    #[test]
    fn a_revision_applied_and_ready_is_unchanged_only_while_recent() {
        let deployment = deployment(applied("1.0.0", 1, "True"));
        assert!(is_unchanged(&deployment, &revision("1.0.0"), true));
        assert!(!is_unchanged(&deployment, &revision("1.0.0"), false));
        assert!(!is_unchanged(&deployment, &revision("1.1.0"), true));
        let failing = self::deployment(applied("1.0.0", 1, "False"));
        assert!(!is_unchanged(&failing, &revision("1.0.0"), true));
        let mut newer_spec = deployment.clone();
        newer_spec.metadata.generation = Some(3);
        assert!(!is_unchanged(&newer_spec, &revision("1.0.0"), true));
    }

    #[test]
    fn a_registry_answer_is_reused_briefly_for_a_spec_not_reported_on_yet() {
        let minute = Duration::from_secs(60);
        let reported = deployment(applied("1.0.0", 1, "True"));
        assert_eq!(resolution_reuse(&reported, minute), minute);
        let mut changed = reported.clone();
        changed.metadata.generation = Some(3);
        assert_eq!(resolution_reuse(&changed, minute), REUSE_FOR_A_NEW_SPEC);
        let new = deployment(json!(null));
        assert_eq!(resolution_reuse(&new, minute), REUSE_FOR_A_NEW_SPEC);
        let second = Duration::from_secs(1);
        assert_eq!(resolution_reuse(&new, second), second);
    }

    #[test]
    fn only_a_first_attempt_at_a_first_install_without_a_plan_to_approve_leaves_new_objects_unread()
    {
        assert_eq!(new_objects(&deployment(json!({}))), NewObjects::Unread);
        // A retry after a failed attempt checks every object first.
        let failed = deployment(json!({"lastAttemptedRevision": revision("1.0.0")}));
        assert_eq!(new_objects(&failed), NewObjects::DryRun);
        let installed = deployment(json!({"inventory": [
            {"apiVersion": "v1", "kind": "ConfigMap", "namespace": "apps", "name": "web"}]}));
        assert_eq!(new_objects(&installed), NewObjects::DryRun);
        let mut planned = deployment(json!({}));
        planned.spec.approval = Some(capstan_api::deployment::Approval::Manual);
        assert_eq!(new_objects(&planned), NewObjects::DryRun);
    }

    #[test]
    fn release_numbers_count_applied_revisions() {
        let fresh = deployment(json!({}));
        assert_eq!(release_number(&fresh, &revision("1.0.0")), 1);
        let installed = deployment(applied("1.0.0", 1, "True"));
        assert_eq!(release_number(&installed, &revision("1.0.0")), 1);
        assert_eq!(release_number(&installed, &revision("1.1.0")), 2);
        let upgraded = deployment(applied("1.1.0", 2, "False"));
        assert_eq!(release_number(&upgraded, &revision("1.2.0")), 3);
        assert_eq!(apply_mode(&upgraded, &revision("1.1.0")), Mode::OnlyDrifted);
        assert_eq!(apply_mode(&upgraded, &revision("1.2.0")), Mode::All);
    }

    #[test]
    fn render_options_name_the_release_and_the_target() {
        let mut deployment = deployment(json!({}));
        let options = render_options(&deployment, 1, ("v1.36.3".into(), vec!["v1".into()]));
        assert_eq!(options.release_name, "web");
        assert_eq!(options.namespace, "apps");
        assert!(options.is_install);
        deployment.spec.release_name = Some("site".into());
        deployment.spec.target_namespace = Some("web-prod".into());
        let options = render_options(&deployment, 4, ("v1.36.3".into(), vec![]));
        assert_eq!(
            (
                options.release_name.as_str(),
                options.namespace.as_str(),
                options.revision
            ),
            ("site", "web-prod", 4)
        );
    }

    fn config_map(annotations: serde_json::Value, data: &str) -> DesiredObject {
        DesiredObject {
            entry: InventoryEntry {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                namespace: Some("apps".into()),
                name: "a".into(),
            },
            object: json!({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "a", "namespace": "apps", "annotations": annotations},
                           "data": {"k": data}}),
            is_crd: false,
        }
    }

    fn live(annotations: serde_json::Value, data: &str) -> Live {
        Live {
            object: config_map(annotations, data).object,
        }
    }

    fn rules(mode: Mode, adoption: Adoption) -> Rules {
        Rules {
            mode,
            adoption,
            drift: DriftPolicy::default(),
        }
    }

    #[test]
    fn drift_is_corrected_reported_or_ignored_as_the_mode_says() {
        let owner = Owner::new("apps", "web");
        let ours = json!({"capstan.dev/deployment": "apps/web"});
        let desired = config_map(ours.clone(), "1");
        let drifted = live(ours, "2");
        let with = |mode: DriftMode| Rules {
            mode: Mode::OnlyDrifted,
            adoption: Adoption::Refuse,
            drift: DriftPolicy::from_spec(Some(&capstan_api::deployment::DriftDetection {
                mode,
                ignore: Vec::new(),
            })),
        };
        let paths = vec!["/data/k".to_string()];
        assert_eq!(
            write_for(&desired, Some(&drifted), &owner, &with(DriftMode::Enabled)).unwrap(),
            Write::Drifted {
                paths: paths.clone(),
                correct: true
            }
        );
        let warned = write_for(&desired, Some(&drifted), &owner, &with(DriftMode::Warn)).unwrap();
        assert_eq!(
            warned,
            Write::Drifted {
                paths,
                correct: false
            }
        );
        assert_eq!(warned.sends(), None);
        assert_eq!(
            write_for(&desired, Some(&drifted), &owner, &with(DriftMode::Disabled)).unwrap(),
            Write::UpToDate
        );
    }

    #[test]
    fn writes_depend_on_ownership_and_drift() {
        let owner = Owner::new("apps", "web");
        let ours = json!({"capstan.dev/deployment": "apps/web"});
        let desired = config_map(ours.clone(), "1");
        let refuse = Adoption::Refuse;
        assert_eq!(
            write_for(&desired, None, &owner, &rules(Mode::OnlyDrifted, refuse)).unwrap(),
            Write::Apply { force: false }
        );
        let same = live(ours.clone(), "1");
        assert_eq!(
            write_for(
                &desired,
                Some(&same),
                &owner,
                &rules(Mode::OnlyDrifted, refuse)
            )
            .unwrap(),
            Write::UpToDate
        );
        assert_eq!(
            write_for(&desired, Some(&same), &owner, &rules(Mode::All, refuse)).unwrap(),
            Write::Apply { force: true }
        );
        let drifted = live(ours, "2");
        assert_eq!(
            write_for(
                &desired,
                Some(&drifted),
                &owner,
                &rules(Mode::OnlyDrifted, refuse)
            )
            .unwrap()
            .sends(),
            Some(true)
        );
        let theirs = live(json!({"capstan.dev/deployment": "apps/api"}), "1");
        for adoption in [Adoption::Refuse, Adoption::TakeOver] {
            let error = write_for(&desired, Some(&theirs), &owner, &rules(Mode::All, adoption))
                .unwrap_err();
            assert_eq!(error.reason(), "OwnershipConflict");
            assert!(error.to_string().contains("apps/api"), "{error}");
        }
        let observed = [Observed::Present(theirs)];
        assert!(
            check_before_writing(&[desired], &observed, &owner, &rules(Mode::All, refuse)).is_err()
        );
    }

    #[test]
    fn objects_of_nobody_are_adopted_only_on_request_whatever_their_fields() {
        let owner = Owner::new("apps", "web");
        let desired = config_map(json!({"capstan.dev/deployment": "apps/web"}), "1");
        // Same data, so server-side apply alone would raise no conflict: still refused.
        let by_hand = live(json!({}), "1");
        let error = write_for(
            &desired,
            Some(&by_hand),
            &owner,
            &rules(Mode::All, Adoption::Refuse),
        )
        .unwrap_err();
        assert_eq!(error.reason(), "AdoptionRefused");
        assert!(error.to_string().contains("ConfigMap apps/a"), "{error}");
        assert!(error.to_string().contains("spec.adopt"), "{error}");
        let helm = live(
            json!({"meta.helm.sh/release-name": "web", "meta.helm.sh/release-namespace": "apps"}),
            "1",
        );
        let error = write_for(
            &desired,
            Some(&helm),
            &owner,
            &rules(Mode::All, Adoption::Refuse),
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("Helm release apps/web"),
            "{error}"
        );
        assert_eq!(
            write_for(
                &desired,
                Some(&helm),
                &owner,
                &rules(Mode::All, Adoption::TakeOver)
            )
            .unwrap(),
            Write::Apply { force: true }
        );
    }

    #[test]
    fn targets_outside_the_namespace_are_refused_when_locked_down() {
        let mut deployment = deployment(json!({}));
        check_target_namespace(&deployment, true).unwrap();
        deployment.spec.target_namespace = Some("apps".into());
        check_target_namespace(&deployment, true).unwrap();
        deployment.spec.target_namespace = Some("kube-system".into());
        check_target_namespace(&deployment, false).unwrap();
        let error = check_target_namespace(&deployment, true).unwrap_err();
        assert!(
            error.to_string().contains("--no-cross-namespace-refs"),
            "{error}"
        );
    }

    fn entry(api_version: &str, kind: &str, name: &str) -> InventoryEntry {
        InventoryEntry {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: Some("ns".into()),
            name: name.into(),
        }
    }

    #[test]
    fn prunes_what_the_new_render_drops_in_reverse_order() {
        let previous = vec![
            entry("v1", "ConfigMap", "a"),
            entry("apps/v1", "Deployment", "web"),
            entry("v1", "Service", "web"),
        ];
        let next = vec![entry("apps/v1", "Deployment", "web")];
        let pruned: Vec<_> = to_prune(&previous, &next)
            .into_iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(pruned, ["Service", "ConfigMap"]);
    }

    #[test]
    fn a_version_change_of_the_same_object_is_not_pruned() {
        let previous = vec![entry("autoscaling/v1", "HorizontalPodAutoscaler", "web")];
        let next = vec![entry("autoscaling/v2", "HorizontalPodAutoscaler", "web")];
        assert!(to_prune(&previous, &next).is_empty());
        assert!(to_prune(&previous, &previous).is_empty());
    }

    #[test]
    fn only_objects_the_last_inventory_does_not_list_are_taken_for_new() {
        let as_desired = |entry: InventoryEntry| DesiredObject {
            entry,
            object: serde_json::Value::Null,
            is_crd: false,
        };
        let previous = vec![
            entry("autoscaling/v1", "HorizontalPodAutoscaler", "web"),
            entry("v1", "ConfigMap", "a"),
        ];
        let objects: Vec<_> = [
            entry("v1", "ConfigMap", "a"),
            entry("v1", "ConfigMap", "b"),
            entry("autoscaling/v2", "HorizontalPodAutoscaler", "web"),
        ]
        .into_iter()
        .map(as_desired)
        .collect();
        assert_eq!(not_listed(&objects, &previous), [false, true, false]);
        assert_eq!(not_listed(&objects, &[]), [true, true, true]);
    }
}
