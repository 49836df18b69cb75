//! Step 3 of a reconcile: the writes. Server-side apply of the desired objects in install order,
//! each with the right over its fields that [`plan::write_for`] decided.
//!
//! Every object whose live state is known is checked before anything is written, so a conflict
//! with another ChartDeployment applies nothing; a first install, which knows none, writes
//! create-only and takes back what it created when a write is refused. When the revision was
//! applied before, an object
//! whose live state already holds every desired field is not written again: a reconcile that
//! finds nothing to correct sends no write.

use std::time::Duration;

use capstan_api::InventoryEntry;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};
use tracing::info;

use crate::error::{Error, Result};

use super::acting::Acting;
use super::approval::{Action, Planned};
use super::desired::DesiredObject;
use super::live::{self, NewObjects, Observed};
use super::owner::Owner;
use super::plan::{self, Rules, Write};
use super::undo::Undo;
use capstan_api::deployment::DriftedObject;

/// How long a CRD of the chart may take to become Established.
const CRD_ESTABLISHED_TIMEOUT: Duration = Duration::from_secs(60);

/// What [`apply_all`] did.
#[derive(Debug)]
pub struct Applied {
    /// Every desired object, in install order.
    pub inventory: Vec<InventoryEntry>,
    /// How many objects were written (all of them in [`Mode::All`]).
    pub patched: usize,
    /// Each object as last seen, in inventory order: the API server's answer to the apply, or
    /// the live state read before when nothing was written. Health is judged from these.
    pub live: Vec<serde_json::Value>,
    /// Objects found drifted from the revision already applied, with the fields that differ.
    pub drift: Vec<DriftedObject>,
    /// Whether that drift was corrected (drift detection `Enabled`) or only found (`Warn`).
    pub corrected: bool,
}

impl Applied {
    /// Lists objects that were not written (CRDs the policy keeps) ahead of the rest, with
    /// their live state, so the inventory keeps them and their health counts.
    pub fn list_first(&mut self, kept: Vec<(InventoryEntry, serde_json::Value)>) {
        let (entries, live): (Vec<_>, Vec<_>) = kept.into_iter().unzip();
        self.inventory.splice(0..0, entries);
        self.live.splice(0..0, live);
    }
}

/// Applies every object as the deployment's identity, CRDs first (each waited for until
/// Established, then discovery is refreshed so their kinds resolve). `observed` is the live state
/// [`live::observe_all`] read; objects of kinds not served yet are read once their CRD is
/// established.
///
/// Before the first write, every object whose kind is served and whose live state was observed
/// is checked: ownership and adoption by [`plan::check_before_writing`], then the API server's
/// own verdict by a server-side dry-run of each write (RBAC of the identity, admission,
/// validation, defaulting). A refusal there applies nothing of the revision.
///
/// Objects of a first install that were not read ([`Observed::Unread`]) are written
/// create-only instead, without a dry run: the API server refuses such a write for any object of
/// that name that exists, so nothing is taken over unseen. Should one exist, the attempt reads
/// every object and goes on as above; should a write be refused, the objects this attempt created
/// are deleted again ([`Undo`]), so a refusal still leaves nothing of the revision. Past the
/// checks, a failure stops at the failing object: what was applied so far stays, and the next
/// attempt applies everything again.
pub async fn apply_all(
    acting: &Acting<'_>,
    owner: &Owner,
    objects: &[DesiredObject],
    observed: &[Observed],
    rules: &Rules,
) -> Result<Applied> {
    let mut undo = Undo::default();
    let applied = match write_all(acting, owner, objects, observed, rules, &mut undo).await {
        Ok(Pass::Written(applied)) => Ok(applied),
        Ok(Pass::FoundExisting(object)) => {
            info!(%object, "an object of the first install exists already: reading every object before writing");
            write_after_reading(acting, owner, objects, rules, &mut undo).await
        }
        Err(error) => Err(error),
    };
    match applied {
        Ok(applied) => Ok(applied),
        Err(error) => Err(undo.after(error).await),
    }
}

