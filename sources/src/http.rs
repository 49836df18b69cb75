//! Bounded HTTP downloads of repository indexes, chart archives and provenance files.
//!
//! Everything fetched here comes from servers the user does not control, so each download is
//! bounded in time (connect, per-read and total timeouts) and in memory (a body limit enforced
//! while streaming, before the bytes are kept). Redirects are followed by hand so that
//! credentials are only ever sent to the origin (scheme, host and port) the user named: a
//! repository that redirects to a CDN on another host must not receive the user's password.
//! URLs in errors never carry credentials or query strings (signed URLs put secrets there).

use reqwest::header::{
    AUTHORIZATION, ETAG, HeaderMap, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
    LOCATION,
};
use reqwest::{StatusCode, Url};
use std::fmt;
use std::time::Duration;

/// How long and how much a download may take, and how to authenticate.
#[derive(Clone)]
pub struct HttpOptions {
    /// Time to establish a TCP (and TLS) connection. Default 10 s.
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes from the server. Default 30 s.
    pub read_timeout: Duration,
    /// Longest a whole download may take, redirects included. Default 5 min.
    pub total_timeout: Duration,
    /// Largest body accepted. Default: the largest chart archive the loader accepts
    /// ([`DownloadLimits::archive_bytes`], 20 MiB); raise it for a repository index, lower it per
    /// request with [`HttpClient::get_limited`].
    pub max_body_bytes: u64,
    /// Most redirects followed. Default 10.
    pub max_redirects: usize,
    /// Sent to the original origin only.
    pub credentials: Option<Credentials>,
    /// Extra trusted CA certificates (PEM), added to the built-in roots.
    pub ca_pem: Option<Vec<u8>>,
    /// A client certificate and its private key, both PEM in one buffer.
    pub client_identity_pem: Option<Vec<u8>>,
    /// Accept any server certificate. For test servers only.
    pub insecure_skip_tls_verify: bool,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            total_timeout: Duration::from_secs(300),
            max_body_bytes: DownloadLimits::default().archive_bytes,
            max_redirects: 10,
            credentials: None,
            ca_pem: None,
            client_identity_pem: None,
            insecure_skip_tls_verify: false,
        }
    }
}

impl fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpOptions")
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("total_timeout", &self.total_timeout)
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_redirects", &self.max_redirects)
            .field("credentials", &self.credentials)
            .field("ca_pem", &self.ca_pem.as_ref().map(|_| "<pem>"))
            .field(
                "client_identity_pem",
                &self.client_identity_pem.as_ref().map(|_| "<redacted>"),
            )
            .field("insecure_skip_tls_verify", &self.insecure_skip_tls_verify)
            .finish()
    }
}

/// The largest downloads worth making: what the chart loader and the provenance verifier accept.
/// Anything larger would be refused after downloading, so it is refused while downloading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadLimits {
    /// A chart archive (`.tgz`): `LoadLimits::max_archive_bytes`, 20 MiB by default.
    pub archive_bytes: u64,
    /// A provenance file (`.prov`): the verifier's limit, 1 MiB.
    pub provenance_bytes: u64,
}

impl Default for DownloadLimits {
    fn default() -> Self {
        DownloadLimits {
            archive_bytes: capstan_chart::load::LoadLimits::default().max_archive_bytes,
            provenance_bytes: capstan_chart::provenance::MAX_PROVENANCE_BYTES,
        }
    }
}

/// Credentials for a repository. `Debug` never prints the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    Basic { username: String, password: String },
    Bearer { token: String },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Basic { username, .. } => {
                write!(
                    f,
                    "Basic {{ username: {username:?}, password: <redacted> }}"
                )
            }
            Credentials::Bearer { .. } => f.write_str("Bearer { token: <redacted> }"),
        }
    }
}

/// Validators from an earlier download, for a conditional request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// The outcome of a conditional download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// The server sent a body (the resource changed, or no validators were given).
    Body {
        bytes: Vec<u8>,
        /// Validators to send next time.
        validators: Validators,
    },
    /// The server answered 304: what the caller has is current.
    NotModified,
}

/// Largest part of an error answer's body that [`HttpClient::exchange`] keeps: enough for any
/// error document, and no more from a server that sends megabytes with its 404.
pub const MAX_ERROR_BODY_BYTES: u64 = 64 * 1024;

/// One answer of [`HttpClient::exchange`], whatever its status.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub status: u16,
    pub headers: HeaderMap,
    /// The body: whole for a success, at most [`MAX_ERROR_BODY_BYTES`] for an error.
    pub body: Vec<u8>,
}

impl Exchange {
    /// A header's value as text, if present and readable.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

/// Reads at most `limit` bytes of a body, ignoring a transport failure half-way: what is
/// read is only used to explain an error that already happened.
async fn read_prefix(mut response: reqwest::Response, limit: u64) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = (limit as usize).saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() as u64 >= limit {
            break;
        }
    }
    body
}

