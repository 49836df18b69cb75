//! Manifest and tag-list reads with a bound on what the registry may send.
//!
//! The registry is untrusted, and `oci-client` buffers a manifest or tag list whatever its size,
//! so one registry serving an endless manifest could take the operator's memory for every tenant.
//! These reads go through [`HttpClient`](crate::http::HttpClient) instead, which stops at a byte
//! limit while downloading: manifests, tag lists, and layers (at the size their manifest
//! declares, then checked against their digest). The token they carry is negotiated under the
//! same kind of bound ([`super::token`]). `oci-client` is left with pushing.

use oci_client::Reference;
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use sha2::{Digest, Sha256};

use super::clients::RegistryClients;
use super::{OciError, RegistryOptions};
use crate::http::{Credentials, Fetched, HttpError, Validators};

/// The largest manifest accepted: 4 MiB, the limit the reference registry (distribution) and
/// containerd apply. A chart's manifest is a few hundred bytes.
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;

/// The largest tag list accepted: 1 MiB, some 30,000 tags.
pub const MAX_TAG_LIST_BYTES: u64 = 1024 * 1024;

/// The manifest media types a chart is stored under, OCI's first.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// Reads `reference`'s manifest, at most [`MAX_MANIFEST_BYTES`], and its digest (computed from
/// the bytes received, and checked against the one the reference names).
pub async fn manifest(
    clients: &RegistryClients,
    options: &RegistryOptions,
    reference: &Reference,
    credentials: Option<&Credentials>,
) -> Result<(OciImageManifest, String), OciError> {
    let target = match reference.digest() {
        Some(digest) => digest.to_string(),
        None => reference.tag().unwrap_or("latest").to_string(),
    };
    let url = format!("{}/manifests/{target}", base(options, reference));
    let body = get(
        clients,
        options,
        reference,
        credentials,
        &url,
        Some(MANIFEST_ACCEPT),
        MAX_MANIFEST_BYTES,
    )
    .await?;
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&body)));
    if let Some(named) = reference.digest()
        && named != digest
    {
        return Err(OciError::NotAChart {
            reference: reference.whole(),
            reason: format!("the registry sent a manifest whose digest is {digest}, not {named}"),
        });
    }
    let manifest = serde_json::from_slice(&body).map_err(|e| OciError::NotAChart {
        reference: reference.whole(),
        reason: format!(
            "its manifest is not an OCI image manifest (line {}, column {})",
            e.line(),
            e.column()
        ),
    })?;
    Ok((manifest, digest))
}

/// The repository's tags, from one answer of at most [`MAX_TAG_LIST_BYTES`].
pub async fn tags(
    clients: &RegistryClients,
    options: &RegistryOptions,
    reference: &Reference,
    credentials: Option<&Credentials>,
) -> Result<Vec<String>, OciError> {
    #[derive(serde::Deserialize)]
    struct TagList {
        #[serde(default)]
        tags: Option<Vec<String>>,
    }
    let url = format!("{}/tags/list", base(options, reference));
    let body = get(
        clients,
        options,
        reference,
        credentials,
        &url,
        None,
        MAX_TAG_LIST_BYTES,
    )
    .await?;
    let list: TagList = serde_json::from_slice(&body).map_err(|e| OciError::Registry {
        reference: reference.whole(),
        message: format!(
            "the tag list is not the JSON the distribution API specifies (line {}, column {})",
            e.line(),
            e.column()
        ),
    })?;
    Ok(list.tags.unwrap_or_default())
}

/// `https://host/v2/repository`.
fn base(options: &RegistryOptions, reference: &Reference) -> String {
    let scheme = if options.plain_http { "http" } else { "https" };
    format!(
        "{scheme}://{}/v2/{}",
        reference.resolve_registry(),
        reference.repository()
    )
}

