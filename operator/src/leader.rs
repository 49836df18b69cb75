//! Leader election over a `coordination.k8s.io/v1` Lease, so that of several operator processes
//! (replicas, or the old and new pod of a rolling update) exactly one watches, reconciles and
//! writes status. The others wait, reading the Lease, until it is released or expires.
//!
//! The rules are client-go's: a Lease is held for `leaseDurationSeconds` after its holder last
//! renewed it, judged by when this process *saw* the record change (never by comparing clocks
//! across machines); updates carry the `resourceVersion` read, so of two candidates racing for an
//! expired Lease only one wins. A leader that cannot renew within the renew deadline stops (the
//! process exits and is restarted as a candidate) rather than risk two leaders; one that shuts
//! down releases the Lease so a standby takes over at once.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, ObjectMeta, PostParams};
use tracing::{info, warn};

/// Where the Lease lives, who this process is, and how long a lease lasts.
#[derive(Clone, Debug)]
pub struct LeaseSettings {
    pub namespace: String,
    pub name: String,
    /// This process in the Lease's `holderIdentity`: the pod name when in a cluster.
    pub identity: String,
    /// How long a holder keeps the Lease without renewing it (client-go's default is 15s).
    pub lease_duration: Duration,
}

impl LeaseSettings {
    /// The leader gives up if it has not renewed for this long, well before others may take over.
    fn renew_deadline(&self) -> Duration {
        self.lease_duration * 2 / 3
    }

    /// How often the leader renews and candidates look again.
    fn retry_period(&self) -> Duration {
        (self.lease_duration / 7).max(Duration::from_millis(200))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error(
        "lost the Lease {namespace}/{name}: {reason}; stopping so that only one operator \
         reconciles (the process is restarted as a candidate)"
    )]
    Lost {
        namespace: String,
        name: String,
        reason: String,
    },
}

/// What a candidate does with the Lease record it just read.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nobody holds it, its holder let it expire, or it is ours: write ourselves in.
    Take,
    /// Someone else holds it.
    Wait,
}

/// Judges a Lease `spec` read by `me`, which has seen the record unchanged for `unchanged_for`.
pub fn judge(spec: Option<&LeaseSpec>, me: &str, unchanged_for: Duration) -> Verdict {
    let Some(spec) = spec else {
        return Verdict::Take;
    };
    let holder = spec.holder_identity.as_deref().unwrap_or_default();
    if holder.is_empty() || holder == me {
        return Verdict::Take;
    }
    let duration = spec
        .lease_duration_seconds
        .and_then(|seconds| u64::try_from(seconds).ok())
        .map_or(Duration::ZERO, Duration::from_secs);
    if unchanged_for >= duration {
        Verdict::Take
    } else {
        Verdict::Wait
    }
}

/// The Lease record `me` writes to take or renew it, from the record read (if any) at `now`.
pub fn claim(previous: Option<&LeaseSpec>, settings: &LeaseSettings, now: Timestamp) -> LeaseSpec {
    let first = previous.is_none();
    let previous = previous.cloned().unwrap_or_default();
    let ours = previous.holder_identity.as_deref() == Some(settings.identity.as_str());
    let transitions = previous.lease_transitions.unwrap_or(0);
    LeaseSpec {
        holder_identity: Some(settings.identity.clone()),
        lease_duration_seconds: Some(
            i32::try_from(settings.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX),
        ),
        acquire_time: if ours {
            previous.acquire_time.clone()
        } else {
            Some(MicroTime(now))
        },
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(if ours || first {
            transitions
        } else {
            transitions.saturating_add(1)
        }),
        ..previous
    }
}

/// The Lease as this process last read it, and since when it has looked that way.
struct Observed {
    lease: Option<Lease>,
    version: Option<String>,
    since: Instant,
}

impl Observed {
    fn update(&mut self, lease: Option<Lease>) {
        let version = lease
            .as_ref()
            .and_then(|lease| lease.metadata.resource_version.clone());
        if version != self.version || version.is_none() {
            self.since = Instant::now();
        }
        self.version = version;
        self.lease = lease;
    }
}

fn new_lease(settings: &LeaseSettings, spec: LeaseSpec) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(settings.name.clone()),
            namespace: Some(settings.namespace.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
    }
}

/// Why a renewal did not happen.
enum RenewFailure {
    /// The record names another holder: leadership is gone at once.
    HeldBy(String),
    /// The API server could not be reached or refused the write: retried until the deadline.
    Failed(String),
}

