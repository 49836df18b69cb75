//! What a rollback goes back to: the objects of each revision applied, kept as Helm keeps its
//! releases, in a Secret of the deployment's namespace (`capstan.release.<name>.v<release>`,
//! gzip-compressed JSON, owned by the ChartDeployment so it goes with it). Rendering again would
//! need the values of that time, which the spec no longer holds.
//!
//! A snapshot also holds the release's hooks, as Helm's release record does: its post hooks run
//! once its objects are healthy, maybe reconciles later; its delete hooks when the
//! ChartDeployment is deleted; its rollback hooks when a rollback goes back to it. Annotations
//! on the Secret ([`Marks`]) record which of those already ran.
//!
//! Only the snapshots of the release being applied, the release applied before it and the
//! newest healthy one are kept. They are written as the deployment's identity; when that
//! identity may not write Secrets a revision without hooks still applies (a rollback then says
//! there is nothing to go back to), one with hooks stops before anything of it is applied.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use capstan_api::{ChartDeployment, Revision};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Resource;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tracing::warn;

use crate::error::{Error, Result};
use crate::object_key::ObjectKey;

use super::acting::Acting;
use super::desired::DesiredObject;

/// The Secret type snapshots are stored under.
const SECRET_TYPE: &str = "capstan.dev/release.v1";
/// The data key of the compressed snapshot.
const KEY: &str = "release";
/// The largest snapshot read back, uncompressed: a render's own output limit.
const MAX_DECOMPRESSED: u64 = 64 * 1024 * 1024;

/// The objects of one revision, as applied, and its hooks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub revision: Revision,
    pub release_number: u64,
    pub objects: Vec<Value>,
    /// The hook objects, as built for the release (snapshots written before hooks were kept
    /// have none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<Value>,
    /// What ran already, kept on the Secret rather than in the compressed data.
    #[serde(skip)]
    pub marks: Marks,
}

/// Annotations of a snapshot's Secret: which of the release's hooks are still to run or ran.
pub type Marks = BTreeMap<String, String>;

/// The mark naming the post phase (`post-install`, `post-upgrade`) whose hooks wait for the
/// release to be healthy; `done` once they ran.
pub const POST_HOOKS: &str = "capstan.dev/post-hooks";
/// The mark set once the `pre-delete` hooks ran, so a deletion that waits for its objects over
/// several passes runs them once.
pub const PRE_DELETE: &str = "capstan.dev/pre-delete-hooks";
/// The mark set once the `post-delete` hooks ran, so a pass retried after they did (its release
/// of the finalizer failed) does not run them again.
pub const POST_DELETE: &str = "capstan.dev/post-delete-hooks";
/// The value of a mark whose hooks ran.
pub const DONE: &str = "done";

impl Snapshot {
    /// The snapshot of `objects` (CRDs left out: a rollback never changes a CRD).
    pub fn of(revision: &Revision, release_number: u64, objects: &[DesiredObject]) -> Self {
        Snapshot {
            revision: revision.clone(),
            release_number,
            objects: objects
                .iter()
                .filter(|object| !object.is_crd)
                .map(|object| object.object.clone())
                .collect(),
            hooks: Vec::new(),
            marks: Marks::new(),
        }
    }

    /// The snapshot with `hooks` (their built objects) kept too.
    pub fn with_hooks<'a>(mut self, hooks: impl IntoIterator<Item = &'a DesiredObject>) -> Self {
        self.hooks = hooks.into_iter().map(|hook| hook.object.clone()).collect();
        self
    }

    pub fn encode(&self) -> Vec<u8> {
        let json = serde_json::to_vec(self).unwrap_or_default();
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        // Writing to a Vec cannot fail.
        let _ = encoder.write_all(&json);
        encoder.finish().unwrap_or_default()
    }

    /// Reads a snapshot back, refusing one that inflates past [`MAX_DECOMPRESSED`].
    pub fn decode(bytes: &[u8]) -> std::result::Result<Self, String> {
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .take(MAX_DECOMPRESSED + 1)
            .read_to_end(&mut json)
            .map_err(|e| format!("not gzip: {e}"))?;
        if json.len() as u64 > MAX_DECOMPRESSED {
            return Err(format!("larger than {MAX_DECOMPRESSED} bytes uncompressed"));
        }
        serde_json::from_slice(&json).map_err(|e| format!("not a snapshot: {e}"))
    }
}

/// The Secret name of `deployment`'s snapshot of `release`; `None` when it would be longer than
/// a name may be.
pub fn secret_name(deployment: &str, release: u64) -> Option<String> {
    let name = format!("capstan.release.{deployment}.v{release}");
    (name.len() <= 253).then_some(name)
}

