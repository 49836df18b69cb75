//! The operator's own chart (charts/capstan) against the real control plane: installed with
//! `capstan template --include-crds | kubectl apply -f -`, then taken over by a ChartDeployment of
//! the same chart (the operator managing itself) and upgraded through it without losing anything.
//! KWOK runs no containers, so the Deployment's pods are simulated: "running" here means the
//! Deployment is Available and its objects are as the chart says; the operator that reconciles the
//! ChartDeployment runs as a local process, as in every e2e test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use capstan_api::labels::{DEPLOYMENT_ANNOTATION, DEPLOYMENT_LABEL};
use capstan_api::{ChartDeployment, ChartRepository};
use capstan_chart::package::{PackageOptions, package_dir};
use capstan_e2e::operator::{Setup, TestResult, applied, install_crds};
use capstan_e2e::wait::{wait_for_deletion, wait_for_deployment_available};
use capstan_e2e::{Cluster, TestNamespace, ToolCommand, workspace_binary};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

const CRDS: [&str; 2] = [
    "chartrepositories.capstan.dev",
    "chartdeployments.capstan.dev",
];
/// The ChartDeployment that manages the operator.
const SELF: &str = "operator";
const AVAILABLE: Duration = Duration::from_secs(120);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ is inside the repository")
        .to_path_buf()
}

/// Removes, when the test ends however it ends, the chart's cluster-wide objects and this test's
/// claim on the shared CRDs (kept, by their annotation, when the ChartDeployment goes).
struct ClusterWideCleanup {
    cluster: &'static Cluster,
    release: String,
    /// The ChartDeployment (`namespace/name`) whose mark on the CRDs is taken off, if any.
    claim: Option<String>,
}

impl Drop for ClusterWideCleanup {
    fn drop(&mut self) {
        let env = self.cluster.env();
        let kubectl = || {
            let mut command = std::process::Command::new(&env.kubectl);
            command
                .env("KUBECONFIG", &env.kubeconfig)
                .arg("--request-timeout=20s")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null());
            command
        };
        let selector = format!("app.kubernetes.io/instance={}", self.release);
        let _ = kubectl()
            .args([
                "delete",
                "clusterrole,clusterrolebinding",
                "--ignore-not-found",
            ])
            .args(["--selector", &selector])
            .status();
        let Some(claim) = &self.claim else {
            return;
        };
        for crd in CRDS {
            let claimant = kubectl()
                .stdout(std::process::Stdio::piped())
                .args(["get", "crd", crd, "--output"])
                .arg(format!(
                    "jsonpath={{.metadata.annotations.{}}}",
                    DEPLOYMENT_ANNOTATION.replace('.', "\\.")
                ))
                .output();
            if claimant.is_ok_and(|output| output.stdout == claim.as_bytes()) {
                let _ = kubectl()
                    .args(["annotate", "crd", crd, &format!("{DEPLOYMENT_ANNOTATION}-")])
                    .status();
                let _ = kubectl()
                    .args(["label", "crd", crd, &format!("{DEPLOYMENT_LABEL}-")])
                    .status();
            }
        }
    }
}

/// Takes the ownership marks off the shared CRDs when they name `claim`, or a ChartDeployment
/// whose namespace is gone (a run that crashed), so that this run's ChartDeployment may adopt them.
async fn release_crds(cluster: &Cluster, claim: Option<&str>) -> TestResult {
    let client = cluster.client().await?;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client);
    for name in CRDS {
        let crd = crds.get(name).await?;
        let Some(claimant) = crd.annotations().get(DEPLOYMENT_ANNOTATION).cloned() else {
            continue;
        };
        let claimant_namespace = claimant.split('/').next().unwrap_or_default();
        let stale = namespaces.get_opt(claimant_namespace).await?.is_none();
        if stale || claim == Some(claimant.as_str()) {
            let unclaim = json!({"metadata": {
                "labels": {DEPLOYMENT_LABEL: null},
                "annotations": {DEPLOYMENT_ANNOTATION: null},
            }});
            crds.patch(name, &PatchParams::default(), &Patch::Merge(unclaim))
                .await?;
        }
    }
    Ok(())
}