fn holder_of(lease: &Lease) -> String {
    lease
        .spec
        .as_ref()
        .and_then(|spec| spec.holder_identity.clone())
        .unwrap_or_default()
}

/// Held leadership: renew it with [`Leadership::keep`], give it up with [`Leadership::release`].
pub struct Leadership {
    api: Api<Lease>,
    settings: LeaseSettings,
    lease: Lease,
}

/// Waits until this process holds the Lease.
pub async fn acquire(client: Client, settings: LeaseSettings) -> Leadership {
    let api: Api<Lease> = Api::namespaced(client, &settings.namespace);
    let mut observed = Observed {
        lease: None,
        version: None,
        since: Instant::now(),
    };
    let mut waiting_for = None;
    loop {
        match try_take(&api, &settings, &mut observed).await {
            Ok(Some(lease)) => {
                info!(
                    lease = %format!("{}/{}", settings.namespace, settings.name),
                    identity = %settings.identity,
                    "leading: this operator reconciles"
                );
                return Leadership {
                    api,
                    settings,
                    lease,
                };
            }
            Ok(None) => {
                let holder = observed.lease.as_ref().map(holder_of);
                if holder != waiting_for {
                    info!(
                        lease = %format!("{}/{}", settings.namespace, settings.name),
                        holder = holder.as_deref().unwrap_or_default(),
                        "waiting for the lease: another operator reconciles"
                    );
                    waiting_for = holder;
                }
            }
            Err(error) => warn!(%error, "reading or writing the lease failed; trying again"),
        }
        tokio::time::sleep(settings.retry_period()).await;
    }
}

/// One round for a candidate: read the Lease and take it if it is free, expired or ours.
/// `Ok(None)` when someone else holds it or won the race for it.
async fn try_take(
    api: &Api<Lease>,
    settings: &LeaseSettings,
    observed: &mut Observed,
) -> kube::Result<Option<Lease>> {
    let current = api.get_opt(&settings.name).await?;
    observed.update(current.clone());
    let spec = current.as_ref().and_then(|lease| lease.spec.as_ref());
    if judge(spec, &settings.identity, observed.since.elapsed()) == Verdict::Wait {
        return Ok(None);
    }
    let claimed = claim(spec, settings, Timestamp::now());
    let written = match current {
        None => {
            api.create(&PostParams::default(), &new_lease(settings, claimed))
                .await
        }
        Some(mut lease) => {
            // Carries the resourceVersion read: a candidate that wrote first makes this a
            // conflict.
            lease.spec = Some(claimed);
            api.replace(&settings.name, &PostParams::default(), &lease)
                .await
        }
    };
    match written {
        Ok(lease) => Ok(Some(lease)),
        Err(kube::Error::Api(response)) if response.code == 409 => Ok(None),
        Err(error) => Err(error),
    }
}

impl Leadership {
    /// Renews the Lease every retry period for as long as this process leads. Returns only when
    /// leadership is lost: another holder in the record, or no successful renewal within the
    /// renew deadline.
    pub async fn keep(&mut self) -> LeaderError {
        let mut renewed = Instant::now();
        loop {
            tokio::time::sleep(self.settings.retry_period()).await;
            let reason = match self.renew().await {
                Ok(()) => {
                    renewed = Instant::now();
                    continue;
                }
                Err(RenewFailure::HeldBy(holder)) => format!("it is held by {holder:?}"),
                Err(RenewFailure::Failed(reason)) => {
                    if renewed.elapsed() < self.settings.renew_deadline() {
                        warn!(%reason, "renewing the lease failed; trying again");
                        continue;
                    }
                    format!(
                        "not renewed within {:?}: {reason}",
                        self.settings.renew_deadline()
                    )
                }
            };
            return LeaderError::Lost {
                namespace: self.settings.namespace.clone(),
                name: self.settings.name.clone(),
                reason,
            };
        }
    }

    async fn renew(&mut self) -> Result<(), RenewFailure> {
        let holder = holder_of(&self.lease);
        if holder != self.settings.identity {
            return Err(RenewFailure::HeldBy(holder));
        }
        let mut lease = self.lease.clone();
        lease.spec = Some(claim(lease.spec.as_ref(), &self.settings, Timestamp::now()));
        let written = self
            .api
            .replace(&self.settings.name, &PostParams::default(), &lease)
            .await;
        match written {
            Ok(written) => {
                self.lease = written;
                Ok(())
            }
            // Written by someone else since (409), or deleted (404): see what is there now.
            Err(kube::Error::Api(response)) if matches!(response.code, 404 | 409) => {
                self.reread().await
            }
            Err(error) => Err(RenewFailure::Failed(error.to_string())),
        }
    }

