//! `capstan write` output against the real apiserver: what it prints passes
//! `kubectl apply --dry-run=server` (strict field validation, the CRDs' schemas and CEL rules),
//! and once applied, `kubectl get` returns exactly what was written.

use std::path::{Path, PathBuf};

use capstan_chart::package::{PackageOptions, package_dir};
use capstan_e2e::{Cluster, TestNamespace, ToolCommand};
use serde_json::Value;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The CLI binary: `CAPSTAN_BIN`, else the workspace's debug build (`cargo build -p capstan-cli`).
fn capstan_binary() -> PathBuf {
    capstan_e2e::workspace_binary("CAPSTAN_BIN", "capstan")
}

async fn capstan(args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
    let binary = capstan_binary();
    if !binary.exists() {
        return Err(format!(
            "{} is missing; build it with `cargo build -p capstan-cli` or set CAPSTAN_BIN",
            binary.display()
        )
        .into());
    }
    let output = ToolCommand::new(binary).args(args).run().await?;
    Ok(output.stdout)
}

/// The documents of a YAML stream as JSON.
fn documents(yaml: &str) -> Result<Vec<Value>, Box<dyn std::error::Error>> {
    Ok(serde_saphyr::from_multiple(yaml)?)
}

/// Checks `yaml` with a server-side dry run, applies it, reads every object back and compares
/// what the apiserver stored with what was written: `spec` for Capstan resources, the data of
/// ConfigMaps and Secrets.
async fn apply_and_compare(cluster: &Cluster, namespace: &str, yaml: &str) -> TestResult {
    cluster
        .kubectl()
        .args(["apply", "--dry-run=server", "-n", namespace, "-f", "-"])
        .stdin(yaml.as_bytes().to_vec())
        .run()
        .await?;
    cluster
        .kubectl()
        .args(["apply", "-n", namespace, "-f", "-"])
        .stdin(yaml.as_bytes().to_vec())
        .run()
        .await?;
    for written in documents(yaml)? {
        let kind = written["kind"]
            .as_str()
            .ok_or("a written document has no kind")?;
        let name = written["metadata"]["name"].as_str().ok_or("no name")?;
        let resource = match kind {
            "ChartRepository" => "chartrepositories.capstan.dev",
            "ChartDeployment" => "chartdeployments.capstan.dev",
            "ConfigMap" => "configmaps",
            "Secret" => "secrets",
            other => return Err(format!("unexpected kind {other}").into()),
        };
        let stored = cluster
            .kubectl()
            .args(["get", "-n", namespace, "-o", "json", resource, name])
            .run()
            .await?;
        let stored: Value = serde_json::from_str(&stored.stdout)?;
        for field in ["spec", "binaryData", "data", "type"] {
            assert_eq!(
                stored.get(field),
                written.get(field),
                "{kind} {name}: {field} differs between what was written and what is stored"
            );
        }
    }
    Ok(())
}

#[tokio::test]
async fn written_resources_are_accepted_and_round_trip() -> TestResult {
    let cluster = Cluster::shared()?;
    capstan_e2e::operator::install_crds(cluster).await?;
    let namespace = TestNamespace::create(cluster, "write-cli").await?;
    let result = check_every_shape(cluster, namespace.name()).await;
    namespace.delete().await?;
    result
}

async fn check_every_shape(cluster: &Cluster, namespace: &str) -> TestResult {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    let chart = Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/hello");
    let (file_name, bytes) = package_dir(&chart, &PackageOptions::default())?;
    let archive = dir.join(&file_name);
    std::fs::write(&archive, bytes)?;
    std::fs::write(
        dir.join("prod.yaml"),
        "greeting: Hello from a values file\nservice: {port: 8080}\nimage: {tag: null}\n",
    )?;
    let values = dir.join("prod.yaml");
    let archive = archive.to_str().ok_or("path")?;
    let values = values.to_str().ok_or("path")?;

    let repository = capstan(&[
        "write",
        "repository",
        "charts",
        "--url",
        "https://charts.example.com/stable",
        "--namespace",
        namespace,
        "--interval",
        "5m",
        "--timeout",
        "45s",
        "--secret-ref",
        "charts-auth",
        "--cert-secret-ref",
        "charts-ca",
        "--verify",
        "IfPresent",
        "--keyring-secret",
        "charts-keys",
    ])
    .await?;
    apply_and_compare(cluster, namespace, &repository).await?;

    let bucket = capstan(&[
        "write",
        "repository",
        "bucket",
        "--url",
        "s3://charts/stable",
        "--namespace",
        namespace,
        "--secret-ref",
        "s3-keys",
        "--s3-endpoint",
        "http://minio.storage:9000",
        "--s3-region",
        "eu-west-1",
        "--s3-path-style",
        "true",
    ])
    .await?;
    apply_and_compare(cluster, namespace, &bucket).await?;

    let deployment = capstan(&[
        "write",
        "deployment",
        "web",
        "--chart",
        "charts/hello",
        "--version",
        "^0.1",
        "-f",
        values,
        "--set",
        "replicaCount=2,labels.tier=web",
        "--set-string",
        "image.tag=1.27",
        "--namespace",
        namespace,
        "--target-namespace",
        namespace,
        "--release-name",
        "web-release",
        "--interval",
        "2m",
        "--timeout",
        "90s",
    ])
    .await?;
    let written = documents(&deployment)?;
    assert_eq!(written[0]["spec"]["values"]["replicaCount"], 2);
    apply_and_compare(cluster, namespace, &deployment).await?;

    let oci = capstan(&[
        "write",
        "deployment",
        "from-oci",
        "--chart",
        "oci://registry.example.com/charts/hello",
        "--version",
        ">=0.1.0 <1.0.0",
        "--namespace",
        namespace,
    ])
    .await?;
    apply_and_compare(cluster, namespace, &oci).await?;

    // With a provenance file beside the archive, stored in a ConfigMap and in a Secret.
    std::fs::write(
        format!("{archive}.prov"),
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nplaceholder\n",
    )?;
    let in_config_map = capstan(&[
        "write",
        "deployment",
        "packaged",
        "--from-package",
        archive,
        "--namespace",
        namespace,
    ])
    .await?;
    assert_eq!(documents(&in_config_map)?.len(), 2);
    apply_and_compare(cluster, namespace, &in_config_map).await?;
    let in_secret = capstan(&[
        "write",
        "deployment",
        "secret-packaged",
        "--from-package",
        archive,
        "--as-secret",
        "--verify",
        "Required",
        "--keyring-secret",
        "keys",
        "--namespace",
        namespace,
    ])
    .await?;
    apply_and_compare(cluster, namespace, &in_secret).await?;

    // What the apiserver refuses, lint refuses too: the same object with a field it lacks.
    let broken = deployment.replace("releaseName:", "releasename:");
    let dry_run = cluster
        .kubectl()
        .args(["apply", "--dry-run=server", "-n", namespace, "-f", "-"])
        .stdin(broken.as_bytes().to_vec())
        .output()
        .await?;
    assert!(!dry_run.status.success(), "the apiserver accepted {broken}");
    std::fs::write(dir.join("broken.yaml"), &broken)?;
    let lint = ToolCommand::new(capstan_binary())
        .args(["lint", dir.join("broken.yaml").to_str().ok_or("path")?])
        .output()
        .await?;
    assert_eq!(lint.status.code(), Some(1), "{}", lint.stdout);
    assert!(
        lint.stdout.contains("spec.releasename: unknown field"),
        "{}",
        lint.stdout
    );
    Ok(())
}
