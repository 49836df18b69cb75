//! The Capstan chart format, shared by the `capstan` CLI and the operator.
//!
//! This crate holds everything that can be done with a chart without a cluster: the model of
//! `Chart.yaml`, loading a chart from a directory or an archive, values, rendering, linting,
//! packaging, provenance, repository indexes and OCI. It deliberately has no Kubernetes client, so
//! every step here is a plain function that can be tested from fixtures.

pub mod catalogue;
pub mod expand;
pub mod http;
pub mod index;
pub mod kube_object;
pub mod lint;
pub mod load;
pub mod model;
pub mod names;
pub mod oci;
pub mod package;
pub mod provenance;
pub mod render;
pub mod s3;
pub mod scaffold;
pub mod schema;
pub mod values;
/// Chart versions and constraints, with Masterminds/semver v3 rules (shared with the template functions).
pub use capstan_gotemplate::semver as version;
