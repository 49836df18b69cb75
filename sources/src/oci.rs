//! Charts in OCI registries, stored the way Helm stores them so `helm pull` and `helm push`
//! interoperate with Capstan: a manifest whose config is the chart metadata as JSON, one chart
//! layer (the `.tgz`) and optionally one provenance layer (the `.prov`), tagged with the chart
//! version (`+` written as `_`, which tags cannot hold).

mod bounded;
mod clients;
mod index;
mod remembered;
mod token;

pub use index::{PlatformImage, push_image_index};

use base64::Engine;
use capstan_chart::load::load_archive;
use capstan_chart::model::ChartMetadata;
use capstan_chart::version::{Constraint, parse_version, select_latest};
use oci_client::Reference;
use oci_client::client::{Config, ImageLayer};
use oci_client::manifest::{OCI_IMAGE_MEDIA_TYPE, OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The config media type Helm gives chart manifests.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.cncf.helm.config.v1+json";
/// The media type of the layer holding the chart archive.
pub const CHART_LAYER_MEDIA_TYPE: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
/// The media type of the layer holding the provenance file.
pub const PROV_LAYER_MEDIA_TYPE: &str = "application/vnd.cncf.helm.chart.provenance.v1.prov";

/// How long connecting to a registry may take.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// How long a registry may stay silent in the middle of a response.
const READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Errors from registry operations; messages name the reference and say what to check.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    #[error(
        "{reference:?} is not an OCI chart reference: {reason} (expected oci://HOST[:PORT]/PATH)"
    )]
    InvalidReference { reference: String, reason: String },
    #[error("cannot read the chart archive to push: {0}")]
    InvalidArchive(String),
    #[error("registry request for {reference} failed: {message}")]
    Registry { reference: String, message: String },
    #[error("{reference} has no chart version matching {constraint:?} (tags found: {available})")]
    NoMatchingVersion {
        reference: String,
        constraint: String,
        available: String,
    },
    #[error("{reference} is not a Helm chart: {reason}")]
    NotAChart { reference: String, reason: String },
    #[error(
        "{what} of {reference} is {size} bytes, over the {limit}-byte limit; raise the limit if the chart is genuinely this large"
    )]
    TooLarge {
        reference: String,
        what: &'static str,
        size: i64,
        limit: u64,
    },
    #[error("registry {registry} refused access to {reference}: {reason}")]
    Unauthorized {
        registry: String,
        reference: String,
        reason: String,
    },
    #[error("cannot read {path}: {reason}")]
    Credentials { path: PathBuf, reason: String },
    #[error("invalid version constraint {constraint:?}: {reason}")]
    InvalidConstraint { constraint: String, reason: String },
}

/// How to reach a registry.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Speak plain HTTP instead of HTTPS (local registries).
    pub plain_http: bool,
    /// PEM certificate authorities to trust in addition to the system's.
    pub ca_pem: Option<Vec<u8>>,
    /// Accept any certificate (test registries only).
    pub insecure_skip_tls_verify: bool,
    pub auth: Auth,
}

/// Registry credentials. Basic credentials are exchanged for a bearer token when the registry
/// asks for one.
#[derive(Clone, Default)]
pub enum Auth {
    #[default]
    Anonymous,
    Basic {
        username: String,
        password: String,
    },
    /// A bearer token sent as is.
    Bearer {
        token: String,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Anonymous => f.write_str("Anonymous"),
            Auth::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
            Auth::Bearer { .. } => f.write_str("Bearer(<redacted>)"),
        }
    }
}

/// Size limits for pulled layers, checked against the manifest before downloading and while
/// downloading. The defaults are what the loader and the provenance verifier accept
/// ([`crate::http::DownloadLimits`]): a larger layer would be refused after the download anyway.
#[derive(Debug, Clone, Copy)]
pub struct PullLimits {
    pub max_chart_bytes: u64,
    pub max_prov_bytes: u64,
}

impl Default for PullLimits {
    fn default() -> Self {
        let limits = crate::http::DownloadLimits::default();
        PullLimits {
            max_chart_bytes: limits.archive_bytes,
            max_prov_bytes: limits.provenance_bytes,
        }
    }
}

/// What a push stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushResult {
    /// The manifest digest, `sha256:...`.
    pub digest: String,
    /// `host/path/name:tag`.
    pub reference: String,
}

