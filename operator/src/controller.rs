//! The ChartDeployment controller: watches, the finalizer, and the reconcile pipeline
//! (fetch, verify, expand, apply, prune, status) in order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use capstan_api::deployment::ValuesSourceKind;
use capstan_api::labels::FINALIZER;
use capstan_api::{
    ChartDeployment, ChartDeploymentStatus, ChartRepository, ChartRepositoryStatus, InventoryEntry,
    ProvenanceStatus, Revision, VerificationMode, VerificationPolicy,
};
use capstan_chart::render::RenderOptions;
use capstan_sources::catalogue::ResolvedChart;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::finalizer::{Event, finalizer};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use tracing::{info, warn};

use crate::access::{Access, AccessSpec};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::fetch::oci::OciSource;
use crate::fetch::{Package, package_from_config_map, package_from_secret};
use crate::index_cache::CachedIndex;
use crate::owner::Owner;
use crate::status::{Outcome, conditions, same};
use crate::{apply, desired, expand, fetch, prune, report, repository, values, verify};

/// Default `spec.interval`.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(600);

type ReconcileError = kube::runtime::finalizer::Error<Error>;

/// Runs the ChartDeployment controller until shutdown.
pub async fn run(ctx: Arc<Context>) {
    let deployments: Api<ChartDeployment> = ctx.watched();
    let controller = Controller::new(deployments, watcher::Config::default());
    let store = controller.store();
    let config_map_store = store.clone();
    let repository_store = store.clone();
    let repository_changes = RepositoryChanges::default();
    // One watch of the repositories keeps the store the Secret mapper below reads (a
    // repository's keyring Secret is read on behalf of the deployments that use the repository)
    // and wakes the deployments of a repository whose index, conditions or spec changed, or
    // that was deleted.
    let (repositories, repository_writer) = reflector::store::<ChartRepository>();
    let deletions = Arc::clone(&ctx);
    let touched_repositories =
        watcher::watcher(ctx.watched::<ChartRepository>(), watcher::Config::default())
            .default_backoff()
            .reflect(repository_writer)
            .filter_map(move |event| {
                if let Ok(watcher::Event::Delete(repository)) = &event {
                    forget_deleted(&deletions, repository);
                }
                std::future::ready(touched_repository(event))
            });
    controller
        .watches_stream(touched_repositories, move |repository| {
            if repository_changes.changed(&repository) {
                using_repository(&repository_store, &repository)
            } else {
                Vec::new()
            }
        })
        .watches(
            ctx.watched::<ConfigMap>(),
            watcher::Config::default(),
            move |config_map| {
                referencing(&config_map_store, &config_map, ValuesSourceKind::ConfigMap)
            },
        )
        .watches(
            ctx.watched::<Secret>(),
            watcher::Config::default(),
            move |secret| {
                let mut triggered = referencing(&store, &secret, ValuesSourceKind::Secret);
                triggered.extend(using_repository_keyring(&store, &repositories, &secret));
                triggered
            },
        )
        .shutdown_on_signal()
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            if let Err(error) = result {
                warn!(%error, "reconcile failed");
            }
        })
        .await;
}

/// The deployments that read `object` (a ConfigMap or Secret) through `valuesFrom` or as their
/// package, so a change to it triggers them.
fn referencing<K: Resource>(
    store: &Store<ChartDeployment>,
    object: &K,
    kind: ValuesSourceKind,
) -> Vec<ObjectRef<ChartDeployment>> {
    let namespace = object.meta().namespace.clone();
    let name = object.meta().name.clone().unwrap_or_default();
    store
        .state()
        .into_iter()
        .filter(|deployment| deployment.namespace() == namespace)
        .filter(|deployment| {
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
                [&oci.secret_ref, &oci.cert_secret_ref]
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
                spec.chart.oci.as_ref().and_then(|o| o.verify.as_ref()),
            ];
            let in_keyring = kind == ValuesSourceKind::Secret
                && keyrings
                    .into_iter()
                    .flatten()
                    .filter_map(|policy| policy.keyring_secret_ref.as_ref())
                    .any(|reference| reference.name == name);
            in_values || in_package || in_oci || in_keyring
        })
        .map(|deployment| ObjectRef::from_obj(&*deployment))
        .collect()
}

