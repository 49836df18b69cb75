//! `pre-delete`/`post-delete` hooks around the deletion of a ChartDeployment's objects, from the
//! [`snapshot`] of the release applied last (the chart's source may be gone by then, and its
//! values of that time are not in the spec any more).
//!
//! `pre-delete` hooks run (Jobs to completion) before anything is deleted, once: a mark on the
//! snapshot keeps a deletion that waits for finalizing objects over several passes from running
//! them again. `post-delete` hooks run once the objects are gone, also once (a retry after the
//! finalizer could not be released finds them marked). Everything is bounded by
//! `spec.timeout` from the deletion. Unlike Helm, whose uninstall fails and keeps the release
//! when a delete hook fails, a failed or timed-out hook is told by a Warning event
//! (`UninstallHookFailed`, naming it) and the uninstall goes on: a ChartDeployment being deleted
//! cannot be retried later, and its finalizer must not keep it forever.

use crate::events::EventType;
use k8s_openapi::jiff::Timestamp;
use tokio::time::Instant;
use tracing::{info, warn};

use crate::context::Context;
use crate::error::Error;
use crate::object_key::KindKey;
use crate::report;

use super::acting::Acting;
use super::hooks::{self, Hook, Phase};
use super::owner::Owner;
use super::post_hooks;
use super::snapshot::{self, DONE, POST_DELETE, PRE_DELETE};

/// The event reason of a delete hook that failed, or that could not run.
pub const UNINSTALL_HOOK_FAILED: &str = "UninstallHookFailed";

/// The delete hooks of the release being uninstalled.
pub struct DeleteHooks {
    release: u64,
    hooks: Vec<Hook>,
    pre_delete_done: bool,
    post_delete_done: bool,
}

/// What an uninstall knows of the release it removes.
pub struct Release<'a> {
    pub key: &'a KindKey,
    /// The release number applied last (0: none).
    pub number: u64,
    /// Where the chart's namespaced objects went unless they named a namespace.
    pub target_namespace: String,
    /// When the uninstall's time (`spec.timeout` from the deletion) runs out.
    pub deadline: Timestamp,
}

impl DeleteHooks {
    /// The delete hooks kept with the release; none when it kept no snapshot (a release
    /// without hooks). A snapshot that cannot be read is told by an event, and the uninstall
    /// goes on without hooks.
    pub async fn load(
        ctx: &Context,
        acting: &Acting<'_>,
        owner: &Owner,
        release: &Release<'_>,
    ) -> DeleteHooks {
        let none = DeleteHooks {
            release: release.number,
            hooks: Vec::new(),
            pre_delete_done: false,
            post_delete_done: false,
        };
        if release.number == 0 {
            return none;
        }
        let read = async {
            let Some(stored) = snapshot::find(acting, &release.key.key, release.number).await?
            else {
                return Ok(None);
            };
            let done = |mark| stored.marks.get(mark).map(String::as_str) == Some(DONE);
            let done = (done(PRE_DELETE), done(POST_DELETE));
            let hooks =
                post_hooks::hooks_of(acting, owner, &release.target_namespace, stored.hooks)
                    .await?;
            Ok::<_, Error>(Some((hooks, done)))
        };
        match read.await {
            Ok(Some((hooks, (pre_delete_done, post_delete_done)))) => DeleteHooks {
                hooks,
                pre_delete_done,
                post_delete_done,
                ..none
            },
            // An identity that may not read Secrets could not have kept a release with hooks.
            Ok(None) | Err(Error::Forbidden { .. }) => none,
            Err(error) => {
                let message = format!(
                    "The delete hooks of release {} could not be read, so none ran: {error}",
                    release.number
                );
                warn!(deployment = %release.key.key, %message);
                report::publish_about(
                    ctx,
                    release.key,
                    EventType::Warning,
                    UNINSTALL_HOOK_FAILED,
                    message,
                )
                .await;
                none
            }
        }
    }

    /// Runs the `pre-delete` hooks, unless an earlier pass did.
    pub async fn before(
        &mut self,
        ctx: &Context,
        acting: &Acting<'_>,
        owner: &Owner,
        release: &Release<'_>,
    ) {
        if !self.pre_delete_done {
            self.run_once(ctx, acting, owner, release, Phase::PreDelete)
                .await;
            self.pre_delete_done = true;
        }
    }

