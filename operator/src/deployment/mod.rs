//! The ChartDeployment controller and its reconcile pipeline.
//!
//! - [`controller`]: watches, [`triggers`], the finalizer ([`cleanup`]), the error policy, and
//!   objects that cannot be decoded ([`invalid`]);
//! - [`reconcile`]: one attempt, step by step:
//!   1. [`dereference`] reads the source ([`package`], [`oci`]), the [`policy`]'s keyring and the
//!      [`values`]; [`live`] reads the objects' live state;
//!   2. [`plan`] decides, without a client: the revision, whether it changed, the verification,
//!      the release number, the objects ([`render`], [`desired`], [`owner`]), which to write
//!      ([`drift`], [`crds`]) and what to prune;
//!   3. [`apply`] and [`prune`] write, between the chart's [`hooks`] ([`post_hooks`] once the
//!      revision is healthy), and keep a [`snapshot`] of what was applied, which a [`rollback`]
//!      of a failed upgrade goes back to (with its [`rollback_hooks`]), and whose delete hooks
//!      an uninstall runs ([`uninstall_hooks`]); a failed install or upgrade is retried or
//!      remediated as [`remediation`] decides and [`remediate`] does;
//!   4. [`status`] computes the new status and event and writes them.

pub mod acting;
pub mod apply;
pub mod approval;
pub mod cleanup;
pub mod controller;
pub mod crds;
pub mod dependencies;
pub mod dereference;
pub mod desired;
pub mod drift;
pub mod health;
pub mod health_watch;
pub mod history;
pub mod hooks;
pub mod identity;
pub mod invalid;
pub mod live;
pub mod oci;
pub mod owner;
pub mod package;
pub mod package_cache;
pub mod plan;
pub mod policy;
pub mod post_hooks;
pub mod prune;
pub mod reconcile;
pub mod remediate;
pub mod remediation;
pub mod render;
pub mod resolutions;
pub mod rollback;
pub mod rollback_hooks;
pub mod snapshot;
pub mod status;
pub mod triggers;
pub mod turns;
pub mod undo;
pub mod uninstall_hooks;
pub mod values;