/// A pulled chart.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub archive: Vec<u8>,
    pub prov: Option<Vec<u8>>,
    pub digest: String,
    pub version: String,
    pub name: String,
}

/// Splits `oci://host/path` into registry and repository path (without a chart name).
fn parse_oci_url(reference: &str) -> Result<(String, String), OciError> {
    let invalid = |reason: &str| OciError::InvalidReference {
        reference: reference.to_string(),
        reason: reason.to_string(),
    };
    let rest = reference
        .strip_prefix("oci://")
        .ok_or_else(|| invalid("it does not start with oci://"))?;
    let rest = rest.trim_end_matches('/');
    let (registry, path) = rest.split_once('/').unwrap_or((rest, ""));
    if registry.is_empty() {
        return Err(invalid("no registry host"));
    }
    if path.contains(['@', ' '])
        || path
            .split('/')
            .any(|part| part.is_empty() && !path.is_empty())
    {
        return Err(invalid("the repository path is malformed"));
    }
    Ok((registry.to_string(), path.to_string()))
}

fn repository(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}/{name}")
    }
}

/// Tags cannot contain `+`; Helm writes build metadata with `_` instead.
pub fn version_to_tag(version: &str) -> String {
    version.replace('+', "_")
}

/// The inverse of [`version_to_tag`].
pub fn tag_to_version(tag: &str) -> String {
    tag.replace('_', "+")
}

/// The kept clients for `options` ([`clients`]); one that cannot be built is told about
/// `reference`.
fn clients_for(
    options: &RegistryOptions,
    reference: &Reference,
) -> Result<clients::RegistryClients, OciError> {
    clients::for_options(options).map_err(|error| bounded::http_error(reference, options, error))
}

fn registry_auth(auth: &Auth) -> RegistryAuth {
    match auth {
        Auth::Anonymous => RegistryAuth::Anonymous,
        Auth::Basic { username, password } => {
            RegistryAuth::Basic(username.clone(), password.clone())
        }
        Auth::Bearer { token } => RegistryAuth::Bearer(token.clone()),
    }
}

fn registry_error(
    reference: &Reference,
    auth: &Auth,
) -> impl Fn(oci_client::errors::OciDistributionError) -> OciError {
    let registry = reference.registry().to_string();
    let reference = reference.whole();
    let refused = refused_reason(auth);
    move |e| {
        if is_unauthorized(&e) {
            OciError::Unauthorized {
                registry: registry.clone(),
                reference: reference.clone(),
                reason: refused.clone(),
            }
        } else {
            OciError::Registry {
                reference: reference.clone(),
                message: registry_failure(&e),
            }
        }
    }
}

/// Why a registry refused `auth`. Messages name the user at most: the password never reaches
/// an error.
fn refused_reason(auth: &Auth) -> String {
    match auth {
        Auth::Anonymous => "it needs credentials and none were given".to_string(),
        Auth::Basic { username, .. } => {
            format!("the credentials of user {username:?} were rejected")
        }
        Auth::Bearer { .. } => "the bearer token was rejected".to_string(),
    }
}

/// The longest part of a registry's own words kept in a message.
const MAX_REGISTRY_TEXT: usize = 200;

/// What went wrong talking to a registry, without what it sent beyond a status code and its
/// error codes and short messages: a registry reference may name an internal host, and the
/// message reaches whoever can read the status.
fn registry_failure(error: &oci_client::errors::OciDistributionError) -> String {
    use oci_client::errors::OciDistributionError as E;
    let text = match error {
        E::ServerError { code, .. } => {
            let reason = reqwest::StatusCode::from_u16(*code)
                .ok()
                .and_then(|status| status.canonical_reason())
                .unwrap_or("");
            format!("the registry answered HTTP {code} {reason}")
        }
        E::RegistryError { envelope, .. } => {
            let errors: Vec<String> = envelope
                .errors
                .iter()
                .map(|e| format!("{:?}: {}", e.code, e.message))
                .collect();
            format!("the registry refused the request: {}", errors.join("; "))
        }
        E::RequestError(request) => match request.status() {
            Some(status) => format!("the registry answered HTTP {status}"),
            None => {
                let address = request
                    .url()
                    .map(crate::http::address_of)
                    .unwrap_or_default();
                let failure = crate::http::ConnectionFailure::of(request);
                format!("{failure} ({address}){}", failure.hint())
            }
        },
        E::AuthenticationFailure(_) => "the registry's token service refused the request".into(),
        E::RegistryTokenDecodeError(_) => {
            "the registry's token service did not answer with a token".into()
        }
        E::ManifestParsingError(_) | E::JsonError(_) | E::ManifestEncodingError(_) => {
            "the registry's answer is not a valid manifest".into()
        }
        other => other.to_string(),
    };
    crate::http::sanitized(&text, MAX_REGISTRY_TEXT)
}