/// What one pass over the objects came to.
enum Pass {
    Written(Applied),
    /// A create-only write found this object (`Kind namespace/name`) existing.
    FoundExisting(String),
}

/// The pass after a create-only write found its object existing: every object observed with a
/// read (or the dry run of its creation), then checked and written as any revision's.
async fn write_after_reading(
    acting: &Acting<'_>,
    owner: &Owner,
    objects: &[DesiredObject],
    rules: &Rules,
    undo: &mut Undo,
) -> Result<Applied> {
    let observed = live::observe_all(acting, owner, objects, &[], NewObjects::DryRun).await?;
    match write_all(acting, owner, objects, &observed, rules, undo).await? {
        Pass::Written(applied) => Ok(applied),
        // Nothing is unread in this pass, so nothing is written create-only.
        Pass::FoundExisting(object) => Err(Error::Conflict(format!(
            "{object} was created by someone else while this revision was written"
        ))),
    }
}

/// One pass: the checks before the first write, then every write in install order.
async fn write_all(
    acting: &Acting<'_>,
    owner: &Owner,
    objects: &[DesiredObject],
    observed: &[Observed],
    rules: &Rules,
    undo: &mut Undo,
) -> Result<Pass> {
    let writes = plan::check_before_writing(objects, observed, owner, rules)?;
    let created_namespaces = plan::namespaces_created(objects, observed);
    // A first install's pass: an object read only once its CRD is established is created
    // create-only too, so that an undo takes it back with the rest.
    let creates_only = observed.contains(&Observed::Unread);
    for ((object, write), seen) in objects.iter().zip(&writes).zip(observed) {
        // An object in a namespace this revision creates cannot be checked before it exists.
        let in_new_namespace = object
            .entry
            .namespace
            .as_ref()
            .is_some_and(|namespace| created_namespaces.contains(namespace));
        let checked = matches!(seen, Observed::Creatable(_) | Observed::Unread);
        if let Some(force) = write.as_ref().and_then(Write::sends)
            && !in_new_namespace
            && !checked
        {
            let api = acting.served_api(&object.entry).await?;
            apply_one(acting, &api, owner, object, force, DryRun::Yes).await?;
        }
    }
    let mut applied = Applied {
        inventory: Vec::with_capacity(objects.len()),
        patched: 0,
        live: Vec::with_capacity(objects.len()),
        drift: Vec::new(),
        corrected: false,
    };
    let mut crds_applied = false;
    for ((object, write), observed) in objects.iter().zip(writes).zip(observed) {
        if crds_applied && !object.is_crd {
            acting.cluster.invalidate().await;
            crds_applied = false;
        }
        let api = if write.is_none() {
            served_after_its_crd(acting, &object.entry).await?
        } else {
            acting.served_api(&object.entry).await?
        };
        let (write, seen) = match write {
            Some(write) => (write, observed.clone()),
            // Served only now that its CRD is established: read and decide it now.
            None => {
                let seen = match live::read(acting, &api, object).await? {
                    Observed::Absent if creates_only => Observed::Unread,
                    seen => seen,
                };
                let live = match &seen {
                    Observed::Present(live) => Some(live),
                    Observed::Absent
                    | Observed::Creatable(_)
                    | Observed::Unread
                    | Observed::NotYetServed => None,
                };
                (plan::write_for(object, live, owner, rules)?, seen)
            }
        };
        if let Write::Drifted { paths, correct } = &write {
            applied.drift.push(DriftedObject {
                object: object.describe(),
                paths: paths.clone(),
            });
            applied.corrected |= *correct;
        }
        let last_seen = match (write.sends(), seen) {
            (Some(_), Observed::Unread) => {
                applied.patched += 1;
                match create_one(acting, &api, owner, object).await? {
                    Creation::Created(answer) => {
                        undo.created(&api, object, &answer);
                        answer
                    }
                    Creation::Exists => return Ok(Pass::FoundExisting(object.describe())),
                }
            }
            (Some(force), _) => {
                applied.patched += 1;
                apply_one(acting, &api, owner, object, force, DryRun::No).await?
            }
            (None, Observed::Present(live)) => live.object,
            (None, Observed::Creatable(answer)) => answer,
            (None, Observed::Absent | Observed::Unread | Observed::NotYetServed) => {
                object.object.clone()
            }
        };
        applied.live.push(last_seen);
        if object.is_crd {
            wait_established(acting, &object.entry.name).await?;
            crds_applied = true;
        }
        applied.inventory.push(object.entry.clone());
    }
    Ok(Pass::Written(applied))
}

