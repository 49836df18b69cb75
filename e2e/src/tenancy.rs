//! Tenants sharing one operator, installed the way `config/` installs it.
//!
//! A [`Tenancy`] is one test's small multi-tenant cluster:
//! - the operator's own namespace, with a ServiceAccount bound to the ClusterRole and Role of
//!   `config/base/rbac.yaml` (read from the file, so the test runs exactly the shipped rights);
//!   the operator runs as that ServiceAccount (a token from the TokenRequest API) with
//!   `--default-service-account=default`, as the Deployment in `config/base` does. It watches
//!   the whole cluster but reconciles only this test's ChartDeployments and ChartRepositories
//!   (`--watch-label-selector`), so tests and other users of the shared cluster stay apart;
//! - `tenant-a`, whose ServiceAccount `tenant` may manage ChartDeployments, ChartRepositories,
//!   ConfigMaps and Secrets there and nothing else; its deployments act as its `default`
//!   ServiceAccount, which has the same rights. The attacks are made with `tenant`'s own token;
//! - `tenant-b`, another tenant with a deployment (`steady`) that is Ready before the attack
//!   and must stay Ready, unrewritten, after it;
//! - `victim`, a namespace neither tenant may touch, holding a ConfigMap (`precious`).
//!
//! Cluster-scoped objects a test makes (the operator's ClusterRole and binding, CRDs) are
//! removed when the tenancy is dropped, pass or fail.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use capstan_api::{ChartDeployment, ChartRepository};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Secret};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, PostParams};
use kube::runtime::wait::Condition;
use kube::{Client, Resource, ResourceExt};
use serde_json::{Value, json};

use crate::operator::{
    OperatorCommand, OperatorProcess, TestResult, WAIT, applied, install_crds,
    package_unlinted_chart, publish_package,
};
use crate::wait::wait_for;
use crate::{Cluster, TestNamespace};

/// Label that ties this test's resources to its operator (`--watch-label-selector`).
pub const SHARD_LABEL: &str = "capstan.dev/e2e-shard";

/// The ServiceAccount the tenant acts as, in `tenant-a`.
pub const TENANT: &str = "tenant";

/// The chart `tenant-b` deploys: one ConfigMap `<release>-main`.
const STEADY_CHART: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ release.name }}-main
data:
  greeting: {{ values.greeting }}
";

