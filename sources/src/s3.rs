//! Chart repositories in private S3-compatible buckets (`s3://bucket/prefix`).
//!
//! Each object is fetched with a short-lived presigned URL (AWS Signature Version 4 in the query
//! string), so the download itself is an ordinary bounded GET through [`HttpClient`], with its
//! timeouts, size limit and redirect rules. Presigning needs no request body handling or header
//! juggling, and works the same against AWS, MinIO and other S3-compatible servers (with
//! path-style URLs for the ones that serve every bucket under one host).
//!
//! The signature lives in the query string, which is why every URL shown in an error here (and in
//! [`crate::http`]) has its query string removed; the secret key itself is never printed, not even
//! by `Debug`.

use crate::http::{Fetched, HttpClient, HttpError, Validators, display_url, percent_decode};
use reqwest::Url;
use rusty_s3::{Bucket, S3Action, UrlStyle};
use std::fmt;
use std::time::Duration;

/// How long a presigned URL stays valid. Long enough for a slow download to start, short enough
/// that a leaked URL is soon useless.
pub const PRESIGNED_URL_LIFETIME: Duration = Duration::from_secs(300);

/// Longest object key S3 accepts.
const MAX_KEY_BYTES: usize = 1024;

/// Where and how to reach an S3-compatible service.
#[derive(Clone)]
pub struct S3Config {
    /// The service's base URL, e.g. `https://s3.eu-west-1.amazonaws.com` or
    /// `http://127.0.0.1:9000` for a MinIO-like server.
    pub endpoint: String,
    /// The region signatures name (`us-east-1` for most self-hosted servers).
    pub region: String,
    pub access_key: String,
    pub secret_key: String,
    /// `https://host/bucket/key` instead of `https://bucket.host/key`; needed by servers that
    /// serve every bucket under one host name, and for IP-address endpoints.
    pub path_style: bool,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("path_style", &self.path_style)
            .finish()
    }
}

/// The URL style to use when none is configured: path style for endpoints that are an IP
/// address or `localhost` (they have no bucket subdomains), virtual-host style otherwise, as AWS
/// prefers. An endpoint that does not parse gets path style; [`S3Repository::new`] rejects it
/// anyway.
pub fn default_path_style(endpoint: &str) -> bool {
    let Some(host) = Url::parse(endpoint)
        .ok()
        .and_then(|url| url.host_str().map(str::to_string))
    else {
        return true;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.parse::<std::net::IpAddr>().is_ok() || bare.eq_ignore_ascii_case("localhost")
}

/// The endpoint of AWS S3 in `region`, for repositories that name none.
pub fn aws_endpoint(region: &str) -> String {
    format!("https://s3.{region}.amazonaws.com")
}

/// Why an S3 repository could not be set up or read. No message carries the secret key or a
/// signature.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error(
        "invalid S3 repository location {location:?}: {reason}; expected s3://BUCKET or s3://BUCKET/PREFIX"
    )]
    InvalidLocation { location: String, reason: String },
    #[error("invalid S3 endpoint {endpoint:?}: {reason}")]
    InvalidEndpoint { endpoint: String, reason: String },
    #[error("S3 configuration for {location}: {reason}")]
    InvalidConfig { location: String, reason: String },
    #[error("invalid object path {path:?} in s3://{bucket}: {reason}")]
    InvalidKey {
        bucket: String,
        path: String,
        reason: String,
    },
    #[error(
        "GET {url}: the S3 server refused the request (HTTP {status}); check the access key, secret key and region configured for s3://{bucket}, and that the key may read it"
    )]
    Refused {
        url: String,
        bucket: String,
        status: u16,
    },
    #[error(
        "GET {url}: s3://{bucket}/{key} does not exist (HTTP 404); check that the bucket s3://{bucket} exists at this endpoint and that the object was uploaded under this key"
    )]
    NotFound {
        url: String,
        bucket: String,
        key: String,
    },
    #[error(transparent)]
    Http(HttpError),
}

/// An `s3://bucket/prefix` repository: presigns and downloads its objects.
#[derive(Debug, Clone)]
pub struct S3Repository {
    bucket: Bucket,
    credentials: rusty_s3::Credentials,
    /// Key prefix without leading or trailing `/`; empty for the bucket root.
    prefix: String,
    http: HttpClient,
}