/// How often, and how far apart, discovery is read again for a kind whose CRD was just
/// established.
const DISCOVERY_ATTEMPTS: u32 = 20;
const DISCOVERY_PAUSE: Duration = Duration::from_millis(500);

/// The API of a kind a CRD of this revision defines. The CRD is Established, but the API
/// server's discovery can lag behind that for a moment on a busy server, so discovery is read
/// again for a while before the kind counts as not served.
async fn served_after_its_crd(
    acting: &Acting<'_>,
    entry: &InventoryEntry,
) -> Result<Api<DynamicObject>> {
    for _ in 0..DISCOVERY_ATTEMPTS {
        if let Some(api) = acting.api(entry).await? {
            return Ok(api);
        }
        tokio::time::sleep(DISCOVERY_PAUSE).await;
        acting.cluster.invalidate().await;
    }
    acting.served_api(entry).await
}

/// What the revision would do, object by object, for a plan (`spec.approval: Manual`): each
/// write checked as ownership and adoption say, then sent as a server-side dry run with the
/// deployment's identity to see the object as it would be. Objects whose kind is not served yet
/// (custom resources of a CRD in the same revision) are planned as the chart renders them.
/// Returns the changes and how many objects stay as they are.
pub async fn plan_changes(
    acting: &Acting<'_>,
    owner: &Owner,
    objects: &[DesiredObject],
    observed: &[Observed],
    rules: &Rules,
    stale: &[InventoryEntry],
) -> Result<(Vec<Planned>, usize)> {
    let writes = plan::check_before_writing(objects, observed, owner, rules)?;
    let created_namespaces = plan::namespaces_created(objects, observed);
    let mut planned = Vec::new();
    let mut unchanged = 0;
    for ((object, write), seen) in objects.iter().zip(&writes).zip(observed) {
        let before = match seen {
            Observed::Present(live) => Some(live.object.clone()),
            Observed::Absent
            | Observed::Creatable(_)
            | Observed::Unread
            | Observed::NotYetServed => None,
        };
        let action = if before.is_some() {
            Action::Change
        } else {
            Action::Create
        };
        let in_new_namespace = object
            .entry
            .namespace
            .as_ref()
            .is_some_and(|namespace| created_namespaces.contains(namespace));
        let after = match write.as_ref().map(Write::sends) {
            Some(None) => {
                unchanged += 1;
                continue;
            }
            _ if let Observed::Creatable(answer) = seen => answer.clone(),
            Some(Some(force)) if !in_new_namespace => {
                let api = acting.served_api(&object.entry).await?;
                apply_one(acting, &api, owner, object, force, DryRun::Yes).await?
            }
            _ => object.object.clone(),
        };
        planned.push(Planned {
            entry: object.entry.clone(),
            action,
            before,
            after: Some(after),
        });
    }
    planned.extend(stale.iter().map(|entry| Planned {
        entry: entry.clone(),
        action: Action::Prune,
        before: None,
        after: None,
    }));
    Ok((planned, unchanged))
}

