//! Helm hooks: objects annotated `helm.sh/hook` are not part of the release but run around it,
//! as Helm runs them, so charts that migrate a database before an upgrade work unchanged.
//!
//! - `pre-install`/`pre-upgrade` hooks run before a new revision's objects are applied, and a
//!   hook that fails (or does not finish within `spec.timeout`) stops the revision with nothing
//!   of it applied; `post-install`/`post-upgrade` hooks run once the revision's objects are
//!   healthy ([`super::post_hooks`]). A reconcile that only corrects drift runs none.
//! - `pre-delete`/`post-delete` hooks run around the deletion of a ChartDeployment's objects
//!   ([`super::uninstall_hooks`]), `pre-rollback`/`post-rollback` ones around a remediation
//!   rollback ([`super::rollback`]); both come from the release's [`super::snapshot`].
//! - Within a phase hooks run one at a time, by `helm.sh/hook-weight` (ascending), then in the
//!   chart's install order. A Job hook is done when it completes (failed when it fails), a Pod
//!   hook when it succeeds; any other object once applied.
//! - `helm.sh/hook-delete-policy`: `before-hook-creation` (the default) deletes the previous
//!   object before the hook is created again; `hook-succeeded` and `hook-failed` delete it after
//!   (a hook still running when time runs out has failed).
//! - Hooks are not listed in the inventory, so they are neither pruned nor deleted with the
//!   ChartDeployment (as with Helm). Test hooks are never applied.
//!
//! Parsing and ordering are plain functions; [`run`] does the writes.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;
use tracing::info;

use crate::error::{Error, Result};

use super::acting::Acting;
use super::apply;
use super::desired::DesiredObject;
use super::health::{self, Health};
use super::owner::{Owner, Ownership, ownership};

/// When a hook runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    PreInstall,
    PostInstall,
    PreUpgrade,
    PostUpgrade,
    PreDelete,
    PostDelete,
    PreRollback,
    PostRollback,
}

/// Every phase, with its annotation name.
const PHASES: [(Phase, &str); 8] = [
    (Phase::PreInstall, "pre-install"),
    (Phase::PostInstall, "post-install"),
    (Phase::PreUpgrade, "pre-upgrade"),
    (Phase::PostUpgrade, "post-upgrade"),
    (Phase::PreDelete, "pre-delete"),
    (Phase::PostDelete, "post-delete"),
    (Phase::PreRollback, "pre-rollback"),
    (Phase::PostRollback, "post-rollback"),
];

impl Phase {
    /// The phase as `helm.sh/hook` names it.
    pub fn name(self) -> &'static str {
        PHASES
            .iter()
            .find(|(phase, _)| *phase == self)
            .map_or("", |(_, name)| name)
    }

    /// The phase named `name` in `helm.sh/hook`; `None` for `test` and unknown names.
    pub fn named(name: &str) -> Option<Phase> {
        PHASES
            .iter()
            .find(|(_, known)| *known == name)
            .map(|(phase, _)| *phase)
    }

    /// The stage a timeout names.
    pub fn stage(self) -> &'static str {
        match self {
            Phase::PreInstall => "running the pre-install hooks",
            Phase::PostInstall => "running the post-install hooks",
            Phase::PreUpgrade => "running the pre-upgrade hooks",
            Phase::PostUpgrade => "running the post-upgrade hooks",
            Phase::PreDelete => "running the pre-delete hooks",
            Phase::PostDelete => "running the post-delete hooks",
            Phase::PreRollback => "running the pre-rollback hooks",
            Phase::PostRollback => "running the post-rollback hooks",
        }
    }

    /// The phases before and after a revision's objects: install ones for the first revision.
    pub fn around(is_install: bool) -> (Phase, Phase) {
        if is_install {
            (Phase::PreInstall, Phase::PostInstall)
        } else {
            (Phase::PreUpgrade, Phase::PostUpgrade)
        }
    }
}

/// One hook object with what its annotations say.
#[derive(Clone, Debug, PartialEq)]
pub struct Hook {
    pub object: DesiredObject,
    phases: Vec<Phase>,
    weight: i64,
    delete: DeletePolicy,
}