/// Whether the registry refused the client's identity (HTTP 401, or a 403/`DENIED` answer).
fn is_unauthorized(error: &oci_client::errors::OciDistributionError) -> bool {
    use oci_client::errors::{OciDistributionError as E, OciErrorCode};
    match error {
        E::UnauthorizedError { .. } | E::AuthenticationFailure(_) => true,
        E::ServerError { code, .. } => *code == 401 || *code == 403,
        E::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|e| matches!(e.code, OciErrorCode::Unauthorized | OciErrorCode::Denied)),
        _ => false,
    }
}

/// The manifest annotations Helm writes, from the chart metadata.
pub fn manifest_annotations(metadata: &ChartMetadata) -> BTreeMap<String, String> {
    let mut annotations: BTreeMap<String, String> = metadata.annotations.clone();
    let mut set = |key: &str, value: Option<&str>| {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            annotations.insert(format!("org.opencontainers.image.{key}"), value.to_string());
        }
    };
    set("description", metadata.description.as_deref());
    set("url", metadata.home.as_deref());
    set("source", metadata.sources.first().map(String::as_str));
    let authors = metadata
        .maintainers
        .iter()
        .map(|m| match m.email.as_deref().filter(|e| !e.is_empty()) {
            Some(email) => format!("{} ({email})", m.name),
            None => m.name.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ");
    set("authors", Some(&authors));
    // Title and version always describe the chart, whatever Chart.yaml's annotations say.
    set("title", Some(&metadata.name));
    set("version", Some(&metadata.version));
    annotations
}

/// Pushes a chart archive (and its provenance) to `oci://host/path`; the chart name and version
/// come from the archive's Chart.yaml.
pub async fn push(
    archive: &[u8],
    prov: Option<&[u8]>,
    destination: &str,
    options: &RegistryOptions,
) -> Result<PushResult, OciError> {
    let (registry, path) = parse_oci_url(destination)?;
    let chart = load_archive(archive).map_err(|e| OciError::InvalidArchive(e.to_string()))?;
    let metadata = &chart.metadata;
    let reference = Reference::with_tag(
        registry,
        repository(&path, &metadata.name),
        version_to_tag(&metadata.version),
    );
    let config_json =
        serde_json::to_vec(metadata).map_err(|e| OciError::InvalidArchive(e.to_string()))?;
    let config = Config::new(config_json, CONFIG_MEDIA_TYPE.to_string(), None);
    let mut layers = vec![ImageLayer::new(
        archive.to_vec(),
        CHART_LAYER_MEDIA_TYPE.to_string(),
        None,
    )];
    if let Some(prov) = prov {
        layers.push(ImageLayer::new(
            prov.to_vec(),
            PROV_LAYER_MEDIA_TYPE.to_string(),
            None,
        ));
    }
    push_manifest(
        &reference,
        config,
        layers,
        manifest_annotations(metadata),
        None,
        options,
    )
    .await
}

/// A blob of an image: its bytes and media type.
#[derive(Debug, Clone)]
pub struct Blob {
    pub bytes: Vec<u8>,
    pub media_type: String,
}

/// Pushes any OCI image (a container image, say): its config, its layers in order and the
/// manifest's annotations, to `reference` (`host[:port]/path:tag`, no scheme). The manifest is
/// an OCI image manifest serialized the same way every time, so the same blobs and annotations
/// always give the same digest.
pub async fn push_image(
    reference: &str,
    config: Blob,
    layers: Vec<Blob>,
    annotations: BTreeMap<String, String>,
    options: &RegistryOptions,
) -> Result<PushResult, OciError> {
    let reference: Reference =
        reference
            .parse()
            .map_err(|e: oci_client::ParseError| OciError::InvalidReference {
                reference: reference.to_string(),
                reason: e.to_string(),
            })?;
    let config = Config::new(config.bytes, config.media_type, None);
    let layers = layers
        .into_iter()
        .map(|blob| ImageLayer::new(blob.bytes, blob.media_type, None))
        .collect();
    // Runtimes (containerd, CRI-O) read the manifest's own mediaType.
    push_manifest(
        &reference,
        config,
        layers,
        annotations,
        Some(OCI_IMAGE_MEDIA_TYPE),
        options,
    )
    .await
}

/// Pushes the blobs, then a manifest of them (stating `media_type` when given; chart manifests
/// leave it out, as they always have, so their digests stay the same), and reads back the digest
/// the registry stored.
async fn push_manifest(
    reference: &Reference,
    config: Config,
    layers: Vec<ImageLayer>,
    annotations: BTreeMap<String, String>,
    media_type: Option<&str>,
    options: &RegistryOptions,
) -> Result<PushResult, OciError> {
    let mut manifest = OciImageManifest::build(&layers, &config, Some(annotations));
    manifest.media_type = media_type.map(str::to_string);
    let client = clients_for(options, reference)?.oci;
    let auth = registry_auth(&options.auth);
    let to_error = registry_error(reference, &options.auth);
    client
        .push(reference, &layers, config, &auth, Some(manifest))
        .await
        .map_err(&to_error)?;
    let digest = client
        .fetch_manifest_digest(reference, &auth)
        .await
        .map_err(&to_error)?;
    Ok(PushResult {
        digest,
        reference: reference.whole(),
    })
}

/// Lists the chart versions in a repository (`oci://host/path/name`): tags read back as
/// versions (`_` as `+`), tags that are not versions skipped.
pub async fn list_versions(
    repository_url: &str,
    options: &RegistryOptions,
) -> Result<Vec<String>, OciError> {
    let (registry, path) = parse_oci_url(repository_url)?;
    let reference = Reference::with_tag(registry, path, "latest".to_string());
    let clients = &clients_for(options, &reference)?;
    let reference = &reference;
    let tags =
        token::with_pull_credentials(clients, options, reference, |credentials| async move {
            bounded::tags(clients, options, reference, credentials.as_ref()).await
        })
        .await?;
    Ok(tags
        .iter()
        .map(|tag| tag_to_version(tag))
        .filter(|version| parse_version(version).is_ok())
        .collect())
}

/// Pulls a chart from `oci://host/path/name`. `version` is an exact version, a constraint
/// (resolved against the repository's tags, newest match wins), a digest (`sha256:...`), or
/// `None` for the newest release.
pub async fn pull(
    chart_url: &str,
    version: Option<&str>,
    options: &RegistryOptions,
    limits: PullLimits,
) -> Result<Pulled, OciError> {
    let reference = choose_reference(chart_url, version, options).await?;
    pull_reference(&reference, options, limits).await
}

/// A chart reference resolved to the digest of its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// `host/path/name:tag` or `host/path/name@sha256:...`, as asked for.
    pub reference: String,
    /// The manifest's digest, `sha256:...`.
    pub digest: String,
}