/// The uid of each object the chart installs (what "nothing lost" compares).
async fn uids(setup: &Setup, release: &str) -> TestResult<BTreeMap<String, String>> {
    let client = setup.namespace.client();
    let mut uids = BTreeMap::new();
    let mut record = |kind: &str, meta: &kube::api::ObjectMeta| {
        uids.insert(
            format!("{kind}/{}", meta.name.clone().unwrap_or_default()),
            meta.uid.clone().unwrap_or_default(),
        );
    };
    let leader_election = format!("{release}-leader-election");
    record(
        "ServiceAccount",
        setup
            .namespace
            .api::<ServiceAccount>()
            .get(release)
            .await?
            .meta(),
    );
    record(
        "Deployment",
        setup
            .namespace
            .api::<Deployment>()
            .get(release)
            .await?
            .meta(),
    );
    record(
        "Service",
        setup
            .namespace
            .api::<Service>()
            .get(&format!("{release}-metrics"))
            .await?
            .meta(),
    );
    record(
        "Role",
        setup
            .namespace
            .api::<Role>()
            .get(&leader_election)
            .await?
            .meta(),
    );
    record(
        "RoleBinding",
        setup
            .namespace
            .api::<RoleBinding>()
            .get(&leader_election)
            .await?
            .meta(),
    );
    let cluster_roles: Api<ClusterRole> = Api::all(client.clone());
    record("ClusterRole", cluster_roles.get(release).await?.meta());
    let bindings: Api<ClusterRoleBinding> = Api::all(client.clone());
    record("ClusterRoleBinding", bindings.get(release).await?.meta());
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    for name in CRDS {
        record("CustomResourceDefinition", crds.get(name).await?.meta());
    }
    Ok(uids)
}

/// `kubectl auth can-i` as `service_account` (`system:serviceaccount:...`).
async fn can(
    cluster: &Cluster,
    service_account: &str,
    verb: &str,
    resource: &str,
    scope: &[&str],
) -> bool {
    let output = cluster
        .kubectl()
        .args(["auth", "can-i", verb, resource, "--as", service_account])
        .args(scope)
        .output()
        .await;
    matches!(output, Ok(output) if output.status.success())
}

/// The chart's default (impersonating) RBAC, as the API server's authorizer sees it: what the
/// operator needs, and nothing on what charts create, since those writes are made as each
/// ChartDeployment's ServiceAccount.
async fn check_impersonating_rbac(cluster: &Cluster, namespace: &str, release: &str) {
    let operator = format!("system:serviceaccount:{namespace}:{release}");
    let own = ["--namespace", namespace];
    let all = ["--all-namespaces"];
    let elsewhere = ["--namespace", "some-app"];
    let lease = format!("leases.coordination.k8s.io/{release}");
    let needed: [(&str, &str, &[&str]); 10] = [
        ("create", "leases.coordination.k8s.io", &own),
        ("update", &lease, &own),
        ("create", "secrets", &own),
        ("watch", "chartdeployments.capstan.dev", &all),
        ("watch", "chartrepositories.capstan.dev", &all),
        ("patch", "chartdeployments.capstan.dev/status", &elsewhere),
        (
            "update",
            "chartdeployments.capstan.dev/finalizers",
            &elsewhere,
        ),
        ("watch", "secrets", &all),
        ("watch", "deployments.apps", &all),
        ("impersonate", "serviceaccounts", &elsewhere),
    ];
    for (verb, resource, scope) in needed {
        assert!(
            can(cluster, &operator, verb, resource, scope).await,
            "the chart's operator needs to {verb} {resource} {scope:?}"
        );
    }
    let forbidden: [(&str, &str, &[&str]); 10] = [
        ("update", &lease, &elsewhere),
        ("update", "leases.coordination.k8s.io/kube-scheduler", &own),
        ("create", "secrets", &elsewhere),
        ("impersonate", "users", &[]),
        ("impersonate", "groups", &[]),
        ("patch", "deployments.apps", &elsewhere),
        ("patch", "configmaps", &elsewhere),
        (
            "create",
            "customresourcedefinitions.apiextensions.k8s.io",
            &[],
        ),
        (
            "create",
            "clusterrolebindings.rbac.authorization.k8s.io",
            &[],
        ),
        ("delete", "chartdeployments.capstan.dev", &elsewhere),
    ];
    for (verb, resource, scope) in forbidden {
        assert!(
            !can(cluster, &operator, verb, resource, scope).await,
            "the chart's operator must not {verb} {resource} {scope:?}"
        );
    }
}