/// The blob `layer` of `reference`'s repository, at most the size its manifest declares (a
/// registry sending more is cut off there), and only if its bytes have the digest it names.
pub async fn blob(
    clients: &RegistryClients,
    options: &RegistryOptions,
    reference: &Reference,
    credentials: Option<&Credentials>,
    layer: &OciDescriptor,
    what: &str,
) -> Result<Vec<u8>, OciError> {
    let Some(expected) = layer.digest.strip_prefix("sha256:") else {
        return Err(OciError::NotAChart {
            reference: reference.whole(),
            reason: format!(
                "its {what} has the digest {:?}; only sha256 digests are checked",
                layer.digest
            ),
        });
    };
    let url = format!("{}/blobs/{}", base(options, reference), layer.digest);
    let size = u64::try_from(layer.size).unwrap_or_default();
    let bytes = get(clients, options, reference, credentials, &url, None, size).await?;
    if hex::encode(Sha256::digest(&bytes)) != expected {
        return Err(OciError::NotAChart {
            reference: reference.whole(),
            reason: format!(
                "the registry sent a {what} of {} bytes whose digest is not {}",
                bytes.len(),
                layer.digest
            ),
        });
    }
    Ok(bytes)
}

/// GETs `url` with `credentials` (see [`super::token::pull_credentials`]), at most `limit` bytes.
/// Redirects are followed; credentials go only to the registry's own origin.
async fn get(
    clients: &RegistryClients,
    options: &RegistryOptions,
    reference: &Reference,
    credentials: Option<&Credentials>,
    url: &str,
    accept: Option<&str>,
    limit: u64,
) -> Result<Vec<u8>, OciError> {
    let http = clients.http.with_credentials(credentials.cloned());
    match http
        .fetch_accepting(url, &Validators::default(), accept, limit)
        .await
        .map_err(|e| http_error(reference, options, e))?
    {
        Fetched::Body { bytes, .. } => Ok(bytes),
        Fetched::NotModified => Err(OciError::Registry {
            reference: reference.whole(),
            message: "the registry answered 304 to an unconditional request".into(),
        }),
    }
}

pub(super) fn http_error(
    reference: &Reference,
    options: &RegistryOptions,
    error: HttpError,
) -> OciError {
    match error {
        HttpError::Status {
            status: 401 | 403, ..
        } => OciError::Unauthorized {
            registry: reference.registry().to_string(),
            reference: reference.whole(),
            reason: super::refused_reason(&options.auth),
        },
        error => OciError::Registry {
            reference: reference.whole(),
            message: error.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;

    /// A registry on 127.0.0.1 that needs no token and answers every other path with `body`
    /// (streamed in 64 KiB pieces, without a length, as a lying server would). Serves until the
    /// test ends.
    fn registry_sending(body_len: usize) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut request_line = String::new();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                reader.read_line(&mut request_line).unwrap();
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap() == 0 || header == "\r\n" {
                        break;
                    }
                }
                if request_line.starts_with("GET /v2/ ") {
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                    );
                    continue;
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
                );
                let piece = vec![b' '; 64 * 1024];
                let mut sent = 0;
                while sent < body_len {
                    if stream.write_all(&piece).is_err() {
                        break;
                    }
                    sent += piece.len();
                }
            }
        });
        port
    }

    fn options() -> RegistryOptions {
        RegistryOptions {
            plain_http: true,
            ..RegistryOptions::default()
        }
    }

    #[tokio::test]
    async fn an_endless_manifest_is_refused_at_the_limit() {
        let port = registry_sending(64 * 1024 * 1024);
        let url = format!("oci://127.0.0.1:{port}/charts/app");
        let error = super::super::resolve_digest(&url, Some("1.0.0"), &options())
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains(&format!(
                "larger than the limit of {MAX_MANIFEST_BYTES} bytes"
            )),
            "{message}"
        );
    }

    #[tokio::test]
    async fn an_endless_tag_list_is_refused_at_the_limit() {
        let port = registry_sending(64 * 1024 * 1024);
        let url = format!("oci://127.0.0.1:{port}/charts/app");
        let error = super::super::list_versions(&url, &options())
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains(&format!(
                "larger than the limit of {MAX_TAG_LIST_BYTES} bytes"
            )),
            "{message}"
        );
    }
}