/// Writes the diffs of a plan (`pages` of ConfigMap data) to ConfigMaps `<deployment>-plan`,
/// `<deployment>-plan-2`, ... in the deployment's namespace, owned by it, as the deployment's
/// identity (so whoever may read ConfigMaps there may read the plan). Returns their names.
pub async fn write_plan(
    acting: &Acting<'_>,
    deployment: &capstan_api::ChartDeployment,
    pages: &[serde_json::Map<String, serde_json::Value>],
) -> Result<Vec<String>> {
    let key = crate::object_key::ObjectKey::of(deployment);
    let api: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(acting.client.clone(), &key.namespace);
    let mut names = Vec::with_capacity(pages.len());
    for (index, page) in pages.iter().enumerate() {
        let name = if index == 0 {
            format!("{}-plan", key.name)
        } else {
            format!("{}-plan-{}", key.name, index + 1)
        };
        let config_map = serde_json::json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {
                "name": name,
                "labels": {"capstan.dev/plan-of": key.name},
                "ownerReferences": [{
                    "apiVersion": "capstan.dev/v1alpha1", "kind": "ChartDeployment",
                    "name": key.name, "uid": deployment.metadata.uid.clone().unwrap_or_default(),
                }],
            },
            "data": page,
        });
        api.patch(
            &name,
            &PatchParams::apply("capstan-plan").force(),
            &Patch::Apply(&config_map),
        )
        .await
        .map_err(|source| acting.refused(format!("ConfigMap {}/{name}", key.namespace), source))?;
        names.push(name);
    }
    Ok(names)
}

/// Creates (or takes back) a hook's object with the deployment's field manager; the API
/// server's answer is its live state.
pub async fn apply_hook(
    acting: &Acting<'_>,
    api: &Api<DynamicObject>,
    owner: &Owner,
    object: &DesiredObject,
) -> Result<serde_json::Value> {
    apply_one(acting, api, owner, object, true, DryRun::No).await
}

/// The API server's answer to a server-side dry run of creating `object` with the write an
/// absent object gets (no force): `Some` when the object does not exist and may be created as
/// the deployment's identity. `None` when it exists (the answer has a resourceVersion, or another
/// manager's fields conflict) or the dry run failed for any reason: the caller then reads the
/// object, and the dry run before writing says why it is refused, as it would have.
pub async fn dry_run_creation(
    api: &Api<DynamicObject>,
    owner: &Owner,
    object: &DesiredObject,
) -> Option<serde_json::Value> {
    let params = PatchParams::apply(&owner.field_manager()).dry_run();
    let answer = api
        .patch(&object.entry.name, &params, &Patch::Apply(&object.object))
        .await
        .ok()?;
    // A dry run stores nothing: only an object that exists already has a resourceVersion.
    let stored = answer
        .metadata
        .resource_version
        .as_ref()
        .is_some_and(|version| !version.is_empty());
    (!stored).then(|| serde_json::to_value(answer).unwrap_or_default())
}

/// A `metadata.resourceVersion` no stored object has (etcd revisions count up from 1 and never
/// reach it). Server-side apply treats a resourceVersion as a precondition on an object that
/// exists, and the API server ignores it when the apply creates the object: with this one an
/// apply creates, or is refused with 409 Conflict and writes nothing.
const CREATE_ONLY: &str = "18446744073709551615";

/// What a create-only write came to.
#[derive(Debug, PartialEq)]
enum Creation {
    /// Created; the API server's answer.
    Created(serde_json::Value),
    /// An object of that name exists: nothing was written.
    Exists,
}

/// Creates `object` by server-side apply with the deployment's field manager, only if no object
/// of that name exists ([`CREATE_ONLY`]); a refusal names the identity and permission.
async fn create_one(
    acting: &Acting<'_>,
    api: &Api<DynamicObject>,
    owner: &Owner,
    object: &DesiredObject,
) -> Result<Creation> {
    let params = PatchParams::apply(&owner.field_manager());
    match api
        .patch(
            &object.entry.name,
            &params,
            &Patch::Apply(create_only(&object.object)),
        )
        .await
    {
        Ok(created) => Ok(Creation::Created(
            serde_json::to_value(created).unwrap_or_default(),
        )),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(Creation::Exists),
        Err(source) => Err(acting.refused(object.describe(), source)),
    }
}

