//! The env file `e2e/cluster up` writes: where the API server, the peers and the tools are.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{E2eError, Result};

/// Default state directory of `e2e/cluster`; `CAPSTAN_E2E_DIR` overrides it, as in the script.
const DEFAULT_STATE_DIR: &str = "/tmp/capstan-e2e";

/// The env file is a few dozen lines; anything much larger is not one.
const MAX_ENV_FILE_BYTES: u64 = 64 * 1024;

/// User name and password of the authenticated registry and chart server.
#[derive(Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    /// Keeps the password out of test output and panic messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The cluster's S3 server (versitygw) and the keys of its one account.
#[derive(Clone)]
pub struct S3Env {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    pub region: String,
    /// The bucket `up` creates.
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
}

impl fmt::Debug for S3Env {
    /// Keeps the secret key out of test output and panic messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Env")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

/// Addresses, paths and credentials of the local cluster and its peers.
#[derive(Clone, Debug)]
pub struct E2eEnv {
    pub state_dir: PathBuf,
    pub kubeconfig: PathBuf,
    /// `https://127.0.0.1:<port>`.
    pub apiserver: String,
    /// etcd's client URL, `http://127.0.0.1:<port>`, for tests that must write what the API
    /// server would refuse (objects stored before a validation existed); `None` when the
    /// cluster was started by a version of `e2e/cluster` without it.
    pub etcd: Option<String>,
    /// The Kubernetes release the control plane was built from, e.g. `v1.36.3`.
    pub k8s_version: String,
    /// The API server's audit log (JSON lines, Metadata level, writes only); `None` when the
    /// cluster was started by a version of `e2e/cluster` without it.
    pub audit_log: Option<PathBuf>,
    /// A kubeconfig whose every request the audit log records (user `capstan-e2e-measured`), for
    /// counting one process's requests; `None` when the cluster was started without it.
    pub measured_kubeconfig: Option<PathBuf>,
    /// PEM file of the local CA that signed the API server's and the TLS peers' certificates.
    pub ca: PathBuf,
    pub kubectl: PathBuf,
    pub helm: PathBuf,
    pub helm_version: String,
    pub crane: PathBuf,
    /// GnuPG, when the machine has it.
    pub gpg: Option<PathBuf>,
    /// `host:port` of a plain-HTTP registry without auth.
    pub registry: String,
    /// `host:port` of a plain-HTTP registry that requires [`E2eEnv::credentials`].
    pub registry_auth: String,
    /// `host:port` of an HTTPS registry (certificate from [`E2eEnv::ca`]) without auth.
    pub registry_tls: String,
    /// Base URL of a plain-HTTP chart server serving [`E2eEnv::charts_dir`].
    pub charts: String,
    /// Same directory, behind basic auth with [`E2eEnv::credentials`].
    pub charts_auth: String,
    /// Same directory over HTTPS.
    pub charts_tls: String,
    /// Directory the chart servers serve; tests write into their own subdirectory.
    pub charts_dir: PathBuf,
    pub credentials: Credentials,
    /// The S3 server; `None` when the cluster was started by a version of `e2e/cluster`
    /// without it.
    pub s3: Option<S3Env>,
}

impl E2eEnv {
    /// The env file's path: `$CAPSTAN_E2E_DIR/env`, or `/tmp/capstan-e2e/env`.
    pub fn default_path() -> PathBuf {
        let dir = std::env::var_os("CAPSTAN_E2E_DIR")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_STATE_DIR));
        dir.join("env")
    }

    /// Reads and parses an env file.
    pub fn load(path: &Path) -> Result<Self> {
        let io_error = |source| E2eError::Io {
            path: path.to_path_buf(),
            source,
        };
        let size = std::fs::metadata(path).map_err(io_error)?.len();
        if size > MAX_ENV_FILE_BYTES {
            return Err(E2eError::EnvFile {
                path: path.to_path_buf(),
                line: 0,
                message: format!("{size} bytes is too large for an env file"),
            });
        }
        let text = std::fs::read_to_string(path).map_err(io_error)?;
        Self::parse(path, &text)
    }

    /// Parses `export NAME='value'` lines, the only form the script writes.
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let variables = parse_exports(path, text)?;
        let get = |variable: &'static str| -> Result<String> {
            variables
                .get(variable)
                .cloned()
                .ok_or_else(|| E2eError::MissingVariable {
                    path: path.to_path_buf(),
                    variable,
                })
        };
        let gpg = get("CAPSTAN_E2E_GPG")?;
        Ok(Self {
            state_dir: get("CAPSTAN_E2E_DIR")?.into(),
            kubeconfig: get("CAPSTAN_E2E_KUBECONFIG")?.into(),
            apiserver: get("CAPSTAN_E2E_APISERVER")?,
            etcd: variables
                .get("CAPSTAN_E2E_ETCD")
                .filter(|url| !url.is_empty())
                .cloned(),
            k8s_version: get("CAPSTAN_E2E_K8S_VERSION")?,
            audit_log: variables
                .get("CAPSTAN_E2E_AUDIT_LOG")
                .filter(|path| !path.is_empty())
                .map(PathBuf::from),
            measured_kubeconfig: variables
                .get("CAPSTAN_E2E_MEASURED_KUBECONFIG")
                .filter(|path| !path.is_empty())
                .map(PathBuf::from),
            ca: get("CAPSTAN_E2E_CA")?.into(),
            kubectl: get("CAPSTAN_E2E_KUBECTL")?.into(),
            helm: get("CAPSTAN_E2E_HELM")?.into(),
            helm_version: get("CAPSTAN_E2E_HELM_VERSION")?,
            crane: get("CAPSTAN_E2E_CRANE")?.into(),
            gpg: (!gpg.is_empty()).then(|| gpg.into()),
            registry: get("CAPSTAN_E2E_REGISTRY")?,
            registry_auth: get("CAPSTAN_E2E_REGISTRY_AUTH")?,
            registry_tls: get("CAPSTAN_E2E_REGISTRY_TLS")?,
            charts: get("CAPSTAN_E2E_CHARTS")?,
            charts_auth: get("CAPSTAN_E2E_CHARTS_AUTH")?,
            charts_tls: get("CAPSTAN_E2E_CHARTS_TLS")?,
            charts_dir: get("CAPSTAN_E2E_CHARTS_DIR")?.into(),
            credentials: Credentials {
                username: get("CAPSTAN_E2E_USERNAME")?,
                password: get("CAPSTAN_E2E_PASSWORD")?,
            },
            s3: match variables.get("CAPSTAN_E2E_S3_ENDPOINT") {
                Some(endpoint) if !endpoint.is_empty() => Some(S3Env {
                    endpoint: endpoint.clone(),
                    region: get("CAPSTAN_E2E_S3_REGION")?,
                    bucket: get("CAPSTAN_E2E_S3_BUCKET")?,
                    access_key: get("CAPSTAN_E2E_S3_ACCESS_KEY")?,
                    secret_key: get("CAPSTAN_E2E_S3_SECRET_KEY")?,
                }),
                _ => None,
            },
        })
    }

    /// `host:port` of the API server, for a quick reachability probe.
    pub fn apiserver_address(&self) -> &str {
        self.apiserver
            .strip_prefix("https://")
            .unwrap_or(&self.apiserver)
    }
}