impl S3Repository {
    /// Prepares access to the repository at `location` (`s3://bucket[/prefix]`). `http` bounds
    /// the downloads; its own credentials are ignored, as requests carry signatures instead.
    pub fn new(location: &str, config: &S3Config, http: HttpClient) -> Result<Self, S3Error> {
        let (bucket_name, prefix) = parse_location(location)?;
        let invalid_config = |reason: &str| S3Error::InvalidConfig {
            location: location.into(),
            reason: reason.into(),
        };
        if config.region.trim().is_empty() {
            return Err(invalid_config(
                "the region is empty; use the bucket's region, or us-east-1 for most self-hosted servers",
            ));
        }
        if config.access_key.is_empty() || config.secret_key.is_empty() {
            return Err(invalid_config(
                "the access key or secret key is empty; set both in the repository's credentials",
            ));
        }
        let invalid_endpoint = |reason: String| S3Error::InvalidEndpoint {
            endpoint: display_endpoint(&config.endpoint),
            reason,
        };
        let endpoint = Url::parse(&config.endpoint).map_err(|e| invalid_endpoint(e.to_string()))?;
        if !endpoint.username().is_empty() || endpoint.password().is_some() {
            return Err(invalid_endpoint(
                "put credentials in the access and secret keys, not in the URL".into(),
            ));
        }
        let style = if config.path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(endpoint, style, bucket_name, config.region.clone()).map_err(
            |e| {
                invalid_endpoint(format!(
                    "{e}; use an http(s) URL, and path style for IP addresses or single-host servers"
                ))
            },
        )?;
        Ok(S3Repository {
            bucket,
            credentials: rusty_s3::Credentials::new(&config.access_key, &config.secret_key),
            prefix,
            http,
        })
    }

    /// The object key of `path`, a path relative to the repository (`index.yaml`,
    /// `charts/app-1.0.0.tgz`) or an `s3://` URL in the same bucket, as index entries may hold.
    pub fn object_key(&self, path: &str) -> Result<String, S3Error> {
        let invalid = |reason: &str| S3Error::InvalidKey {
            bucket: self.bucket.name().into(),
            path: path.into(),
            reason: reason.into(),
        };
        let key = match path.strip_prefix("s3://") {
            Some(rest) => {
                let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
                if bucket != self.bucket.name() {
                    return Err(invalid(
                        "the URL names another bucket than the repository's",
                    ));
                }
                key.to_string()
            }
            None => {
                let relative = path.trim_start_matches('/');
                if self.prefix.is_empty() {
                    relative.to_string()
                } else {
                    format!("{}/{relative}", self.prefix)
                }
            }
        };
        if key.is_empty() || key.ends_with('/') {
            return Err(invalid("it names no object"));
        }
        if key.split('/').any(|part| part == ".." || part == ".") {
            return Err(invalid("`.` and `..` segments are not allowed"));
        }
        if key.len() > MAX_KEY_BYTES {
            return Err(invalid("the key is longer than S3's 1024 bytes"));
        }
        Ok(key)
    }

    /// A presigned GET URL for `path`, valid for [`PRESIGNED_URL_LIFETIME`]. It carries a
    /// signature: never log it whole (use [`display_url`]).
    pub fn presigned_get(&self, path: &str) -> Result<Url, S3Error> {
        let key = self.object_key(path)?;
        Ok(self
            .bucket
            .get_object(Some(&self.credentials), &key)
            .sign(PRESIGNED_URL_LIFETIME))
    }

    /// A presigned PUT URL for `path`, for publishing tools and tests; the operator only reads.
    pub fn presigned_put(&self, path: &str) -> Result<Url, S3Error> {
        let key = self.object_key(path)?;
        Ok(self
            .bucket
            .put_object(Some(&self.credentials), &key)
            .sign(PRESIGNED_URL_LIFETIME))
    }

    /// The same repository, downloading through `http` (a tighter body limit for the index,
    /// say).
    pub fn with_http(&self, http: HttpClient) -> Self {
        S3Repository {
            http,
            ..self.clone()
        }
    }

    /// The bucket's name.
    pub fn bucket(&self) -> &str {
        self.bucket.name()
    }