/// Why a download failed. The URL shown has no credentials and no query string, and nothing the
/// server sent is repeated beyond its status code: a repository URL may point at an internal
/// host, and its answers must not reach whoever can read the error.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
    /// The exchange with `address` (`host:port`) failed before an answer was complete.
    #[error("{method} {url} failed: {failure} ({address}){}", failure.hint())]
    Connection {
        method: String,
        url: String,
        address: String,
        failure: ConnectionFailure,
    },
    #[error(
        "{method} {url} timed out ({what}); the server is unreachable or too slow, retry later or raise the timeout"
    )]
    Timeout {
        method: String,
        url: String,
        what: String,
    },
    #[error(
        "GET {url} returned HTTP {status}{}{}",
        reason_for_status(*.status),
        hint_for_status(*.status)
    )]
    Status { url: String, status: u16 },
    #[error(
        "{method} {url}: the response is larger than the limit of {limit} bytes; refusing to download it"
    )]
    TooLarge {
        method: String,
        url: String,
        limit: u64,
    },
    #[error("GET {url}: more than {limit} redirects; the server is probably redirecting in a loop")]
    TooManyRedirects { url: String, limit: usize },
    #[error("GET {url}: redirect with a missing or invalid Location header")]
    BadRedirect { url: String },
    /// The server explained its refusal with an error code (an S3 error document, say): the
    /// code and the start of `message` are the server's own words, sanitised and cut short (see
    /// [`sanitized`]); the rest of `message` says what to do about them.
    #[error("{method} {url}: HTTP {status} {code}: {message}")]
    Rejected {
        method: String,
        url: String,
        status: u16,
        code: String,
        message: String,
    },
}

/// What went wrong with a connection, in a few fixed words: the error chain of the HTTP stack can
/// carry what the other side sent (a plain-text service answering on an HTTP port), so only its
/// kind is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionFailure {
    /// Nothing listens there (TCP reset on connect).
    Refused,
    /// The host name does not resolve.
    Dns,
    /// The TLS handshake failed; the reason is a certificate problem when it is known.
    Tls(TlsProblem),
    /// The connection was reset or closed before the answer was complete.
    Closed,
    /// The server answered, but not in HTTP (another protocol, or garbage).
    NotHttp,
    /// Any other failure to connect or exchange.
    Other,
}

/// Why a TLS handshake failed, when it is one of the usual certificate problems.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsProblem {
    UnknownIssuer,
    WrongName,
    Expired,
    Other,
}

impl std::fmt::Display for ConnectionFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnectionFailure::Refused => "connection refused",
            ConnectionFailure::Dns => "the host name does not resolve",
            ConnectionFailure::Tls(_) => "TLS handshake failed",
            ConnectionFailure::Closed => "the connection was closed before the answer was complete",
            ConnectionFailure::NotHttp => "the server did not answer in HTTP",
            ConnectionFailure::Other => "the connection failed",
        })
    }
}

impl ConnectionFailure {
    /// What to do about it, for the failures where that is clear.
    pub(crate) fn hint(&self) -> &'static str {
        match self {
            ConnectionFailure::Tls(TlsProblem::UnknownIssuer) => {
                "; the server's TLS certificate is not signed by a trusted CA; trust the CA that \
                 signed it (ca.crt in the repository's certSecretRef, or the CLI's --ca-file)"
            }
            ConnectionFailure::Tls(TlsProblem::WrongName) => {
                "; the server's TLS certificate does not name this host; use a URL with a name or \
                 address the certificate lists"
            }
            ConnectionFailure::Tls(TlsProblem::Expired) => {
                "; the server's TLS certificate has expired; it must be renewed on the server"
            }
            ConnectionFailure::NotHttp => "; check the URL's scheme and port",
            _ => "",
        }
    }

    /// Classifies an error of the HTTP stack by walking its causes. Only types and fixed
    /// messages of the stack itself are looked at, never text the server sent.
    pub(crate) fn of(error: &(dyn std::error::Error + 'static)) -> ConnectionFailure {
        let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
        let mut request_failed = false;
        while let Some(cause) = current {
            if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
                return ConnectionFailure::Tls(TlsProblem::of(tls));
            }
            if let Some(io) = cause.downcast_ref::<std::io::Error>() {
                use std::io::ErrorKind as K;
                match io.kind() {
                    K::ConnectionRefused => return ConnectionFailure::Refused,
                    K::ConnectionReset
                    | K::ConnectionAborted
                    | K::BrokenPipe
                    | K::UnexpectedEof => {
                        return ConnectionFailure::Closed;
                    }
                    _ => {}
                }
                // `io::Error::source` skips the error it wraps, and hyper-util wraps tokio-rustls's
                // io::Error in another one, so the wrapped errors are walked here.
                let mut wrapped = io.get_ref();
                while let Some(inner) = wrapped {
                    if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
                        return ConnectionFailure::Tls(TlsProblem::of(tls));
                    }
                    wrapped = inner
                        .downcast_ref::<std::io::Error>()
                        .and_then(|nested| nested.get_ref());
                }
            }
            if let Some(http) = cause.downcast_ref::<reqwest::Error>() {
                request_failed |= http.is_request() && !http.is_connect();
            }
            // hyper-util's fixed wording for a failed name lookup.
            if cause.to_string() == "dns error" {
                return ConnectionFailure::Dns;
            }
            current = cause.source();
        }
        if request_failed {
            ConnectionFailure::NotHttp
        } else {
            ConnectionFailure::Other
        }
    }
}

