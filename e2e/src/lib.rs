//! End-to-end test harness for Capstan.
//!
//! Tests run against the real control plane and peers that `e2e/cluster up` starts on 127.0.0.1 (or
//! that `make test` starts around the whole run). This crate finds them through the env file the
//! script writes, hands out Kubernetes clients, gives each test its own namespace, runs the peer
//! command-line tools with bounded time, and waits for conditions with watches rather than sleeps.
//!
//! When the cluster is not running, [`Cluster::shared`] fails at once with the command that starts
//! it; it never waits for a cluster that is not there. Setting `CAPSTAN_E2E_AUTO_UP=1` makes it run
//! `e2e/cluster up` itself instead (which also stays running afterwards: stop it with
//! `e2e/cluster down`).

mod cluster;
mod env;
mod error;
pub mod etcd;
pub mod fault_server;
pub mod file_server;
pub mod finalizer_policy;
pub mod gnupg;
mod namespace;
pub mod operator;
pub mod orphans;
pub mod s3_peer;
pub mod scale;
pub mod tenancy;
mod tools;
pub mod wait;

pub use cluster::Cluster;
pub use env::{Credentials, E2eEnv, S3Env};
pub use error::{E2eError, Result};
pub use namespace::TestNamespace;
pub use tools::{CommandOutput, ToolCommand, workspace_binary};