impl Hook {
    /// Whether the hook runs in `phase`.
    pub fn runs_in(&self, phase: Phase) -> bool {
        self.phases.contains(&phase)
    }
}

/// `helm.sh/hook-delete-policy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct DeletePolicy {
    before_creation: bool,
    on_success: bool,
    on_failure: bool,
}

const HOOK: &str = "helm.sh/hook";
const WEIGHT: &str = "helm.sh/hook-weight";
const DELETE_POLICY: &str = "helm.sh/hook-delete-policy";

/// Splits hook objects from the revision's own. Hooks of no phase run here (`test`) are dropped;
/// a weight that is not an integer is an error that names the object, as Helm refuses it.
pub fn split(objects: Vec<DesiredObject>) -> Result<(Vec<DesiredObject>, Vec<Hook>)> {
    let mut release = Vec::with_capacity(objects.len());
    let mut hooks = Vec::new();
    for object in objects {
        let annotations = &object.object["metadata"]["annotations"];
        let Some(names) = annotations[HOOK].as_str() else {
            release.push(object);
            continue;
        };
        let phases: Vec<Phase> = names
            .split(',')
            .filter_map(|name| Phase::named(name.trim()))
            .collect();
        if phases.is_empty() {
            continue;
        }
        let weight = match annotations[WEIGHT].as_str().map(str::trim) {
            None | Some("") => 0,
            Some(text) => text.parse().map_err(|_| {
                Error::Manifest(format!(
                    "{}: annotation {WEIGHT} is {text:?}, not an integer",
                    object.describe()
                ))
            })?,
        };
        let delete = delete_policy(annotations[DELETE_POLICY].as_str());
        hooks.push(Hook {
            object,
            phases,
            weight,
            delete,
        });
    }
    Ok((release, hooks))
}

fn delete_policy(annotation: Option<&str>) -> DeletePolicy {
    let mut policy = DeletePolicy::default();
    for name in annotation.unwrap_or_default().split(',').map(str::trim) {
        match name {
            "before-hook-creation" => policy.before_creation = true,
            "hook-succeeded" => policy.on_success = true,
            "hook-failed" => policy.on_failure = true,
            _ => {}
        }
    }
    if policy == DeletePolicy::default() {
        policy.before_creation = true;
    }
    policy
}

/// The hooks of `phase` in the order they run: by weight, then install order (stable sort).
pub fn of_phase(hooks: &[Hook], phase: Phase) -> Vec<&Hook> {
    let mut selected: Vec<&Hook> = hooks.iter().filter(|hook| hook.runs_in(phase)).collect();
    selected.sort_by_key(|hook| hook.weight);
    selected
}

/// Whether a hook's object is done, from its live state.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Done,
    Running,
    Failed(String),
}

fn outcome(live: &Value) -> Outcome {
    match (live["apiVersion"].as_str(), live["kind"].as_str()) {
        (Some("batch/v1"), Some("Job")) => match health::of(live) {
            Health::Healthy => Outcome::Done,
            Health::Progressing(_) => Outcome::Running,
            Health::Failed(why) => Outcome::Failed(why),
        },
        (Some("v1"), Some("Pod")) => match live["status"]["phase"].as_str() {
            Some("Succeeded") => Outcome::Done,
            Some("Failed") => Outcome::Failed("the pod failed".into()),
            _ => Outcome::Running,
        },
        _ => Outcome::Done,
    }
}

/// How often a running hook is looked at.
const POLL: Duration = Duration::from_secs(1);

/// When hooks of an attempt bounded by `timeout` must be done: a little before the attempt
/// itself times out, so a hook past it fails as a hook (and its `hook-failed` delete is sent)
/// rather than the attempt being cut short.
pub fn deadline(timeout: Duration) -> Instant {
    let margin = (timeout / 10).min(Duration::from_secs(3));
    Instant::now() + timeout.saturating_sub(margin)
}