/// The release numbers whose snapshots stay after `release` is written: it, the release
/// applied now (still the one in place if `release` never gets applied), and the newest
/// healthy one of the history before it.
pub fn kept(deployment: &ChartDeployment, release: u64) -> Vec<u64> {
    let mut kept = vec![release];
    kept.extend(
        deployment
            .status
            .as_ref()
            .and_then(|status| status.release_number)
            .and_then(|number| u64::try_from(number).ok()),
    );
    kept.extend(last_healthy(deployment, release));
    kept
}

/// The newest release in the history, other than `release`, whose outcome was `Healthy`.
pub fn last_healthy(deployment: &ChartDeployment, release: u64) -> Option<u64> {
    deployment
        .status
        .as_ref()?
        .history
        .iter()
        .filter(|entry| entry.outcome == "Healthy")
        .filter_map(|entry| u64::try_from(entry.release_number).ok())
        .find(|number| *number != release)
}

/// The newest release in the history whose outcome was `Healthy`, the one applied included:
/// what a revision that failed before it was applied goes back to.
pub fn newest_healthy(deployment: &ChartDeployment) -> Option<u64> {
    // Release numbers start at 1: excluding 0 excludes nothing.
    last_healthy(deployment, 0)
}

/// Stores `snapshot` for `deployment`, then deletes the snapshots of the history that are no
/// longer needed. Failures are logged, not returned: the revision is applied either way.
pub async fn save(acting: &Acting<'_>, deployment: &ChartDeployment, snapshot: &Snapshot) {
    if let Err(error) = try_save(acting, deployment, snapshot).await {
        warn!(deployment = %ObjectKey::of(deployment), %error, "the revision's snapshot was not stored: a rollback to it will not be possible");
    }
}

/// [`save`], failing when the snapshot cannot be written.
pub async fn try_save(
    acting: &Acting<'_>,
    deployment: &ChartDeployment,
    snapshot: &Snapshot,
) -> Result<()> {
    let key = ObjectKey::of(deployment);
    let Some(name) = secret_name(&key.name, snapshot.release_number) else {
        return Ok(());
    };
    let api: Api<Secret> = Api::namespaced(acting.client.clone(), &key.namespace);
    let owner = deployment.controller_owner_ref(&()).map(|mut reference| {
        reference.controller = Some(false);
        reference
    });
    let secret = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.clone()),
            annotations: Some(snapshot.marks.clone()),
            owner_references: owner.map(|reference| vec![reference]),
            ..Default::default()
        },
        type_: Some(SECRET_TYPE.into()),
        data: Some([(KEY.to_string(), ByteString(snapshot.encode()))].into()),
        ..Default::default()
    };
    api.patch(
        &name,
        &PatchParams::apply("capstan").force(),
        &Patch::Apply(&secret),
    )
    .await
    .map_err(|source| acting.refused(format!("Secret {}/{name}", key.namespace), source))?;
    let keep = kept(deployment, snapshot.release_number);
    let stale = deployment
        .status
        .iter()
        .flat_map(|status| &status.history)
        .filter_map(|entry| u64::try_from(entry.release_number).ok())
        .filter(|number| !keep.contains(number))
        .filter_map(|number| secret_name(&key.name, number));
    for name in stale {
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(source) => {
                return Err(acting.refused(format!("Secret {}/{name}", key.namespace), source));
            }
        }
    }
    Ok(())
}

/// Reads the snapshot of `release`, as the deployment's identity.
pub async fn load(
    acting: &Acting<'_>,
    deployment: &ChartDeployment,
    release: u64,
) -> Result<Snapshot> {
    let key = ObjectKey::of(deployment);
    find(acting, &key, release).await?.ok_or_else(|| {
        Error::RollbackUnavailable(format!(
            "the snapshot of release {release} (Secret {}) is gone",
            secret_name(&key.name, release).unwrap_or_default()
        ))
    })
}

/// Reads the snapshot of the deployment `key`'s `release`, as the deployment's identity;
/// `None` when there is none.
pub async fn find(acting: &Acting<'_>, key: &ObjectKey, release: u64) -> Result<Option<Snapshot>> {
    let unavailable = |why: String| Error::RollbackUnavailable(why);
    let Some(name) = secret_name(&key.name, release) else {
        return Ok(None);
    };
    let api: Api<Secret> = Api::namespaced(acting.client.clone(), &key.namespace);
    let Some(secret) = api
        .get_opt(&name)
        .await
        .map_err(|source| acting.refused(format!("Secret {}/{name}", key.namespace), source))?
    else {
        return Ok(None);
    };
    let bytes = secret
        .data
        .as_ref()
        .and_then(|data| data.get(KEY))
        .filter(|_| secret.type_.as_deref() == Some(SECRET_TYPE))
        .ok_or_else(|| unavailable(format!("Secret {name} holds no snapshot")))?;
    let mut snapshot =
        Snapshot::decode(&bytes.0).map_err(|why| unavailable(format!("Secret {name}: {why}")))?;
    snapshot.marks = secret.metadata.annotations.unwrap_or_default();
    Ok(Some(snapshot))
}

