//! The operator's container image, assembled without a container engine.
//!
//! `image/build` compiles a static `capstan-operator` (musl) and hands it to the `capstan-image`
//! binary, which lays out a minimal root filesystem ([`rootfs`]: the binary, a CA bundle, a
//! non-root user and nothing else, not even a shell), packs it into one layer ([`layer`]) whose
//! bytes depend only on the files and a fixed time, writes an OCI image config ([`config`]) and
//! pushes the image with the project's own OCI client. The same sources and the same
//! `SOURCE_DATE_EPOCH` give the same image digest.

pub mod ca_bundle;
pub mod config;
pub mod elf;
pub mod layer;
pub mod rootfs;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use config::{Platform, Provenance};
use layer::Layer;

/// Why an image could not be assembled or pushed; each says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path} cannot go into an image without a C library: {reason}; build it with \
         `--target x86_64-unknown-linux-musl` (image/build does)"
    )]
    NotStatic { path: PathBuf, reason: String },
    #[error(
        "unsupported platform {0:?}: the image is built for linux/amd64 or linux/arm64 binaries"
    )]
    Platform(String),
    #[error(
        "two binaries for {0}: an image index holds one image per platform; pass one binary for \
         each of linux/amd64 and linux/arm64"
    )]
    DuplicatePlatform(String),
    #[error("packing the layer failed: {0}")]
    Pack(std::io::Error),
    #[error(transparent)]
    Registry(#[from] capstan_sources::oci::OciError),
}

/// An image ready to push: config, layer and manifest annotations.
pub struct Image {
    pub platform: Platform,
    /// The config's JSON, serialized once: its digest is what the manifest names.
    pub config: Vec<u8>,
    pub layer: Layer,
    pub annotations: BTreeMap<String, String>,
}

/// Assembles the image of the static binary at `binary`, dated and labelled from `provenance`.
pub fn assemble(binary: &Path, provenance: &Provenance) -> Result<Image, ImageError> {
    let bytes = std::fs::read(binary).map_err(|source| ImageError::Read {
        path: binary.to_path_buf(),
        source,
    })?;
    let not_static = |reason: String| ImageError::NotStatic {
        path: binary.to_path_buf(),
        reason,
    };
    let elf = elf::inspect(&bytes).map_err(not_static)?;
    if let Some(interpreter) = &elf.interpreter {
        return Err(not_static(format!(
            "it is dynamically linked (it asks for {interpreter})"
        )));
    }
    let platform = Platform::of(&elf)?;
    let created = u64::try_from(provenance.created.as_second()).unwrap_or_default();
    let layer = layer::pack(&rootfs::root_files(bytes), created)?;
    let config = config::image_config(provenance, &platform, &layer.diff_id());
    Ok(Image {
        platform,
        config: serde_json::to_vec(&config).map_err(|e| ImageError::Pack(e.into()))?,
        layer,
        annotations: config::labels(provenance),
    })
}

impl Image {
    /// Pushes the image to `reference` (`host[:port]/path:tag`); returns what the registry
    /// stored, with the manifest's digest.
    pub async fn push(
        self,
        reference: &str,
        options: &capstan_sources::oci::RegistryOptions,
    ) -> Result<capstan_sources::oci::PushResult, ImageError> {
        use capstan_sources::oci::{Blob, push_image};
        let config = Blob {
            bytes: self.config,
            media_type: config::CONFIG_MEDIA_TYPE.into(),
        };
        let layer = Blob {
            bytes: self.layer.gzip,
            media_type: layer::LAYER_MEDIA_TYPE.into(),
        };
        Ok(push_image(reference, config, vec![layer], self.annotations, options).await?)
    }

    fn into_platform_image(self) -> capstan_sources::oci::PlatformImage {
        capstan_sources::oci::PlatformImage {
            os: self.platform.os,
            architecture: self.platform.architecture,
            config: capstan_sources::oci::Blob {
                bytes: self.config,
                media_type: config::CONFIG_MEDIA_TYPE.into(),
            },
            layers: vec![capstan_sources::oci::Blob {
                bytes: self.layer.gzip,
                media_type: layer::LAYER_MEDIA_TYPE.into(),
            }],
            annotations: self.annotations,
        }
    }
}

/// Pushes one image per platform and, under `reference`'s tag, an OCI image index of them
/// carrying the same `org.opencontainers.image.*` annotations; returns the index's digest. A
/// runtime pulling the tag picks the image for its CPU.
pub async fn push_index(
    images: Vec<Image>,
    reference: &str,
    options: &capstan_sources::oci::RegistryOptions,
) -> Result<capstan_sources::oci::PushResult, ImageError> {
    let mut platforms = std::collections::BTreeSet::new();
    for image in &images {
        if !platforms.insert(image.platform.to_string()) {
            return Err(ImageError::DuplicatePlatform(image.platform.to_string()));
        }
    }
    let annotations = images
        .first()
        .map(|image| image.annotations.clone())
        .unwrap_or_default();
    let images = images.into_iter().map(Image::into_platform_image).collect();
    Ok(capstan_sources::oci::push_image_index(reference, images, annotations, options).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image_for(architecture: &str) -> Image {
        Image {
            platform: Platform {
                os: "linux".into(),
                architecture: architecture.into(),
            },
            config: b"{}".to_vec(),
            layer: layer::pack(&rootfs::root_files(b"binary".to_vec()), 0).unwrap(),
            annotations: BTreeMap::new(),
        }
    }

    #[tokio::test]
    async fn an_index_refuses_two_images_of_one_platform_before_pushing_anything() {
        // No registry listens here: the refusal must come before any request.
        let options = capstan_sources::oci::RegistryOptions {
            plain_http: true,
            ..Default::default()
        };
        let images = vec![image_for("amd64"), image_for("arm64"), image_for("amd64")];
        let refused = push_index(images, "127.0.0.1:9/capstan-operator:0.1.0", &options).await;
        assert!(
            matches!(&refused, Err(ImageError::DuplicatePlatform(platform)) if platform == "linux/amd64"),
            "{:?}",
            refused.map(|pushed| pushed.digest)
        );
    }
}
