//! OCI push and pull against the real registry and Helm that `e2e/cluster up` starts. The peers'
//! addresses come from `eval "$(e2e/cluster env)"`; a test without them fails, saying so.

use capstan_sources::oci::{
    Auth, OciError, PullLimits, RegistryOptions, list_versions, pull, push,
};
use capstan_testdata::Vectors;
use capstan_testdata::tools::{self, peer_env};
use std::process::Command;

/// A signed archive and plain ones that Helm packaged (testdata/helm/generate).
fn read(path: &str) -> Vec<u8> {
    Vectors::generated().read(path)
}

/// A repository path no other test run uses.
fn unique_path(label: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("capstan-tests/{label}-{}-{nanos}", std::process::id())
}

fn plain() -> RegistryOptions {
    RegistryOptions {
        plain_http: true,
        ..RegistryOptions::default()
    }
}

fn helm(args: &[&str], home: &std::path::Path) -> std::process::Output {
    Command::new(tools::helm())
        .args(args)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env("HELM_REGISTRY_CONFIG", home.join("registry.json"))
        .output()
        .expect("helm runs")
}

#[tokio::test]
async fn helm_pulls_what_we_push_with_provenance() {
    let registry = peer_env("CAPSTAN_E2E_REGISTRY");
    let base = format!("oci://{registry}/{}", unique_path("push"));
    let archive = read("signtest/signtest-0.1.0.tgz");
    let prov = read("signtest/signtest-0.1.0.tgz.prov");
    let pushed = push(&archive, Some(&prov), &base, &plain()).await.unwrap();
    assert!(pushed.digest.starts_with("sha256:"));
    assert!(
        pushed.reference.ends_with("/signtest:0.1.0"),
        "{}",
        pushed.reference
    );

    let home = tempfile::tempdir().unwrap();
    let dest = home.path().join("out");
    std::fs::create_dir(&dest).unwrap();
    let output = helm(
        &[
            "pull",
            &format!("{base}/signtest"),
            "--version",
            "0.1.0",
            "--plain-http",
            "--prov",
            "-d",
            dest.to_str().unwrap(),
        ],
        home.path(),
    );
    assert!(
        output.status.success(),
        "helm pull: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        std::fs::read(dest.join("signtest-0.1.0.tgz")).unwrap(),
        archive
    );
    assert_eq!(
        std::fs::read(dest.join("signtest-0.1.0.tgz.prov")).unwrap(),
        prov
    );

    let pulled = pull(
        &format!("{base}/signtest"),
        Some("0.1.0"),
        &plain(),
        PullLimits::default(),
    )
    .await
    .unwrap();
    assert_eq!(pulled.archive, archive);
    assert_eq!(pulled.prov.as_deref(), Some(&prov[..]));
    assert_eq!(pulled.digest, pushed.digest);

    let tiny = PullLimits {
        max_chart_bytes: 16,
        ..PullLimits::default()
    };
    let err = pull(&format!("{base}/signtest"), Some("0.1.0"), &plain(), tiny)
        .await
        .unwrap_err();
    assert!(matches!(err, OciError::TooLarge { .. }), "{err}");
}

#[tokio::test]
async fn we_pull_what_helm_pushes_and_resolve_constraints() {
    let registry = peer_env("CAPSTAN_E2E_REGISTRY");
    let base = format!("oci://{registry}/{}", unique_path("helm"));
    let home = tempfile::tempdir().unwrap();
    for version in ["1.1.0", "1.2.0"] {
        let archive = Vectors::generated().path(&format!("repo/repository/sprocket-{version}.tgz"));
        let archive = archive.to_str().unwrap();
        let output = helm(&["push", archive, &base, "--plain-http"], home.path());
        assert!(
            output.status.success(),
            "helm push: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let chart = format!("{base}/sprocket");
    let mut versions = list_versions(&chart, &plain()).await.unwrap();
    versions.sort();
    assert_eq!(versions, ["1.1.0", "1.2.0"]);

    let newest = pull(&chart, None, &plain(), PullLimits::default())
        .await
        .unwrap();
    assert_eq!(newest.version, "1.2.0");
    assert_eq!(newest.archive, read("repo/repository/sprocket-1.2.0.tgz"));
    let pinned = pull(&chart, Some("~1.1"), &plain(), PullLimits::default())
        .await
        .unwrap();
    assert_eq!(pinned.version, "1.1.0");
    let by_digest = pull(
        &chart,
        Some(&pinned.digest),
        &plain(),
        PullLimits::default(),
    )
    .await
    .unwrap();
    assert_eq!(by_digest.archive, pinned.archive);
    let err = pull(&chart, Some(">=2.0.0"), &plain(), PullLimits::default())
        .await
        .unwrap_err();
    assert!(matches!(err, OciError::NoMatchingVersion { .. }), "{err}");
}

#[tokio::test]
async fn basic_auth_registry_needs_credentials() {
    let registry = peer_env("CAPSTAN_E2E_REGISTRY_AUTH");
    let username = peer_env("CAPSTAN_E2E_USERNAME");
    let password = peer_env("CAPSTAN_E2E_PASSWORD");
    let base = format!("oci://{registry}/{}", unique_path("auth"));
    let archive = read("repo/repository/sprocket-1.1.0.tgz");
    let anonymous = push(&archive, None, &base, &plain()).await.unwrap_err();
    assert!(
        matches!(anonymous, OciError::Unauthorized { .. }),
        "{anonymous}"
    );
    let options = RegistryOptions {
        auth: Auth::Basic { username, password },
        ..plain()
    };
    push(&archive, None, &base, &options).await.unwrap();
    let pulled = pull(
        &format!("{base}/sprocket"),
        Some("1.1.0"),
        &options,
        PullLimits::default(),
    )
    .await
    .unwrap();
    assert_eq!(pulled.archive, archive);
}