/// The deployments whose ChartRepository's verification policy names `secret` as its keyring, so
/// a key added or revoked there re-checks what they applied.
fn using_repository_keyring(
    deployments: &Store<ChartDeployment>,
    repositories: &Store<ChartRepository>,
    secret: &Secret,
) -> Vec<ObjectRef<ChartDeployment>> {
    let namespace = secret.namespace();
    let name = secret.name_any();
    let keyed: Vec<String> = repositories
        .state()
        .into_iter()
        .filter(|repository| repository.namespace() == namespace)
        .filter(|repository| {
            repository
                .spec
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
fn forget_deleted(ctx: &Context, repository: &ChartRepository) {
    let key = repository::key(repository);
    let uid = repository.metadata.uid.as_deref();
    ctx.indexes.remove_if_fetched_for(&key, uid);
    ctx.fetch_schedule.forget_if_scheduled_for(&key, uid);
}

/// The repository a watch event is about, for the deployment triggers. A deleted repository
/// comes marked as being deleted: the watch hands it over as it last was, which would otherwise
/// look unchanged to [`RepositoryChanges`].
fn touched_repository(
    event: Result<watcher::Event<ChartRepository>, watcher::Error>,
) -> Option<Result<ChartRepository, watcher::Error>> {
    match event {
        Ok(watcher::Event::Apply(repository) | watcher::Event::InitApply(repository)) => {
            Some(Ok(repository))
        }
        Ok(watcher::Event::Delete(mut repository)) => {
            repository
                .metadata
                .deletion_timestamp
                .get_or_insert(Time(Timestamp::now()));
            Some(Ok(repository))
        }
        Ok(watcher::Event::Init | watcher::Event::InitDone) => None,
        Err(error) => Some(Err(error)),
    }
}

/// What the deployments last saw of each repository ([`repository::seen_by_deployments`]), so
/// a status write that only records another fetch of the same index wakes none of them.
#[derive(Default)]
struct RepositoryChanges {
    seen: Mutex<HashMap<(Option<String>, String), u64>>,
}

impl RepositoryChanges {
    /// Whether `repository` differs, for its deployments, from when it was last seen. One being
    /// deleted always does, and is forgotten.
    fn changed(&self, repository: &ChartRepository) -> bool {
        let key = (repository.namespace(), repository.name_any());
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if repository.metadata.deletion_timestamp.is_some() {
            seen.remove(&key);
            return true;
        }
        let fingerprint = repository::seen_by_deployments(repository);
        seen.insert(key, fingerprint) != Some(fingerprint)
    }
}

/// The deployments that take their chart from `repository`, so a new index (the repository's
/// status changes) triggers them.
fn using_repository(
    store: &Store<ChartDeployment>,
    repository: &ChartRepository,
) -> Vec<ObjectRef<ChartDeployment>> {
    let name = repository.name_any();
    deployments_using(store, &repository.namespace(), |used| used == name)
}

/// The deployments in `namespace` whose chart comes from a ChartRepository `uses` accepts.
fn deployments_using(
    store: &Store<ChartDeployment>,
    namespace: &Option<String>,
    uses: impl Fn(&str) -> bool,
) -> Vec<ObjectRef<ChartDeployment>> {
    store
        .state()
        .into_iter()
        .filter(|deployment| deployment.namespace() == *namespace)
        .filter(|deployment| {
            deployment
                .spec
                .chart
                .repository
                .as_ref()
                .is_some_and(|chart| uses(&chart.repository_ref.name))
        })
        .map(|deployment| ObjectRef::from_obj(&*deployment))
        .collect()
}

async fn reconcile(
    deployment: Arc<ChartDeployment>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    let started = std::time::Instant::now();
    let namespace = deployment.namespace().unwrap_or_default();
    let api: Api<ChartDeployment> = Api::namespaced(ctx.client.clone(), &namespace);
    let result = finalizer(&api, FINALIZER, deployment, |event| async {
        match event {
            Event::Apply(deployment) => reconcile_apply(deployment, &ctx).await,
            Event::Cleanup(deployment) => cleanup(deployment, &ctx).await,
        }
    })
    .await;
    ctx.metrics
        .reconciled("ChartDeployment", result.is_ok(), started.elapsed());
    result
}

fn error_policy(
    deployment: Arc<ChartDeployment>,
    error: &ReconcileError,
    ctx: Arc<Context>,
) -> Action {
    let failures = ctx.record_failure(&key(&deployment));
    let wait = match error {
        ReconcileError::ApplyFailed(error) | ReconcileError::CleanupFailed(error) => {
            error.retry_after(failures)
        }
        _ => Duration::from_secs(5),
    };
    Action::requeue(wait)
}

fn key(deployment: &ChartDeployment) -> String {
    format!(
        "{}/{}",
        deployment.namespace().unwrap_or_default(),
        deployment.name_any()
    )
}

fn owner(deployment: &ChartDeployment) -> Owner {
    Owner::new(
        deployment.namespace().unwrap_or_default(),
        deployment.name_any(),
    )
}

fn interval(deployment: &ChartDeployment) -> Duration {
    deployment
        .spec
        .interval
        .map(Into::into)
        .unwrap_or(DEFAULT_INTERVAL)
}

/// What a successful attempt did.
enum Attempt {
    /// The revision and inventory are as last applied: nothing was written.
    Unchanged,
    Applied {
        revision: Box<Revision>,
        inventory: Vec<InventoryEntry>,
        /// How many objects were written (all of a new revision; drifted ones of the same).
        patched: usize,
        pruned: Vec<String>,
        /// The verified signature, when provenance was checked.
        provenance: Option<Box<ProvenanceStatus>>,
        /// The verification policy the revision was checked under ([`Policy::tag`]).
        policy: String,
    },
}

async fn reconcile_apply(deployment: Arc<ChartDeployment>, ctx: &Context) -> Result<Action> {
    if deployment.spec.suspend {
        return Ok(Action::await_change());
    }
    let mut attempted = None;
    let result = attempt(&deployment, ctx, &mut attempted).await;
    let previous = deployment.status.clone().unwrap_or_default();
    match result {
        Ok(Attempt::Unchanged) => {
            ctx.clear_failures(&key(&deployment));
            Ok(Action::requeue(interval(&deployment)))
        }
        Ok(Attempt::Applied {
            revision,
            inventory,
            patched,
            pruned,
            provenance,
            policy,
        }) => {
            ctx.clear_failures(&key(&deployment));
            ctx.mark_applied(&key(&deployment), &policy);
            if is_current(&deployment, &revision, &inventory) && pruned.is_empty() {
                // The same revision re-checked: the status stays as it is (no write); only a
                // correction of drift is worth an event.
                if patched > 0 {
                    let message = format!(
                        "Re-applied {patched} of {} objects that had drifted from {} {}",
                        inventory.len(),
                        revision.chart,
                        revision.version
                    );
                    report::publish(
                        ctx,
                        &*deployment,
                        EventType::Normal,
                        "DriftCorrected",
                        message,
                    )
                    .await;
                }
                return Ok(Action::requeue(interval(&deployment)));
            }
            let message = format!(
                "Applied {} {}: {} objects{}",
                revision.chart,
                revision.version,
                inventory.len(),
                if pruned.is_empty() {
                    String::new()
                } else {
                    format!(", pruned {}", pruned.len())
                }
            );
            let outcome = Outcome::Ready {
                reason: "Applied".into(),
                message: message.clone(),
            };
            let now = Timestamp::now();
            // The time moves only when the revision does, so re-applying the same revision (to
            // undo drift) writes nothing new.
            let last_applied_time = if previous.last_applied_revision.as_ref() == Some(&revision) {
                previous.last_applied_time.clone()
            } else {
                Some(Time(now))
            };
            let status = ChartDeploymentStatus {
                conditions: conditions(
                    &previous.conditions,
                    &outcome,
                    deployment.meta().generation,
                    now,
                ),
                observed_generation: deployment.meta().generation,
                last_attempted_revision: Some((*revision).clone()),
                last_applied_revision: Some(*revision),
                last_applied_time: last_applied_time.or(Some(Time(now))),
                provenance: provenance.map(|boxed| *boxed),
                inventory,
            };
            if status != previous {
                report::write_status(ctx, &*deployment, &status).await?;
                report::publish(ctx, &*deployment, EventType::Normal, "Applied", message).await;
            }
            Ok(Action::requeue(interval(&deployment)))
        }
        Err(error) => {
            let outcome = Outcome::from_error(&error);
            let generation = deployment.meta().generation;
            let new_conditions =
                conditions(&previous.conditions, &outcome, generation, Timestamp::now());
            let unchanged = same(&previous.conditions, &new_conditions)
                && previous.observed_generation == generation
                && (attempted.is_none() || previous.last_attempted_revision == attempted);
            if !unchanged {
                let status = ChartDeploymentStatus {
                    conditions: new_conditions,
                    observed_generation: generation,
                    last_attempted_revision: attempted.or(previous.last_attempted_revision.clone()),
                    ..previous
                };
                report::write_status(ctx, &*deployment, &status).await?;
                report::publish(
                    ctx,
                    &*deployment,
                    EventType::Warning,
                    error.reason(),
                    error.to_string(),
                )
                .await;
            }
            Err(error)
        }
    }
}

/// Where this attempt's archive comes from, known before anything is downloaded.
enum Source {
    /// Already in hand, read from a ConfigMap or Secret.
    Package(Package),
    /// In a registry: resolved to a manifest digest, pulled unless that digest is cached.
    Oci(Box<OciSource>),
    /// In a repository: downloaded only when the revision it names is not already applied.
    Repository {
        index: Arc<CachedIndex>,
        entry: Box<ResolvedChart>,
    },
}

/// A [`Policy`] as read for one reconcile.
struct ObservedPolicy {
    /// Tells policies (and keyring versions) apart; see [`Policy::observe`].
    tag: String,
    /// The keyring Secret, when provenance is checked and the Secret exists.
    keyring: Option<Secret>,
}

/// The provenance policy that applies to a source, and where its keyring lives.
struct Policy {
    mode: VerificationMode,
    keyring_secret: Option<String>,
}

impl Policy {
    /// Reads the keyring Secret (only when provenance is checked at all) and tags the policy,
    /// so a revision applied under one policy is checked again under another: the mode, the
    /// keyring Secret and that Secret's version (a key added or revoked). The verification uses
    /// the same read, so the keyring checked against is the one the tag names.
    async fn observe(&self, ctx: &Context, namespace: &str) -> Result<ObservedPolicy> {
        let keyring = match (&self.mode, &self.keyring_secret) {
            (VerificationMode::Ignore, _) | (_, None) => None,
            (_, Some(name)) => {
                Api::<Secret>::namespaced(ctx.client.clone(), namespace)
                    .get_opt(name)
                    .await?
            }
        };
        let keyring_version = keyring
            .as_ref()
            .and_then(|secret| secret.metadata.resource_version.as_deref())
            .unwrap_or_default();
        Ok(ObservedPolicy {
            tag: format!(
                "{:?}/{}@{keyring_version}",
                self.mode,
                self.keyring_secret.as_deref().unwrap_or_default()
            ),
            keyring,
        })
    }

    /// The trusted keys, from the Secret [`Policy::observe`] read.
    fn keyring(&self, observed: &ObservedPolicy) -> Result<Vec<u8>> {
        let name = self.keyring_secret.as_deref().ok_or_else(|| {
            Error::InvalidSpec(
                "verify.keyringSecretRef is required to check provenance; name a Secret holding \
                 keyring.gpg"
                    .into(),
            )
        })?;
        let secret = observed
            .keyring
            .as_ref()
            .ok_or_else(|| Error::InputMissing {
                what: format!("Secret {name} (verify.keyringSecretRef)"),
                message: "not found; create it with the trusted public keys in keyring.gpg".into(),
            })?;
        verify::keyring_from_secret(secret, name)
    }

    fn from(policy: Option<&VerificationPolicy>) -> Self {
        Policy {
            mode: policy.map_or(VerificationMode::Ignore, |p| p.mode),
            keyring_secret: policy
                .and_then(|p| p.keyring_secret_ref.as_ref())
                .map(|r| r.name.clone()),
        }
    }
}

/// Whether the status reports `revision` applied and Ready for the current generation.
fn reports_applied(deployment: &ChartDeployment, revision: &Revision) -> bool {
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

/// Whether the status already says all there is to say: `revision` applied with `inventory`.
fn is_current(
    deployment: &ChartDeployment,
    revision: &Revision,
    inventory: &[InventoryEntry],
) -> bool {
    reports_applied(deployment, revision)
        && deployment
            .status
            .as_ref()
            .is_some_and(|status| status.inventory == inventory)
}

/// Whether `revision` is what was last applied, this process applied it less than an interval
/// ago under the same verification policy, and the spec has not changed since: then nothing
/// needs writing.
fn is_unchanged(
    deployment: &ChartDeployment,
    ctx: &Context,
    revision: &Revision,
    policy_tag: &str,
) -> bool {
    reports_applied(deployment, revision)
        && ctx.applied_within(&key(deployment), interval(deployment), policy_tag)
}

/// Fetch, verify, expand, apply and prune. `attempted` is set once the revision is known.
async fn attempt(
    deployment: &ChartDeployment,
    ctx: &Context,
    attempted: &mut Option<Revision>,
) -> Result<Attempt> {
    let namespace = deployment.namespace().unwrap_or_default();
    let (source, policy) = resolve_source(deployment, ctx, &namespace).await?;
    let observed_policy = policy.observe(ctx, &namespace).await?;
    let policy_tag = &observed_policy.tag;
    let user_values = fetch_values(deployment, ctx, &namespace).await?;
    let values_digest = values::digest(&user_values);
    // A repository's index names the archive's digest, so an unchanged revision is known
    // without downloading anything.
    if let Source::Repository { entry, .. } = &source
        && let Some(archive_digest) = fetch::indexed_digest(entry)
        && is_unchanged(
            deployment,
            ctx,
            &Revision {
                chart: entry.name.clone(),
                version: entry.entry.version().to_string(),
                archive_digest,
                values_digest: values_digest.clone(),
                manifest_digest: None,
            },
            policy_tag,
        )
    {
        return Ok(Attempt::Unchanged);
    }
    let mut manifest_digest = None;
    let package = match source {
        Source::Package(package) => Arc::new(package),
        Source::Repository { index, entry } => {
            let wants_provenance = policy.mode != VerificationMode::Ignore;
            Arc::new(fetch::download_package(&index, &entry, wants_provenance).await?)
        }
        Source::Oci(source) => {
            let (package, digest) = fetch::oci::fetch(&ctx.oci_charts, &source).await?;
            manifest_digest = Some(digest);
            package
        }
    };
    let chart = capstan_chart::load::load_archive(&package.archive)
        .map_err(|error| Error::Load(error.to_string()))?;
    let revision = Revision {
        chart: chart.metadata.name.clone(),
        version: chart.metadata.version.clone(),
        archive_digest: package.digest(),
        values_digest,
        manifest_digest,
    };
    *attempted = Some(revision.clone());
    if is_unchanged(deployment, ctx, &revision, policy_tag) {
        return Ok(Attempt::Unchanged);
    }

    let mut provenance = None;
    if verify::decide(policy.mode, package.provenance.is_some())? == verify::Check::Verify {
        let keyring = policy.keyring(&observed_policy)?;
        let signed = package.provenance.as_deref().unwrap_or_default();
        let archive_name = format!("{}-{}.tgz", revision.chart, revision.version);
        let verified = verify::verify_signature(&archive_name, &package.archive, signed, &keyring)?;
        info!(deployment = %key(deployment), signer = %verified.signer, fingerprint = %verified.fingerprint, "provenance verified");
        provenance = Some(Box::new(ProvenanceStatus {
            signer: verified.signer,
            key_fingerprint: verified.fingerprint,
            archive_digest: verified.hash,
        }));
    }

    let target_namespace = deployment
        .spec
        .target_namespace
        .clone()
        .unwrap_or(namespace);
    let (kube_version, api_versions) = ctx.cluster.capabilities().await?;
    let is_install = deployment
        .status
        .as_ref()
        .is_none_or(|status| status.last_applied_revision.is_none());
    let rendered = expand::render(
        chart,
        user_values,
        RenderOptions {
            release_name: deployment
                .spec
                .release_name
                .clone()
                .unwrap_or_else(|| deployment.name_any()),
            namespace: target_namespace.clone(),
            revision: 1,
            is_install,
            kube_version,
            api_versions,
        },
    )?;
    let owner = owner(deployment);
    let scopes = ctx.cluster.scopes().await?;
    let objects = desired::build(
        rendered.crds.into_iter().map(|m| m.object).collect(),
        rendered.manifests.into_iter().map(|m| m.object).collect(),
        &owner,
        &target_namespace,
        scopes,
    )?;
    let previous_revision = deployment
        .status
        .as_ref()
        .and_then(|status| status.last_applied_revision.as_ref());
    let mode = if previous_revision == Some(&revision) {
        apply::Mode::OnlyDrifted
    } else {
        apply::Mode::All
    };
    let apply::Applied { inventory, patched } =
        apply::apply_all(&ctx.cluster, &owner, &objects, mode).await?;
    let previous_inventory = deployment
        .status
        .as_ref()
        .map(|status| status.inventory.as_slice())
        .unwrap_or_default();
    let stale = prune::to_prune(previous_inventory, &inventory);
    let pruned = prune::delete_all(&ctx.cluster, &owner, &stale).await?;
    info!(deployment = %key(deployment), chart = %revision.chart, version = %revision.version, objects = inventory.len(), patched, pruned = pruned.len(), "applied");
    Ok(Attempt::Applied {
        revision: Box::new(revision),
        inventory,
        patched,
        pruned,
        provenance,
        policy: observed_policy.tag.clone(),
    })
}

async fn resolve_source(
    deployment: &ChartDeployment,
    ctx: &Context,
    namespace: &str,
) -> Result<(Source, Policy)> {
    let chart = &deployment.spec.chart;
    if let Some(source) = &chart.package {
        let policy = Policy::from(source.verify.as_ref());
        let package = if let Some(reference) = &source.config_map_ref {
            let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), namespace);
            let config_map =
                api.get_opt(&reference.name)
                    .await?
                    .ok_or_else(|| Error::InputMissing {
                        what: format!("ConfigMap {}", reference.name),
                        message: "not found; create it (capstan write deployment --from-package)"
                            .into(),
                    })?;
            package_from_config_map(&config_map, source)?
        } else if let Some(reference) = &source.secret_ref {
            let api: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
            let secret =
                api.get_opt(&reference.name)
                    .await?
                    .ok_or_else(|| Error::InputMissing {
                        what: format!("Secret {}", reference.name),
                        message: "not found; create it (capstan write deployment --from-package)"
                            .into(),
                    })?;
            package_from_secret(&secret, source)?
        } else {
            return Err(Error::InvalidSpec(
                "spec.chart.package: set configMapRef or secretRef".into(),
            ));
        };
        return Ok((Source::Package(package), policy));
    }
    if let Some(oci) = &chart.oci {
        let access = Access::read(
            ctx,
            namespace,
            &AccessSpec {
                field: "spec.chart.oci.secretRef",
                secret_ref: oci.secret_ref.as_ref(),
                cert_secret_ref: oci.cert_secret_ref.as_ref(),
                insecure_skip_tls_verify: oci.insecure_skip_tls_verify,
            },
        )
        .await?;
        let source = oci_source(
            &oci.reference,
            oci.version.as_deref(),
            &access,
            oci.plain_http,
        )?;
        return Ok((
            Source::Oci(Box::new(source)),
            Policy::from(oci.verify.as_ref()),
        ));
    }
    if let Some(wanted) = &chart.repository {
        let name = &wanted.repository_ref.name;
        let cache_key = (namespace.to_string(), name.clone());
        let api: Api<ChartRepository> = Api::namespaced(ctx.client.clone(), namespace);
        let Some(repository) = api.get_opt(name).await? else {
            ctx.indexes.remove(&cache_key);
            return Err(Error::InputMissing {
                what: format!("ChartRepository {name}"),
                message: "not found; create it in the namespace of this ChartDeployment".into(),
            });
        };
        let policy = Policy::from(repository.spec.verify.as_ref());
        if repository.spec.url.starts_with("oci://") {
            // A registry path: the chart is the repository `<path>/<name>`, its versions its tags.
            let access =
                Access::read(ctx, namespace, &repository::access_spec(&repository.spec)).await?;
            if wanted.name.is_empty()
                || wanted.name.starts_with('.')
                || wanted.name.contains([':', '@', '/'])
            {
                return Err(Error::InvalidSpec(format!(
                    "spec.chart.repository.name {:?}: a chart name in an oci:// repository is \
                     one path segment, without tag or digest (set them in version)",
                    wanted.name
                )));
            }
            let reference = capstan_chart::index::join_url(&repository.spec.url, &wanted.name);
            let source = oci_source(
                &reference,
                wanted.version.as_deref(),
                &access,
                repository.spec.plain_http,
            )?;
            return Ok((Source::Oci(Box::new(source)), policy));
        }
        let index = ctx
            .indexes
            .get(&cache_key)
            .filter(|index| index.url == repository.spec.url)
            .ok_or_else(|| Error::InputMissing {
                what: format!("ChartRepository {name}"),
                message: format!(
                    "its index has not been fetched yet{}",
                    ready_message(repository.status.as_ref())
                ),
            })?;
        let entry = index.resolve(&wanted.name, wanted.version.as_deref().unwrap_or_default())?;
        // The deployment's own policy, when it sets one, replaces the repository's.
        let policy = Policy::from(wanted.verify.as_ref().or(repository.spec.verify.as_ref()));
        return Ok((
            Source::Repository {
                index,
                entry: Box::new(entry),
            },
            policy,
        ));
    }
    Err(Error::InvalidSpec(
        "spec.chart: set one of repository, package or oci".into(),
    ))
}

/// The registry source for `reference` (with an optional tag or digest) and `version`.
fn oci_source(
    reference: &str,
    version: Option<&str>,
    access: &Access,
    plain_http: bool,
) -> Result<OciSource> {
    let (chart_url, _) = capstan_sources::oci::split_chart_reference(reference);
    let host = capstan_sources::oci::registry_host(&chart_url)
        .map_err(|error| Error::InvalidSpec(error.to_string()))?;
    OciSource::new(
        reference,
        version,
        access.registry_options(&host, plain_http)?,
    )
}

/// `: <message>` of a repository's failing Ready condition, so a deployment says why its
/// repository has no index.
fn ready_message(status: Option<&ChartRepositoryStatus>) -> String {
    status
        .into_iter()
        .flat_map(|status| &status.conditions)
        .find(|c| c.type_ == capstan_api::common::READY && c.status != "True")
        .map(|c| format!(": {}", c.message))
        .unwrap_or_default()
}

async fn fetch_values(
    deployment: &ChartDeployment,
    ctx: &Context,
    namespace: &str,
) -> Result<capstan_chart::values::Values> {
    let references = &deployment.spec.values_from;
    let mut fetched = Vec::with_capacity(references.len());
    for reference in references {
        let key = reference.key();
        let content = match reference.kind {
            ValuesSourceKind::ConfigMap => {
                let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), namespace);
                api.get_opt(&reference.name).await?.and_then(|config_map| {
                    config_map
                        .data
                        .and_then(|mut data| data.remove(key).map(String::into_bytes))
                        .or_else(|| {
                            config_map
                                .binary_data
                                .and_then(|mut data| data.remove(key).map(|b| b.0))
                        })
                })
            }
            ValuesSourceKind::Secret => {
                let api: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
                api.get_opt(&reference.name).await?.and_then(|secret| {
                    secret
                        .data
                        .and_then(|mut data| data.remove(key).map(|b| b.0))
                })
            }
        };
        fetched.push(content);
    }
    values::merge_user_values(references, fetched, deployment.spec.values.as_ref())
}