impl TlsProblem {
    fn of(error: &rustls::Error) -> TlsProblem {
        use rustls::CertificateError as C;
        match error {
            rustls::Error::InvalidCertificate(C::UnknownIssuer) => TlsProblem::UnknownIssuer,
            rustls::Error::InvalidCertificate(C::NotValidForName)
            | rustls::Error::InvalidCertificate(C::NotValidForNameContext { .. }) => {
                TlsProblem::WrongName
            }
            rustls::Error::InvalidCertificate(C::Expired)
            | rustls::Error::InvalidCertificate(C::ExpiredContext { .. }) => TlsProblem::Expired,
            _ => TlsProblem::Other,
        }
    }
}

/// ` Not Found` after `404`: the standard phrase for the code, never the server's own.
fn reason_for_status(status: u16) -> String {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|code| code.canonical_reason())
        .map(|reason| format!(" {reason}"))
        .unwrap_or_default()
}

/// Text a server sent, made fit for a message others read: control characters become spaces,
/// runs of spaces one, and at most `max_chars` characters are kept.
pub fn sanitized(text: &str, max_chars: usize) -> String {
    let mut out = String::new();
    let mut kept = 0;
    let mut last_space = true;
    for c in text.chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' && last_space {
            continue;
        }
        if kept == max_chars {
            out.push_str("...");
            break;
        }
        last_space = c == ' ';
        out.push(c);
        kept += 1;
    }
    out.trim_end().to_string()
}

/// `host:port` of `url`, for messages about connections.
pub(crate) fn address_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or("?");
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

fn hint_for_status(status: u16) -> &'static str {
    match status {
        401 | 403 => " (check the username, password or token for this repository)",
        404 => " (check the repository URL and the chart name and version)",
        429 | 500..=599 => " (the server is failing or busy; retry later)",
        _ => "",
    }
}

/// An HTTP client with the bounds of [`HttpOptions`]. Cheap to clone.
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: reqwest::Client,
    options: HttpOptions,
}

impl HttpClient {
    pub fn new(options: HttpOptions) -> Result<Self, HttpError> {
        // rustls needs a process-wide crypto provider. Binaries install ring at start-up; this
        // covers library users and tests. An already installed provider is kept.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.read_timeout)
            .timeout(options.total_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("capstan/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &options.ca_pem {
            let certificates = reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| HttpError::Client(format!("the CA file is not valid PEM: {e}")))?;
            if certificates.is_empty() {
                return Err(HttpError::Client(
                    "the CA file holds no PEM certificate".into(),
                ));
            }
            for certificate in certificates {
                builder = builder.add_root_certificate(certificate);
            }
        }
        if let Some(pem) = &options.client_identity_pem {
            let identity = reqwest::Identity::from_pem(pem).map_err(|_| {
                HttpError::Client(
                    "the client certificate and key are not valid PEM (put the certificate and its private key in PEM form)"
                        .into(),
                )
            })?;
            builder = builder.identity(identity);
        }
        if options.insecure_skip_tls_verify {
            builder = builder.danger_accept_invalid_certs(true);
        }
        let client = builder
            .build()
            .map_err(|e| HttpError::Client(error_chain(&e)))?;
        Ok(HttpClient { client, options })
    }

    pub fn options(&self) -> &HttpOptions {
        &self.options
    }

    /// This client sending `credentials` (to the origin asked, as always) instead of its own:
    /// per-request tokens without building a client, and its trusted roots, again.
    pub fn with_credentials(&self, credentials: Option<Credentials>) -> HttpClient {
        HttpClient {
            client: self.client.clone(),
            options: HttpOptions {
                credentials,
                ..self.options.clone()
            },
        }
    }

    /// Downloads `url` and returns its body, refusing one over `max_body_bytes`.
    pub async fn get(&self, url: &str) -> Result<Vec<u8>, HttpError> {
        self.get_limited(url, self.options.max_body_bytes).await
    }

