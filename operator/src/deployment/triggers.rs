//! What wakes a ChartDeployment: a change to what of itself it acts on ([`acted_on`]: not its
//! status), the ConfigMaps and Secrets it reads (values, packages, credentials, keyrings) and the
//! ChartRepository it takes its chart from.
//! Each mapper answers "which deployments does this change concern?" from the controller's
//! store, without a request to the API server.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use capstan_api::deployment::ValuesSourceKind;
use capstan_api::{ChartDeployment, ChartRepository};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::core::DeserializeGuard;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use crate::context::{Context, lock};
use crate::object_key::ObjectKey;
use crate::repository::status::seen_by_deployments;

use super::controller::Watched;

/// A ChartRepository as the deployment controller's watch hands it over.
pub type WatchedRepository = DeserializeGuard<ChartRepository>;

/// The deployments that read `object` (a ConfigMap or Secret) through `valuesFrom` or as their
/// package, so a change to it triggers them.
pub fn referencing<K: Resource>(
    store: &Store<Watched>,
    object: &K,
    kind: ValuesSourceKind,
) -> Vec<ObjectRef<Watched>> {
    let namespace = object.meta().namespace.as_deref();
    let name = object.meta().name.as_deref().unwrap_or_default();
    select(store, |deployment| {
        namespace_of(deployment) == namespace && {
            let spec = &deployment.spec;
            let in_values = spec
                .values_from
                .iter()
                .any(|reference| reference.kind == kind && reference.name == name);
            let package = spec.chart.package.as_ref();
            let in_package = match kind {
                ValuesSourceKind::ConfigMap => package.and_then(|p| p.config_map_ref.as_ref()),
                ValuesSourceKind::Secret => package.and_then(|p| p.secret_ref.as_ref()),
            }
            .is_some_and(|reference| reference.name == name);
            // The credentials and certificates of an OCI source: a fixed Secret retries at once.
            let oci = spec
                .chart
                .oci
                .as_ref()
                .filter(|_| kind == ValuesSourceKind::Secret);
            let in_oci = oci.is_some_and(|oci| {
                [&oci.connection.secret_ref, &oci.connection.cert_secret_ref]
                    .into_iter()
                    .flatten()
                    .any(|reference| reference.name == name)
            });
            // A keyring the deployment's own verification policy names: a key added or revoked
            // re-checks the applied chart at once.
            let keyrings = [
                spec.chart
                    .repository
                    .as_ref()
                    .and_then(|r| r.verify.as_ref()),
                package.and_then(|p| p.verify.as_ref()),
                spec.chart
                    .oci
                    .as_ref()
                    .and_then(|o| o.connection.verify.as_ref()),
            ];
            let in_keyring = kind == ValuesSourceKind::Secret
                && keyrings
                    .into_iter()
                    .flatten()
                    .filter_map(|policy| policy.keyring_secret_ref.as_ref())
                    .any(|reference| reference.name == name);
            in_values || in_package || in_oci || in_keyring
        }
    })
}

/// The deployments whose ChartRepository's verification policy names `secret` as its keyring, so
/// a key added or revoked there re-checks what they applied.
pub fn using_repository_keyring<K: Resource>(
    deployments: &Store<Watched>,
    repositories: &Store<WatchedRepository>,
    secret: &K,
) -> Vec<ObjectRef<Watched>> {
    let namespace = secret.meta().namespace.clone();
    let name = secret.meta().name.clone().unwrap_or_default();
    let keyed: Vec<String> = repositories
        .state()
        .iter()
        .filter_map(|watched| watched.0.as_ref().ok())
        .filter(|repository| repository.namespace() == namespace)
        .filter(|repository| {
            repository
                .spec
                .connection
                .verify
                .as_ref()
                .and_then(|policy| policy.keyring_secret_ref.as_ref())
                .is_some_and(|reference| reference.name == name)
        })
        .map(|repository| repository.name_any())
        .collect();
    // Most Secrets are nobody's keyring: skip the scan of deployments for them.
    if keyed.is_empty() {
        return Vec::new();
    }
    deployments_using(deployments, &namespace, |used| {
        keyed.iter().any(|name| name == used)
    })
}

/// Drops what the operator keeps in memory for a deleted repository: its parsed index and its
/// fetch schedule, unless they already belong to a repository created again under its name.
pub fn forget_deleted(ctx: &Context, repository: &ChartRepository) {
    let key = ObjectKey::of(repository);
    let uid = repository.metadata.uid.as_deref();
    ctx.indexes.remove_if_fetched_for(&key, uid);
    ctx.fetch_schedule.forget_if_scheduled_for(&key, uid);
}