/// Runs the hooks of `phase`, one by one, as the deployment's identity, each done by
/// `deadline` (else failed, as Helm fails a hook past its timeout). Returns the hooks run (as
/// `Kind namespace/name`).
pub async fn run(
    acting: &Acting<'_>,
    owner: &Owner,
    hooks: &[Hook],
    phase: Phase,
    deadline: Instant,
) -> Result<Vec<String>> {
    let mut ran = Vec::new();
    for hook in of_phase(hooks, phase) {
        run_one(acting, owner, hook, phase, deadline).await?;
        ran.push(hook.object.describe());
    }
    Ok(ran)
}

async fn run_one(
    acting: &Acting<'_>,
    owner: &Owner,
    hook: &Hook,
    phase: Phase,
    deadline: Instant,
) -> Result<()> {
    let object = &hook.object;
    let failed = |message: String| Error::HookFailed {
        hook: object.describe(),
        phase: phase.name(),
        message,
    };
    if Instant::now() >= deadline {
        return Err(failed("not started: spec.timeout ran out".into()));
    }
    let api = acting.served_api(&object.entry).await?;
    let existing = api
        .get_opt(&object.entry.name)
        .await
        .map_err(|source| acting.refused(object.describe(), source))?;
    if let Some(existing) = &existing {
        // A hook object someone else made is not ours to replace, as with any other object.
        let annotations = existing.metadata.annotations.as_ref();
        if ownership(annotations, owner) != Ownership::Ours {
            return Err(Error::AdoptionRefused {
                object: object.describe(),
                owner: owner.annotation_value(),
                helm: String::new(),
            });
        }
        if hook.delete.before_creation && !delete_and_wait(acting, &api, object, deadline).await? {
            return Err(failed(
                "its previous object was still being deleted when spec.timeout ran out".into(),
            ));
        }
    }
    info!(hook = %object.describe(), phase = phase.name(), "running hook");
    let mut live = apply::apply_hook(acting, &api, owner, object).await?;
    loop {
        let why = match outcome(&live) {
            Outcome::Done => {
                if hook.delete.on_success {
                    delete_and_wait(acting, &api, object, deadline).await?;
                }
                return Ok(());
            }
            Outcome::Failed(why) => why,
            Outcome::Running if Instant::now() >= deadline => {
                "not done within spec.timeout".to_string()
            }
            Outcome::Running => {
                tokio::time::sleep(POLL.min(deadline.saturating_duration_since(Instant::now())))
                    .await;
                match api
                    .get_opt(&object.entry.name)
                    .await
                    .map_err(|source| acting.refused(object.describe(), source))?
                {
                    Some(found) => live = serde_json::to_value(found).unwrap_or_default(),
                    None => return Err(failed("deleted while running".into())),
                }
                continue;
            }
        };
        if hook.delete.on_failure {
            delete_and_wait(acting, &api, object, deadline).await?;
        }
        return Err(failed(why));
    }
}

