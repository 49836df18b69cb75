//! Part of the plan step: what a revision does with CustomResourceDefinitions. No client here.
//!
//! A CRD is shared by every namespace: deleting one deletes every custom resource of its kinds,
//! cluster-wide, and replacing one can strand objects stored in a version it drops. So CRDs get
//! rules of their own, as Helm and Flux users know them:
//! - a chart's CRDs, from its `crds/` directories or its templates alike, are created on the first
//!   install and left alone on upgrades unless `spec.install.crds` / `spec.upgrade.crds` say otherwise
//!   ([`CrdPolicy::Create`], [`CrdPolicy::Skip`], [`CrdPolicy::CreateReplace`]);
//! - an update of any CRD that drops a version still in its `status.storedVersions` is refused
//!   before anything is written ([`check_stored_versions`]);
//! - no CRD is ever pruned, and deleting a ChartDeployment deletes its CRDs only with
//!   `spec.uninstall.deleteCRDs` ([`not_pruned`], [`deleted_on_uninstall`]).

use std::collections::HashSet;

use capstan_api::deployment::CrdPolicy;
use capstan_api::{ChartDeployment, InventoryEntry};
use serde_json::Value;

use crate::error::{Error, Result};

use super::desired::{DesiredObject, group_of};
use super::live::Observed;
use super::owner::{Owner, Ownership, ownership};

/// The policy for the CRDs of this reconcile: `spec.install.crds` (default `Create`)
/// until a revision was applied, `spec.upgrade.crds` (default `Skip`) after.
pub fn policy(deployment: &ChartDeployment) -> CrdPolicy {
    let installed = deployment
        .status
        .as_ref()
        .is_some_and(|status| status.last_applied_revision.is_some());
    let spec = &deployment.spec;
    if installed {
        spec.upgrade
            .as_ref()
            .and_then(|upgrade| upgrade.crds)
            .unwrap_or(CrdPolicy::Skip)
    } else {
        spec.install
            .as_ref()
            .and_then(|install| install.crds)
            .unwrap_or(CrdPolicy::Create)
    }
}

/// What the revision does with one CRD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Treatment {
    /// Written as any other object.
    Apply,
    /// Not written; still listed in the inventory, because it exists and this deployment
    /// created it.
    KeepListed,
    /// Not written and not listed: someone else's, or never applied by this deployment.
    Leave,
}

fn treatment(
    policy: CrdPolicy,
    observed: &Observed,
    listed_before: bool,
    owned: bool,
) -> Treatment {
    let present = matches!(observed, Observed::Present(_));
    match policy {
        CrdPolicy::CreateReplace => Treatment::Apply,
        CrdPolicy::Create if !present => Treatment::Apply,
        CrdPolicy::Create | CrdPolicy::Skip if present && (listed_before || owned) => {
            Treatment::KeepListed
        }
        CrdPolicy::Create | CrdPolicy::Skip => Treatment::Leave,
    }
}

/// The revision's objects after the CRD policy: the objects to write with their observed
/// state, and the CRDs that stay listed in the inventory without being written, with
/// their live state (their health counts like any other object's).
pub struct Selected {
    pub objects: Vec<DesiredObject>,
    pub observed: Vec<Observed>,
    pub kept: Vec<(InventoryEntry, Value)>,
}

/// Applies `policy` to the CRDs among `objects`; every other object passes through.
/// A CRD stays in the inventory when this deployment listed or owns it, so that
/// `uninstall.deleteCRDs` still finds it; an existing CRD of someone else is left alone
/// without an adoption error, as Helm leaves CRDs that exist.
pub fn select(
    objects: Vec<DesiredObject>,
    observed: Vec<Observed>,
    previous_inventory: &[InventoryEntry],
    owner: &Owner,
    policy: CrdPolicy,
) -> Selected {
    let listed: HashSet<_> = previous_inventory.iter().map(identity).collect();
    let mut selected = Selected {
        objects: Vec::with_capacity(objects.len()),
        observed: Vec::with_capacity(observed.len()),
        kept: Vec::new(),
    };
    for (object, seen) in objects.into_iter().zip(observed) {
        if !object.is_crd {
            selected.objects.push(object);
            selected.observed.push(seen);
            continue;
        }
        let owned = match &seen {
            Observed::Present(live) => {
                ownership(Some(&live.annotations()), owner) == Ownership::Ours
            }
            Observed::Absent
            | Observed::Creatable(_)
            | Observed::Unread
            | Observed::NotYetServed => false,
        };
        let listed_before = listed.contains(&identity(&object.entry));
        match treatment(policy, &seen, listed_before, owned) {
            Treatment::Apply => {
                selected.objects.push(object);
                selected.observed.push(seen);
            }
            Treatment::KeepListed => {
                if let Observed::Present(live) = seen {
                    selected.kept.push((object.entry, live.object));
                }
            }
            Treatment::Leave => {}
        }
    }
    selected
}

