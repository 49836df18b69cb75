//! S3 buckets for tests. [`S3Peer::shared`] gives a test a bucket of its own on the cluster's S3
//! server (versitygw, started by `e2e/cluster up`, keys in `e2e/cluster env`), so tests never share
//! a bucket's state. [`S3Peer::start_tls`] starts a private server over HTTPS with a certificate of
//! the test's choosing, through `e2e/peers/s3/peer.sh`, stopped when the peer is dropped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use capstan_sources::http::{HttpClient, HttpOptions};
use capstan_sources::s3::{S3Config, S3Repository};

use crate::cluster::Cluster;
use crate::operator::TestResult;

/// The access key a private peer is started with; the secret key is the test's.
pub const ACCESS_KEY: &str = "capstan-e2e";
/// The bucket a private peer creates when it starts.
pub const BUCKET: &str = "capstan-charts";
/// The region the peers sign for.
pub const REGION: &str = "us-east-1";

/// A bucket on an S3 server, with the keys of the server's account.
pub struct S3Peer {
    /// `http://127.0.0.1:PORT` (or `https://` for a private TLS peer).
    pub endpoint: String,
    /// The bucket this test owns.
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
    /// Set for a private peer: stopped by its pid file when dropped, so also when the test fails.
    private: Option<PrivatePeer>,
}

struct PrivatePeer {
    pid_file: PathBuf,
    _state: tempfile::TempDir,
}

impl S3Peer {
    /// A new, empty bucket on the cluster's S3 server, named after `purpose` and unique per run.
    pub fn shared(purpose: &str) -> TestResult<Self> {
        let env = Cluster::shared()?.env().clone();
        let s3 = env.s3.ok_or(
            "the cluster has no S3 server: it was started by an older e2e/cluster; re-create it \
             with `e2e/cluster down && e2e/cluster up`",
        )?;
        let peer = S3Peer {
            endpoint: s3.endpoint,
            bucket: unique_bucket(purpose),
            access_key: s3.access_key,
            secret_key: s3.secret_key,
            region: s3.region,
            private: None,
        };
        peer.run_script(&["create-bucket", &peer.endpoint, &peer.bucket])?;
        Ok(peer)
    }

    /// Starts a private peer serving HTTPS with the PEM certificate and key signed by `ca`, which
    /// `peer.sh` trusts when it creates [`BUCKET`]; it signs with [`ACCESS_KEY`] and `secret_key`.
    pub fn start_tls(
        secret_key: &str,
        certificate: &Path,
        key: &Path,
        ca: &Path,
    ) -> TestResult<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let state = tempfile::tempdir()?;
        let pid_file = state.path().join("s3-peer.pid");
        // The guard exists before the process does: a start that fails half-way is cleaned up.
        let peer = S3Peer {
            endpoint: format!("https://127.0.0.1:{port}"),
            bucket: BUCKET.into(),
            access_key: ACCESS_KEY.into(),
            secret_key: secret_key.into(),
            region: REGION.into(),
            private: Some(PrivatePeer {
                pid_file: pid_file.clone(),
                _state: state,
            }),
        };
        let status = peer
            .script_command()
            .arg("start")
            .arg(port.to_string())
            .arg(&pid_file)
            .env("S3_PEER_TLS_CERT", certificate)
            .env("S3_PEER_TLS_KEY", key)
            .env("S3_PEER_TLS_CA", ca)
            .env_remove("S3_PEER_BUCKETS")
            .status()
            .map_err(|e| format!("running {}: {e}", script().display()))?;
        if !status.success() {
            return Err(format!(
                "the S3 peer did not start ({status}); `{} build` needs Go (see \
                 e2e/install-prerequisites)",
                script().display()
            )
            .into());
        }
        Ok(peer)
    }

    /// `s3://BUCKET/PREFIX` of this peer's bucket.
    pub fn location(&self, prefix: &str) -> String {
        format!("s3://{}/{prefix}", self.bucket)
    }

    /// The plain HTTP(S) address of `PREFIX` in the bucket (path style), as Helm reads it.
    pub fn http_url(&self, prefix: &str) -> String {
        format!("{}/{}/{prefix}", self.endpoint, self.bucket)
    }

    /// Lets anyone read the bucket's objects without signing, as a repository published over
    /// plain HTTP is read.
    pub fn allow_anonymous_reads(&self) -> TestResult {
        self.run_script(&["public-read", &self.endpoint, &self.bucket])
    }

    /// A client for `location` on this peer, signing with the account's keys and trusting
    /// `ca_pem` (for an HTTPS peer) besides the system roots.
    pub fn client(&self, location: &str, ca_pem: Option<&[u8]>) -> TestResult<S3Repository> {
        Ok(S3Repository::new(
            location,
            &S3Config {
                endpoint: self.endpoint.clone(),
                region: self.region.clone(),
                access_key: self.access_key.clone(),
                secret_key: self.secret_key.clone(),
                path_style: true,
            },
            HttpClient::new(HttpOptions {
                ca_pem: ca_pem.map(<[u8]>::to_vec),
                ..HttpOptions::default()
            })?,
        )?)
    }

    /// `peer.sh` with this peer's keys in its environment (never on a command line).
    fn script_command(&self) -> Command {
        let mut command = Command::new(script());
        command
            .env("S3_PEER_ACCESS_KEY", &self.access_key)
            .env("S3_PEER_SECRET_KEY", &self.secret_key)
            .env("S3_PEER_REGION", &self.region)
            .env_remove("S3_PEER_TLS_CERT")
            .env_remove("S3_PEER_TLS_KEY")
            .env_remove("S3_PEER_TLS_CA");
        command
    }

    fn run_script(&self, args: &[&str]) -> TestResult {
        let status = self.script_command().args(args).status()?;
        if !status.success() {
            return Err(format!("peer.sh {} failed ({status})", args.join(" ")).into());
        }
        Ok(())
    }
}

impl Drop for S3Peer {
    fn drop(&mut self) {
        if let Some(private) = &self.private {
            let _ = Command::new(script())
                .arg("stop")
                .arg(&private.pid_file)
                .status();
        }
    }
}

fn script() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/peers/s3/peer.sh"))
}

/// A bucket name S3 accepts (3 to 63 lowercase letters, digits and hyphens), unique per process
/// and call.
fn unique_bucket(purpose: &str) -> String {
    static COUNT: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or_default();
    let purpose: String = purpose
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .map(|c| c.to_ascii_lowercase())
        .take(24)
        .collect();
    format!(
        "t-{purpose}-{}-{nanos}-{}",
        std::process::id(),
        COUNT.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::unique_bucket;

    #[test]
    fn bucket_names_are_valid_and_unique() {
        let first = unique_bucket("Race of TEN pushes, with a long purpose name");
        let second = unique_bucket("Race of TEN pushes, with a long purpose name");
        assert_ne!(first, second);
        for name in [first, second] {
            assert!((3..=63).contains(&name.len()), "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{name}"
            );
        }
    }
}