fn parse_exports(path: &Path, text: &str) -> Result<HashMap<String, String>> {
    let mut variables = HashMap::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let malformed = |message: &str| E2eError::EnvFile {
            path: path.to_path_buf(),
            line: index + 1,
            message: message.to_string(),
        };
        let assignment = line
            .strip_prefix("export ")
            .ok_or_else(|| malformed("expected `export NAME='value'`"))?;
        let (name, quoted) = assignment
            .split_once('=')
            .ok_or_else(|| malformed("expected `=` after the variable name"))?;
        let value = quoted
            .strip_prefix('\'')
            .and_then(|rest| rest.strip_suffix('\''))
            .filter(|value| !value.contains('\''))
            .ok_or_else(|| malformed("expected the value in single quotes"))?;
        variables.insert(name.to_string(), value.to_string());
    }
    Ok(variables)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
export KUBECONFIG='/s/kubeconfig'
export CAPSTAN_E2E_DIR='/s'
export CAPSTAN_E2E_KUBECONFIG='/s/kubeconfig'
export CAPSTAN_E2E_APISERVER='https://127.0.0.1:26443'
export CAPSTAN_E2E_K8S_VERSION='v1.36.3'
export CAPSTAN_E2E_CA='/s/pki/ca.crt'
export CAPSTAN_E2E_KUBECTL='/b/kubectl'
export CAPSTAN_E2E_HELM='/b/helm'
export CAPSTAN_E2E_HELM_VERSION='v3.22.0'
export CAPSTAN_E2E_CRANE='/b/crane'
export CAPSTAN_E2E_GPG=''
export CAPSTAN_E2E_REGISTRY='127.0.0.1:25000'
export CAPSTAN_E2E_REGISTRY_AUTH='127.0.0.1:25001'
export CAPSTAN_E2E_REGISTRY_TLS='127.0.0.1:25002'
export CAPSTAN_E2E_CHARTS='http://127.0.0.1:25080'
export CAPSTAN_E2E_CHARTS_AUTH='http://127.0.0.1:25081'
export CAPSTAN_E2E_CHARTS_TLS='https://127.0.0.1:25443'
export CAPSTAN_E2E_CHARTS_DIR='/s/charts'
export CAPSTAN_E2E_USERNAME='capstan-e2e'
export CAPSTAN_E2E_PASSWORD='s3cret'
";

    #[test]
    fn parses_the_file_the_script_writes() {
        let env = E2eEnv::parse(Path::new("env"), SAMPLE).unwrap();
        assert_eq!(env.apiserver_address(), "127.0.0.1:26443");
        assert_eq!(env.registry_tls, "127.0.0.1:25002");
        assert_eq!(env.gpg, None);
        assert_eq!(env.credentials.password, "s3cret");
        assert_eq!(env.audit_log, None);
        let with_audit = format!("{SAMPLE}export CAPSTAN_E2E_AUDIT_LOG='/s/audit.log'\n");
        let env = E2eEnv::parse(Path::new("env"), &with_audit).unwrap();
        assert_eq!(env.audit_log, Some(PathBuf::from("/s/audit.log")));
        assert!(env.s3.is_none());
    }

    #[test]
    fn reads_the_s3_server_and_hides_its_secret_key() {
        let with_s3 = format!(
            "{SAMPLE}export CAPSTAN_E2E_S3_ENDPOINT='http://127.0.0.1:25090'
export CAPSTAN_E2E_S3_REGION='us-east-1'
export CAPSTAN_E2E_S3_BUCKET='capstan-charts'
export CAPSTAN_E2E_S3_ACCESS_KEY='capstan-e2e'
export CAPSTAN_E2E_S3_SECRET_KEY='s3-secret-key'
"
        );
        let env = E2eEnv::parse(Path::new("env"), &with_s3).unwrap();
        let s3 = env.s3.as_ref().unwrap();
        assert_eq!(s3.endpoint, "http://127.0.0.1:25090");
        assert_eq!(s3.secret_key, "s3-secret-key");
        let shown = format!("{env:?}");
        assert!(!shown.contains("s3-secret-key"), "{shown}");
    }

    #[test]
    fn debug_output_hides_the_password() {
        let env = E2eEnv::parse(Path::new("env"), SAMPLE).unwrap();
        let shown = format!("{env:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn names_the_line_of_a_malformed_entry() {
        let error = E2eEnv::parse(Path::new("env"), "export A='1'\nB=2\n").unwrap_err();
        assert_eq!(
            error.to_string(),
            "env line 2: expected `export NAME='value'`; re-create it with \
             `e2e/cluster down && e2e/cluster up`"
        );
    }

    #[test]
    fn names_a_missing_variable() {
        let without_ca: String = SAMPLE
            .lines()
            .filter(|line| !line.contains("CAPSTAN_E2E_CA="))
            .map(|line| format!("{line}\n"))
            .collect();
        let error = E2eEnv::parse(Path::new("env"), &without_ca).unwrap_err();
        assert!(
            matches!(
                error,
                E2eError::MissingVariable {
                    variable: "CAPSTAN_E2E_CA",
                    ..
                }
            ),
            "{error}"
        );
    }
}