/// What the tenants' ServiceAccounts may do in their own namespace, and nothing more.
const TENANT_RULES: &str = r#"[
  {"apiGroups": ["capstan.dev"], "resources": ["chartdeployments", "chartrepositories"],
   "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]},
  {"apiGroups": [""], "resources": ["configmaps", "secrets"],
   "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]}
]"#;

/// How the operator of a [`Tenancy`] runs, beyond what `config/` sets.
#[derive(Clone, Debug, Default)]
pub struct TenancyOptions {
    /// `--no-cross-namespace-refs`.
    pub no_cross_namespace_refs: bool,
    /// Run the operator under this memory limit (see [`OperatorCommand::memory_limit`]).
    pub memory_limit: Option<u64>,
}

/// One test's tenants, victim namespace and operator; see the module documentation.
pub struct Tenancy {
    /// Declared (so dropped) first: the operator is killed before its namespaces go.
    operator: Option<OperatorProcess>,
    pub tenant_a: TestNamespace,
    pub tenant_b: TestNamespace,
    pub victim: TestNamespace,
    /// The operator's own namespace.
    pub home: TestNamespace,
    cluster_objects: ClusterObjects,
    /// `tenant-a`'s ServiceAccount `tenant`, authenticated with its own token.
    tenant: Client,
    shard: String,
    repo_dir: PathBuf,
    repo_url: String,
    scratch: tempfile::TempDir,
    log: PathBuf,
    /// `tenant-b`'s state when it was first Ready.
    steady: Steady,
    /// The operator's process id at start.
    pid: u32,
    /// Holds the operator's kubeconfig for as long as the operator runs: it reads the file when
    /// it starts, which may be after `spawn` returns.
    _kubeconfig_dir: tempfile::TempDir,
    /// The operator's `/metrics`.
    metrics_url: String,
}

/// What `tenant-b`'s deployment and its object looked like once Ready.
#[derive(Debug, Clone, PartialEq)]
struct Steady {
    generation: Option<i64>,
    revision: Option<capstan_api::Revision>,
    config_map_version: Option<String>,
    config_map_uid: Option<String>,
}

impl Tenancy {
    /// Sets up the tenancy with the operator as `config/` runs it.
    pub async fn start(prefix: &str) -> TestResult<Self> {
        Self::start_with(prefix, TenancyOptions::default()).await
    }

    /// Sets up the tenancy with extra operator options.
    pub async fn start_with(prefix: &str, options: TenancyOptions) -> TestResult<Self> {
        let cluster = Cluster::shared()?;
        install_crds(cluster).await?;
        let home = TestNamespace::create(cluster, &format!("{prefix}-op")).await?;
        let tenant_a = TestNamespace::create(cluster, &format!("{prefix}-a")).await?;
        let tenant_b = TestNamespace::create(cluster, &format!("{prefix}-b")).await?;
        let victim = TestNamespace::create(cluster, &format!("{prefix}-victim")).await?;
        let cluster_objects = ClusterObjects::default();
        let shard = home.name().to_string();

        let kubeconfig_dir = tempfile::tempdir()?;
        let operator_kubeconfig = kubeconfig_dir.path().join("operator");
        install_operator_rbac(cluster, &home, &cluster_objects).await?;
        let token = cluster
            .service_account_token(home.name(), "capstan-operator")
            .await?;
        cluster.write_token_kubeconfig(&token, &operator_kubeconfig)?;

        for namespace in [&tenant_a, &tenant_b] {
            grant_tenant(cluster, namespace).await?;
        }
        let tenant = cluster
            .client_with_token(
                &cluster
                    .service_account_token(tenant_a.name(), TENANT)
                    .await?,
            )
            .await?;
        create_json(
            cluster,
            &json!({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": "precious", "namespace": victim.name()},
                    "data": {"owner": "the victim"}}),
        )
        .await?;

        let log_dir = cluster.env().state_dir.join("logs");
        std::fs::create_dir_all(&log_dir)?;
        let log = log_dir.join(format!("operator-{}.log", home.name()));
        // A port free a moment ago; the operator binds it at start (it would exit otherwise,
        // which the tests see).
        let metrics_address = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let mut command = OperatorCommand::new(&operator_kubeconfig).envs(&[
            ("CAPSTAN_DEFAULT_SERVICE_ACCOUNT", "default"),
            ("POD_NAMESPACE", home.name()),
            ("CAPSTAN_METRICS_BIND_ADDRESS", &metrics_address.to_string()),
            (
                "CAPSTAN_WATCH_LABEL_SELECTOR",
                &format!("{SHARD_LABEL}={shard}"),
            ),
        ]);
        if options.no_cross_namespace_refs {
            command = command.args(["--no-cross-namespace-refs"]);
        }
        if let Some(bytes) = options.memory_limit {
            command = command.memory_limit(bytes);
        }
        let operator = command.spawn(Some(&log))?;
        let pid = operator.pid().ok_or("the operator exited at once")?;

        let repo_dir = cluster.env().charts_dir.join(tenant_a.name());
        std::fs::create_dir_all(&repo_dir)?;
        let repo_url = format!("{}/{}", cluster.env().charts, tenant_a.name());
        let mut tenancy = Tenancy {
            operator: Some(operator),
            tenant_a,
            tenant_b,
            victim,
            home,
            cluster_objects,
            tenant,
            shard,
            repo_dir,
            repo_url,
            scratch: tempfile::tempdir()?,
            log,
            steady: Steady {
                generation: None,
                revision: None,
                config_map_version: None,
                config_map_uid: None,
            },
            pid,
            _kubeconfig_dir: kubeconfig_dir,
            metrics_url: format!("http://{metrics_address}/metrics"),
        };
        tenancy.deploy_steady().await?;
        Ok(tenancy)
    }

    /// Publishes the `steady` chart, and has `tenant-b` deploy it and wait until it is Ready.
    async fn deploy_steady(&mut self) -> TestResult {
        self.publish("steady", "1.0.0", &[("templates/main.yaml", STEADY_CHART)])?;
        let repositories = self.tenant_b.api::<ChartRepository>();
        repositories
            .create(
                &PostParams::default(),
                &self.labelled(json!({
                    "apiVersion": "capstan.dev/v1alpha1", "kind": "ChartRepository",
                    "metadata": {"name": "charts"},
                    "spec": {"url": self.repo_url, "interval": "1h"},
                }))?,
            )
            .await?;
        let deployments = self.tenant_b.api::<ChartDeployment>();
        deployments
            .create(
                &PostParams::default(),
                &self.labelled(json!({
                    "apiVersion": "capstan.dev/v1alpha1", "kind": "ChartDeployment",
                    "metadata": {"name": "steady"},
                    "spec": {"chart": {"repository": {"repositoryRef": {"name": "charts"},
                                                      "name": "steady", "version": "1.0.0"}},
                             "values": {"greeting": "unbothered"}, "interval": "2s"},
                }))?,
            )
            .await?;
        let ready = wait_for(
            &deployments,
            "steady",
            "ChartDeployment",
            WAIT,
            applied("1.0.0"),
        )
        .await?
        .ok_or("tenant-b's deployment disappeared")?;
        self.steady = self.steady_state(&ready).await?;
        Ok(())
    }

    async fn steady_state(&self, deployment: &ChartDeployment) -> TestResult<Steady> {
        let config_map = self.tenant_b.api::<ConfigMap>().get("steady-main").await?;
        Ok(Steady {
            generation: deployment.meta().generation,
            revision: deployment
                .status
                .as_ref()
                .and_then(|status| status.last_applied_revision.clone()),
            config_map_version: config_map.resource_version(),
            config_map_uid: config_map.uid(),
        })
    }

    /// Checks that `tenant-b`'s deployment is Ready with the revision it had, and that neither
    /// it nor its ConfigMap were rewritten; and that the operator is the process it was.
    pub async fn assert_others_untouched(&mut self) -> TestResult {
        self.assert_operator_running()?;
        let deployment = self.tenant_b.api::<ChartDeployment>().get("steady").await?;
        if !applied("1.0.0").matches_object(Some(&deployment)) {
            return Err(format!(
                "tenant-b's deployment is no longer Ready: {:?}",
                deployment.status
            )
            .into());
        }
        let now = self.steady_state(&deployment).await?;
        if now != self.steady {
            return Err(format!(
                "tenant-b's deployment or its ConfigMap changed: {now:?}, was {:?}",
                self.steady
            )
            .into());
        }
        Ok(())
    }

    /// Checks that the operator still serves `tenant-b`: a change to its values is applied.
    /// The new state becomes the one [`Tenancy::assert_others_untouched`] compares with.
    pub async fn assert_others_served(&mut self, greeting: &str) -> TestResult {
        let deployments = self.tenant_b.api::<ChartDeployment>();
        deployments
            .patch(
                "steady",
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(json!({"spec": {"values": {"greeting": greeting}}})),
            )
            .await?;
        let wanted = greeting.to_string();
        wait_for(
            &self.tenant_b.api::<ConfigMap>(),
            "steady-main",
            "ConfigMap",
            WAIT,
            move |cm: Option<&ConfigMap>| {
                cm.and_then(|cm| cm.data.as_ref())
                    .and_then(|data| data.get("greeting"))
                    .is_some_and(|found| *found == wanted)
            },
        )
        .await?;
        let ready = wait_for(
            &deployments,
            "steady",
            "ChartDeployment",
            WAIT,
            |d: Option<&ChartDeployment>| {
                d.is_some_and(|d| {
                    applied("1.0.0").matches_object(Some(d))
                        && d.status.as_ref().and_then(|s| s.observed_generation)
                            == d.meta().generation
                })
            },
        )
        .await?
        .ok_or("tenant-b's deployment disappeared")?;
        self.steady = self.steady_state(&ready).await?;
        self.assert_operator_running()
    }

    /// Fails unless the operator process that started is still running.
    pub fn assert_operator_running(&mut self) -> TestResult {
        let operator = self
            .operator
            .as_mut()
            .ok_or("the operator was stopped by the test")?;
        if let Some(status) = operator.exited()? {
            return Err(format!(
                "the operator (pid {}) exited: {status}; its log is {}",
                self.pid,
                self.log.display()
            )
            .into());
        }
        if operator.pid() != Some(self.pid) {
            return Err(format!("the operator is no longer pid {}", self.pid).into());
        }
        Ok(())
    }

    /// The operator's process id.
    pub fn operator_pid(&self) -> u32 {
        self.pid
    }

    /// The file the operator logs to.
    pub fn operator_log(&self) -> &Path {
        &self.log
    }

    /// `tenant-a`'s ServiceAccount `tenant`, with its own token.
    pub fn tenant_client(&self) -> Client {
        self.tenant.clone()
    }

    /// An API over `tenant-a` as the tenant.
    pub fn tenant_api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        Api::namespaced(self.tenant.clone(), self.tenant_a.name())
    }

    /// `object` (JSON of a capstan resource) with this test's shard label, typed.
    fn labelled<K: serde::de::DeserializeOwned>(&self, object: Value) -> TestResult<K> {
        Ok(serde_json::from_value(self.with_shard(object))?)
    }

    fn with_shard(&self, mut object: Value) -> Value {
        object["metadata"]["labels"][SHARD_LABEL] = json!(self.shard);
        object
    }

    /// The tenant creates a `K` named `name` with `spec` in `tenant-a`. Sent as it is, without
    /// being decoded first, so the API server judges specs the typed API would refuse.
    async fn tenant_creates<K>(&self, name: &str, spec: Value) -> TestResult<DynamicObject>
    where
        K: Resource<DynamicType = ()>,
    {
        let resource = ApiResource::erase::<K>(&());
        let object: DynamicObject = serde_json::from_value(self.with_shard(json!({
            "apiVersion": resource.api_version, "kind": resource.kind,
            "metadata": {"name": name}, "spec": spec,
        })))?;
        let api: Api<DynamicObject> =
            Api::namespaced_with(self.tenant.clone(), self.tenant_a.name(), &resource);
        Ok(api.create(&PostParams::default(), &object).await?)
    }

    /// The tenant creates ChartDeployment `name` with `spec` in `tenant-a`.
    pub async fn tenant_deploys(&self, name: &str, spec: Value) -> TestResult<DynamicObject> {
        self.tenant_creates::<ChartDeployment>(name, spec).await
    }

    /// The tenant creates ChartRepository `name` with `spec` in `tenant-a`.
    pub async fn tenant_adds_repository(&self, name: &str, spec: Value) -> TestResult {
        self.tenant_creates::<ChartRepository>(name, spec).await?;
        Ok(())
    }

    /// The tenant adds the shared chart repository as ChartRepository `charts` in `tenant-a`.
    pub async fn tenant_adds_charts(&self) -> TestResult {
        self.tenant_adds_repository("charts", json!({"url": self.repo_url, "interval": "1h"}))
            .await
    }

    /// The spec of a deployment of `chart` 1.0.0 from the repository `charts`.
    pub fn chart_spec(chart: &str) -> Value {
        json!({"chart": {"repository": {"repositoryRef": {"name": "charts"}, "name": chart,
                                         "version": "1.0.0"}}})
    }

    /// Packages a chart, unlinted (a tenant's chart may be hostile, or need values its
    /// deployment gives), and publishes it in the repository both tenants use.
    pub fn publish(&self, name: &str, version: &str, files: &[(&str, &str)]) -> TestResult {
        let packaged = package_unlinted_chart(self.scratch.path(), name, version, files)?;
        publish_package(&packaged, &self.repo_dir, &self.repo_url)?;
        Ok(())
    }

    /// Waits until `tenant-a`'s deployment `name` meets `condition`.
    pub async fn wait_tenant_deployment(
        &self,
        name: &str,
        condition: impl Condition<ChartDeployment>,
    ) -> TestResult<ChartDeployment> {
        Ok(wait_for(
            &self.tenant_a.api::<ChartDeployment>(),
            name,
            "ChartDeployment",
            WAIT,
            condition,
        )
        .await?
        .ok_or("the ChartDeployment disappeared")?)
    }

    /// Waits until `tenant-a`'s deployment `name` meets `condition`, failing at once if the
    /// operator process exits meanwhile (a hostile chart must not take it down).
    pub async fn wait_tenant_deployment_while_running(
        &mut self,
        name: &str,
        timeout: std::time::Duration,
        condition: impl Condition<ChartDeployment>,
    ) -> TestResult<ChartDeployment> {
        let api = self.tenant_a.api::<ChartDeployment>();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            self.assert_operator_running()?;
            let deployment = api.get(name).await?;
            if condition.matches_object(Some(&deployment)) {
                return Ok(deployment);
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!(
                    "ChartDeployment {name} did not reach the state within {timeout:?}: {:?}",
                    deployment.status
                )
                .into());
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }

    /// Waits until `tenant-a`'s repository `name` meets `condition`.
    pub async fn wait_tenant_repository(
        &self,
        name: &str,
        condition: impl Condition<ChartRepository>,
    ) -> TestResult<ChartRepository> {
        Ok(wait_for(
            &self.tenant_a.api::<ChartRepository>(),
            name,
            "ChartRepository",
            WAIT,
            condition,
        )
        .await?
        .ok_or("the ChartRepository disappeared")?)
    }

    /// Where `text` appears among what a tenant or an admin can read about `tenant-a`: the
    /// ChartDeployments and ChartRepositories (spec aside: the status and conditions), the
    /// Events of the namespace, the operator's log and its metrics. Empty when nowhere.
    pub async fn places_showing(&self, text: &str) -> TestResult<Vec<String>> {
        let mut found = Vec::new();
        for deployment in self
            .tenant_a
            .api::<ChartDeployment>()
            .list(&ListParams::default())
            .await?
        {
            if serde_json::to_string(&deployment.status)?.contains(text) {
                found.push(format!(
                    "status of ChartDeployment {}",
                    deployment.name_any()
                ));
            }
        }
        for repository in self
            .tenant_a
            .api::<ChartRepository>()
            .list(&ListParams::default())
            .await?
        {
            if serde_json::to_string(&repository.status)?.contains(text) {
                found.push(format!(
                    "status of ChartRepository {}",
                    repository.name_any()
                ));
            }
        }
        for event in self
            .tenant_a
            .api::<Event>()
            .list(&ListParams::default())
            .await?
        {
            if serde_json::to_string(&event)?.contains(text) {
                found.push(format!("Event {}", event.name_any()));
            }
        }
        let log = std::fs::read(&self.log)?;
        if String::from_utf8_lossy(&log).contains(text) {
            found.push(format!("the operator's log {}", self.log.display()));
        }
        let metrics = reqwest::get(&self.metrics_url).await?.text().await?;
        if !metrics.contains("capstan_reconciles_total") {
            return Err(
                format!("{} served no reconcile counts: {metrics}", self.metrics_url).into(),
            );
        }
        if metrics.contains(text) {
            found.push(format!("the operator's metrics {}", self.metrics_url));
        }
        Ok(found)
    }

    /// Names and resource versions of every ConfigMap and Secret in `namespace`.
    pub async fn contents(namespace: &TestNamespace) -> TestResult<BTreeMap<String, String>> {
        let mut contents = BTreeMap::new();
        for config_map in namespace
            .api::<ConfigMap>()
            .list(&ListParams::default())
            .await?
        {
            contents.insert(
                format!("ConfigMap {}", config_map.name_any()),
                config_map.resource_version().unwrap_or_default(),
            );
        }
        for secret in namespace
            .api::<Secret>()
            .list(&ListParams::default())
            .await?
        {
            contents.insert(
                format!("Secret {}", secret.name_any()),
                secret.resource_version().unwrap_or_default(),
            );
        }
        Ok(contents)
    }

    /// Records a cluster-scoped object the test created, deleted with the tenancy.
    pub fn remember_cluster_object(&self, resource: &str, name: &str) {
        self.cluster_objects.remember(resource, name);
    }

    /// Deletes the namespaces, waiting until they are gone, and stops the operator. The tenants'
    /// namespaces go while the operator still runs, so it releases its finalizers (the operator's
    /// own namespace, with its ServiceAccount, goes last); if the operator is no longer running
    /// the finalizers are cleared instead.
    pub async fn finish(mut self) -> TestResult {
        std::fs::remove_dir_all(&self.repo_dir).ok();
        let running = self.assert_operator_running().is_ok();
        let Tenancy {
            operator,
            tenant_a,
            tenant_b,
            victim,
            home,
            ..
        } = self;
        for namespace in [tenant_a, tenant_b, victim] {
            if !running {
                namespace.release_finalizers();
            }
            namespace.delete().await?;
        }
        if let Some(operator) = operator {
            operator.stop().await?;
        }
        home.delete().await?;
        Ok(())
    }
}

