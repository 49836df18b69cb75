//! The files of the image: the operator binary, the CA bundle, and `/etc/passwd` and
//! `/etc/group` naming the non-root user it runs as. No shell, no package manager, no libc: the
//! binary is static.

use crate::ca_bundle::{BUNDLE_PATH, mozilla_roots_pem};

/// Where the binary goes, and the image's entrypoint.
pub const BINARY_PATH: &str = "usr/local/bin/capstan-operator";
/// The user and group the operator runs as: not root, and the number distroless images use for
/// `nonroot`, which Kubernetes checks against `runAsNonRoot` without a name lookup.
pub const USER_ID: u32 = 65532;

/// A regular file of the image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootFile {
    /// Relative to `/`, without a leading slash.
    pub path: String,
    pub mode: u32,
    pub contents: Vec<u8>,
}

/// Every file of the image, the binary's bytes given. Directories are implied by the paths.
pub fn root_files(binary: Vec<u8>) -> Vec<RootFile> {
    let file = |path: &str, mode, contents: Vec<u8>| RootFile {
        path: path.to_string(),
        mode,
        contents,
    };
    vec![
        file(BINARY_PATH, 0o755, binary),
        file(BUNDLE_PATH, 0o644, mozilla_roots_pem().into_bytes()),
        file(
            "etc/passwd",
            0o644,
            format!(
                "root:x:0:0:root:/root:/sbin/nologin\n\
                 nonroot:x:{USER_ID}:{USER_ID}:nonroot:/home/nonroot:/sbin/nologin\n"
            )
            .into_bytes(),
        ),
        file(
            "etc/group",
            0o644,
            format!("root:x:0:\nnonroot:x:{USER_ID}:\n").into_bytes(),
        ),
    ]
}

/// Writes the files under `dir` (the Dockerfile copies that tree into an empty image).
pub fn write_tree(files: &[RootFile], dir: &std::path::Path) -> Result<(), crate::ImageError> {
    use std::os::unix::fs::PermissionsExt;

    for file in files {
        let path = dir.join(&file.path);
        let write_error = |source| crate::ImageError::Write {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(write_error)?;
        }
        std::fs::write(&path, &file.contents).map_err(write_error)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(file.mode))
            .map_err(write_error)?;
    }
    Ok(())
}