/// A digest of the connection settings and credentials in `options`: two options with the same
/// digest reach a registry the same way and as the same user, so what the registry answered one
/// may be handed to the other.
pub fn options_digest(options: &RegistryOptions) -> [u8; 32] {
    clients::key(options)
}

/// Resolves `version` (as [`pull`] reads it) to a manifest digest without downloading any layer,
/// so a caller can tell whether it already has the chart. Pull it with `pull(chart_url,
/// Some(&resolved.digest), ..)`.
pub async fn resolve_digest(
    chart_url: &str,
    version: Option<&str>,
    options: &RegistryOptions,
) -> Result<Resolved, OciError> {
    let reference = choose_reference(chart_url, version, options).await?;
    // The digest of the bytes themselves: a HEAD's Docker-Content-Digest is the registry's word.
    let clients = &clients_for(options, &reference)?;
    let reference = &reference;
    let (_, digest) =
        token::with_pull_credentials(clients, options, reference, |credentials| async move {
            bounded::manifest(clients, options, reference, credentials.as_ref()).await
        })
        .await?;
    Ok(Resolved {
        reference: reference.whole(),
        digest,
    })
}

/// Splits a chart reference that may carry a tag or digest (`oci://host:port/path/chart:1.0.0`,
/// `oci://host/path/chart@sha256:...`) into the chart URL and that version (a tag read back as a
/// version, `_` as `+`).
pub fn split_chart_reference(reference: &str) -> (String, Option<String>) {
    if let Some((url, digest)) = reference.split_once('@') {
        return (url.to_string(), Some(digest.to_string()));
    }
    let last_slash = reference.rfind('/').unwrap_or(0);
    match reference[last_slash..].rfind(':') {
        Some(colon) if last_slash > "oci://".len() => {
            let at = last_slash + colon;
            (
                reference[..at].to_string(),
                Some(tag_to_version(&reference[at + 1..])),
            )
        }
        _ => (reference.to_string(), None),
    }
}

