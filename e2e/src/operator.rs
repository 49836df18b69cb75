//! The operator under test: its binary, one process per test watching only the test's namespace
//! (killed when the handle drops, pass or fail), the CRDs it serves, and conditions on
//! ChartDeployments to wait for.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use capstan_api::ChartDeployment;
use kube::runtime::wait::Condition;
use tokio::process::{Child, Command};

use crate::cluster::Cluster;
use crate::error::{E2eError, Result};

/// The operator binary: `CAPSTAN_OPERATOR_BIN`, else the workspace's debug build (built by
/// `cargo build -p capstan-operator`).
pub fn operator_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CAPSTAN_OPERATOR_BIN") {
        return path.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("debug/capstan-operator")
}

/// A running operator; dropping it kills the process.
pub struct OperatorProcess {
    _child: Child,
}

impl OperatorProcess {
    /// Starts the operator watching `namespace` with the admin kubeconfig. Its output goes
    /// to `log` when given (tests read it back), else to the test's stderr.
    pub fn start(cluster: &Cluster, namespace: &str, log: Option<&Path>) -> Result<Self> {
        let binary = operator_binary();
        let (stdout, stderr) = match log {
            Some(path) => {
                let io_error = |source| E2eError::Io {
                    path: path.to_path_buf(),
                    source,
                };
                let file = std::fs::File::create(path).map_err(io_error)?;
                let copy = file.try_clone().map_err(io_error)?;
                (Stdio::from(file), Stdio::from(copy))
            }
            None => (Stdio::null(), Stdio::inherit()),
        };
        let child = Command::new(&binary)
            .args(["run", "--namespace", namespace])
            .env("KUBECONFIG", &cluster.env().kubeconfig)
            .env("RUST_LOG", "info")
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                E2eError::Unavailable(format!(
                    "starting {}: {e}; build it with `cargo build -p capstan-operator` or set \
                     CAPSTAN_OPERATOR_BIN",
                    binary.display()
                ))
            })?;
        Ok(OperatorProcess { _child: child })
    }
}

/// Applies the CRDs from `crds/` and waits until they are Established.
pub async fn install_crds(cluster: &Cluster) -> Result<()> {
    let crds = concat!(env!("CARGO_MANIFEST_DIR"), "/../crds/capstan.dev.yaml");
    cluster
        .kubectl()
        .args(["apply", "--server-side", "--force-conflicts", "-f", crds])
        .run()
        .await?;
    cluster
        .kubectl()
        .args([
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "crd/chartrepositories.capstan.dev",
            "crd/chartdeployments.capstan.dev",
        ])
        .run()
        .await?;
    Ok(())
}

/// `Ready` has `status` and its reason satisfies `reason`.
pub fn ready_is(
    status: &'static str,
    reason: impl Fn(&str) -> bool,
) -> impl Condition<ChartDeployment> {
    move |object: Option<&ChartDeployment>| {
        object
            .and_then(|d| d.status.as_ref())
            .into_iter()
            .flat_map(|s| &s.conditions)
            .any(|c| c.type_ == "Ready" && c.status == status && reason(&c.reason))
    }
}

/// Ready with `version` applied.
pub fn applied(version: &'static str) -> impl Condition<ChartDeployment> {
    move |object: Option<&ChartDeployment>| {
        let status = object.and_then(|d| d.status.as_ref());
        ready_is("True", |_| true).matches_object(object)
            && status
                .and_then(|s| s.last_applied_revision.as_ref())
                .is_some_and(|r| r.version == version)
    }
}