/// Refuses an update of a CRD that would drop a version its `status.storedVersions` still
/// lists: objects stored in that version could no longer be read. The message says how to
/// migrate first.
pub fn check_stored_versions(object: &DesiredObject, live: &Value) -> Result<()> {
    if !object.is_crd {
        return Ok(());
    }
    let served: HashSet<&str> = object.object["spec"]["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|version| version["name"].as_str())
        .collect();
    let dropped: Vec<String> = live["status"]["storedVersions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .filter(|stored| !served.contains(stored))
        .map(str::to_string)
        .collect();
    if dropped.is_empty() {
        Ok(())
    } else {
        Err(Error::CrdVersionDropped {
            crd: object.entry.name.clone(),
            versions: dropped.join(", "),
        })
    }
}

/// Whether `entry` is a CustomResourceDefinition.
pub fn is_crd(entry: &InventoryEntry) -> bool {
    entry.kind == "CustomResourceDefinition"
        && group_of(&entry.api_version) == "apiextensions.k8s.io"
}

/// The entries a revision may prune: every stale entry but CRDs, which are left in place.
pub fn not_pruned(stale: Vec<InventoryEntry>) -> (Vec<InventoryEntry>, Vec<InventoryEntry>) {
    stale.into_iter().partition(|entry| !is_crd(entry))
}

/// Whether deleting the deployment deletes `entry`: CRDs only with `uninstall.deleteCRDs`.
pub fn deleted_on_uninstall(entry: &InventoryEntry, delete_crds: bool) -> bool {
    delete_crds || !is_crd(entry)
}

fn identity(entry: &InventoryEntry) -> (&str, &str, &str) {
    (group_of(&entry.api_version), &entry.kind, &entry.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::live::Live;
    use serde_json::json;

    fn crd(name: &str, versions: &[&str], annotations: Value) -> DesiredObject {
        let versions: Vec<_> = versions.iter().map(|v| json!({"name": v})).collect();
        DesiredObject {
            entry: InventoryEntry {
                api_version: "apiextensions.k8s.io/v1".into(),
                kind: "CustomResourceDefinition".into(),
                namespace: None,
                name: name.into(),
            },
            object: json!({"apiVersion": "apiextensions.k8s.io/v1",
                           "kind": "CustomResourceDefinition",
                           "metadata": {"name": name, "annotations": annotations},
                           "spec": {"versions": versions}}),
            is_crd: true,
        }
    }

    fn config_map() -> DesiredObject {
        DesiredObject {
            entry: InventoryEntry {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                namespace: Some("apps".into()),
                name: "c".into(),
            },
            object: json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
            is_crd: false,
        }
    }

    fn owner() -> Owner {
        Owner::new("apps", "web")
    }

    fn present(object: &DesiredObject) -> Observed {
        Observed::Present(Live {
            object: object.object.clone(),
        })
    }

    fn deployment(spec: Value, applied: bool) -> ChartDeployment {
        let status = if applied {
            json!({"lastAppliedRevision": {"chart": "c", "version": "1.0.0",
                    "archiveDigest": "sha256:a", "valuesDigest": "sha256:v"}})
        } else {
            json!({})
        };
        let mut spec_json = json!({"chart": {"package": {"configMapRef": {"name": "p"}}}});
        spec_json
            .as_object_mut()
            .unwrap()
            .extend(spec.as_object().unwrap().clone());
        serde_json::from_value(json!({
            "apiVersion": "capstan.dev/v1alpha1", "kind": "ChartDeployment",
            "metadata": {"name": "web", "namespace": "apps"},
            "spec": spec_json, "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn install_creates_and_upgrade_skips_unless_the_spec_says_otherwise() {
        assert_eq!(policy(&deployment(json!({}), false)), CrdPolicy::Create);
        assert_eq!(policy(&deployment(json!({}), true)), CrdPolicy::Skip);
        let both = json!({"install": {"crds": "Skip"}, "upgrade": {"crds": "CreateReplace"}});
        assert_eq!(policy(&deployment(both.clone(), false)), CrdPolicy::Skip);
        assert_eq!(policy(&deployment(both, true)), CrdPolicy::CreateReplace);
    }

    #[test]
    fn create_applies_a_missing_crd_and_leaves_an_existing_one_of_someone_else_unlisted() {
        let missing = crd("widgets.example.com", &["v1"], json!({}));
        let theirs = crd("gadgets.example.com", &["v1"], json!({}));
        let seen_theirs = present(&theirs);
        let selected = select(
            vec![missing.clone(), theirs, config_map()],
            vec![Observed::Absent, seen_theirs, Observed::Absent],
            &[],
            &owner(),
            CrdPolicy::Create,
        );
        let names: Vec<_> = selected
            .objects
            .iter()
            .map(|o| o.entry.name.as_str())
            .collect();
        assert_eq!(names, ["widgets.example.com", "c"]);
        assert_eq!(selected.observed.len(), 2);
        assert!(selected.kept.is_empty());
    }

    #[test]
    fn an_existing_crd_this_deployment_made_stays_listed_without_a_write() {
        let ours = crd(
            "widgets.example.com",
            &["v1"],
            json!({"capstan.dev/deployment": owner().annotation_value()}),
        );
        let seen = present(&ours);
        for policy in [CrdPolicy::Create, CrdPolicy::Skip] {
            let selected = select(
                vec![ours.clone()],
                vec![seen.clone()],
                &[],
                &owner(),
                policy,
            );
            assert!(selected.objects.is_empty(), "{policy:?}");
            assert_eq!(
                selected.kept,
                vec![(ours.entry.clone(), ours.object.clone())],
                "{policy:?}"
            );
        }
    }

    #[test]
    fn skip_writes_nothing_and_keeps_only_what_was_listed_before() {
        let listed = crd("widgets.example.com", &["v1"], json!({}));
        let deleted_since = crd("things.example.com", &["v1"], json!({}));
        let new = crd("gadgets.example.com", &["v1"], json!({}));
        let selected = select(
            vec![listed.clone(), deleted_since.clone(), new],
            vec![present(&listed), Observed::Absent, Observed::Absent],
            &[listed.entry.clone(), deleted_since.entry],
            &owner(),
            CrdPolicy::Skip,
        );
        assert!(selected.objects.is_empty());
        assert_eq!(selected.kept, vec![(listed.entry, listed.object)]);
    }

    #[test]
    fn create_replace_writes_every_crd_and_templated_crds_follow_the_policy_too() {
        let theirs = crd("gadgets.example.com", &["v1"], json!({}));
        let templated = crd("widgets.example.com", &["v1"], json!({}));
        let seen = present(&theirs);
        let selected = select(
            vec![theirs, templated.clone(), config_map()],
            vec![seen, present(&templated), Observed::Absent],
            &[],
            &owner(),
            CrdPolicy::CreateReplace,
        );
        assert_eq!(selected.objects.len(), 3);
        let skipped = select(
            vec![templated, config_map()],
            vec![Observed::Absent, Observed::Absent],
            &[],
            &owner(),
            CrdPolicy::Skip,
        );
        assert_eq!(skipped.objects, vec![config_map()]);
    }

    #[test]
    fn an_update_dropping_a_stored_version_is_refused_naming_it() {
        let next = crd("widgets.example.com", &["v2"], json!({}));
        let live = json!({"status": {"storedVersions": ["v1", "v2"]}});
        let error = check_stored_versions(&next, &live).unwrap_err();
        let message = error.to_string();
        assert!(message.contains("widgets.example.com"), "{message}");
        assert!(message.contains("v1"), "{message}");
        assert_eq!(error.reason(), "CRDVersionDropped");
        let kept = crd("widgets.example.com", &["v1", "v2"], json!({}));
        assert!(check_stored_versions(&kept, &live).is_ok());
        assert!(check_stored_versions(&config_map(), &live).is_ok());
    }

    #[test]
    fn crds_are_never_pruned_and_deleted_on_uninstall_only_when_asked() {
        let crd_entry = crd("widgets.example.com", &["v1"], json!({})).entry;
        let map = config_map().entry;
        let (pruned, left) = not_pruned(vec![map.clone(), crd_entry.clone()]);
        assert_eq!(pruned, vec![map.clone()]);
        assert_eq!(left, vec![crd_entry.clone()]);
        assert!(!deleted_on_uninstall(&crd_entry, false));
        assert!(deleted_on_uninstall(&crd_entry, true));
        assert!(deleted_on_uninstall(&map, false));
    }
}