/// Packages charts/capstan at `version` into the test's repository and re-indexes it.
fn publish_operator_chart(setup: &Setup, version: &str) -> TestResult {
    let options = PackageOptions {
        version: Some(version.to_string()),
        ..PackageOptions::default()
    };
    let (file_name, bytes) = package_dir(&repo_root().join("charts/capstan"), &options)?;
    std::fs::write(setup.repo_dir.join(file_name), bytes)?;
    setup.reindex()
}

#[tokio::test]
async fn the_operator_chart_installs_and_then_manages_the_operator() -> TestResult {
    let cluster = Cluster::shared()?;
    let setup = Setup::new("capstan-chart").await?;
    let namespace = setup.namespace.name().to_string();
    // The release is named after the namespace (which holds "capstan", so the objects are named
    // as the release), keeping the cluster-wide ClusterRole and binding apart from other runs.
    let release = namespace.clone();
    let claim = format!("{namespace}/{SELF}");
    let _cleanup = ClusterWideCleanup {
        cluster,
        release: release.clone(),
        claim: Some(claim.clone()),
    };
    release_crds(cluster, None).await?;
    // KWOK pulls nothing; the reference only has to be well formed.
    let image = format!("{}/capstan-e2e/capstan-operator", cluster.env().registry);
    let set_image = format!("image.repository={image}");

    // 1. Installed from the chart with kubectl, as README says.
    let rendered = ToolCommand::new(workspace_binary("CAPSTAN_BIN", "capstan"))
        .args(["template", "--include-crds", "--name", &release])
        .args(["--namespace", &namespace, "--set", &set_image])
        .arg(repo_root().join("charts/capstan"))
        .run()
        .await?;
    cluster
        .kubectl()
        .args(["apply", "--namespace", &namespace, "-f", "-"])
        .stdin(rendered.stdout)
        .run()
        .await?;
    let deployments = setup.namespace.api::<Deployment>();
    let installed = wait_for_deployment_available(&deployments, &release, AVAILABLE).await?;
    let pod = installed
        .spec
        .and_then(|spec| spec.template.spec)
        .ok_or("the Deployment has no pod spec")?;
    let container = &pod.containers[0];
    assert_eq!(container.image.as_deref(), Some(&*format!("{image}:0.1.0")));
    let args = container.args.clone().unwrap_or_default();
    for wanted in [
        "--leader-elect",
        &format!("--lease-name={release}"),
        "--default-service-account=default",
        "--log-format=json",
    ] {
        assert!(args.iter().any(|arg| arg == wanted), "{wanted} in {args:?}");
    }
    let security = container
        .security_context
        .clone()
        .ok_or("no security context")?;
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(security.allow_privilege_escalation, Some(false));
    let dropped = security
        .capabilities
        .and_then(|c| c.drop)
        .unwrap_or_default();
    assert_eq!(dropped, ["ALL"]);
    let pod_security = pod.security_context.ok_or("no pod security context")?;
    assert_eq!(pod_security.run_as_non_root, Some(true));
    assert_eq!(
        pod_security.seccomp_profile.map(|profile| profile.type_),
        Some("RuntimeDefault".to_string())
    );
    assert!(container.liveness_probe.is_some() && container.readiness_probe.is_some());
    check_impersonating_rbac(cluster, &namespace, &release).await;
    let before = uids(&setup, &release).await?;

    // 2. A ChartDeployment of the same chart adopts what kubectl installed.
    publish_operator_chart(&setup, "0.1.0")?;
    setup.apply_repository().await?;
    let spec = |version: &str, values: serde_json::Value| {
        json!({
            "chart": {"repository": {"repositoryRef": {"name": "charts"},
                "name": "capstan", "version": version}},
            "releaseName": release,
            "adopt": true,
            "values": values,
        })
    };
    setup
        .apply_deployment_with(SELF, spec("0.1.0", json!({"image": {"repository": image}})))
        .await?;
    setup.wait_deployment(SELF, applied("0.1.0")).await?;
    assert_eq!(uids(&setup, &release).await?, before);
    let adopted = deployments.get(&release).await?;
    assert_eq!(
        adopted.annotations().get(DEPLOYMENT_ANNOTATION),
        Some(&claim)
    );

    // 3. Upgraded through it: a new chart version with two replicas and a disruption budget.
    publish_operator_chart(&setup, "0.2.0")?;
    let upgraded_values = json!({
        "image": {"repository": image},
        "replicaCount": 2,
        "podDisruptionBudget": {"enabled": true},
    });
    setup
        .patch_spec(SELF, spec("0.2.0", upgraded_values))
        .await?;
    setup.wait_deployment(SELF, applied("0.2.0")).await?;
    let upgraded = wait_for_deployment_available(&deployments, &release, AVAILABLE).await?;
    assert_eq!(upgraded.spec.and_then(|spec| spec.replicas), Some(2));
    assert_eq!(
        upgraded.metadata.labels.unwrap_or_default()["helm.sh/chart"],
        "capstan-0.2.0"
    );
    let budget = setup
        .namespace
        .api::<PodDisruptionBudget>()
        .get(&release)
        .await?;
    assert_eq!(
        budget.annotations().get(DEPLOYMENT_ANNOTATION),
        Some(&claim)
    );
    // Nothing was recreated, the repository and the deployment itself are still there.
    assert_eq!(uids(&setup, &release).await?, before);
    setup
        .namespace
        .api::<ChartRepository>()
        .get("charts")
        .await?;

    // 4. Deleting the ChartDeployment removes the operator's objects but keeps the CRDs (and so
    // every ChartDeployment in the cluster).
    let managed = setup.namespace.api::<ChartDeployment>();
    let uid = managed
        .get(SELF)
        .await?
        .meta()
        .uid
        .clone()
        .unwrap_or_default();
    managed.delete(SELF, &DeleteParams::default()).await?;
    wait_for_deletion(&managed, SELF, &uid, Duration::from_secs(90)).await?;
    let cluster_roles: Api<ClusterRole> = Api::all(setup.namespace.client());
    assert!(cluster_roles.get_opt(&release).await?.is_none());
    let crds: Api<CustomResourceDefinition> = Api::all(setup.namespace.client());
    for name in CRDS {
        let crd = crds.get(name).await?;
        assert!(
            crd.metadata.deletion_timestamp.is_none(),
            "{name} is being deleted"
        );
    }
    release_crds(cluster, Some(&claim)).await?;
    setup.finish().await
}

