//! The real tools and peers that interoperability tests run against. Each lookup panics, naming the
//! command that provides what is missing, instead of letting a test pass without its peer.

use std::path::{Path, PathBuf};

/// `e2e/lib/common.sh` pins the Helm version that `e2e/cluster build` builds and caches.
const COMMON_SH: &str = include_str!("../../e2e/lib/common.sh");

/// How to get the peers' addresses into the environment.
const START_PEERS: &str = "run `e2e/cluster up`, then `eval \"$(e2e/cluster env)\"` in the shell \
                           that runs cargo test (`make test` does both)";

/// The value of a variable that `e2e/cluster env` exports, e.g. `CAPSTAN_E2E_REGISTRY`.
pub fn peer_env(name: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| {
            panic!("{name} is not set: this test needs the local test peers; {START_PEERS}")
        })
}

/// Helm: `$CAPSTAN_E2E_HELM`, else the build `e2e/cluster build` cached for the pinned version.
pub fn helm() -> PathBuf {
    if let Some(helm) = std::env::var_os("CAPSTAN_E2E_HELM").filter(|path| !path.is_empty()) {
        let helm = PathBuf::from(helm);
        assert!(
            helm.is_file(),
            "CAPSTAN_E2E_HELM names {}, which does not exist; {START_PEERS}",
            helm.display()
        );
        return helm;
    }
    let version = pinned_helm_version();
    let cached = bin_cache().join(format!("helm-{version}/helm"));
    assert!(
        cached.is_file(),
        "Helm {version} is not built ({} is missing): run `e2e/cluster build` (or `e2e/cluster \
         up`), or set CAPSTAN_E2E_HELM to a helm binary",
        cached.display()
    );
    cached
}

/// GnuPG: `$CAPSTAN_E2E_GPG` when set, else `gpg` on the `PATH`.
pub fn gpg() -> PathBuf {
    if let Some(gpg) = std::env::var_os("CAPSTAN_E2E_GPG").filter(|path| !path.is_empty()) {
        return PathBuf::from(gpg);
    }
    on_path("gpg").unwrap_or_else(|| {
        panic!(
            "GnuPG is missing: run `e2e/install-prerequisites` (it installs Debian's gnupg), or set \
             CAPSTAN_E2E_GPG to a gpg binary"
        )
    })
}

fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// `~/.cache/capstan/bin`, or what `CAPSTAN_BIN_CACHE` / `CAPSTAN_CACHE` make of it, as in common.sh.
fn bin_cache() -> PathBuf {
    let var = |name| std::env::var_os(name).filter(|value| !value.is_empty());
    if let Some(bin) = var("CAPSTAN_BIN_CACHE") {
        return bin.into();
    }
    let cache = var("CAPSTAN_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(&var("HOME").unwrap_or_default()).join(".cache/capstan"));
    cache.join("bin")
}

/// `$CAPSTAN_HELM_VERSION`, else the default in `HELM_VERSION="${CAPSTAN_HELM_VERSION:-v3.22.0}"`.
fn pinned_helm_version() -> String {
    if let Some(version) = std::env::var("CAPSTAN_HELM_VERSION")
        .ok()
        .filter(|v| !v.is_empty())
    {
        return version;
    }
    COMMON_SH
        .lines()
        .find_map(|line| {
            let default = line.strip_prefix("HELM_VERSION=\"${CAPSTAN_HELM_VERSION:-")?;
            default.strip_suffix("}\"").map(str::to_string)
        })
        .expect("e2e/lib/common.sh sets HELM_VERSION with a default")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_helm_version_is_read_from_common_sh() {
        let version = pinned_helm_version();
        assert!(version.starts_with("v3."), "{version}");
    }
}