/// The repository a watch event is about, for the deployment triggers. A deleted repository
/// comes marked as being deleted: the watch hands it over as it last was, which would otherwise
/// look unchanged to [`RepositoryChanges`].
/// A repository that cannot be decoded wakes nobody (its deployments report it when they read it).
pub fn touched_repository(
    event: Result<watcher::Event<WatchedRepository>, watcher::Error>,
) -> Option<Result<ChartRepository, watcher::Error>> {
    match event {
        Ok(
            watcher::Event::Apply(DeserializeGuard(Ok(repository)))
            | watcher::Event::InitApply(DeserializeGuard(Ok(repository))),
        ) => Some(Ok(repository)),
        Ok(watcher::Event::Delete(DeserializeGuard(Ok(mut repository)))) => {
            repository
                .metadata
                .deletion_timestamp
                .get_or_insert(Time(Timestamp::now()));
            Some(Ok(repository))
        }
        Ok(
            watcher::Event::Init
            | watcher::Event::InitDone
            | watcher::Event::Apply(_)
            | watcher::Event::InitApply(_)
            | watcher::Event::Delete(_),
        ) => None,
        Err(error) => Some(Err(error)),
    }
}

/// What the deployments last saw of each repository ([`seen_by_deployments`]), so a watch event
/// that changes nothing they act on wakes none of them. An index arriving in this operator's
/// cache wakes them through [`crate::repository::index_cache::IndexCache::arrivals`] instead.
#[derive(Default)]
pub struct RepositoryChanges {
    seen: Mutex<HashMap<ObjectKey, u64>>,
}

impl RepositoryChanges {
    /// Whether `repository` differs, for its deployments, from when it was last seen. One being
    /// deleted always does, and is forgotten.
    pub fn changed(&self, repository: &ChartRepository) -> bool {
        let key = ObjectKey::of(repository);
        let mut seen = lock(&self.seen);
        if repository.metadata.deletion_timestamp.is_some() {
            seen.remove(&key);
            return true;
        }
        let fingerprint = seen_by_deployments(repository);
        seen.insert(key, fingerprint) != Some(fingerprint)
    }
}

/// The deployments that take their chart from `repository`, so a change to it (its status, its
/// spec, its deletion) triggers them.
pub fn using_repository(
    store: &Store<Watched>,
    repository: &ChartRepository,
) -> Vec<ObjectRef<Watched>> {
    let name = repository.name_any();
    deployments_using(store, &repository.namespace(), |used| used == name)
}

/// The deployments that take their chart from the repository `key`, so its index arriving in the
/// cache triggers them.
pub fn using_repository_at(store: &Store<Watched>, key: &ObjectKey) -> Vec<ObjectRef<Watched>> {
    deployments_using(store, &Some(key.namespace.clone()), |used| used == key.name)
}

/// What of a ChartDeployment's own object a reconcile acts on: its spec (the spec itself, not
/// only its generation: an object stored around the API server, as under an older CRD, changes
/// without one), its deletion, finalizers, labels and annotations; for one that cannot be
/// decoded, why. Which object it is (name, namespace, uid) is the predicate filter's own key.
/// Its status is not in it: the operator writes that, and each of its status writes woke the
/// deployment again for a pass that found nothing to do (two per install, one with a read of its
/// objects). What the status waits for (health, an index, a dependency) wakes it through its own
/// watches.
pub fn acted_on(watched: &Watched) -> Option<u64> {
    let meta = watched.meta();
    let mut hasher = std::hash::DefaultHasher::new();
    meta.generation.hash(&mut hasher);
    match &watched.0 {
        Ok(deployment) => serde_json::to_vec(&deployment.spec).ok()?.hash(&mut hasher),
        // Without where in the text it failed, which moves as the status before it grows.
        Err(invalid) => invalid.error.split(" at line ").next().hash(&mut hasher),
    }
    meta.deletion_timestamp
        .as_ref()
        .map(|time| time.0.as_second())
        .hash(&mut hasher);
    meta.finalizers.hash(&mut hasher);
    meta.labels.hash(&mut hasher);
    meta.annotations.hash(&mut hasher);
    Some(hasher.finish())
}

/// Every deployment that takes its chart from a ChartRepository, for arrivals of indexes missed.
pub fn using_any_repository(store: &Store<Watched>) -> Vec<ObjectRef<Watched>> {
    select(store, |deployment| {
        deployment.spec.chart.repository.is_some()
    })
}

