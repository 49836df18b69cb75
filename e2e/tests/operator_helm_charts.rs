//! Unmodified Helm charts deployed by the operator: podinfo from a chart repository on the test
//! peers, and Bitnami's nginx pushed to the OCI registry by the real `helm push`. Each
//! ChartDeployment must become Ready with exactly the objects `helm template` gives for the same
//! release, namespace and cluster (its Kubernetes version and API versions), and each applied
//! object must hold what Helm rendered. Hooks (podinfo's tests) are not applied, as `helm install`
//! does not apply them with the release either.
//!
//! Bitnami charts generate certificates when none are given, differently on every render: a
//! document that differs between two runs of `helm template` itself is only checked to exist.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use capstan_api::ChartDeployment;
use capstan_chart::package::{PackageOptions, package_dir};
use capstan_e2e::operator::{Setup, TestResult, applied};
use capstan_e2e::{Cluster, ToolCommand, workspace_binary};
use kube::api::{Api, DynamicObject};
use kube::discovery::{Discovery, Scope};
use kube::runtime::wait::Condition;
use serde_json::{Value, json};

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

const PODINFO_VERSION: &str = "6.14.1";
const NGINX_VERSION: &str = "22.1.1";

fn corpus_chart(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../shared/corpus/helm/{name}"))
}

/// The Kubernetes version and API versions of the cluster, as the operator gives them to charts:
/// every group version and every `group/version/Kind`.
async fn cluster_capabilities(cluster: &Cluster) -> Fallible<(String, Vec<String>)> {
    let client = cluster.client().await?;
    let version = client.apiserver_version().await?.git_version;
    let discovery = Discovery::new(client).run().await?;
    let mut api_versions = Vec::new();
    for group in discovery.groups() {
        for version in group.versions() {
            let group_version = if group.name().is_empty() {
                version.to_string()
            } else {
                format!("{}/{version}", group.name())
            };
            for (resource, _) in group.versioned_resources(version) {
                api_versions.push(format!("{group_version}/{}", resource.kind));
            }
            api_versions.push(group_version);
        }
    }
    api_versions.sort();
    api_versions.dedup();
    Ok((version, api_versions))
}

/// `helm template RELEASE CHART` for the cluster; `Err` holds Helm's stderr.
/// The ChartDeployment has applied `version`, healthy or not yet.
fn revision_applied(version: &'static str) -> impl Condition<ChartDeployment> {
    move |object: Option<&ChartDeployment>| {
        object
            .and_then(|d| d.status.as_ref())
            .and_then(|s| s.last_applied_revision.as_ref())
            .is_some_and(|r| r.version == version)
    }
}

async fn helm_template(
    cluster: &Cluster,
    home: &Path,
    release: &str,
    chart: &Path,
    namespace: &str,
) -> Fallible<String> {
    let (kube_version, api_versions) = cluster_capabilities(cluster).await?;
    let mut command = cluster
        .helm(home)
        .arg("template")
        .arg(release)
        .arg(chart)
        .args(["--namespace", namespace, "--kube-version", &kube_version]);
    for api_version in &api_versions {
        command = command.args(["--api-versions", api_version]);
    }
    Ok(command.run().await?.stdout)
}

/// The documents of a `template` output with their `# Source:` and parsed object.
fn documents(stream: &str) -> Vec<(String, Value)> {
    capstan_chart::helm::split_manifests(stream)
        .into_iter()
        .filter_map(|document| {
            let source = document
                .lines()
                .find_map(|line| line.strip_prefix("# Source: "))?
                .to_string();
            let object = capstan_chart::values::parse_go_yaml(document.as_bytes())
                .ok()
                .flatten()?;
            Some((source, object))
        })
        .collect()
}

/// `(apiVersion, kind, name)` of an object.
fn identity(object: &Value) -> (String, String, String) {
    let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
    (
        text(&object["apiVersion"]),
        text(&object["kind"]),
        text(&object["metadata"]["name"]),
    )
}

fn is_hook(object: &Value) -> bool {
    object["metadata"]["annotations"]
        .get("helm.sh/hook")
        .is_some()
}

/// Go's zero values, which the API server leaves out of the objects it returns (`omitempty`).
fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.is_empty(),
    }
}