/// The reference `version` names: a digest, an exact version's tag, or the newest tag that
/// matches a constraint.
async fn choose_reference(
    chart_url: &str,
    version: Option<&str>,
    options: &RegistryOptions,
) -> Result<Reference, OciError> {
    // `oci://host/path/name@sha256:...` names a digest in the URL itself, as Helm allows.
    let (chart_url, version) = match chart_url.split_once('@') {
        Some((url, digest)) => {
            if !digest.starts_with("sha256:") {
                return Err(OciError::InvalidReference {
                    reference: chart_url.to_string(),
                    reason: "only sha256: digests may follow @".to_string(),
                });
            }
            if version.is_some_and(|v| v != digest) {
                return Err(OciError::InvalidReference {
                    reference: chart_url.to_string(),
                    reason: "it names a digest and a different version was asked for".to_string(),
                });
            }
            (url, Some(digest))
        }
        None => (chart_url, version),
    };
    let (registry, path) = parse_oci_url(chart_url)?;
    Ok(match version {
        Some(digest) if digest.starts_with("sha256:") => {
            Reference::with_digest(registry, path, digest.to_string())
        }
        Some(exact)
            if parse_version(exact).is_ok()
                && !exact.contains(['<', '>', '~', '^', '*', ' ', ',', '|', '=']) =>
        {
            Reference::with_tag(registry, path, version_to_tag(exact))
        }
        constraint => {
            let constraint_text = constraint.unwrap_or(">0.0.0-0").to_string();
            let parsed = Constraint::parse(constraint.unwrap_or("*")).map_err(|e| {
                OciError::InvalidConstraint {
                    constraint: constraint_text.clone(),
                    reason: e.to_string(),
                }
            })?;
            let versions = list_versions(chart_url, options).await?;
            let Some(chosen) = select_latest(&parsed, versions.iter().map(String::as_str)) else {
                return Err(OciError::NoMatchingVersion {
                    reference: chart_url.to_string(),
                    constraint: constraint.unwrap_or("*").to_string(),
                    available: if versions.is_empty() {
                        "none".to_string()
                    } else {
                        versions.join(", ")
                    },
                });
            };
            Reference::with_tag(registry, path, version_to_tag(chosen))
        }
    })
}

async fn pull_reference(
    reference: &Reference,
    options: &RegistryOptions,
    limits: PullLimits,
) -> Result<Pulled, OciError> {
    let clients = &clients_for(options, reference)?;
    token::with_pull_credentials(clients, options, reference, |credentials| async move {
        pull_with(clients, options, reference, limits, credentials.as_ref()).await
    })
    .await
}