/// Deletes everything in the inventory (except kept objects), then lets the finalizer go.
async fn cleanup(deployment: Arc<ChartDeployment>, ctx: &Context) -> Result<Action> {
    let inventory = deployment
        .status
        .as_ref()
        .map(|s| s.inventory.clone())
        .unwrap_or_default();
    let all = prune::to_prune(&inventory, &[]);
    let deleted = prune::delete_all(&ctx.cluster, &owner(&deployment), &all).await?;
    ctx.forget(&key(&deployment));
    info!(deployment = %key(&deployment), deleted = deleted.len(), "cleaned up");
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repository(digest: &str, fetched_at: &str) -> ChartRepository {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "capstan.dev/v1alpha1",
            "kind": "ChartRepository",
            "metadata": {"name": "charts", "namespace": "apps", "uid": "u1", "generation": 1},
            "spec": {"url": "https://charts.example"},
            "status": {"indexDigest": digest, "chartCount": 2,
                       "lastFetchTime": fetched_at, "nextFetchTime": fetched_at},
        }))
        .unwrap()
    }

    #[test]
    fn deployments_are_woken_by_a_new_index_and_a_deletion_but_not_by_another_fetch() {
        let changes = RepositoryChanges::default();
        let first = repository("sha256:ab", "2026-12-02T10:00:00Z");
        assert!(changes.changed(&first), "first sight");
        assert!(!changes.changed(&repository("sha256:ab", "2026-12-02T10:10:00Z")));
        assert!(changes.changed(&repository("sha256:cd", "2026-12-02T10:20:00Z")));
        assert!(!changes.changed(&repository("sha256:cd", "2026-12-02T10:30:00Z")));

        // Deleted as it last was: the event marks it, and it wakes its deployments.
        let deleted = touched_repository(Ok(watcher::Event::Delete(repository(
            "sha256:cd",
            "2026-12-02T10:30:00Z",
        ))))
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