    /// Downloads `url`, refusing (while downloading) a body over `max_bytes`: a `.prov` file is
    /// fetched with [`DownloadLimits::provenance_bytes`], say, whatever the client's own limit.
    pub async fn get_limited(&self, url: &str, max_bytes: u64) -> Result<Vec<u8>, HttpError> {
        match self.fetch(url, &Validators::default(), max_bytes).await? {
            Fetched::Body { bytes, .. } => Ok(bytes),
            // Without validators a compliant server never answers 304.
            Fetched::NotModified => Err(HttpError::Status {
                url: redact_url(url),
                status: 304,
            }),
        }
    }

    /// Downloads `url` unless it is unchanged since `validators` were recorded.
    pub async fn get_conditional(
        &self,
        url: &str,
        validators: &Validators,
    ) -> Result<Fetched, HttpError> {
        self.fetch(url, validators, self.options.max_body_bytes)
            .await
    }

    /// [`Self::get_conditional`] with a body limit of `max_bytes`.
    pub(crate) async fn fetch(
        &self,
        url: &str,
        validators: &Validators,
        max_bytes: u64,
    ) -> Result<Fetched, HttpError> {
        self.fetch_accepting(url, validators, None, max_bytes).await
    }

    /// [`Self::fetch`], asking for the media types in `accept` (a registry serves a manifest in
    /// the form the `Accept` header names).
    pub(crate) async fn fetch_accepting(
        &self,
        url: &str,
        validators: &Validators,
        accept: Option<&str>,
        max_bytes: u64,
    ) -> Result<Fetched, HttpError> {
        let (start, url_credentials) = parse_url(url)?;
        let shown = display_url(&start);
        let credentials = self.options.credentials.clone().or(url_credentials);
        let work = self.follow(start, credentials, validators, accept, max_bytes);
        match tokio::time::timeout(self.options.total_timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(HttpError::Timeout {
                method: "GET".into(),
                url: shown,
                what: format!("no complete answer within {:?}", self.options.total_timeout),
            }),
        }
    }

    /// Sends one request and returns the answer whatever its status, for APIs such as S3 whose
    /// error answers carry a document worth reading (`NoSuchBucket`, `AccessDenied`) and whose
    /// signed URLs must not be redirected. A success body is bounded by `max_bytes`; an error
    /// body is cut at [`MAX_ERROR_BODY_BYTES`]. The configured credentials are not sent: such
    /// requests carry their own signature.
    pub async fn exchange(
        &self,
        method: reqwest::Method,
        url: &Url,
        headers: HeaderMap,
        body: Option<Vec<u8>>,
        max_bytes: u64,
    ) -> Result<Exchange, HttpError> {
        let name = method.as_str().to_string();
        let work = async {
            let mut request = self
                .client
                .request(method.clone(), url.clone())
                .headers(headers);
            if let Some(body) = body {
                request = request.body(body);
            }
            let response = request
                .send()
                .await
                .map_err(|e| self.transport_error(&name, url, e))?;
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = if response.status().is_success() {
                self.read_body(&name, url, response, max_bytes).await?
            } else {
                read_prefix(response, MAX_ERROR_BODY_BYTES).await
            };
            Ok(Exchange {
                status,
                headers,
                body,
            })
        };
        match tokio::time::timeout(self.options.total_timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(HttpError::Timeout {
                method: name.clone(),
                url: display_url(url),
                what: format!("no complete answer within {:?}", self.options.total_timeout),
            }),
        }
    }