/// `object` with the [`CREATE_ONLY`] precondition.
fn create_only(object: &serde_json::Value) -> serde_json::Value {
    let mut object = object.clone();
    if let Some(metadata) = object
        .get_mut("metadata")
        .and_then(serde_json::Value::as_object_mut)
    {
        metadata.insert("resourceVersion".into(), CREATE_ONLY.into());
    }
    object
}

/// Whether a write is only checked by the API server or made.
#[derive(Clone, Copy, PartialEq, Eq)]
enum DryRun {
    Yes,
    No,
}

/// Applies one object with the deployment's own field manager. With `force` (an object this
/// deployment owns, or adopts on request) fields someone else changed are taken; without, a field
/// another manager set makes the apply fail instead.
async fn apply_one(
    acting: &Acting<'_>,
    api: &Api<DynamicObject>,
    owner: &Owner,
    object: &DesiredObject,
    force: bool,
    dry_run: DryRun,
) -> Result<serde_json::Value> {
    let mut params = PatchParams::apply(&owner.field_manager());
    if force {
        params = params.force();
    }
    if dry_run == DryRun::Yes {
        params = params.dry_run();
    }
    api.patch(&object.entry.name, &params, &Patch::Apply(&object.object))
        .await
        .map(|applied| serde_json::to_value(applied).unwrap_or_default())
        .map_err(|error| match error {
            kube::Error::Api(status) if status.code == 409 => Error::Conflict(format!(
                "{} exists and its fields are managed by someone else ({}); delete it or annotate \
                 it with capstan.dev/deployment: {} to hand it over",
                object.describe(),
                status.message,
                owner.annotation_value()
            )),
            source => acting.refused(object.describe(), source),
        })
}