    /// After a conflict: another holder means leadership is gone; our own record (changed by a
    /// retried write) is renewed next time; a deleted Lease is created again with us in it, as
    /// client-go does, unless another candidate creates it first.
    async fn reread(&mut self) -> Result<(), RenewFailure> {
        let failed = |error: kube::Error| RenewFailure::Failed(error.to_string());
        if let Some(current) = self
            .api
            .get_opt(&self.settings.name)
            .await
            .map_err(failed)?
        {
            self.lease = current;
            let holder = holder_of(&self.lease);
            return if holder == self.settings.identity {
                Err(RenewFailure::Failed("the lease changed meanwhile".into()))
            } else {
                Err(RenewFailure::HeldBy(holder))
            };
        }
        let lease = new_lease(
            &self.settings,
            claim(None, &self.settings, Timestamp::now()),
        );
        match self.api.create(&PostParams::default(), &lease).await {
            Ok(created) => {
                warn!("the lease was deleted; created it again");
                self.lease = created;
                Ok(())
            }
            Err(kube::Error::Api(response)) if response.code == 409 => Err(RenewFailure::HeldBy(
                "another candidate (it was deleted and created again)".into(),
            )),
            Err(error) => Err(failed(error)),
        }
    }

    /// Gives the Lease up on shutdown, so a standby takes over without waiting for it to expire.
    pub async fn release(self) {
        let mut lease = self.lease;
        if let Some(spec) = lease.spec.as_mut() {
            spec.holder_identity = None;
            spec.lease_duration_seconds = Some(1);
            spec.renew_time = Some(MicroTime(Timestamp::now()));
        }
        match self
            .api
            .replace(&self.settings.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => info!("released the lease"),
            Err(error) => warn!(%error, "releasing the lease failed; it expires by itself"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(identity: &str) -> LeaseSettings {
        LeaseSettings {
            namespace: "capstan-system".into(),
            name: "capstan-operator".into(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
        }
    }

    fn held_by(holder: &str) -> LeaseSpec {
        claim(
            None,
            &settings(holder),
            Timestamp::from_second(1_000).unwrap(),
        )
    }

    #[test]
    fn a_free_lease_or_our_own_is_taken_and_anothers_waited_for_until_it_expires() {
        let seconds = Duration::from_secs;
        assert_eq!(judge(None, "b", seconds(0)), Verdict::Take);
        assert_eq!(judge(Some(&held_by("b")), "b", seconds(0)), Verdict::Take);
        let released = LeaseSpec {
            holder_identity: None,
            ..held_by("a")
        };
        assert_eq!(judge(Some(&released), "b", seconds(0)), Verdict::Take);
        let waiting = Verdict::Wait;
        assert_eq!(judge(Some(&held_by("a")), "b", seconds(0)), waiting);
        assert_eq!(judge(Some(&held_by("a")), "b", seconds(14)), waiting);
        assert_eq!(judge(Some(&held_by("a")), "b", seconds(15)), Verdict::Take);
    }

    #[test]
    fn a_claim_counts_transitions_and_keeps_the_acquire_time_on_renewal() {
        let at = |second| Timestamp::from_second(second).unwrap();
        let first = claim(None, &settings("a"), at(1_000));
        assert_eq!(first.holder_identity.as_deref(), Some("a"));
        assert_eq!(first.lease_duration_seconds, Some(15));
        assert_eq!(first.lease_transitions, Some(0));
        let renewed = claim(Some(&first), &settings("a"), at(1_002));
        assert_eq!(renewed.acquire_time, Some(MicroTime(at(1_000))));
        assert_eq!(renewed.renew_time, Some(MicroTime(at(1_002))));
        assert_eq!(renewed.lease_transitions, Some(0));
        let taken = claim(Some(&renewed), &settings("b"), at(1_020));
        assert_eq!(taken.holder_identity.as_deref(), Some("b"));
        assert_eq!(taken.acquire_time, Some(MicroTime(at(1_020))));
        assert_eq!(taken.lease_transitions, Some(1));
    }

    #[test]
    fn the_leader_renews_often_and_gives_up_before_the_lease_can_pass_on() {
        let settings = settings("a");
        assert_eq!(settings.renew_deadline(), Duration::from_secs(10));
        assert!(settings.retry_period() * 4 < settings.renew_deadline());
    }
}