/// Sets the mark `mark` of the deployment `key`'s snapshot of `release` to `value`.
pub async fn mark(
    acting: &Acting<'_>,
    key: &ObjectKey,
    release: u64,
    mark: &str,
    value: &str,
) -> Result<()> {
    let Some(name) = secret_name(&key.name, release) else {
        return Ok(());
    };
    let api: Api<Secret> = Api::namespaced(acting.client.clone(), &key.namespace);
    let patch = serde_json::json!({"metadata": {"annotations": {mark: value}}});
    api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .map_err(|source| acting.refused(format!("Secret {}/{name}", key.namespace), source))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_api::InventoryEntry;
    use serde_json::json;

    fn revision(version: &str) -> Revision {
        Revision {
            chart: "web".into(),
            version: version.into(),
            archive_digest: format!("sha256:{version}"),
            values_digest: "hmac-sha256:v".into(),
            manifest_digest: None,
        }
    }

    fn object(kind: &str, is_crd: bool) -> DesiredObject {
        DesiredObject {
            entry: InventoryEntry {
                api_version: "v1".into(),
                kind: kind.into(),
                namespace: None,
                name: "x".into(),
            },
            object: json!({"kind": kind}),
            is_crd,
        }
    }

    #[test]
    fn a_snapshot_round_trips_without_crds() {
        let snapshot = Snapshot::of(
            &revision("1.0.0"),
            3,
            &[
                object("ConfigMap", false),
                object("CustomResourceDefinition", true),
            ],
        );
        assert_eq!(snapshot.objects, vec![json!({"kind": "ConfigMap"})]);
        assert_eq!(Snapshot::decode(&snapshot.encode()).unwrap(), snapshot);
        assert!(Snapshot::decode(b"not gzip").is_err());
    }

    #[test]
    fn hooks_round_trip_and_older_snapshots_have_none() {
        let hook = DesiredObject {
            object: json!({"kind": "Job", "metadata": {"annotations": {"helm.sh/hook": "pre-delete"}}}),
            ..object("Job", false)
        };
        let snapshot =
            Snapshot::of(&revision("1.0.0"), 2, &[object("ConfigMap", false)]).with_hooks([&hook]);
        let decoded = Snapshot::decode(&snapshot.encode()).unwrap();
        assert_eq!(decoded.hooks, vec![hook.object.clone()]);
        assert!(decoded.marks.is_empty(), "marks live on the Secret");
        let older = serde_json::to_vec(&json!({"revision": revision("0.9.0"), "releaseNumber": 1,
                                               "objects": []}))
        .unwrap();
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&older).unwrap();
        let older = Snapshot::decode(&encoder.finish().unwrap()).unwrap();
        assert!(older.hooks.is_empty());
    }

    #[test]
    fn a_snapshot_that_inflates_too_far_is_refused() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![b' '; 1024 * 1024];
        for _ in 0..65 {
            encoder.write_all(&zeros).unwrap();
        }
        let bomb = encoder.finish().unwrap();
        let error = Snapshot::decode(&bomb).unwrap_err();
        assert!(error.contains("larger than"), "{error}");
    }

    #[test]
    fn the_release_applied_and_the_newest_healthy_one_are_kept() {
        let deployment: ChartDeployment = serde_json::from_value(json!({
            "apiVersion": "capstan.dev/v1alpha1", "kind": "ChartDeployment",
            "metadata": {"name": "web", "namespace": "apps"},
            "spec": {"chart": {"package": {"configMapRef": {"name": "p"}}}},
            "status": {"history": [
                {"chart": "web", "version": "3", "releaseNumber": 3, "outcome": "Failed", "appliedTime": "2026-12-06T14:00:00Z",
                 "archiveDigest": "a", "valuesDigest": "v"},
                {"chart": "web", "version": "2", "releaseNumber": 2, "outcome": "Healthy", "appliedTime": "2026-12-06T14:00:00Z",
                 "archiveDigest": "a", "valuesDigest": "v"},
                {"chart": "web", "version": "1", "releaseNumber": 1, "outcome": "Superseded", "appliedTime": "2026-12-06T14:00:00Z",
                 "archiveDigest": "a", "valuesDigest": "v"},
            ]},
        }))
        .unwrap();
        assert_eq!(kept(&deployment, 4), vec![4, 2]);
        let mut applied = deployment.clone();
        applied.status.as_mut().unwrap().release_number = Some(3);
        assert_eq!(
            kept(&applied, 4),
            vec![4, 3, 2],
            "the release in place stays until the new one replaces it"
        );
        assert_eq!(last_healthy(&deployment, 2), None);
        assert_eq!(newest_healthy(&deployment), Some(2));
        assert_eq!(
            secret_name("web", 4).as_deref(),
            Some("capstan.release.web.v4")
        );
        assert_eq!(secret_name(&"w".repeat(250), 1), None);
    }
}