    async fn follow(
        &self,
        start: Url,
        credentials: Option<Credentials>,
        validators: &Validators,
        accept: Option<&str>,
        max_bytes: u64,
    ) -> Result<Fetched, HttpError> {
        let origin = start.origin();
        let mut current = start;
        for _ in 0..=self.options.max_redirects {
            let mut request = self.client.get(current.clone());
            if let Some(accept) = accept {
                request = request.header(reqwest::header::ACCEPT, accept);
            }
            if let Some(etag) = &validators.etag {
                request = request.header(IF_NONE_MATCH, etag);
            }
            if let Some(since) = &validators.last_modified {
                request = request.header(IF_MODIFIED_SINCE, since);
            }
            if current.origin() == origin
                && let Some(credentials) = &credentials
            {
                request = request.header(AUTHORIZATION, authorization_value(credentials)?);
            }
            let response = request
                .send()
                .await
                .map_err(|e| self.transport_error("GET", &current, e))?;
            let status = response.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                current = redirect_target(&current, response.headers())?;
                continue;
            }
            if status == StatusCode::NOT_MODIFIED {
                return Ok(Fetched::NotModified);
            }
            if !status.is_success() {
                return Err(HttpError::Status {
                    url: display_url(&current),
                    status: status.as_u16(),
                });
            }
            let validators = Validators {
                etag: header_text(response.headers(), ETAG),
                last_modified: header_text(response.headers(), LAST_MODIFIED),
            };
            let bytes = self.read_body("GET", &current, response, max_bytes).await?;
            return Ok(Fetched::Body { bytes, validators });
        }
        Err(HttpError::TooManyRedirects {
            url: display_url(&current),
            limit: self.options.max_redirects,
        })
    }

    /// Reads the body chunk by chunk, failing as soon as it passes the limit.
    async fn read_body(
        &self,
        method: &str,
        url: &Url,
        mut response: reqwest::Response,
        limit: u64,
    ) -> Result<Vec<u8>, HttpError> {
        let too_large = || HttpError::TooLarge {
            method: method.into(),
            url: display_url(url),
            limit,
        };
        let declared = response.content_length().unwrap_or(0);
        if declared > limit {
            return Err(too_large());
        }
        let mut body = Vec::with_capacity(declared.min(8 * 1024 * 1024) as usize);
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.transport_error(method, url, e))?
        {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    /// The error for a failed request: its kind and the address only. reqwest's own message
    /// ends with the full URL, query string included (for a presigned URL, its signature), and
    /// its causes can carry what the server sent.
    fn transport_error(&self, method: &str, url: &Url, error: reqwest::Error) -> HttpError {
        let method = method.to_string();
        let address = address_of(url);
        let url = display_url(url);
        let error = error.without_url();
        if error.is_timeout() {
            let what = if error.is_connect() {
                format!(
                    "connecting took longer than {:?}",
                    self.options.connect_timeout
                )
            } else {
                format!(
                    "no data for {:?}, or no complete answer within {:?}",
                    self.options.read_timeout, self.options.total_timeout
                )
            };
            return HttpError::Timeout { method, url, what };
        }
        HttpError::Connection {
            method,
            url,
            address,
            failure: ConnectionFailure::of(&error),
        }
    }
}

