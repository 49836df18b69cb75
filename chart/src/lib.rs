//! The Capstan chart format, shared by the `capstan` CLI and the operator.
//!
//! This crate holds everything that can be done with a chart on its own: the model of
//! `Chart.yaml`, loading a chart from a directory or an archive, values, rendering, linting,
//! packaging, provenance and repository index files. It deliberately has no network client, no
//! async runtime and no Kubernetes client, so every step here is a plain function that can be
//! tested from fixtures (and fuzzed). The clients that fetch charts live in `capstan-sources`.

pub mod expand;
pub mod helm;
pub mod index;
pub mod kube_object;
pub mod lint;
pub mod load;
pub mod model;
pub mod names;
pub mod package;
pub mod provenance;
pub mod render;
pub mod scaffold;
pub mod schema;
pub mod values;
/// Chart versions and constraints, with Masterminds/semver v3 rules (shared with the template functions).
pub use capstan_gotemplate::semver as version;