    /// `s3://bucket/prefix` as written, for messages.
    pub fn location(&self) -> String {
        if self.prefix.is_empty() {
            format!("s3://{}", self.bucket.name())
        } else {
            format!("s3://{}/{}", self.bucket.name(), self.prefix)
        }
    }

    /// Whether `url`, a download URL from the repository's index, names an object of this
    /// bucket, and if so the path [`Self::get`] takes for it. Relative paths and `s3://` URLs
    /// qualify (an `s3://` URL of another bucket too, so that [`Self::get`] refuses it by name
    /// rather than it being sent elsewhere), and so do `http(s)` URLs under the bucket's own
    /// base URL, which publishing tools write. Any other URL is `None`: it is another host's,
    /// to be fetched without the bucket's credentials.
    pub fn bucket_path(&self, url: &str) -> Option<String> {
        if !url.contains("://") || url.starts_with("s3://") {
            return Some(url.to_string());
        }
        let parsed = Url::parse(url).ok()?;
        let base = self.bucket.base_url();
        if parsed.origin() != base.origin()
            || parsed.query().is_some()
            || !parsed.username().is_empty()
        {
            return None;
        }
        let key = parsed.path().strip_prefix(base.path())?;
        Some(format!(
            "s3://{}/{}",
            self.bucket.name(),
            percent_decode(key)
        ))
    }

    /// Downloads the object at `path` (see [`Self::object_key`]) within the HTTP client's bounds.
    pub async fn get(&self, path: &str) -> Result<Vec<u8>, S3Error> {
        self.get_limited(path, self.http.options().max_body_bytes)
            .await
    }

    /// [`Self::get`], refusing (while downloading) an object over `max_bytes`: a `.prov` with
    /// [`crate::http::DownloadLimits::provenance_bytes`], say.
    pub async fn get_limited(&self, path: &str, max_bytes: u64) -> Result<Vec<u8>, S3Error> {
        match self.fetch(path, &Validators::default(), max_bytes).await? {
            Fetched::Body { bytes, .. } => Ok(bytes),
            // Without validators a compliant server never answers 304.
            Fetched::NotModified => Err(S3Error::Http(HttpError::Status {
                url: display_url(&self.bucket.object_url(&self.object_key(path)?)),
                status: 304,
            })),
        }
    }

    /// Downloads the object at `path` unless it is unchanged since `validators` were recorded.
    /// The conditional headers are not part of the signature (it covers the host only), so a
    /// presigned URL carries them as any GET does.
    pub async fn get_conditional(
        &self,
        path: &str,
        validators: &Validators,
    ) -> Result<Fetched, S3Error> {
        self.fetch(path, validators, self.http.options().max_body_bytes)
            .await
    }

    async fn fetch(
        &self,
        path: &str,
        validators: &Validators,
        max_bytes: u64,
    ) -> Result<Fetched, S3Error> {
        let key = self.object_key(path)?;
        let url = self
            .bucket
            .get_object(Some(&self.credentials), &key)
            .sign(PRESIGNED_URL_LIFETIME);
        self.http
            .fetch(url.as_str(), validators, max_bytes)
            .await
            .map_err(|error| match error {
                HttpError::Status { status, .. } if matches!(status, 401 | 403) => {
                    S3Error::Refused {
                        url: display_url(&url),
                        bucket: self.bucket.name().into(),
                        status,
                    }
                }
                HttpError::Status { status: 404, .. } => S3Error::NotFound {
                    url: display_url(&url),
                    bucket: self.bucket.name().into(),
                    key: key.clone(),
                },
                other => S3Error::Http(other),
            })
    }

    /// Downloads the repository's `index.yaml`.
    pub async fn get_index(&self) -> Result<Vec<u8>, S3Error> {
        self.get("index.yaml").await
    }

    /// Downloads the repository's `index.yaml` unless it is unchanged since `validators`.
    pub async fn get_index_conditional(&self, validators: &Validators) -> Result<Fetched, S3Error> {
        self.get_conditional("index.yaml", validators).await
    }
}