/// The operator's ServiceAccount in `home`, bound to the rules of `config/base/rbac.yaml`: the
/// ClusterRole under a name of this test's own, the namespaced Role in `home`.
async fn install_operator_rbac(
    cluster: &Cluster,
    home: &TestNamespace,
    cluster_objects: &ClusterObjects,
) -> TestResult {
    let namespace = home.name();
    cluster
        .kubectl()
        .args(["create", "serviceaccount", "capstan-operator"])
        .args(["--namespace", namespace])
        .run()
        .await?;
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/base/rbac.yaml"
    ))?;
    let cluster_role = format!("capstan-e2e-{namespace}");
    for document in shipped.split("\n---\n") {
        let mut object: Value = serde_saphyr::from_str(document)?;
        let kind = object["kind"].as_str().unwrap_or_default().to_string();
        match kind.as_str() {
            "ClusterRole" => {
                object["metadata"]["name"] = json!(cluster_role);
                cluster_objects.remember("clusterrole", &cluster_role);
            }
            "ClusterRoleBinding" => {
                object["metadata"]["name"] = json!(cluster_role);
                object["roleRef"]["name"] = json!(cluster_role);
                cluster_objects.remember("clusterrolebinding", &cluster_role);
            }
            "Role" | "RoleBinding" => object["metadata"]["namespace"] = json!(namespace),
            other => return Err(format!("config/base/rbac.yaml holds a {other}").into()),
        }
        // `get_mut`, not indexing: indexing a missing key would add `subjects: null`, which
        // the API server's strict decoding refuses on a ClusterRole.
        let subjects = object.get_mut("subjects").and_then(Value::as_array_mut);
        for subject in subjects.into_iter().flatten() {
            subject["namespace"] = json!(namespace);
        }
        create_json(cluster, &object).await?;
    }
    Ok(())
}