/// Reads `reference`'s manifest and its chart and provenance layers with `credentials`.
async fn pull_with(
    clients: &clients::RegistryClients,
    options: &RegistryOptions,
    reference: &Reference,
    limits: PullLimits,
    credentials: Option<&crate::http::Credentials>,
) -> Result<Pulled, OciError> {
    let (manifest, digest) = bounded::manifest(clients, options, reference, credentials).await?;
    let not_a_chart = |reason: String| OciError::NotAChart {
        reference: reference.whole(),
        reason,
    };
    if manifest.config.media_type != CONFIG_MEDIA_TYPE {
        return Err(not_a_chart(format!(
            "its config media type is {:?}, not {CONFIG_MEDIA_TYPE}",
            manifest.config.media_type
        )));
    }
    let of_type = |media_type: &str| -> Vec<&OciDescriptor> {
        manifest
            .layers
            .iter()
            .filter(|l| l.media_type == media_type)
            .collect()
    };
    let [chart_layer] = of_type(CHART_LAYER_MEDIA_TYPE)[..] else {
        return Err(not_a_chart(
            "it needs exactly one chart content layer".to_string(),
        ));
    };
    let prov_layer = of_type(PROV_LAYER_MEDIA_TYPE).first().copied();
    let pull_layer = |layer, what, limit| async move {
        check_layer_size(reference, layer, what, limit)?;
        bounded::blob(clients, options, reference, credentials, layer, what).await
    };
    let archive = pull_layer(chart_layer, "chart layer", limits.max_chart_bytes).await?;
    let prov = match prov_layer {
        Some(layer) => Some(pull_layer(layer, "provenance layer", limits.max_prov_bytes).await?),
        None => None,
    };
    let chart = load_archive(&archive)
        .map_err(|e| not_a_chart(format!("its chart layer does not load: {e}")))?;
    Ok(Pulled {
        archive,
        prov,
        digest,
        version: chart.metadata.version.clone(),
        name: chart.metadata.name.clone(),
    })
}

/// Refuses `layer` before it is downloaded when the size its manifest declares is over `limit`
/// (or negative); the download itself stops at the declared size.
fn check_layer_size(
    reference: &Reference,
    layer: &OciDescriptor,
    what: &'static str,
    limit: u64,
) -> Result<(), OciError> {
    if layer.size < 0 || layer.size as u64 > limit {
        return Err(OciError::TooLarge {
            reference: reference.whole(),
            what,
            size: layer.size,
            limit,
        });
    }
    Ok(())
}

/// Reads credentials for `registry` (`host[:port]`) from a Docker `config.json`: the `auths`
/// entry's base64 `auth` (`user:password`) or its `username` and `password`. Credential helpers
/// are not consulted.
pub fn docker_config_auth(config_path: &Path, registry: &str) -> Result<Auth, OciError> {
    let failure = |reason: String| OciError::Credentials {
        path: config_path.to_path_buf(),
        reason,
    };
    let text = std::fs::read_to_string(config_path).map_err(|e| failure(e.to_string()))?;
    docker_config_auth_json(&text, registry).map_err(failure)
}

/// [`docker_config_auth`] for the JSON text itself (a `kubernetes.io/dockerconfigjson` Secret's
/// `.dockerconfigjson`). Errors name what is wrong, never the credentials.
pub fn docker_config_auth_json(text: &str, registry: &str) -> Result<Auth, String> {
    let config: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("not JSON (line {}, column {})", e.line(), e.column()))?;
    let Some(auths) = config.get("auths").and_then(|a| a.as_object()) else {
        return Ok(Auth::Anonymous);
    };
    let entry = auths.iter().find(|(key, _)| {
        let host = key
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or_default();
        host == registry
    });
    let Some((_, entry)) = entry else {
        return Ok(Auth::Anonymous);
    };
    if let Some(encoded) = entry
        .get("auth")
        .and_then(|a| a.as_str())
        .filter(|a| !a.is_empty())
    {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| format!("the `auth` for {registry} is not base64"))?;
        let decoded = String::from_utf8(decoded)
            .map_err(|_| format!("the `auth` for {registry} is not UTF-8"))?;
        let Some((username, password)) = decoded.split_once(':') else {
            return Err(format!("the `auth` for {registry} is not `user:password`"));
        };
        return Ok(Auth::Basic {
            username: username.to_string(),
            password: password.to_string(),
        });
    }
    match (
        entry.get("username").and_then(|u| u.as_str()),
        entry.get("password").and_then(|p| p.as_str()),
    ) {
        (Some(username), Some(password)) => Ok(Auth::Basic {
            username: username.to_string(),
            password: password.to_string(),
        }),
        _ => Ok(Auth::Anonymous),
    }
}

