//! `pre-rollback`/`post-rollback` hooks around a remediation [`super::rollback`]: those of the
//! release rolled back to, from its [`snapshot`], as Helm runs the target release's hooks.
//!
//! A `pre-rollback` hook that fails stops the rollback with nothing of it applied (the failed
//! revision stays, and the rollback is tried again). `post-rollback` hooks run once the
//! rollback's objects are applied and pruned, without waiting for their health; as those are in
//! place by then, a hook that fails is told in the rollback's message rather than undoing it.

use capstan_api::ChartDeployment;
use tokio::time::Instant;

use crate::error::Result;

use super::acting::Acting;
use super::hooks::{self, Hook, Phase};
use super::owner::Owner;
use super::plan;
use super::post_hooks;
use super::snapshot::{self, Marks, Snapshot};

/// Runs the `pre-rollback` hooks of `target` (the snapshot gone back to); returns its hooks for
/// [`after`].
pub async fn before(
    acting: &Acting<'_>,
    deployment: &ChartDeployment,
    owner: &Owner,
    target: &Snapshot,
    deadline: Instant,
) -> Result<Vec<Hook>> {
    let hooks = post_hooks::hooks_of(
        acting,
        owner,
        &plan::target_namespace(deployment),
        target.hooks.clone(),
    )
    .await?;
    hooks::run(acting, owner, &hooks, Phase::PreRollback, deadline).await?;
    Ok(hooks)
}

/// Runs the `post-rollback` hooks, then keeps `target` again as the snapshot of `release` (the
/// rollback's own release number), so its delete hooks run on uninstall. `why` (what failed)
/// comes back with a failed hook told after it.
pub async fn after(
    acting: &Acting<'_>,
    deployment: &ChartDeployment,
    owner: &Owner,
    hooks: &[Hook],
    target: Snapshot,
    release: u64,
    deadline: Instant,
) -> String {
    let failure = hooks::run(acting, owner, hooks, Phase::PostRollback, deadline)
        .await
        .err()
        .map(|error| error.to_string());
    let kept = Snapshot {
        release_number: release,
        marks: Marks::new(),
        ..target
    };
    snapshot::save(acting, deployment, &kept).await;
    failure.unwrap_or_default()
}

/// The failure of the failed revision, `why`, with a `post-rollback` failure told after it.
pub fn told_with(why: String, post_rollback_failure: &str) -> String {
    if post_rollback_failure.is_empty() {
        why
    } else {
        format!("{why}; after the rollback, {post_rollback_failure}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_post_rollback_hook_is_told_after_what_failed() {
        assert_eq!(told_with("an object failed".into(), ""), "an object failed");
        assert_eq!(
            told_with(
                "an object failed".into(),
                "the post-rollback hook Job apps/notify failed: the Job failed"
            ),
            "an object failed; after the rollback, the post-rollback hook Job apps/notify \
             failed: the Job failed"
        );
    }
}
