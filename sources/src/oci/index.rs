//! Pushing a multi-platform image: one image manifest per platform, stored by digest, and an
//! OCI image index under the tag that lists them with their platforms, so that a runtime pulls
//! the one for its CPU.
//!
//! Every manifest is serialized here (not by `oci-client`) so that its digest is known before
//! the push and is the same for the same blobs: the index names each platform's manifest by
//! that digest.

use std::collections::BTreeMap;

use oci_client::client::{Config, ImageLayer};
use oci_client::manifest::{OCI_IMAGE_INDEX_MEDIA_TYPE, OCI_IMAGE_MEDIA_TYPE, OciImageManifest};
use oci_client::{Client, Reference};
use reqwest::header::HeaderValue;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{
    Auth, Blob, OciError, PushResult, RegistryOptions, clients_for, registry_auth, registry_error,
};

/// One platform's image in a multi-platform push.
#[derive(Debug, Clone)]
pub struct PlatformImage {
    /// OCI's (Go's) names: `linux`.
    pub os: String,
    /// `amd64`, `arm64`, ...
    pub architecture: String,
    pub config: Blob,
    pub layers: Vec<Blob>,
    /// The image manifest's annotations.
    pub annotations: BTreeMap<String, String>,
}

/// Pushes each platform's image to the repository of `reference` (`host[:port]/path:tag`) by
/// digest, then an image index of them, with `annotations`, under the tag. Returns the index's
/// digest as the registry reports it.
pub async fn push_image_index(
    reference: &str,
    images: Vec<PlatformImage>,
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
    let client = clients_for(options, &reference)?.oci;
    let auth = registry_auth(&options.auth);
    client
        .store_auth_if_needed(reference.resolve_registry(), &auth)
        .await;
    let to_error = registry_error(&reference, &options.auth);
    let mut entries = Vec::with_capacity(images.len());
    for image in images {
        let platform = json!({"os": image.os, "architecture": image.architecture});
        let (digest, size) = push_platform_image(&client, &reference, &options.auth, image).await?;
        entries.push(json!({
            "mediaType": OCI_IMAGE_MEDIA_TYPE,
            "digest": digest,
            "size": size,
            "platform": platform,
        }));
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": OCI_IMAGE_INDEX_MEDIA_TYPE,
        "manifests": entries,
        "annotations": annotations,
    });
    let (body, _) = serialize(&reference, &index)?;
    client
        .push_manifest_raw(
            &reference,
            body,
            HeaderValue::from_static(OCI_IMAGE_INDEX_MEDIA_TYPE),
        )
        .await
        .map_err(&to_error)?;
    let digest = client
        .fetch_manifest_digest(&reference, &auth)
        .await
        .map_err(&to_error)?;
    Ok(PushResult {
        digest,
        reference: reference.whole(),
    })
}

/// Pushes one platform's blobs, then its manifest by its digest; returns that digest and the
/// manifest's size, as the index names it.
async fn push_platform_image(
    client: &Client,
    reference: &Reference,
    auth: &Auth,
    image: PlatformImage,
) -> Result<(String, usize), OciError> {
    let to_error = registry_error(reference, auth);
    let config = Config::new(image.config.bytes, image.config.media_type, None);
    let layers: Vec<ImageLayer> = image
        .layers
        .into_iter()
        .map(|blob| ImageLayer::new(blob.bytes, blob.media_type, None))
        .collect();
    let mut manifest = OciImageManifest::build(&layers, &config, Some(image.annotations));
    // Runtimes (containerd, CRI-O) read the manifest's own mediaType.
    manifest.media_type = Some(OCI_IMAGE_MEDIA_TYPE.to_string());
    for (layer, descriptor) in layers.iter().zip(&manifest.layers) {
        client
            .push_blob(reference, layer.data.clone(), &descriptor.digest)
            .await
            .map_err(&to_error)?;
    }
    client
        .push_blob(reference, config.data.clone(), &manifest.config.digest)
        .await
        .map_err(&to_error)?;
    let (body, digest) = serialize(reference, &manifest)?;
    let size = body.len();
    let by_digest = Reference::with_digest(
        reference.registry().to_string(),
        reference.repository().to_string(),
        digest.clone(),
    );
    client
        .push_manifest_raw(
            &by_digest,
            body,
            HeaderValue::from_static(OCI_IMAGE_MEDIA_TYPE),
        )
        .await
        .map_err(&to_error)?;
    Ok((digest, size))
}

/// A manifest's bytes and their digest.
fn serialize(
    reference: &Reference,
    manifest: &impl serde::Serialize,
) -> Result<(Vec<u8>, String), OciError> {
    let body = serde_json::to_vec(manifest).map_err(|e| OciError::Registry {
        reference: reference.whole(),
        message: format!("cannot serialize the manifest: {e}"),
    })?;
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&body)));
    Ok((body, digest))
}
