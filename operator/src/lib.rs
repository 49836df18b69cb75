//! The Capstan operator as a library: the ChartRepository and ChartDeployment controllers, and
//! [`operate`], which runs them. The `capstan-operator` binary is a thin command line over this.
//!
//! A ChartDeployment reconcile is a pipeline whose steps are modules of [`deployment`]:
//!
//! 1. [`deployment::dereference`]: every read of the cluster and of chart sources (the source,
//!    the verification policy and its keyring, `valuesFrom`, the chart archive, the live objects),
//!    gathered into plain values;
//! 2. [`deployment::plan`]: client-free decisions (the revision, whether anything changed, the
//!    verification, the objects to apply and to prune), unit-tested from fixtures;
//! 3. [`deployment::apply`] and [`deployment::prune`]: the writes;
//! 4. [`deployment::status`]: the new status, computed client-free from the outcome and written
//!    by one function.
//!
//! [`deployment::controller`] keeps only the wiring: watches, triggers, the finalizer and the
//! error policy. The ChartRepository controller ([`repository`]) fetches indexes into the cache
//! every deployment of a repository shares.

pub mod access;
pub mod cluster;
pub mod conditions;
pub mod context;
pub mod deployment;
pub mod error;
pub mod events;
#[cfg(test)]
mod fake_api;
pub mod finalizer;
pub mod leader;
pub mod logging;
pub mod metrics;
pub mod object_data;
pub mod object_key;
pub mod operate;
pub mod report;
pub mod repository;
pub mod settings;
pub mod values_key;
pub mod watch;

pub use error::{Error, Result};
pub use operate::operate;
pub use settings::Settings;
