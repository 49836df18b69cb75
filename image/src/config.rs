//! The OCI image config (what `docker inspect` shows): platform, entrypoint, user, environment,
//! the `org.opencontainers.image.*` labels, and the layer's `diff_id`. Its only time is
//! `created`, the build's `SOURCE_DATE_EPOCH`, so it is the same for the same sources.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::ImageError;
use crate::ca_bundle::BUNDLE_PATH;
use crate::elf::ElfInfo;
use crate::rootfs::{BINARY_PATH, USER_ID};

/// The media type of an OCI image config.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";

/// What the image says about where it comes from.
#[derive(Clone, Debug)]
pub struct Provenance {
    /// The operator's version (`capstan-operator --version`).
    pub version: String,
    /// The commit it was built from (`-dirty` when the work tree had changes).
    pub revision: String,
    /// The repository's URL.
    pub source: String,
    /// When the sources last changed: the commit's time, not the build's.
    pub created: jiff::Timestamp,
}

/// An OS and CPU in OCI's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
}

impl Platform {
    /// The platform an executable runs on, from its ELF headers: Linux, on the CPU it is built
    /// for (amd64 or arm64, the targets the toolchain builds static binaries for).
    pub fn of(binary: &ElfInfo) -> Result<Self, ImageError> {
        match binary.architecture.as_str() {
            architecture @ ("amd64" | "arm64") => Ok(Platform {
                os: "linux".into(),
                architecture: architecture.into(),
            }),
            other => Err(ImageError::Platform(format!("linux/{other}"))),
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)
    }
}

/// The `org.opencontainers.image.*` labels, also written as the manifest's annotations (where
/// registries read them).
pub fn labels(provenance: &Provenance) -> BTreeMap<String, String> {
    [
        ("title", "capstan-operator".to_string()),
        (
            "description",
            "Reconciles ChartRepository and ChartDeployment resources (capstan.dev) to deploy \
             Helm-format charts"
                .to_string(),
        ),
        ("version", provenance.version.clone()),
        ("revision", provenance.revision.clone()),
        ("source", provenance.source.clone()),
        ("url", provenance.source.clone()),
        ("licenses", env!("CARGO_PKG_LICENSE").to_string()),
        ("created", provenance.created.to_string()),
    ]
    .into_iter()
    .map(|(key, value)| (format!("org.opencontainers.image.{key}"), value))
    .collect()
}

/// The config JSON, its layer's `diff_id` given.
pub fn image_config(provenance: &Provenance, platform: &Platform, diff_id: &str) -> Value {
    let created = provenance.created.to_string();
    json!({
        "created": created,
        "architecture": platform.architecture,
        "os": platform.os,
        "config": {
            "User": format!("{USER_ID}:{USER_ID}"),
            "Entrypoint": [format!("/{BINARY_PATH}")],
            "Cmd": ["run"],
            "Env": [format!("SSL_CERT_FILE=/{BUNDLE_PATH}")],
            "WorkingDir": "/",
            "Labels": labels(provenance),
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{
            "created": created,
            "created_by": format!("image/build: capstan-operator {} ({})",
                provenance.version, provenance.revision),
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provenance() -> Provenance {
        Provenance {
            version: "0.1.0".into(),
            revision: "0123abcd".into(),
            source: "https://github.com/capstan-dev/capstan".into(),
            created: jiff::Timestamp::from_second(1_700_000_000).unwrap(),
        }
    }

    #[test]
    fn the_config_runs_the_operator_as_nonroot_with_the_ca_bundle() {
        let platform = Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
        };
        let config = image_config(&provenance(), &platform, "sha256:00");
        assert_eq!(config["created"], "2023-11-14T22:13:20Z");
        assert_eq!(config["architecture"], "amd64");
        assert_eq!(config["config"]["User"], "65532:65532");
        assert_eq!(
            config["config"]["Entrypoint"],
            json!(["/usr/local/bin/capstan-operator"])
        );
        assert_eq!(
            config["config"]["Env"],
            json!(["SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"])
        );
        let labels = &config["config"]["Labels"];
        assert_eq!(labels["org.opencontainers.image.revision"], "0123abcd");
        assert_eq!(
            labels["org.opencontainers.image.source"],
            "https://github.com/capstan-dev/capstan"
        );
        assert_eq!(labels["org.opencontainers.image.licenses"], "Apache-2.0");
        assert_eq!(config["rootfs"]["diff_ids"], json!(["sha256:00"]));
    }

    #[test]
    fn only_cpus_the_toolchain_targets_are_accepted() {
        let elf = |architecture: &str| ElfInfo {
            architecture: architecture.into(),
            interpreter: None,
        };
        assert_eq!(
            Platform::of(&elf("arm64")).unwrap().to_string(),
            "linux/arm64"
        );
        assert!(matches!(
            Platform::of(&elf("e_machine 0x16")),
            Err(ImageError::Platform(_))
        ));
    }
}