async fn wait_established(acting: &Acting<'_>, name: &str) -> Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(acting.client.clone());
    let established = await_condition(api, name, conditions::is_crd_established());
    match tokio::time::timeout(CRD_ESTABLISHED_TIMEOUT, established).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(Error::CrdWatch {
            name: name.to_string(),
            source: error,
        }),
        Err(_) => Err(Error::CrdNotEstablished {
            name: name.to_string(),
            seconds: CRD_ESTABLISHED_TIMEOUT.as_secs(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use kube::core::{ApiResource, GroupVersionKind};
    use serde_json::json;

    use super::*;
    use crate::fake_api::{answering, answering_with_bodies, status};

    fn config_map(resource_version: Option<&str>) -> serde_json::Value {
        let mut object = json!({"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": "web", "namespace": "apps"},
                                "data": {"a": "b"}});
        if let Some(version) = resource_version {
            object["metadata"]["resourceVersion"] = json!(version);
        }
        object
    }

    fn desired() -> DesiredObject {
        DesiredObject {
            entry: InventoryEntry {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                namespace: Some("apps".into()),
                name: "web".into(),
            },
            object: config_map(None),
            is_crd: false,
        }
    }

    fn owner() -> Owner {
        Owner::of(
            &serde_json::from_value(json!({
                "apiVersion": "capstan.dev/v1alpha1", "kind": "ChartDeployment",
                "metadata": {"name": "web", "namespace": "apps"},
                "spec": {"chart": {"package": {"configMapRef": {"name": "p"}}}},
            }))
            .unwrap(),
        )
    }

    async fn dry_run_against(
        status: u16,
        answer: serde_json::Value,
    ) -> (Option<serde_json::Value>, Vec<String>) {
        let (client, asked) = answering(status, answer);
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap"));
        let api: Api<DynamicObject> = Api::namespaced_with(client, "apps", &resource);
        let created = dry_run_creation(&api, &owner(), &desired()).await;
        let asked = asked.lock().unwrap().clone();
        (created, asked)
    }

    #[tokio::test]
    async fn an_object_the_dry_run_would_create_needs_no_read_and_no_second_dry_run() {
        let (created, asked) = dry_run_against(200, config_map(None)).await;
        assert_eq!(created, Some(config_map(None)));
        assert_eq!(asked.len(), 1, "{asked:?}");
        assert!(
            asked[0].starts_with("PATCH /api/v1/namespaces/apps/configmaps/web?")
                && asked[0].contains("dryRun=All")
                && !asked[0].contains("force"),
            "{asked:?}"
        );
    }

    #[tokio::test]
    async fn an_object_that_exists_or_is_refused_is_left_to_be_read() {
        let (created, _) = dry_run_against(200, config_map(Some("42"))).await;
        assert_eq!(created, None, "the answer has a resourceVersion: it exists");
        let (created, _) = dry_run_against(409, status(409, "Conflict")).await;
        assert_eq!(created, None, "another manager's fields: it exists");
        let (created, _) = dry_run_against(403, status(403, "Forbidden")).await;
        assert_eq!(
            created, None,
            "refused: read, then refused again by the dry run before writing"
        );
    }

    /// What `create_one` of [`desired`] comes to when the API server answers `status` and
    /// `answer`, and the requests it sent, with their bodies.
    async fn create_against(
        status: u16,
        answer: serde_json::Value,
    ) -> (Result<Creation>, Vec<String>) {
        let (client, asked) = answering_with_bodies(status, answer);
        let cluster = crate::cluster::ClusterInfo::new(client.clone());
        let acting = Acting {
            cluster: &cluster,
            client: client.clone(),
            identity: super::super::identity::Identity::Operator,
        };
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap"));
        let api: Api<DynamicObject> = Api::namespaced_with(client, "apps", &resource);
        let created = create_one(&acting, &api, &owner(), &desired()).await;
        let asked = asked.lock().unwrap().clone();
        (created, asked)
    }

    #[tokio::test]
    async fn a_create_only_write_is_one_apply_that_no_existing_object_can_pass() {
        let (created, asked) = create_against(201, config_map(Some("7"))).await;
        assert_eq!(created.unwrap(), Creation::Created(config_map(Some("7"))));
        assert_eq!(asked.len(), 1, "{asked:?}");
        assert!(
            asked[0].starts_with("PATCH /api/v1/namespaces/apps/configmaps/web?")
                && !asked[0].contains("dryRun")
                && !asked[0].contains("force"),
            "{asked:?}"
        );
        let body: serde_json::Value = serde_json::from_str(
            asked[0]
                .split_once(' ')
                .unwrap()
                .1
                .split_once(' ')
                .unwrap()
                .1,
        )
        .unwrap();
        assert_eq!(body["metadata"]["resourceVersion"], CREATE_ONLY);
        assert_eq!(body["data"], json!({"a": "b"}), "the object itself");
    }

    #[tokio::test]
    async fn a_create_only_write_that_meets_an_object_finds_it_and_a_refusal_names_it() {
        let (created, _) = create_against(409, status(409, "Conflict")).await;
        assert_eq!(created.unwrap(), Creation::Exists);
        let (created, _) = create_against(403, status(403, "Forbidden")).await;
        let message = created.unwrap_err().to_string();
        assert!(message.contains("ConfigMap apps/web"), "{message}");
        let (created, _) = create_against(422, status(422, "Invalid")).await;
        assert!(matches!(created, Err(Error::Apply { .. })), "{created:?}");
    }

    #[test]
    fn the_create_only_precondition_is_no_resource_version_a_stored_object_has() {
        // etcd's revisions are signed 64-bit counters: this one is past all of them, and the API
        // server still parses it as a resourceVersion (a malformed one would be a 400).
        assert!(CREATE_ONLY.parse::<u64>().unwrap() > i64::MAX as u64);
        let object = create_only(&config_map(None));
        assert_eq!(object["metadata"]["resourceVersion"], CREATE_ONLY);
        assert_eq!(object["metadata"]["name"], "web");
    }
}
