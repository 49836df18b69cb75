//! The Capstan custom resources, `capstan.dev/v1alpha1`, as Rust types.
//!
//! These types are shared by the operator (which reconciles them) and the `capstan` CLI (which
//! writes them for GitOps and lints them). They depend on kube's derive machinery only, never on
//! a cluster client, so the CLI stays small and never talks to a cluster.
//!
//! The CustomResourceDefinitions in `crds/` are generated from these types with
//! `cargo run -p capstan-operator -- crds > crds/capstan.dev.yaml`; a test fails when they are stale.

pub mod common;
pub mod crd;
pub mod deployment;
pub mod duration;
pub mod labels;
pub mod located;
pub mod repository;
pub mod schema;
pub mod validate;

pub use common::{ConditionStatus, Connection, Revision, SecretReference};
pub use deployment::{
    ChartDeployment, ChartDeploymentSpec, ChartDeploymentStatus, ChartSource, InventoryEntry,
    PackageSource, ProvenanceStatus, RepositoryChart, ValuesReference,
};
/// Go-style durations (`10m`, `1h30m`) as `interval` and `timeout` hold them.
pub use duration::Duration;
pub use repository::{
    ChartRepository, ChartRepositorySpec, ChartRepositoryStatus, S3Settings, VerificationMode,
    VerificationPolicy,
};
pub use validate::{Problem, Report, check};

/// The API group of every Capstan resource.
pub const GROUP: &str = "capstan.dev";
/// The served and stored version of the Capstan resources.
pub const VERSION: &str = "v1alpha1";
