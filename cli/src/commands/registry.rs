//! Connection settings for OCI registries, shared by `push` and `pull oci://`.

use super::repo_source::RepoConnectionArgs;
use anyhow::Context;
use capstan_sources::oci::{Auth, RegistryOptions, docker_config_auth, registry_host};
use clap::Args;
use std::path::PathBuf;

/// Flags that only apply to `oci://` references.
#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Speak plain HTTP to the oci:// registry (a local registry without TLS).
    #[arg(long)]
    pub plain_http: bool,
    /// Docker config.json holding registry credentials (`auths.HOST.auth`). Default:
    /// $DOCKER_CONFIG/config.json, else ~/.docker/config.json, when it exists.
    #[arg(long, value_name = "FILE")]
    pub registry_config: Option<PathBuf>,
}

impl RegistryArgs {
    /// How to reach the registry of `reference`: credentials from `--username` and standard
    /// input first, else from the registry config, else anonymous.
    pub fn options(
        &self,
        reference: &str,
        connection: &RepoConnectionArgs,
    ) -> anyhow::Result<RegistryOptions> {
        let auth = match connection.credentials()? {
            Some((username, password)) => Auth::Basic { username, password },
            None => self.config_auth(reference)?,
        };
        Ok(RegistryOptions {
            plain_http: self.plain_http,
            ca_pem: connection.ca_pem()?,
            insecure_skip_tls_verify: connection.insecure_skip_tls_verify,
            auth,
        })
    }

    fn config_auth(&self, reference: &str) -> anyhow::Result<Auth> {
        let path = match &self.registry_config {
            Some(path) => {
                // A file named on the command line must exist.
                std::fs::metadata(path).with_context(|| {
                    format!("cannot read the registry config {}", path.display())
                })?;
                path.clone()
            }
            None => match default_config() {
                Some(path) if path.is_file() => path,
                _ => return Ok(Auth::Anonymous),
            },
        };
        Ok(docker_config_auth(&path, &registry_host(reference)?)?)
    }
}

/// Docker's own lookup: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
fn default_config() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|home| PathBuf::from(home).join(".docker/config.json"))
}