/// Deletes a hook's object (its pods with it) and waits until it is gone, so the next one of
/// the same name can be created. Past `until` it stops waiting and says `false`: the delete is
/// sent, and the API server finishes it.
async fn delete_and_wait(
    acting: &Acting<'_>,
    api: &kube::Api<kube::api::DynamicObject>,
    object: &DesiredObject,
    until: Instant,
) -> Result<bool> {
    let params = kube::api::DeleteParams {
        propagation_policy: Some(kube::api::PropagationPolicy::Foreground),
        ..Default::default()
    };
    match api.delete(&object.entry.name, &params).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 404 => return Ok(true),
        Err(source) => return Err(acting.refused(object.describe(), source)),
    }
    while api
        .get_opt(&object.entry.name)
        .await
        .map_err(|source| acting.refused(object.describe(), source))?
        .is_some()
    {
        if Instant::now() >= until {
            return Ok(false);
        }
        tokio::time::sleep(POLL).await;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_api::InventoryEntry;
    use serde_json::json;

    fn object(kind: &str, name: &str, annotations: Value) -> DesiredObject {
        let api_version = if kind == "Job" { "batch/v1" } else { "v1" };
        DesiredObject {
            entry: InventoryEntry {
                api_version: api_version.into(),
                kind: kind.into(),
                namespace: Some("apps".into()),
                name: name.into(),
            },
            object: json!({"apiVersion": api_version, "kind": kind,
                           "metadata": {"name": name, "annotations": annotations}}),
            is_crd: false,
        }
    }

    fn names(hooks: &[&Hook]) -> Vec<String> {
        hooks.iter().map(|h| h.object.entry.name.clone()).collect()
    }

    #[test]
    fn hooks_leave_the_release_and_run_by_weight_then_install_order() {
        let objects = vec![
            object("ConfigMap", "plain", json!({})),
            object(
                "Job",
                "migrate",
                json!({HOOK: "pre-install,pre-upgrade", WEIGHT: "5"}),
            ),
            object(
                "ConfigMap",
                "first",
                json!({HOOK: "pre-upgrade", WEIGHT: "-3"}),
            ),
            object(
                "ConfigMap",
                "same-weight",
                json!({HOOK: "pre-upgrade", WEIGHT: "5"}),
            ),
            object("ConfigMap", "after", json!({HOOK: "post-install"})),
            object("ConfigMap", "on-delete", json!({HOOK: "pre-delete"})),
            object("Pod", "check", json!({HOOK: "test"})),
        ];
        let (release, hooks) = split(objects).unwrap();
        assert_eq!(release.len(), 1);
        assert_eq!(release[0].entry.name, "plain");
        assert_eq!(hooks.len(), 5, "test hooks are never run, so not kept");
        assert_eq!(
            names(&of_phase(&hooks, Phase::PreUpgrade)),
            ["first", "migrate", "same-weight"]
        );
        assert_eq!(names(&of_phase(&hooks, Phase::PreInstall)), ["migrate"]);
        assert_eq!(names(&of_phase(&hooks, Phase::PostInstall)), ["after"]);
        assert!(of_phase(&hooks, Phase::PostUpgrade).is_empty());
        assert_eq!(names(&of_phase(&hooks, Phase::PreDelete)), ["on-delete"]);
    }

    #[test]
    fn phases_are_named_as_helm_names_them() {
        for name in [
            "pre-install",
            "post-install",
            "pre-upgrade",
            "post-upgrade",
            "pre-delete",
            "post-delete",
            "pre-rollback",
            "post-rollback",
        ] {
            assert_eq!(Phase::named(name).map(Phase::name), Some(name));
        }
        assert_eq!(Phase::named("test"), None);
        assert_eq!(Phase::named("crd-install"), None);
    }

    #[test]
    fn a_weight_that_is_not_a_number_names_the_object() {
        let error = split(vec![object(
            "Job",
            "migrate",
            json!({HOOK: "pre-install", WEIGHT: "soon"}),
        )])
        .unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("Job apps/migrate") && message.contains("soon"),
            "{message}"
        );
    }

    #[test]
    fn delete_policies_default_to_before_hook_creation() {
        assert_eq!(
            delete_policy(None),
            DeletePolicy {
                before_creation: true,
                ..Default::default()
            }
        );
        assert_eq!(
            delete_policy(Some("hook-succeeded, hook-failed")),
            DeletePolicy {
                before_creation: false,
                on_success: true,
                on_failure: true
            }
        );
    }

    #[test]
    fn jobs_and_pods_are_done_when_they_finish_other_kinds_once_applied() {
        let complete = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"generation": 1},
            "status": {"observedGeneration": 1, "succeeded": 1,
                       "conditions": [{"type": "Complete", "status": "True"}]}});
        assert_eq!(outcome(&complete), Outcome::Done);
        let running = json!({"apiVersion": "batch/v1", "kind": "Job", "status": {"active": 1}});
        assert_eq!(outcome(&running), Outcome::Running);
        let failed = json!({"apiVersion": "batch/v1", "kind": "Job",
            "status": {"conditions": [{"type": "Failed", "status": "True", "message": "BackoffLimitExceeded"}]}});
        assert!(matches!(outcome(&failed), Outcome::Failed(_)));
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "status": {"phase": "Running"}});
        assert_eq!(outcome(&pod), Outcome::Running);
        let map = json!({"apiVersion": "v1", "kind": "ConfigMap"});
        assert_eq!(outcome(&map), Outcome::Done);
    }
}