/// The deployments whose `spec.dependsOn` names `changed`, so its becoming Ready wakes them.
pub fn dependents(store: &Store<Watched>, changed: &ObjectKey) -> Vec<ObjectRef<Watched>> {
    select(store, |deployment| {
        deployment.spec.depends_on.iter().any(|reference| {
            reference.name == changed.name
                && reference
                    .namespace
                    .as_deref()
                    .or_else(|| namespace_of(deployment))
                    .unwrap_or_default()
                    == changed.namespace
        })
    })
}

/// The deployments in `namespace` whose chart comes from a ChartRepository `uses` accepts.
fn deployments_using(
    store: &Store<Watched>,
    namespace: &Option<String>,
    uses: impl Fn(&str) -> bool,
) -> Vec<ObjectRef<Watched>> {
    select(store, |deployment| {
        namespace_of(deployment) == namespace.as_deref()
            && deployment
                .spec
                .chart
                .repository
                .as_ref()
                .is_some_and(|chart| uses(&chart.repository_ref.name))
    })
}

/// A deployment's namespace, borrowed: the triggers compare it for every deployment in the
/// store on every event they see, and copying it made each comparison an allocation.
fn namespace_of(deployment: &ChartDeployment) -> Option<&str> {
    deployment.metadata.namespace.as_deref()
}