/// The chart's single-tenant RBAC, as the API server's authorizer sees it: what the operator needs
/// in every mode, and, through the cluster-admin binding, whatever charts create, anywhere,
/// since deployments without spec.serviceAccountName are applied with the operator's own
/// identity. It keeps impersonating ServiceAccounts: a ChartDeployment that names one is still
/// applied as it.
async fn check_single_tenant_rbac(cluster: &Cluster, namespace: &str, release: &str) {
    let operator = format!("system:serviceaccount:{namespace}:{release}");
    let own = ["--namespace", namespace];
    let all = ["--all-namespaces"];
    let elsewhere = ["--namespace", "some-app"];
    let lease = format!("leases.coordination.k8s.io/{release}");
    let needed: [(&str, &str, &[&str]); 16] = [
        ("create", "leases.coordination.k8s.io", &own),
        ("update", &lease, &own),
        ("create", "secrets", &own),
        ("watch", "chartdeployments.capstan.dev", &all),
        ("watch", "chartrepositories.capstan.dev", &all),
        ("patch", "chartdeployments.capstan.dev/status", &elsewhere),
        (
            "update",
            "chartdeployments.capstan.dev/finalizers",
            &elsewhere,
        ),
        ("watch", "secrets", &all),
        ("watch", "deployments.apps", &all),
        ("impersonate", "serviceaccounts", &elsewhere),
        // What charts create, applied as the operator itself.
        ("patch", "deployments.apps", &elsewhere),
        ("create", "configmaps", &elsewhere),
        ("delete", "services", &elsewhere),
        ("create", "namespaces", &[]),
        (
            "create",
            "customresourcedefinitions.apiextensions.k8s.io",
            &[],
        ),
        ("create", "clusterroles.rbac.authorization.k8s.io", &[]),
    ];
    for (verb, resource, scope) in needed {
        assert!(
            can(cluster, &operator, verb, resource, scope).await,
            "the single-tenant chart's operator needs to {verb} {resource} {scope:?}"
        );
    }
}

