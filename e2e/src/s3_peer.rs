//! A private S3 test peer per test: versitygw started by `e2e/peers/s3/peer.sh` on a free loopback
//! port with keys of the test's choosing, so tests never share a bucket's state or keys with the
//! shared cluster or each other. `peer.sh` builds versitygw with Go once when the cache lacks it;
//! without Go the start fails, saying so.

use std::path::{Path, PathBuf};
use std::process::Command;

use capstan_sources::http::{HttpClient, HttpOptions};
use capstan_sources::s3::{S3Config, S3Repository};

use crate::operator::TestResult;

/// The access key every peer is started with; the secret key is the test's.
pub const ACCESS_KEY: &str = "capstan-e2e";
/// The bucket every peer creates when it starts.
pub const BUCKET: &str = "capstan-charts";
/// The region the peer signs for.
pub const REGION: &str = "us-east-1";

/// The S3 peer process, stopped by its pid file when dropped, so also when the test fails.
pub struct S3Peer {
    script: PathBuf,
    pid_file: PathBuf,
    /// `http://127.0.0.1:PORT` (or `https://` when started with TLS).
    pub endpoint: String,
    _state: tempfile::TempDir,
}

impl S3Peer {
    /// Starts a peer serving plain HTTP that signs with `secret_key`.
    pub fn start(secret_key: &str) -> TestResult<Self> {
        Self::start_with(secret_key, None)
    }

    /// Like [`S3Peer::start`], serving HTTPS with the PEM certificate and key signed by `ca`,
    /// which `peer.sh` trusts when it creates the bucket.
    pub fn start_tls(
        secret_key: &str,
        certificate: &Path,
        key: &Path,
        ca: &Path,
    ) -> TestResult<Self> {
        Self::start_with(secret_key, Some((certificate, key, ca)))
    }

    fn start_with(secret_key: &str, tls: Option<(&Path, &Path, &Path)>) -> TestResult<Self> {
        let script = Self::script();
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let state = tempfile::tempdir()?;
        let pid_file = state.path().join("s3-peer.pid");
        // The guard exists before the process does: a start that fails half-way is cleaned up.
        let peer = S3Peer {
            script: script.clone(),
            pid_file: pid_file.clone(),
            endpoint: format!(
                "{}://127.0.0.1:{port}",
                if tls.is_some() { "https" } else { "http" }
            ),
            _state: state,
        };
        let mut command = Command::new(&script);
        command
            .arg("start")
            .arg(port.to_string())
            .arg(&pid_file)
            .env("S3_PEER_ACCESS_KEY", ACCESS_KEY)
            .env("S3_PEER_SECRET_KEY", secret_key)
            .env("S3_PEER_REGION", REGION)
            .env_remove("S3_PEER_TLS_CERT")
            .env_remove("S3_PEER_TLS_KEY")
            .env_remove("S3_PEER_TLS_CA")
            .env_remove("S3_PEER_BUCKETS");
        if let Some((certificate, key, ca)) = tls {
            command
                .env("S3_PEER_TLS_CERT", certificate)
                .env("S3_PEER_TLS_KEY", key)
                .env("S3_PEER_TLS_CA", ca);
        }
        let status = command
            .status()
            .map_err(|e| format!("running {}: {e}", script.display()))?;
        if !status.success() {
            return Err(format!(
                "the S3 peer did not start ({status}); `{} build` needs Go (see \
                 e2e/install-prerequisites)",
                script.display()
            )
            .into());
        }
        Ok(peer)
    }

    fn script() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/peers/s3/peer.sh"))
    }

    /// Lets anyone read the objects of [`BUCKET`] without signing, as a repository published
    /// over plain HTTP is read; `secret_key` is the one the peer was started with.
    pub fn allow_anonymous_reads(&self, secret_key: &str) -> TestResult {
        let status = Command::new(Self::script())
            .args(["public-read", &self.endpoint, BUCKET])
            .env("S3_PEER_ACCESS_KEY", ACCESS_KEY)
            .env("S3_PEER_SECRET_KEY", secret_key)
            .env("S3_PEER_REGION", REGION)
            .status()?;
        if !status.success() {
            return Err(format!("peer.sh public-read {} failed ({status})", self.endpoint).into());
        }
        Ok(())
    }

    /// A client for `location` on this peer, signing with `secret_key` and trusting `ca_pem`
    /// (for an HTTPS peer) besides the system roots.
    pub fn bucket(
        &self,
        location: &str,
        secret_key: &str,
        ca_pem: Option<&[u8]>,
    ) -> TestResult<S3Repository> {
        Ok(S3Repository::new(
            location,
            &S3Config {
                endpoint: self.endpoint.clone(),
                region: REGION.into(),
                access_key: ACCESS_KEY.into(),
                secret_key: secret_key.into(),
                path_style: true,
            },
            HttpClient::new(HttpOptions {
                ca_pem: ca_pem.map(<[u8]>::to_vec),
                ..HttpOptions::default()
            })?,
        )?)
    }
}

impl Drop for S3Peer {
    fn drop(&mut self) {
        let _ = Command::new(&self.script)
            .arg("stop")
            .arg(&self.pid_file)
            .status();
    }
}