/// Where `rendered` is not contained in `live`: every field Helm rendered must be there with the
/// same value (the API server adds defaults, the operator adds its labels); a zero value may be
/// absent.
fn not_contained(rendered: &Value, live: &Value, path: &str) -> Option<String> {
    match (rendered, live) {
        (Value::Null, _) => None,
        (Value::Object(fields), Value::Object(live_fields)) => {
            fields.iter().find_map(|(key, value)| {
                let child = format!("{path}.{key}");
                match live_fields.get(key) {
                    Some(live_value) => not_contained(value, live_value, &child),
                    None if is_zero(value) => None,
                    None => Some(format!("{child} is missing")),
                }
            })
        }
        (Value::Array(items), Value::Array(live_items)) if items.len() == live_items.len() => items
            .iter()
            .zip(live_items)
            .enumerate()
            .find_map(|(i, (a, b))| not_contained(a, b, &format!("{path}[{i}]"))),
        (a, b) if a == b => None,
        (a, b) => Some(format!("{path}: rendered {a}, applied {b}")),
    }
}

/// Checks that the deployment applied exactly Helm's non-hook objects, each holding what Helm
/// rendered (documents that Helm renders differently each time are only checked to exist).
async fn check_applied_like_helm(
    cluster: &Cluster,
    namespace: &str,
    deployment: &ChartDeployment,
    helm_output: &str,
    helm_again: &str,
) -> TestResult {
    let again: Vec<Value> = documents(helm_again).into_iter().map(|(_, o)| o).collect();
    let expected: Vec<(String, Value)> = documents(helm_output)
        .into_iter()
        .filter(|(_, object)| !is_hook(object))
        .collect();
    let status = deployment
        .status
        .as_ref()
        .ok_or("the deployment has no status")?;
    let mut applied: Vec<(String, String, String)> = status
        .inventory
        .iter()
        .map(|entry| {
            (
                entry.api_version.clone(),
                entry.kind.clone(),
                entry.name.clone(),
            )
        })
        .collect();
    applied.sort();
    let mut wanted: Vec<(String, String, String)> = expected
        .iter()
        .map(|(_, object)| identity(object))
        .collect();
    wanted.sort();
    assert_eq!(
        applied, wanted,
        "the operator applied other objects than helm template gives"
    );

    let client = cluster.client().await?;
    let discovery = Discovery::new(client.clone()).run().await?;
    for (source, object) in &expected {
        let (api_version, kind, name) = identity(object);
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", &api_version));
        let gvk = kube::api::GroupVersionKind::gvk(group, version, &kind);
        let (resource, capabilities) = discovery
            .resolve_gvk(&gvk)
            .ok_or_else(|| format!("the cluster does not serve {api_version} {kind}"))?;
        let api: Api<DynamicObject> = match capabilities.scope {
            Scope::Namespaced => Api::namespaced_with(client.clone(), namespace, &resource),
            Scope::Cluster => Api::all_with(client.clone(), &resource),
        };
        let live = serde_json::to_value(api.get(&name).await?)?;
        let stable = again.iter().any(|other| other == object);
        if stable && let Some(problem) = not_contained(object, &live, "") {
            return Err(format!("{source}: {kind} {name}: {problem}").into());
        }
    }
    Ok(())
}

#[tokio::test]
#[ignore = "needs ../shared/corpus/helm"]
async fn podinfo_from_a_chart_repository_applies_what_helm_template_gives() -> TestResult {
    let setup = Setup::new("helm-podinfo").await?;
    let cluster = Cluster::shared()?;
    let chart = corpus_chart("podinfo");
    let (file_name, bytes) = package_dir(&chart, &PackageOptions::default())?;
    assert_eq!(file_name, format!("podinfo-{PODINFO_VERSION}.tgz"));
    std::fs::write(setup.repo_dir.join(&file_name), bytes)?;
    setup.reindex()?;
    setup.apply_repository().await?;
    setup
        .apply_deployment("podinfo", "podinfo", PODINFO_VERSION, json!({}))
        .await?;
    let deployment = setup
        .wait_deployment("podinfo", applied(PODINFO_VERSION))
        .await?;

    let home = tempfile::tempdir()?;
    let archive = setup.repo_dir.join(&file_name);
    let namespace = setup.namespace.name().to_string();
    let helm_output = helm_template(cluster, home.path(), "podinfo", &archive, &namespace).await?;
    let helm_again = helm_template(cluster, home.path(), "podinfo", &archive, &namespace).await?;
    assert!(helm_output.contains("kind: Deployment"), "{helm_output}");
    check_applied_like_helm(cluster, &namespace, &deployment, &helm_output, &helm_again).await?;

    // The archive capstan packaged goes to a registry with `capstan push` and comes back
    // unchanged with `helm pull`.
    let path = format!("{}/{namespace}", cluster.env().registry);
    ToolCommand::new(workspace_binary("CAPSTAN_BIN", "capstan"))
        .env("HOME", home.path())
        .arg("push")
        .arg(&archive)
        .args([&format!("oci://{path}"), "--plain-http"])
        .run()
        .await?;
    let pulled = home.path().join("pulled");
    std::fs::create_dir_all(&pulled)?;
    cluster
        .helm(home.path())
        .args([
            "pull",
            &format!("oci://{path}/podinfo"),
            "--version",
            PODINFO_VERSION,
        ])
        .args(["--plain-http", "--destination"])
        .arg(&pulled)
        .run()
        .await?;
    assert_eq!(
        std::fs::read(pulled.join(&file_name))?,
        std::fs::read(&archive)?
    );
    setup.finish().await
}