/// The decodable deployments of `store` that `wanted` accepts.
fn select(
    store: &Store<Watched>,
    wanted: impl Fn(&ChartDeployment) -> bool,
) -> Vec<ObjectRef<Watched>> {
    store
        .state()
        .iter()
        .filter(|watched| watched.0.as_ref().is_ok_and(&wanted))
        .map(|watched| ObjectRef::from_obj(&**watched))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::watcher;

    fn repository(digest: &str, fetched_at: &str) -> ChartRepository {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "capstan.dev/v1alpha1",
            "kind": "ChartRepository",
            "metadata": {"name": "charts", "namespace": "apps", "uid": "u1", "generation": 1},
            "spec": {"url": "https://charts.example"},
            "status": {"indexDigest": digest, "chartCount": 2,
                       "indexChangeTime": fetched_at, "nextFetchTime": fetched_at},
        }))
        .unwrap()
    }

    fn watched(generation: i64, status: serde_json::Value) -> Watched {
        DeserializeGuard(Ok(serde_json::from_value(serde_json::json!({
            "apiVersion": "capstan.dev/v1alpha1",
            "kind": "ChartDeployment",
            "metadata": {"name": "web", "namespace": "apps", "uid": "u1",
                         "generation": generation, "finalizers": ["capstan.dev/cleanup"]},
            "spec": {"chart": {"repository": {"repositoryRef": {"name": "charts"},
                                              "name": "web"}}},
            "status": status,
        }))
        .unwrap()))
    }

    fn deployment(namespace: &str, name: &str, spec: serde_json::Value) -> Watched {
        DeserializeGuard(Ok(serde_json::from_value(serde_json::json!({
            "apiVersion": "capstan.dev/v1alpha1",
            "kind": "ChartDeployment",
            "metadata": {"name": name, "namespace": namespace, "uid": format!("{namespace}-{name}")},
            "spec": spec,
        }))
        .unwrap()))
    }

    fn names(refs: Vec<ObjectRef<Watched>>) -> Vec<String> {
        let mut names: Vec<String> = refs
            .into_iter()
            .map(|r| format!("{}/{}", r.namespace.unwrap_or_default(), r.name))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_mappers_find_the_deployments_of_their_own_namespace_that_name_the_object() {
        let from_repository =
            serde_json::json!({"repository": {"repositoryRef": {"name": "charts"}, "name": "web"}});
        let from_oci = serde_json::json!({"oci": {"reference": "oci://registry.example/web"}});
        let (store, mut writer) = kube::runtime::reflector::store::<Watched>();
        for watched in [
            deployment("apps", "db", serde_json::json!({"chart": from_repository})),
            deployment(
                "apps",
                "web",
                serde_json::json!({
                    "chart": from_repository,
                    "valuesFrom": [{"kind": "ConfigMap", "name": "web-values"}],
                    "dependsOn": [{"name": "db"}, {"name": "queue", "namespace": "infra"}],
                }),
            ),
            deployment("infra", "queue", serde_json::json!({"chart": from_oci})),
            deployment(
                "other",
                "web",
                serde_json::json!({
                    "chart": from_oci,
                    "valuesFrom": [{"kind": "ConfigMap", "name": "web-values"}],
                    "dependsOn": [{"name": "db"}],
                }),
            ),
        ] {
            writer.apply_watcher_event(&watcher::Event::Apply(watched));
        }
        let config_map = |namespace: &str| {
            let mut meta =
                kube::core::PartialObjectMeta::<k8s_openapi::api::core::v1::ConfigMap>::default();
            meta.metadata.namespace = Some(namespace.into());
            meta.metadata.name = Some("web-values".into());
            meta
        };
        assert_eq!(
            names(referencing(
                &store,
                &config_map("apps"),
                ValuesSourceKind::ConfigMap
            )),
            ["apps/web"]
        );
        assert!(referencing(&store, &config_map("apps"), ValuesSourceKind::Secret).is_empty());

        // `dependsOn` without a namespace means the deployment's own.
        let db = deployment("apps", "db", serde_json::json!({"chart": from_repository}));
        assert_eq!(names(dependents(&store, &ObjectKey::of(&db))), ["apps/web"]);
        let queue = deployment("infra", "queue", serde_json::json!({"chart": from_oci}));
        assert_eq!(
            names(dependents(&store, &ObjectKey::of(&queue))),
            ["apps/web"]
        );

        let charts = ObjectKey::new("apps", "charts");
        assert_eq!(
            names(using_repository_at(&store, &charts)),
            ["apps/db", "apps/web"]
        );
        assert_eq!(names(using_any_repository(&store)), ["apps/db", "apps/web"]);
    }

    #[test]
    fn a_deployment_is_woken_by_its_spec_and_metadata_but_not_its_status() {
        let first = acted_on(&watched(1, serde_json::json!({})));
        let own_status_write = watched(1, serde_json::json!({"observedGeneration": 1}));
        assert_eq!(first, acted_on(&own_status_write));
        assert_ne!(first, acted_on(&watched(2, serde_json::json!({}))));
        // A spec stored around the API server keeps its generation.
        let mut stored_around = watched(1, serde_json::json!({}));
        if let Ok(deployment) = &mut stored_around.0 {
            deployment.spec.suspend = true;
        }
        assert_ne!(first, acted_on(&stored_around));
        let invalid = |error: &str| -> Watched {
            DeserializeGuard(Err(kube::core::error_boundary::InvalidObject {
                error: error.into(),
                metadata: watched(1, serde_json::json!({})).meta().clone(),
            }))
        };
        let undecodable = acted_on(&invalid(
            "spec.interval: not a duration at line 1 column 80",
        ));
        assert_ne!(first, undecodable);
        assert_eq!(
            undecodable,
            acted_on(&invalid(
                "spec.interval: not a duration at line 1 column 95"
            ))
        );
        assert_ne!(undecodable, acted_on(&invalid("spec.chart: missing field")));

        let mut annotated = watched(1, serde_json::json!({}));
        annotated
            .meta_mut()
            .annotations
            .get_or_insert_default()
            .insert("capstan.dev/requested-at".into(), "now".into());
        assert_ne!(first, acted_on(&annotated));
        let mut deleted = watched(1, serde_json::json!({}));
        deleted.meta_mut().deletion_timestamp = Some(Time(Timestamp::now()));
        assert_ne!(first, acted_on(&deleted));
        let mut released = watched(1, serde_json::json!({}));
        released.meta_mut().finalizers = None;
        assert_ne!(first, acted_on(&released));
    }

    #[test]
    fn deployments_are_woken_by_a_spec_change_and_a_deletion_but_not_by_a_fetch() {
        let changes = RepositoryChanges::default();
        let first = repository("sha256:ab", "2026-12-02T10:00:00Z");
        assert!(changes.changed(&first), "first sight");
        assert!(!changes.changed(&repository("sha256:ab", "2026-12-02T10:10:00Z")));
        // A new index wakes them as it enters the cache, not through the watch as well.
        assert!(!changes.changed(&repository("sha256:cd", "2026-12-02T10:20:00Z")));
        let mut new_spec = repository("sha256:cd", "2026-12-02T10:30:00Z");
        new_spec.metadata.generation = Some(2);
        assert!(changes.changed(&new_spec));

        // Deleted as it last was: the event marks it, and it wakes its deployments.
        let deleted = touched_repository(Ok(watcher::Event::Delete(DeserializeGuard(Ok(
            repository("sha256:cd", "2026-12-02T10:30:00Z"),
        )))))
        .unwrap()
        .unwrap();
        assert!(deleted.metadata.deletion_timestamp.is_some());
        assert!(changes.changed(&deleted));
        // Created again with the same content: seen anew.
        assert!(changes.changed(&repository("sha256:cd", "2026-12-02T10:40:00Z")));

        let init: Option<Result<ChartRepository, watcher::Error>> =
            touched_repository(Ok(watcher::Event::Init));
        assert!(init.is_none());
    }
}
