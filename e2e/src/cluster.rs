//! The running local cluster: found once per test process, clients made per test.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use kube::config::{AuthInfo, KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use secrecy::SecretString;

use crate::env::E2eEnv;
use crate::error::{E2eError, Result};
use crate::tools::ToolCommand;

/// How long the reachability probe of the API server may take before the cluster counts as down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The local control plane and peers, as described by the env file of `e2e/cluster`.
///
/// A `kube::Client` is bound to the Tokio runtime it was made on, and every `#[tokio::test]` has its
/// own runtime, so the cluster hands out a fresh client per call instead of sharing one.
#[derive(Debug)]
pub struct Cluster {
    env: E2eEnv,
}

impl Cluster {
    /// The cluster for this test process, located on first use.
    ///
    /// Fails at once with instructions when the cluster is not up, unless `CAPSTAN_E2E_AUTO_UP=1`,
    /// in which case it runs `e2e/cluster up` first.
    pub fn shared() -> Result<&'static Cluster> {
        static SHARED: OnceLock<std::result::Result<Cluster, String>> = OnceLock::new();
        SHARED
            .get_or_init(|| Self::locate().map_err(|error| error.to_string()))
            .as_ref()
            .map_err(|message| E2eError::Unavailable(message.clone()))
    }

    fn locate() -> Result<Cluster> {
        install_crypto_provider();
        let env_file = E2eEnv::default_path();
        if !env_file.exists() && auto_up_requested() {
            run_cluster_up()?;
        }
        if !env_file.exists() {
            return Err(E2eError::NotRunning { env_file });
        }
        let env = E2eEnv::load(&env_file)?;
        if !answers(env.apiserver_address()) {
            return Err(E2eError::Unreachable {
                address: env.apiserver_address().to_string(),
                env_file,
            });
        }
        Ok(Cluster { env })
    }

    pub fn env(&self) -> &E2eEnv {
        &self.env
    }

    /// The request rate kube-controller-manager and kube-scheduler run at (`e2e/cluster pace`),
    /// or `None` at their own defaults (20 and 50 per second).
    pub fn controllers_pace(&self) -> Option<u32> {
        let kept = std::fs::read_to_string(self.env.state_dir.join("controllers-qps")).ok()?;
        kept.trim().parse().ok()
    }

    /// A client authenticated as the cluster admin (`system:masters`).
    pub async fn client(&self) -> Result<Client> {
        let config = self.admin_config().await?;
        Ok(Client::try_from(config)?)
    }

    /// A client that authenticates with a bearer token only, e.g. a ServiceAccount's token from the
    /// TokenRequest API, so requests are authorized as that identity alone.
    pub async fn client_with_token(&self, token: &str) -> Result<Client> {
        let mut config = self.admin_config().await?;
        config.auth_info = AuthInfo {
            token: Some(SecretString::from(token.to_string())),
            ..AuthInfo::default()
        };
        Ok(Client::try_from(config)?)
    }

    /// A token of ServiceAccount `namespace/name` from the TokenRequest API (`kubectl create
    /// token`), valid for an hour.
    pub async fn service_account_token(&self, namespace: &str, name: &str) -> Result<String> {
        let output = self
            .kubectl()
            .args([
                "create",
                "token",
                name,
                "--namespace",
                namespace,
                "--duration=1h",
            ])
            .run()
            .await?;
        Ok(output.stdout.trim().to_string())
    }

    /// Writes to `path` a kubeconfig for this cluster that authenticates with `token` only,
    /// for a process (the operator) that must act as that identity.
    pub fn write_token_kubeconfig(&self, token: &str, path: &Path) -> Result<()> {
        let config = serde_json::json!({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "e2e", "cluster": {
                "server": self.env.apiserver,
                "certificate-authority": self.env.ca}}],
            "users": [{"name": "token", "user": {"token": token}}],
            "contexts": [{"name": "token", "context": {"cluster": "e2e", "user": "token"}}],
            "current-context": "token",
        });
        std::fs::write(path, config.to_string()).map_err(|source| E2eError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    async fn admin_config(&self) -> Result<Config> {
        let kubeconfig_error = |source| E2eError::Kubeconfig {
            path: self.env.kubeconfig.clone(),
            source,
        };
        let kubeconfig = Kubeconfig::read_from(&self.env.kubeconfig).map_err(kubeconfig_error)?;
        Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(kubeconfig_error)
    }

    /// `kubectl` of the cluster's own release, pointed at the admin kubeconfig.
    pub fn kubectl(&self) -> ToolCommand {
        ToolCommand::new(&self.env.kubectl).env("KUBECONFIG", &self.env.kubeconfig)
    }

    /// `helm` with its configuration, cache, data and registry logins kept under `home`, so tests
    /// neither see nor change the user's Helm setup nor each other's.
    pub fn helm(&self, home: &Path) -> ToolCommand {
        ToolCommand::new(&self.env.helm)
            .env("KUBECONFIG", &self.env.kubeconfig)
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_DATA_HOME", home.join("data"))
            .env("HELM_REGISTRY_CONFIG", home.join("registry.json"))
            .env("HELM_REPOSITORY_CONFIG", home.join("repositories.yaml"))
            .env("HELM_REPOSITORY_CACHE", home.join("repository-cache"))
    }

    /// `crane` with registry logins kept under `home`.
    pub fn crane(&self, home: &Path) -> ToolCommand {
        ToolCommand::new(&self.env.crane).env("DOCKER_CONFIG", home.join("docker"))
    }
}

/// kube and rustls use the ring provider; installing it explicitly avoids rustls' panic when more than
/// one provider is compiled in. A second install (another test in the same process) is harmless.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn auto_up_requested() -> bool {
    std::env::var("CAPSTAN_E2E_AUTO_UP").is_ok_and(|value| value == "1")
}

/// Runs `e2e/cluster up`, which builds what is missing (a cold build takes many minutes) and holds
/// a lock, so parallel test processes start the cluster once.
fn run_cluster_up() -> Result<()> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cluster");
    let output = std::process::Command::new(&script)
        .arg("up")
        .output()
        .map_err(|source| E2eError::Spawn {
            program: script.display().to_string(),
            source,
        })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(E2eError::CommandFailed {
            command: format!("{} up", script.display()),
            status: output.status,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

fn answers(address: &str) -> bool {
    let addresses: Vec<SocketAddr> = match address.to_socket_addrs() {
        Ok(addresses) => addresses.collect(),
        Err(_) => return false,
    };
    addresses
        .iter()
        .any(|address| TcpStream::connect_timeout(address, PROBE_TIMEOUT).is_ok())
}