/// Parses a URL, moving any `user:password@` into credentials so it is never logged or resent.
fn parse_url(url: &str) -> Result<(Url, Option<Credentials>), HttpError> {
    let mut parsed = Url::parse(url).map_err(|e| HttpError::InvalidUrl {
        url: redact_url(url),
        reason: e.to_string(),
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(HttpError::InvalidUrl {
            url: display_url(&parsed),
            reason: "only http:// and https:// are supported here (oci:// has its own commands)"
                .into(),
        });
    }
    let credentials = (!parsed.username().is_empty()).then(|| Credentials::Basic {
        username: percent_decode(parsed.username()),
        password: percent_decode(parsed.password().unwrap_or_default()),
    });
    // Cannot fail for http(s) URLs, which always have a host.
    let _ = parsed.set_username("");
    let _ = parsed.set_password(None);
    Ok((parsed, credentials))
}

/// Decodes `%XX` escapes, as URL user info is percent-encoded.
pub(crate) fn percent_decode(text: &str) -> String {
    fn hex_value(byte: u8) -> Option<u8> {
        (byte as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && let (Some(high), Some(low)) = (
                bytes.get(index + 1).copied().and_then(hex_value),
                bytes.get(index + 2).copied().and_then(hex_value),
            )
        {
            out.push(high * 16 + low);
            index += 3;
            continue;
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn authorization_value(credentials: &Credentials) -> Result<HeaderValue, HttpError> {
    use base64::Engine as _;
    let text = match credentials {
        Credentials::Basic { username, password } => format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
        ),
        Credentials::Bearer { token } => format!("Bearer {token}"),
    };
    let mut value = HeaderValue::from_str(&text).map_err(|_| {
        HttpError::Client("the credentials contain characters not allowed in an HTTP header".into())
    })?;
    value.set_sensitive(true);
    Ok(value)
}

fn redirect_target(current: &Url, headers: &HeaderMap) -> Result<Url, HttpError> {
    let bad = || HttpError::BadRedirect {
        url: display_url(current),
    };
    let location = headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(bad)?;
    let next = current.join(location).map_err(|_| bad())?;
    if !matches!(next.scheme(), "http" | "https") {
        return Err(bad());
    }
    Ok(next)
}

fn header_text(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The URL without user info and query string, for messages.
pub fn display_url(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

/// [`display_url`] for text that may not parse: drops everything between `://` and `@`.
/// Whether two URLs share scheme, host and port: the origin credentials are scoped to. URLs
/// that do not parse share nothing.
pub fn same_origin(a: &str, b: &str) -> bool {
    match (Url::parse(a), Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

pub fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(parsed) => display_url(&parsed),
        Err(_) => {
            let without_query = url.split(['?', '#']).next().unwrap_or_default();
            match (without_query.find("://"), without_query.rfind('@')) {
                (Some(scheme_end), Some(at)) if at > scheme_end => {
                    format!(
                        "{}{}",
                        &without_query[..scheme_end + 3],
                        &without_query[at + 1..]
                    )
                }
                _ => without_query.to_string(),
            }
        }
    }
}

/// The error and its causes on one line, without the URL (which may differ from the one shown).
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::{TcpListener, TcpStream};
    use std::sync::mpsc;
    use std::thread;
    use std::time::Instant;

    #[test]
    fn certificate_failures_say_what_to_do() {
        let unknown = ConnectionFailure::Tls(TlsProblem::UnknownIssuer);
        assert!(unknown.hint().contains("certSecretRef"));
        let name = ConnectionFailure::Tls(TlsProblem::WrongName);
        assert!(name.hint().contains("does not name this host"));
        assert_eq!(ConnectionFailure::Refused.hint(), "");
    }

    /// How hyper-util reports a rejected certificate: rustls's error inside tokio-rustls's
    /// io::Error inside another io::Error, where `source()` alone never reaches it.
    #[test]
    fn a_certificate_error_wrapped_twice_in_io_errors_is_found() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let inner = std::io::Error::new(std::io::ErrorKind::InvalidData, tls);
        let outer = std::io::Error::other(inner);
        assert_eq!(
            ConnectionFailure::of(&outer),
            ConnectionFailure::Tls(TlsProblem::UnknownIssuer)
        );
    }

    /// A one-thread HTTP server that answers `connections` connections with `respond`, reporting
    /// each request head on the returned channel. The thread ends after the last connection.
    fn serve(
        connections: usize,
        respond: impl Fn(&str, &mut TcpStream) + Send + 'static,
    ) -> (u16, mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (sender, receiver) = mpsc::channel();
        thread::spawn(move || {
            for stream in listener.incoming().take(connections) {
                let Ok(mut stream) = stream else { continue };
                let mut head = String::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    head.push_str(&line);
                }
                let _ = sender.send(head.clone());
                respond(&head, &mut stream);
            }
        });
        (port, receiver)
    }

    fn reply(stream: &mut TcpStream, status: &str, headers: &str, body: &[u8]) {
        let _ = write!(
            stream,
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
            body.len()
        );
        let _ = stream.write_all(body);
    }

    fn client(options: HttpOptions) -> HttpClient {
        HttpClient::new(options).unwrap()
    }

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    }

    fn has_authorization(head: &str) -> bool {
        head.lines()
            .any(|line| line.to_ascii_lowercase().starts_with("authorization:"))
    }

    #[test]
    fn downloads_a_body_and_sends_credentials_to_the_origin() {
        let (port, heads) = serve(1, |_, stream| reply(stream, "200 OK", "", b"hello"));
        let body = runtime()
            .block_on(
                client(HttpOptions::default())
                    .get(&format!("http://user:s%40cret@127.0.0.1:{port}/index.yaml")),
            )
            .unwrap();
        assert_eq!(body, b"hello");
        let head = heads.recv().unwrap();
        // base64("user:s@cret")
        assert!(head.contains("Basic dXNlcjpzQGNyZXQ="), "{head}");
    }

    #[test]
    fn redirect_to_another_host_drops_credentials() {
        let (other_port, other_heads) = serve(1, |_, stream| reply(stream, "200 OK", "", b"cdn"));
        let (port, heads) = serve(2, move |head, stream| {
            if head.starts_with("GET /same") {
                let location = format!("Location: http://localhost:{other_port}/chart.tgz\r\n");
                reply(stream, "302 Found", &location, b"");
            } else {
                reply(stream, "301 Moved", "Location: /same\r\n", b"");
            }
        });
        let options = HttpOptions {
            credentials: Some(Credentials::Bearer {
                token: "t0ken".into(),
            }),
            ..Default::default()
        };
        let body = runtime()
            .block_on(client(options).get(&format!("http://127.0.0.1:{port}/start")))
            .unwrap();
        assert_eq!(body, b"cdn");
        let first = heads.recv().unwrap();
        let same_origin = heads.recv().unwrap();
        let foreign = other_heads.recv().unwrap();
        assert!(first.contains("Bearer t0ken"), "{first}");
        assert!(same_origin.contains("Bearer t0ken"), "{same_origin}");
        assert!(!has_authorization(&foreign), "{foreign}");
    }

    #[test]
    fn redirect_loops_are_cut_off() {
        let (port, _heads) = serve(3, |_, stream| {
            reply(stream, "302 Found", "Location: /again\r\n", b"")
        });
        let options = HttpOptions {
            max_redirects: 2,
            ..Default::default()
        };
        let err = runtime()
            .block_on(client(options).get(&format!("http://127.0.0.1:{port}/")))
            .unwrap_err();
        assert!(matches!(err, HttpError::TooManyRedirects { .. }), "{err}");
    }

    #[test]
    fn bodies_over_the_limit_are_refused_while_streaming() {
        // Declared length over the limit.
        let (port, _h) = serve(1, |_, stream| reply(stream, "200 OK", "", &[b'x'; 2048]));
        let options = HttpOptions {
            max_body_bytes: 1024,
            ..Default::default()
        };
        let err = runtime()
            .block_on(client(options.clone()).get(&format!("http://127.0.0.1:{port}/big")))
            .unwrap_err();
        assert!(
            matches!(err, HttpError::TooLarge { limit: 1024, .. }),
            "{err}"
        );

        // No declared length: the stream is cut once it passes the limit.
        let (port, _h) = serve(1, |_, stream| {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            for _ in 0..64 {
                if stream.write_all(&[b'y'; 1024]).is_err() {
                    break;
                }
            }
        });
        let err = runtime()
            .block_on(client(options).get(&format!("http://127.0.0.1:{port}/stream")))
            .unwrap_err();
        assert!(err.to_string().contains("larger than the limit"), "{err}");
    }

    #[test]
    fn a_trickling_server_hits_the_total_timeout() {
        let (port, _h) = serve(1, |_, stream| {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n");
            for _ in 0..100 {
                if stream.write_all(b"z").is_err() {
                    break;
                }
                thread::sleep(Duration::from_millis(100));
            }
        });
        let options = HttpOptions {
            read_timeout: Duration::from_secs(2),
            total_timeout: Duration::from_millis(800),
            ..Default::default()
        };
        let started = Instant::now();
        let err = runtime()
            .block_on(client(options).get(&format!("http://127.0.0.1:{port}/slow")))
            .unwrap_err();
        assert!(matches!(err, HttpError::Timeout { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_stalled_server_hits_the_read_timeout() {
        let (port, _h) = serve(1, |_, stream| {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
            thread::sleep(Duration::from_secs(3));
        });
        let options = HttpOptions {
            read_timeout: Duration::from_millis(300),
            ..Default::default()
        };
        let started = Instant::now();
        let err = runtime()
            .block_on(client(options).get(&format!("http://127.0.0.1:{port}/stall")))
            .unwrap_err();
        assert!(matches!(err, HttpError::Timeout { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn status_errors_name_the_url_without_secrets() {
        let (port, _h) = serve(1, |_, stream| reply(stream, "404 Not Found", "", b"nope"));
        let err = runtime()
            .block_on(client(HttpOptions::default()).get(&format!(
                "http://alice:hunter2@127.0.0.1:{port}/charts/index.yaml?sig=secret"
            )))
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!("http://127.0.0.1:{port}/charts/index.yaml")),
            "{text}"
        );
        assert!(text.contains("404"), "{text}");
        assert!(!text.contains("hunter2") && !text.contains("alice") && !text.contains("secret"));
    }

    #[test]
    fn transport_errors_drop_the_query_string() {
        // A port nothing listens on: the connection is refused.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = runtime()
            .block_on(client(HttpOptions::default()).get(&format!(
                "http://127.0.0.1:{port}/b/index.yaml?X-Amz-Signature=feedbeef"
            )))
            .unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(
                err,
                HttpError::Connection {
                    failure: ConnectionFailure::Refused,
                    ..
                }
            ),
            "{text}"
        );
        assert!(text.contains(&format!("127.0.0.1:{port}")), "{text}");
        assert!(text.contains("/b/index.yaml"), "{text}");
        assert!(
            !text.contains("feedbeef") && !text.contains("X-Amz"),
            "{text}"
        );
    }

    #[test]
    fn conditional_requests_report_not_modified() {
        let (port, heads) = serve(2, |head, stream| {
            if head.contains("\"v1\"") {
                reply(stream, "304 Not Modified", "", b"");
            } else {
                reply(
                    stream,
                    "200 OK",
                    "ETag: \"v1\"\r\nLast-Modified: Tue, 01 Jan 2030 00:00:00 GMT\r\n",
                    b"index",
                );
            }
        });
        let client = client(HttpOptions::default());
        let url = format!("http://127.0.0.1:{port}/index.yaml");
        let runtime = runtime();
        let first = runtime
            .block_on(client.get_conditional(&url, &Validators::default()))
            .unwrap();
        let Fetched::Body { bytes, validators } = first else {
            panic!("expected a body, got {first:?}");
        };
        assert_eq!(bytes, b"index");
        assert_eq!(validators.etag.as_deref(), Some("\"v1\""));
        let second = runtime
            .block_on(client.get_conditional(&url, &validators))
            .unwrap();
        assert_eq!(second, Fetched::NotModified);
        let _ = heads.recv().unwrap();
        let conditional = heads.recv().unwrap().to_ascii_lowercase();
        assert!(
            conditional.contains("if-modified-since: tue, 01 jan 2030"),
            "{conditional}"
        );
    }

    #[test]
    fn unsupported_schemes_and_bad_pem_are_clear_errors() {
        let err = runtime()
            .block_on(client(HttpOptions::default()).get("ftp://example.com/x"))
            .unwrap_err();
        assert!(
            err.to_string().contains("only http:// and https://"),
            "{err}"
        );
        let err = HttpClient::new(HttpOptions {
            ca_pem: Some(b"not a certificate".to_vec()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("CA file"), "{err}");
        let shown = format!(
            "{:?}",
            Credentials::Basic {
                username: "u".into(),
                password: "p4ss".into()
            }
        );
        assert!(!shown.contains("p4ss"));
    }

    /// What a plain-text or other non-HTTP service on an internal port might answer.
    const INTERNAL_SECRET: &str = "internal-7c1e-secret";

    /// Checks that `err`'s text holds nothing the server sent: no canary, no control characters,
    /// and no more than a couple of hundred characters beyond the URL.
    fn assert_reduced(err: &HttpError, url: &str) {
        let text = err.to_string();
        println!("{text}");
        assert!(!text.contains(INTERNAL_SECRET), "{text}");
        assert!(!text.contains("internal"), "{text}");
        assert!(!text.chars().any(char::is_control), "{text:?}");
        assert!(text.len() <= url.len() + 260, "{text}");
    }

    #[test]
    fn answers_of_non_http_services_are_reduced_to_their_kind() {
        let answers: [&[u8]; 4] = [
            b"internal-7c1e-secret: plain text service ready\r\n",
            b"SSH-2.0-OpenSSH_9.6 internal-7c1e-secret\r\n",
            b"\x00\x01\x02\xffinternal-7c1e-secret\x1b[31m",
            b"HTTP/1.1 200 OK\r\nX-Bad internal-7c1e-secret\r\n\r\n",
        ];
        for answer in answers {
            let (port, _h) = serve(1, move |_, stream| {
                let _ = stream.write_all(answer);
            });
            let url = format!("http://127.0.0.1:{port}/index.yaml");
            let err = runtime()
                .block_on(client(HttpOptions::default()).get(&url))
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    HttpError::Connection {
                        failure: ConnectionFailure::NotHttp | ConnectionFailure::Closed,
                        ..
                    }
                ),
                "{err}"
            );
            assert_reduced(&err, &url);
        }
    }

    #[test]
    fn error_statuses_never_show_the_body() {
        let bodies: [(&str, &[u8]); 3] = [
            (
                "500 Internal Server Error",
                b"<html><body>internal-7c1e-secret stack trace</body></html>",
            ),
            (
                "403 Forbidden",
                b"{\"kind\":\"Status\",\"message\":\"internal-7c1e-secret is forbidden\"}",
            ),
            ("418 internal-7c1e-secret", b"internal-7c1e-secret\x1b[0m"),
        ];
        for (status, body) in bodies {
            let (port, _h) = serve(1, move |_, stream| reply(stream, status, "", body));
            let url = format!("http://127.0.0.1:{port}/index.yaml");
            let err = runtime()
                .block_on(client(HttpOptions::default()).get(&url))
                .unwrap_err();
            assert!(matches!(err, HttpError::Status { .. }), "{err}");
            assert_reduced(&err, &url);
        }
    }

    #[test]
    fn an_endless_body_is_cut_at_the_limit_asked_for() {
        let (port, _h) = serve(1, |_, stream| {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            let chunk = [b'p'; 64 * 1024];
            // About 1 GiB, far more than any limit; the client hangs up long before.
            for _ in 0..16 * 1024 {
                if stream.write_all(&chunk).is_err() {
                    break;
                }
            }
        });
        let limits = DownloadLimits::default();
        let err = runtime()
            .block_on(client(HttpOptions::default()).get_limited(
                &format!("http://127.0.0.1:{port}/chart.tgz.prov"),
                limits.provenance_bytes,
            ))
            .unwrap_err();
        assert!(
            matches!(err, HttpError::TooLarge { limit, .. } if limit == limits.provenance_bytes),
            "{err}"
        );
    }

    #[test]
    fn the_default_limit_is_the_loaders_archive_limit() {
        assert_eq!(
            HttpOptions::default().max_body_bytes,
            capstan_chart::load::LoadLimits::default().max_archive_bytes
        );
        // A declared length over it is refused before any of the body is read.
        let (port, _h) = serve(1, |_, stream| {
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 104857600\r\nConnection: close\r\n\r\nxx",
            );
        });
        let err = runtime()
            .block_on(client(HttpOptions::default()).get(&format!("http://127.0.0.1:{port}/a.tgz")))
            .unwrap_err();
        assert!(matches!(err, HttpError::TooLarge { .. }), "{err}");
    }
}