/// The ServiceAccount `tenant` in `namespace`; it and the namespace's `default` ServiceAccount
/// (what its deployments act as) get [`TENANT_RULES`] there.
async fn grant_tenant(cluster: &Cluster, namespace: &TestNamespace) -> TestResult {
    let name = namespace.name();
    cluster
        .kubectl()
        .args(["create", "serviceaccount", TENANT, "--namespace", name])
        .run()
        .await?;
    let rules: Value = serde_json::from_str(TENANT_RULES)?;
    create_json(
        cluster,
        &json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"name": "tenant", "namespace": name}, "rules": rules}),
    )
    .await?;
    create_json(
        cluster,
        &json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": "tenant", "namespace": name},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                            "name": "tenant"},
                "subjects": [
                    {"kind": "ServiceAccount", "name": TENANT, "namespace": name},
                    {"kind": "ServiceAccount", "name": "default", "namespace": name}]}),
    )
    .await
}

/// Creates `object` as the admin (`kubectl create -f -`).
pub async fn create_json(cluster: &Cluster, object: &Value) -> TestResult {
    cluster
        .kubectl()
        .args(["create", "-f", "-"])
        .stdin(object.to_string())
        .run()
        .await?;
    Ok(())
}

/// The memory limit of the operator's container in `config/base/deployment.yaml`, in bytes.
pub fn shipped_memory_limit() -> TestResult<u64> {
    let deployment: Value = serde_saphyr::from_str(&std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/base/deployment.yaml"
    ))?)?;
    let limit =
        deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
            .as_str()
            .ok_or("config/base/deployment.yaml sets no memory limit")?;
    let (number, unit) = limit.split_at(
        limit
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(limit.len()),
    );
    let multiplier: u64 = match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        other => return Err(format!("memory unit {other:?} in {limit:?}").into()),
    };
    Ok(number.parse::<u64>()? * multiplier)
}

/// Cluster-scoped objects to delete when their owner (a tenancy, a [`FinalizerPolicy`]) goes
/// (kubectl, since `Drop` cannot await).
///
/// [`FinalizerPolicy`]: crate::finalizer_policy::FinalizerPolicy
#[derive(Default)]
pub(crate) struct ClusterObjects {
    objects: std::sync::Mutex<Vec<(String, String)>>,
}

impl ClusterObjects {
    pub(crate) fn remember(&self, resource: &str, name: &str) {
        self.objects
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .push((resource.to_string(), name.to_string()));
    }
}

impl Drop for ClusterObjects {
    fn drop(&mut self) {
        let Ok(cluster) = Cluster::shared() else {
            return;
        };
        let env = cluster.env();
        let objects = self
            .objects
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        for (resource, name) in objects.iter() {
            let _ = std::process::Command::new(&env.kubectl)
                .env("KUBECONFIG", &env.kubeconfig)
                .args(["delete", resource, name, "--ignore-not-found"])
                .args(["--wait=false", "--request-timeout=20s"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}