/// The registry host of an `oci://` reference, for credential lookup.
pub fn registry_host(reference: &str) -> Result<String, OciError> {
    parse_oci_url(reference).map(|(registry, _)| registry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_references_split_into_url_and_pin() {
        assert_eq!(
            split_chart_reference("oci://127.0.0.1:5000/charts/greet"),
            ("oci://127.0.0.1:5000/charts/greet".to_string(), None)
        );
        assert_eq!(
            split_chart_reference("oci://127.0.0.1:5000/charts/greet:1.0.0_build.2"),
            (
                "oci://127.0.0.1:5000/charts/greet".to_string(),
                Some("1.0.0+build.2".to_string())
            )
        );
        assert_eq!(
            split_chart_reference("oci://reg.example/greet@sha256:abc"),
            (
                "oci://reg.example/greet".to_string(),
                Some("sha256:abc".to_string())
            )
        );
        assert_eq!(
            split_chart_reference("oci://reg.example:5000"),
            ("oci://reg.example:5000".to_string(), None)
        );
    }

    #[test]
    fn docker_config_json_errors_never_show_credentials() {
        let error =
            docker_config_auth_json(r#"{"auths":{"r:1":{"auth":"not base64 s3cret"}}}"#, "r:1")
                .unwrap_err();
        assert!(
            error.contains("not base64") && !error.contains("s3cret"),
            "{error}"
        );
        let error = docker_config_auth_json("{s3cret", "r:1").unwrap_err();
        assert!(!error.contains("s3cret"), "{error}");
        let bearer = format!(
            "{:?}",
            Auth::Bearer {
                token: "s3cret".into()
            }
        );
        assert!(!bearer.contains("s3cret"), "{bearer}");
    }

    #[test]
    fn tags_round_trip_build_metadata() {
        assert_eq!(version_to_tag("1.2.3+build.7"), "1.2.3_build.7");
        assert_eq!(tag_to_version("1.2.3_build.7"), "1.2.3+build.7");
    }

    #[test]
    fn oci_urls_split_into_registry_and_path() {
        assert_eq!(
            parse_oci_url("oci://127.0.0.1:5000/charts/team/").unwrap(),
            ("127.0.0.1:5000".to_string(), "charts/team".to_string())
        );
        assert!(matches!(
            parse_oci_url("https://x/y"),
            Err(OciError::InvalidReference { .. })
        ));
        assert!(matches!(
            parse_oci_url("oci:///y"),
            Err(OciError::InvalidReference { .. })
        ));
        assert!(matches!(
            parse_oci_url("oci://x/a//b"),
            Err(OciError::InvalidReference { .. })
        ));
    }

    #[test]
    fn annotations_follow_helm() {
        let metadata = ChartMetadata {
            name: "demo".into(),
            version: "1.0.0".into(),
            description: Some("A demo".into()),
            home: Some("https://example.com".into()),
            sources: vec!["https://example.com/src".into()],
            maintainers: vec![
                capstan_chart::model::Maintainer {
                    name: "A".into(),
                    email: Some("a@example.com".into()),
                    url: None,
                },
                capstan_chart::model::Maintainer {
                    name: "B".into(),
                    email: None,
                    url: None,
                },
            ],
            annotations: BTreeMap::from([(
                "org.opencontainers.image.title".into(),
                "spoof".into(),
            )]),
            ..ChartMetadata::default()
        };
        let annotations = manifest_annotations(&metadata);
        assert_eq!(annotations["org.opencontainers.image.title"], "demo");
        assert_eq!(annotations["org.opencontainers.image.version"], "1.0.0");
        assert_eq!(
            annotations["org.opencontainers.image.description"],
            "A demo"
        );
        assert_eq!(
            annotations["org.opencontainers.image.url"],
            "https://example.com"
        );
        assert_eq!(
            annotations["org.opencontainers.image.source"],
            "https://example.com/src"
        );
        assert_eq!(
            annotations["org.opencontainers.image.authors"],
            "A (a@example.com), B"
        );
    }

    #[test]
    fn refusals_name_the_user_and_never_the_password() {
        use oci_client::errors::OciDistributionError as E;
        let reference = Reference::with_tag(
            "reg.example:5000".to_string(),
            "charts/demo".to_string(),
            "1.0.0".to_string(),
        );
        let basic = Auth::Basic {
            username: "ops".to_string(),
            password: "hunter2-secret".to_string(),
        };
        let refusals = [
            E::UnauthorizedError {
                url: "http://reg.example:5000/v2/".to_string(),
            },
            E::ServerError {
                code: 401,
                url: "http://reg.example:5000/v2/".to_string(),
                message: String::new(),
            },
            E::AuthenticationFailure("no".to_string()),
        ];
        for refusal in refusals {
            let error = registry_error(&reference, &basic)(refusal);
            let message = error.to_string();
            assert!(matches!(error, OciError::Unauthorized { .. }), "{message}");
            assert_eq!(
                message,
                "registry reg.example:5000 refused access to reg.example:5000/charts/demo:1.0.0: \
                 the credentials of user \"ops\" were rejected"
            );
        }
        let anonymous = registry_error(&reference, &Auth::Anonymous)(E::UnauthorizedError {
            url: String::new(),
        });
        assert!(
            anonymous
                .to_string()
                .ends_with("it needs credentials and none were given")
        );
        let other = registry_error(&reference, &basic)(E::ServerError {
            code: 500,
            url: "http://reg.example:5000/v2/".to_string(),
            message: "boom".to_string(),
        });
        assert!(matches!(other, OciError::Registry { .. }), "{other}");
        assert!(!other.to_string().contains("boom"), "{other}");
    }

    #[test]
    fn registry_answers_are_reduced_to_codes_and_short_words() {
        use oci_client::errors::{OciDistributionError as E, OciEnvelope, OciErrorCode};
        let reference = Reference::with_tag(
            "10.0.0.1:6443".to_string(),
            "charts/demo".to_string(),
            "1.0.0".to_string(),
        );
        let body = format!(
            "<html>internal-secret-body\x1b[31m{}</html>",
            "x".repeat(5000)
        );
        let server = registry_error(&reference, &Auth::Anonymous)(E::ServerError {
            code: 502,
            url: "http://10.0.0.1:6443/v2/".to_string(),
            message: body.clone(),
        });
        let text = server.to_string();
        assert!(text.contains("HTTP 502 Bad Gateway"), "{text}");
        assert!(!text.contains("internal-secret-body"), "{text}");
        let envelope = OciEnvelope {
            errors: vec![oci_client::errors::OciError {
                code: OciErrorCode::ManifestUnknown,
                message: body,
                detail: serde_json::Value::Null,
            }],
        };
        let refused = registry_error(&reference, &Auth::Anonymous)(E::RegistryError {
            envelope,
            url: String::new(),
        });
        let text = refused.to_string();
        assert!(text.contains("ManifestUnknown"), "{text}");
        assert!(!text.chars().any(char::is_control), "{text:?}");
        assert!(text.len() < 400, "{} characters: {text}", text.len());
    }

    #[tokio::test]
    async fn digests_in_references_are_checked_before_any_request() {
        let options = RegistryOptions::default();
        for (reference, version) in [
            ("oci://127.0.0.1:9/charts/demo@md5:abc", None),
            ("oci://127.0.0.1:9/charts/demo@sha256:aa", Some("sha256:bb")),
        ] {
            let error = pull(reference, version, &options, PullLimits::default())
                .await
                .unwrap_err();
            assert!(
                matches!(error, OciError::InvalidReference { .. }),
                "{reference}: {error}"
            );
        }
    }

    #[test]
    fn docker_config_credentials_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let encoded = base64::engine::general_purpose::STANDARD.encode("user:pa:ss");
        std::fs::write(
            &path,
            format!(r#"{{"auths":{{"reg.example:5000":{{"auth":"{encoded}"}},"https://other.example/v1/":{{"username":"u","password":"p"}}}}}}"#),
        )
        .unwrap();
        let Auth::Basic { username, password } =
            docker_config_auth(&path, "reg.example:5000").unwrap()
        else {
            panic!("expected basic credentials");
        };
        assert_eq!((username.as_str(), password.as_str()), ("user", "pa:ss"));
        assert!(matches!(
            docker_config_auth(&path, "other.example").unwrap(),
            Auth::Basic { .. }
        ));
        assert!(matches!(
            docker_config_auth(&path, "none.example").unwrap(),
            Auth::Anonymous
        ));
        let debug = format!(
            "{:?}",
            docker_config_auth(&path, "reg.example:5000").unwrap()
        );
        assert!(!debug.contains("pa:ss"));
    }
}