#[tokio::test]
#[ignore = "needs ../shared/corpus/helm"]
async fn bitnami_nginx_pushed_by_helm_to_oci_applies_what_helm_template_gives() -> TestResult {
    let setup = Setup::new("helm-nginx").await?;
    let cluster = Cluster::shared()?;
    let home = tempfile::tempdir()?;
    let packaged = home.path().join("packaged");
    cluster
        .helm(home.path())
        .arg("package")
        .arg(corpus_chart("nginx"))
        .arg("--destination")
        .arg(&packaged)
        .run()
        .await?;
    let archive = packaged.join(format!("nginx-{NGINX_VERSION}.tgz"));
    let path = format!("{}/{}", cluster.env().registry, setup.namespace.name());
    cluster
        .helm(home.path())
        .arg("push")
        .arg(&archive)
        .arg(format!("oci://{path}"))
        .arg("--plain-http")
        .run()
        .await?;
    let reference = format!("oci://{path}/nginx");
    setup
        .apply_deployment_with(
            "web",
            json!({"chart": {"oci": {"reference": reference, "version": NGINX_VERSION,
                   "plainHttp": true}}}),
        )
        .await?;
    // Bitnami's resource presets request ephemeral storage, which the test cluster's simulated
    // node does not offer, so the pod stays Pending and the deployment never turns Ready: what
    // this test compares is what was applied.
    let deployment = setup
        .wait_deployment("web", revision_applied(NGINX_VERSION))
        .await?;

    let namespace = setup.namespace.name().to_string();
    let helm_output = helm_template(cluster, home.path(), "web", &archive, &namespace).await?;
    let helm_again = helm_template(cluster, home.path(), "web", &archive, &namespace).await?;
    check_applied_like_helm(cluster, &namespace, &deployment, &helm_output, &helm_again).await?;

    // The CLI pulls what Helm pushed and prints what Helm prints for it, document for document.
    let pulled = home.path().join("pulled");
    let capstan = workspace_binary("CAPSTAN_BIN", "capstan");
    ToolCommand::new(&capstan)
        .env("HOME", home.path())
        .args([
            "pull",
            &reference,
            "--version",
            NGINX_VERSION,
            "--plain-http",
            "-d",
        ])
        .arg(&pulled)
        .run()
        .await?;
    let pulled_archive = pulled.join(format!("nginx-{NGINX_VERSION}.tgz"));
    assert_eq!(std::fs::read(&pulled_archive)?, std::fs::read(&archive)?);
    let ours = ToolCommand::new(&capstan)
        .env("HOME", home.path())
        .arg("template")
        .arg("web")
        .arg(&pulled_archive)
        .args(["--namespace", &namespace])
        .run()
        .await?
        .stdout;
    let helm_plain = cluster
        .helm(home.path())
        .arg("template")
        .arg("web")
        .arg(&archive)
        .args(["--namespace", &namespace, "--kube-version", "v1.36.0"])
        .run()
        .await?
        .stdout;
    let helm_plain_again = cluster
        .helm(home.path())
        .arg("template")
        .arg("web")
        .arg(&archive)
        .args(["--namespace", &namespace, "--kube-version", "v1.36.0"])
        .run()
        .await?
        .stdout;
    let by_source = |stream: &str| -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for (source, _) in documents(stream) {
            *counts.entry(source).or_insert(0) += 1;
        }
        counts
    };
    assert_eq!(by_source(&ours), by_source(&helm_plain));
    let (ours_docs, helm_docs, again_docs) = (
        documents(&ours),
        documents(&helm_plain),
        documents(&helm_plain_again),
    );
    for ((ours, helm), again) in ours_docs.iter().zip(&helm_docs).zip(&again_docs) {
        if helm == again {
            assert_eq!(
                ours, helm,
                "capstan template of the pulled chart differs from helm"
            );
        }
    }
    setup.finish().await
}