    /// Runs the `post-delete` hooks (the objects are gone), unless an earlier pass did: one
    /// whose release of the finalizer failed is retried, and must not run them twice.
    pub async fn after(
        &mut self,
        ctx: &Context,
        acting: &Acting<'_>,
        owner: &Owner,
        release: &Release<'_>,
    ) {
        if !self.post_delete_done {
            self.run_once(ctx, acting, owner, release, Phase::PostDelete)
                .await;
            self.post_delete_done = true;
        }
    }

    /// Runs the hooks of `phase`, if the release has any, and marks them done on its snapshot.
    async fn run_once(
        &self,
        ctx: &Context,
        acting: &Acting<'_>,
        owner: &Owner,
        release: &Release<'_>,
        phase: Phase,
    ) {
        if hooks::of_phase(&self.hooks, phase).is_empty() {
            return;
        }
        let deadline = instant_of(release.deadline, Timestamp::now());
        match hooks::run(acting, owner, &self.hooks, phase, deadline).await {
            Ok(ran) => {
                info!(deployment = %release.key.key, phase = phase.name(), hooks = ?ran, "delete hooks ran");
            }
            Err(error) => {
                let message = failure_message(&error, phase);
                warn!(deployment = %release.key.key, %message);
                report::publish_about(
                    ctx,
                    release.key,
                    EventType::Warning,
                    UNINSTALL_HOOK_FAILED,
                    message,
                )
                .await;
            }
        }
        let mark = match phase {
            Phase::PreDelete => PRE_DELETE,
            _ => POST_DELETE,
        };
        if let Err(error) = snapshot::mark(acting, &release.key.key, self.release, mark, DONE).await
        {
            warn!(deployment = %release.key.key, phase = phase.name(), %error, "the delete hooks ran but could not be marked done: a later pass may run them again");
        }
    }
}

/// The event message for a delete hook of `phase` that failed with `error`.
fn failure_message(error: &Error, phase: Phase) -> String {
    let what = match error {
        Error::HookFailed { hook, message, .. } => {
            format!("The {} hook {hook} failed: {message}", phase.name())
        }
        other => format!("The {} hooks could not run: {other}", phase.name()),
    };
    let next = match phase {
        Phase::PreDelete => "the objects are deleted all the same",
        _ => "the ChartDeployment goes all the same",
    };
    format!("{what}; {next}")
}

/// `deadline` as a monotonic instant, seen at `now`.
fn instant_of(deadline: Timestamp, now: Timestamp) -> Instant {
    let left = deadline.duration_since(now);
    Instant::now() + std::time::Duration::try_from(left).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_delete_hook_is_named_and_the_uninstall_goes_on() {
        let failed = Error::HookFailed {
            hook: "Job apps/backup".into(),
            phase: "pre-delete",
            message: "the Job failed: DeadlineExceeded".into(),
        };
        assert_eq!(
            failure_message(&failed, Phase::PreDelete),
            "The pre-delete hook Job apps/backup failed: the Job failed: DeadlineExceeded; the \
             objects are deleted all the same"
        );
        let refused = Error::Forbidden {
            object: "Job apps/notify".into(),
            identity: "ServiceAccount apps/deployer".into(),
            message: "jobs.batch is forbidden".into(),
        };
        let message = failure_message(&refused, Phase::PostDelete);
        assert!(
            message.starts_with("The post-delete hooks could not run")
                && message.contains("ServiceAccount apps/deployer")
                && message.ends_with("the ChartDeployment goes all the same"),
            "{message}"
        );
    }

    #[test]
    fn a_deadline_in_the_past_is_now() {
        let now = Timestamp::from_second(1_000).unwrap();
        let past = Timestamp::from_second(990).unwrap();
        assert!(instant_of(past, now) <= Instant::now());
        let later = Timestamp::from_second(1_060).unwrap();
        let left = instant_of(later, now).saturating_duration_since(Instant::now());
        assert!(left > std::time::Duration::from_secs(59), "{left:?}");
    }
}