/// Splits `s3://bucket/prefix` into the bucket name and the prefix without outer slashes.
fn parse_location(location: &str) -> Result<(String, String), S3Error> {
    let invalid = |reason: &str| S3Error::InvalidLocation {
        location: location.into(),
        reason: reason.into(),
    };
    let rest = location
        .strip_prefix("s3://")
        .ok_or_else(|| invalid("it does not start with s3://"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    // S3's bucket naming rules: 3-63 characters of lowercase letters, digits, dots and hyphens,
    // starting and ending with a letter or digit.
    let valid_bucket = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !valid_bucket {
        return Err(invalid(
            "the bucket name must be 3-63 lowercase letters, digits, dots or hyphens",
        ));
    }
    let prefix = prefix.trim_matches('/');
    if prefix.split('/').any(|part| part == ".." || part == ".") {
        return Err(invalid(
            "`.` and `..` segments are not allowed in the prefix",
        ));
    }
    Ok((bucket.to_string(), prefix.to_string()))
}

/// The endpoint without user info or query, for messages.
fn display_endpoint(endpoint: &str) -> String {
    match Url::parse(endpoint) {
        Ok(url) => display_url(&url),
        Err(_) => endpoint
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .rsplit('@')
            .next()
            .unwrap_or_default()
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::HttpOptions;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    const ACCESS_KEY: &str = "capstan-test";
    const SECRET_KEY: &str = "capstan-test-secret-0123456789";

    fn config(endpoint: &str, secret_key: &str) -> S3Config {
        S3Config {
            endpoint: endpoint.into(),
            region: "us-east-1".into(),
            access_key: ACCESS_KEY.into(),
            secret_key: secret_key.into(),
            path_style: true,
        }
    }

    fn repository(location: &str, config: &S3Config) -> Result<S3Repository, S3Error> {
        S3Repository::new(
            location,
            config,
            HttpClient::new(HttpOptions::default()).unwrap(),
        )
    }

    #[test]
    fn locations_and_keys_are_checked() {
        let settings = config("http://127.0.0.1:9000", SECRET_KEY);
        let repo = repository("s3://charts/stable/", &settings).unwrap();
        assert_eq!(repo.object_key("index.yaml").unwrap(), "stable/index.yaml");
        assert_eq!(
            repo.object_key("s3://charts/other/app-1.0.0.tgz").unwrap(),
            "other/app-1.0.0.tgz"
        );
        for bad in ["../secrets", "s3://elsewhere/a.tgz", "dir/", ""] {
            let err = repo.object_key(bad).unwrap_err().to_string();
            assert!(err.contains("s3://charts"), "{bad}: {err}");
        }
        assert_eq!(repo.location(), "s3://charts/stable");
        for (url, path) in [
            ("app-1.0.0.tgz", Some("app-1.0.0.tgz")),
            ("s3://charts/a.tgz", Some("s3://charts/a.tgz")),
            ("s3://elsewhere/a.tgz", Some("s3://elsewhere/a.tgz")),
            (
                "http://127.0.0.1:9000/charts/stable/a%20b.tgz",
                Some("s3://charts/stable/a b.tgz"),
            ),
            ("http://127.0.0.1:9000/other/a.tgz", None),
            ("http://127.0.0.1:9001/charts/a.tgz", None),
            ("https://127.0.0.1:9000/charts/a.tgz", None),
            ("http://127.0.0.1:9000/charts/a.tgz?x=1", None),
            ("https://cdn.example.com/charts/a.tgz", None),
        ] {
            assert_eq!(repo.bucket_path(url).as_deref(), path, "{url}");
        }
        let virtual_host = repository(
            "s3://charts",
            &S3Config {
                endpoint: "https://s3.example.com".into(),
                path_style: false,
                ..settings.clone()
            },
        )
        .unwrap();
        assert_eq!(
            virtual_host
                .bucket_path("https://charts.s3.example.com/app.tgz")
                .as_deref(),
            Some("s3://charts/app.tgz")
        );
        assert_eq!(
            virtual_host.bucket_path("https://s3.example.com/charts/app.tgz"),
            None
        );
        let root = repository("s3://charts", &settings).unwrap();
        assert_eq!(root.location(), "s3://charts");
        assert_eq!(root.object_key("/index.yaml").unwrap(), "index.yaml");
        for bad in [
            "https://charts",
            "s3://Ch",
            "s3://charts/../x",
            "s3://-charts",
        ] {
            let err = repository(bad, &settings).unwrap_err().to_string();
            assert!(err.contains("expected s3://BUCKET"), "{bad}: {err}");
        }
        let err = repository("s3://charts", &config("ftp://h", SECRET_KEY))
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid S3 endpoint"), "{err}");
        let err = repository("s3://charts", &config("http://u:pw@h", SECRET_KEY))
            .unwrap_err()
            .to_string();
        assert!(!err.contains("pw"), "{err}");
        let err = repository("s3://charts", &config("http://h", ""))
            .unwrap_err()
            .to_string();
        assert!(err.contains("secret key is empty"), "{err}");
    }

    #[test]
    fn path_style_is_the_default_for_addresses_without_subdomains() {
        for (endpoint, path_style) in [
            ("http://127.0.0.1:9000", true),
            ("http://[::1]:9000", true),
            ("http://localhost:9000", true),
            ("https://s3.eu-west-1.amazonaws.com", false),
            ("http://minio.storage:9000", false),
        ] {
            assert_eq!(default_path_style(endpoint), path_style, "{endpoint}");
        }
        assert_eq!(
            aws_endpoint("eu-west-1"),
            "https://s3.eu-west-1.amazonaws.com"
        );
    }

    #[test]
    fn presigned_urls_carry_a_signature_and_debug_hides_the_secret() {
        let settings = config("http://127.0.0.1:9000", SECRET_KEY);
        let repo = repository("s3://charts/stable", &settings).unwrap();
        let url = repo.presigned_get("index.yaml").unwrap();
        assert_eq!(url.path(), "/charts/stable/index.yaml");
        let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        let field = |name: &str| {
            query
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        };
        assert_eq!(
            field("X-Amz-Algorithm").as_deref(),
            Some("AWS4-HMAC-SHA256")
        );
        assert_eq!(field("X-Amz-Expires").as_deref(), Some("300"));
        assert!(
            field("X-Amz-Credential")
                .unwrap()
                .starts_with("capstan-test/")
        );
        assert_eq!(field("X-Amz-Signature").map(|s| s.len()), Some(64));
        assert!(!url.as_str().contains(SECRET_KEY));
        assert!(!format!("{settings:?}").contains(SECRET_KEY));
        assert!(!format!("{repo:?}").contains(SECRET_KEY));
    }

    /// The S3 peer process, stopped by pid when dropped (also when a test fails).
    struct Peer {
        pid_file: PathBuf,
        script: PathBuf,
        endpoint: String,
        _state: tempfile::TempDir,
    }

    impl Drop for Peer {
        fn drop(&mut self) {
            let _ = Command::new(&self.script)
                .arg("stop")
                .arg(&self.pid_file)
                .status();
        }
    }

    /// Starts the S3 peer, which `peer.sh` builds with Go when the cache lacks it. Panics, saying
    /// what to install, when it is neither built nor buildable.
    fn start_peer() -> Peer {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../e2e/peers/s3/peer.sh");
        let cached = std::env::var_os("HOME").map(|home| {
            PathBuf::from(home).join(".cache/capstan/bin/gofakes3-v1.2.0/capstan-s3-peer")
        });
        let go_available = Command::new("go").arg("version").output().is_ok();
        assert!(
            go_available || cached.as_ref().is_some_and(|path| path.exists()),
            "the S3 peer is not built ({}) and `go` is not on PATH to build it: run \
             `e2e/install-prerequisites`, which says how to install Go, then re-run",
            cached.map_or_else(|| "no HOME".to_string(), |p| p.display().to_string())
        );
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let state = tempfile::tempdir().unwrap();
        let pid_file = state.path().join("s3-peer.pid");
        let peer = Peer {
            pid_file: pid_file.clone(),
            script: script.clone(),
            endpoint: format!("http://127.0.0.1:{port}"),
            _state: state,
        };
        let status = Command::new(&script)
            .arg("start")
            .arg(port.to_string())
            .arg(&pid_file)
            .env("S3_PEER_ACCESS_KEY", ACCESS_KEY)
            .env("S3_PEER_SECRET_KEY", SECRET_KEY)
            .status()
            .expect("run e2e/peers/s3/peer.sh");
        assert!(status.success(), "the S3 peer did not start");
        peer
    }

    #[test]
    fn uploads_and_fetches_signed_objects_from_a_real_s3_server() {
        let peer = start_peer();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let repo = repository(
            "s3://capstan-charts/stable",
            &config(&peer.endpoint, SECRET_KEY),
        )
        .unwrap();
        let index = b"apiVersion: v1\nentries:\n  app:\n    - {name: app, version: 1.0.0, urls: [app-1.0.0.tgz]}\n";
        let archive: Vec<u8> = (0..=255u8).cycle().take(40_000).collect();
        runtime.block_on(async {
            let uploader = reqwest::Client::new();
            for (path, body) in [
                ("index.yaml", index.to_vec()),
                ("app-1.0.0.tgz", archive.clone()),
            ] {
                let response = uploader
                    .put(repo.presigned_put(path).unwrap())
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert!(
                    response.status().is_success(),
                    "PUT {path}: {}",
                    response.status()
                );
            }
            assert_eq!(repo.get_index().await.unwrap(), index);
            assert_eq!(repo.get("app-1.0.0.tgz").await.unwrap(), archive);
            assert_eq!(
                repo.get("s3://capstan-charts/stable/app-1.0.0.tgz")
                    .await
                    .unwrap(),
                archive
            );

            let unsigned = reqwest::get(format!(
                "{}/capstan-charts/stable/index.yaml",
                peer.endpoint
            ))
            .await
            .unwrap();
            assert_eq!(
                unsigned.status(),
                403,
                "the peer must refuse unsigned requests"
            );

            let wrong_secret = "not-the-secret-key-at-all";
            let impostor = repository(
                "s3://capstan-charts/stable",
                &config(&peer.endpoint, wrong_secret),
            )
            .unwrap();
            let err = impostor.get_index().await.unwrap_err();
            assert!(matches!(err, S3Error::Refused { status: 403, .. }), "{err}");
            let message = err.to_string();
            assert!(
                message.contains("check the access key, secret key and region"),
                "{message}"
            );
            assert!(
                message.contains("/capstan-charts/stable/index.yaml"),
                "{message}"
            );
            for secret in [wrong_secret, "X-Amz-Signature", "X-Amz-Credential"] {
                assert!(!message.contains(secret), "{message}");
            }

            let err = repo.get("missing.tgz").await.unwrap_err();
            assert!(matches!(err, S3Error::NotFound { .. }), "{err}");
            let message = err.to_string();
            assert!(
                message.contains("s3://capstan-charts/stable/missing.tgz does not exist"),
                "{message}"
            );
            assert!(!message.contains("X-Amz-Signature"), "{message}");

            // The peer answers a conditional GET of an unchanged object with 304, or sends it
            // again; either way a changed ETag is never confused with the old one.
            let first = repo
                .get_index_conditional(&Validators::default())
                .await
                .unwrap();
            let Fetched::Body { bytes, validators } = first else {
                panic!("an unconditional GET returned 304");
            };
            assert_eq!(bytes, index);
            match repo.get_index_conditional(&validators).await.unwrap() {
                Fetched::NotModified => {}
                Fetched::Body { bytes, .. } => assert_eq!(bytes, index),
            }
        });
    }

    #[tokio::test]
    async fn an_endless_object_is_cut_at_the_limit_asked_for() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut stream, _)) = listener.accept() {
                let mut head = [0u8; 4096];
                let _ = stream.read(&mut head);
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
                let chunk = [b'o'; 64 * 1024];
                for _ in 0..16 * 1024 {
                    if stream.write_all(&chunk).is_err() {
                        break;
                    }
                }
            }
        });
        let bucket = repository(
            "s3://charts",
            &config(&format!("http://127.0.0.1:{port}"), SECRET_KEY),
        )
        .unwrap();
        let limit = crate::http::DownloadLimits::default().provenance_bytes;
        let error = bucket
            .get_limited("app-1.0.0.tgz.prov", limit)
            .await
            .unwrap_err();
        assert!(
            matches!(error, S3Error::Http(HttpError::TooLarge { limit: l, .. }) if l == limit),
            "{error}"
        );
        assert!(!error.to_string().contains("X-Amz-Signature"), "{error}");
    }
}