/// The chart rendered with `mode=single-tenant`: installed with kubectl, its operator's
/// ServiceAccount has the rights that mode needs (checked by the API server's authorizer), and an
/// operator authenticating as that ServiceAccount, without `--default-service-account` as the
/// chart's Deployment runs it, deploys a chart that creates a cluster-scoped object, which only
/// the operator's own identity may (impersonating a tenant's ServiceAccount it could not).
#[tokio::test]
async fn the_single_tenant_chart_gives_its_operator_the_rights_to_deploy_any_chart() -> TestResult {
    let cluster = Cluster::shared()?;
    install_crds(cluster).await?;
    let home = TestNamespace::create(cluster, "capstan-single").await?;
    let namespace = home.name().to_string();
    let release = namespace.clone();
    let _cleanup = ClusterWideCleanup {
        cluster,
        release: release.clone(),
        claim: None,
    };
    let image = format!("{}/capstan-e2e/capstan-operator", cluster.env().registry);

    // 1. Rendered in single-tenant mode and applied with kubectl (the CRDs are there already).
    let rendered = ToolCommand::new(workspace_binary("CAPSTAN_BIN", "capstan"))
        .args(["template", "--name", &release, "--namespace", &namespace])
        .args(["--set", &format!("image.repository={image}")])
        .args(["--set", "mode=single-tenant"])
        .arg(repo_root().join("charts/capstan"))
        .run()
        .await?;
    cluster
        .kubectl()
        .args(["apply", "--namespace", &namespace, "-f", "-"])
        .stdin(rendered.stdout)
        .run()
        .await?;
    let deployments = home.api::<Deployment>();
    let installed = wait_for_deployment_available(&deployments, &release, AVAILABLE).await?;
    let args = installed
        .spec
        .and_then(|spec| spec.template.spec)
        .map(|pod| pod.containers[0].args.clone().unwrap_or_default())
        .ok_or("the Deployment has no pod spec")?;
    assert!(args.iter().any(|arg| arg == "--leader-elect"), "{args:?}");
    assert!(
        !args
            .iter()
            .any(|arg| arg.starts_with("--default-service-account")),
        "single-tenant applies with the operator's own identity: {args:?}"
    );
    let binding = Api::<ClusterRoleBinding>::all(home.client())
        .get(&format!("{release}-cluster-admin"))
        .await?;
    assert_eq!(binding.role_ref.name, "cluster-admin");
    check_single_tenant_rbac(cluster, &namespace, &release).await;

    // 2. An operator with exactly those rights: the ServiceAccount's own token.
    let kubeconfig_dir = tempfile::tempdir()?;
    let kubeconfig = kubeconfig_dir.path().join("operator");
    let token = cluster.service_account_token(&namespace, &release).await?;
    cluster.write_token_kubeconfig(&token, &kubeconfig)?;
    let setup = Setup::with_kubeconfig(
        "capstan-single-apps",
        &kubeconfig,
        &[("POD_NAMESPACE", &namespace)],
    )
    .await?;
    let reader = format!("{release}-reader");
    setup.publish(
        "cluster-reader",
        "1.0.0",
        &[
            ("values.yaml", "name: reader\ninstance: none\n"),
            (
                "templates/clusterrole.yaml",
                "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: {{ values.name }}
  labels:
    app.kubernetes.io/instance: {{ values.instance }}
rules:
  - apiGroups: [\"\"]
    resources: [\"configmaps\"]
    verbs: [\"get\"]
",
            ),
        ],
    )?;
    setup.apply_repository().await?;
    // Labelled with the release, so the cleanup removes it if the test stops half way.
    let values = json!({"name": reader, "instance": release});
    setup
        .apply_deployment("reader", "cluster-reader", "1.0.0", values)
        .await?;
    setup.wait_deployment("reader", applied("1.0.0")).await?;
    let cluster_roles: Api<ClusterRole> = Api::all(home.client());
    let created = cluster_roles.get(&reader).await?;
    assert_eq!(
        created.annotations().get(DEPLOYMENT_ANNOTATION),
        Some(&format!("{}/reader", setup.namespace.name()))
    );

    // Deleting the ChartDeployment removes what it created, cluster-wide objects included.
    let managed = setup.namespace.api::<ChartDeployment>();
    let uid = managed
        .get("reader")
        .await?
        .meta()
        .uid
        .clone()
        .unwrap_or_default();
    managed.delete("reader", &DeleteParams::default()).await?;
    wait_for_deletion(&managed, "reader", &uid, Duration::from_secs(90)).await?;
    assert!(cluster_roles.get_opt(&reader).await?.is_none());
    setup.finish().await?;
    home.delete().await?;
    Ok(())
}
