use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while a test talks to the local cluster or its peers.
#[derive(Debug, thiserror::Error)]
pub enum E2eError {
    #[error(
        "the local cluster is not running: {env_file} is missing. Start it with `e2e/cluster up` and \
         re-run, or run `make test`, which brings it up and down around the tests"
    )]
    NotRunning { env_file: PathBuf },

    #[error(
        "the API server at {address} does not answer although {env_file} exists; the cluster was \
         probably stopped uncleanly: run `e2e/cluster down && e2e/cluster up`"
    )]
    Unreachable { address: String, env_file: PathBuf },

    #[error("{0}")]
    Unavailable(String),

    #[error("could not read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error(
        "{path} line {line}: {message}; re-create it with `e2e/cluster down && e2e/cluster up`"
    )]
    EnvFile {
        path: PathBuf,
        line: usize,
        message: String,
    },

    #[error(
        "{path} does not set {variable}; re-create it with `e2e/cluster down && e2e/cluster up`"
    )]
    MissingVariable {
        path: PathBuf,
        variable: &'static str,
    },

    #[error("could not load the kubeconfig {path}: {source}")]
    Kubeconfig {
        path: PathBuf,
        #[source]
        source: kube::config::KubeconfigError,
    },

    #[error("Kubernetes API request failed: {0}")]
    Kube(#[from] kube::Error),

    #[error("watching {what} failed: {source}")]
    Watch {
        what: String,
        #[source]
        source: kube::runtime::wait::Error,
    },

    #[error("timed out after {after:?} waiting for {what}; last seen: {last_seen}")]
    Timeout {
        what: String,
        after: Duration,
        /// The object's status (or the whole object if it has none) when the wait gave up, so a
        /// failure in CI says what the object was doing instead of only that it was slow.
        last_seen: String,
    },

    #[error("{0:?} is not a usable namespace prefix: use 1-30 lowercase letters, digits or '-'")]
    NamespacePrefix(String),

    #[error("could not start {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },

    #[error("`{command}` timed out after {after:?} and was killed")]
    CommandTimeout { command: String, after: Duration },

    #[error("`{command}` exited with {status}; stderr:\n{stderr}")]
    CommandFailed {
        command: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
}

pub type Result<T, E = E2eError> = std::result::Result<T, E>;
