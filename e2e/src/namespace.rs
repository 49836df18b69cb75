//! A namespace per test, so tests run in parallel without seeing each other's objects.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{DeleteParams, PostParams};
use kube::core::ObjectMeta;
use kube::runtime::wait::conditions;
use kube::{Api, Client, Resource};

use crate::cluster::Cluster;
use crate::error::{E2eError, Result};
use crate::wait::{wait_for, wait_for_deletion};

/// Label on every test namespace, so leftovers of crashed runs are easy to find and remove.
pub const TEST_NAMESPACE_LABEL: &str = "capstan.dev/e2e";

/// How long the namespace controller may take to empty and remove a namespace.
const DELETE_TIMEOUT: Duration = Duration::from_secs(120);

/// How long the ServiceAccount controller may take to create `default` in a new namespace.
const SERVICE_ACCOUNT_TIMEOUT: Duration = Duration::from_secs(60);

const MAX_PREFIX_LEN: usize = 30;

/// A namespace created for one test and deleted when the test ends.
///
/// [`TestNamespace::delete`] deletes it and waits until it is gone; dropping it without that starts
/// the deletion (with kubectl, since `Drop` cannot await) and does not wait.
pub struct TestNamespace {
    name: String,
    client: Client,
    kubectl: PathBuf,
    kubeconfig: PathBuf,
    deleted: bool,
}

impl TestNamespace {
    /// Creates `e2e-<prefix>-<random>` and waits for its `default` ServiceAccount, without which
    /// the API server admits no Pods there.
    pub async fn create(cluster: &Cluster, prefix: &str) -> Result<Self> {
        let prefix_is_valid = !prefix.is_empty()
            && prefix.len() <= MAX_PREFIX_LEN
            && prefix
                .bytes()
                .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-');
        if !prefix_is_valid {
            return Err(E2eError::NamespacePrefix(prefix.to_string()));
        }
        let client = cluster.client().await?;
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let namespace = Namespace {
            metadata: ObjectMeta {
                generate_name: Some(format!("e2e-{prefix}-")),
                labels: Some(BTreeMap::from([(
                    TEST_NAMESPACE_LABEL.to_string(),
                    "true".to_string(),
                )])),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        let created = namespaces
            .create(&PostParams::default(), &namespace)
            .await?;
        let name = created.metadata.name.unwrap_or_default();
        let test_namespace = Self {
            name,
            client,
            kubectl: cluster.env().kubectl.clone(),
            kubeconfig: cluster.env().kubeconfig.clone(),
            deleted: false,
        };
        let service_accounts: Api<ServiceAccount> = test_namespace.api();
        wait_for(
            &service_accounts,
            "default",
            "ServiceAccount",
            SERVICE_ACCOUNT_TIMEOUT,
            conditions::is_created(),
        )
        .await?;
        Ok(test_namespace)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// An admin client.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// An API for a namespaced resource in this namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }

    /// Deletes the namespace and waits until the namespace controller has removed it and everything
    /// in it.
    pub async fn delete(self) -> Result<()> {
        self.delete_within(DELETE_TIMEOUT).await
    }

    /// [`TestNamespace::delete`], waiting up to `timeout`: a namespace holding a thousand
    /// deployments takes longer to empty than a test's.
    pub async fn delete_within(mut self, timeout: Duration) -> Result<()> {
        self.deleted = true;
        let namespaces: Api<Namespace> = Api::all(self.client.clone());
        let uid = match namespaces.get_opt(&self.name).await? {
            Some(namespace) => namespace.metadata.uid.unwrap_or_default(),
            None => return Ok(()),
        };
        namespaces
            .delete(&self.name, &DeleteParams::background())
            .await?;
        wait_for_deletion(&namespaces, &self.name, &uid, timeout).await
    }
}

impl TestNamespace {
    /// A test that failed drops its namespace while (or after) its operator process is killed, so
    /// nothing would remove the operator's finalizers and the namespace would stay Terminating in
    /// a long-lived development cluster. Clearing them first lets the namespace go; the namespace
    /// deletion removes the objects the finalizer would have.
    pub fn release_finalizers(&self) {
        let kubectl = || {
            let mut command = std::process::Command::new(&self.kubectl);
            command
                .env("KUBECONFIG", &self.kubeconfig)
                .args(["--namespace", &self.name, "--request-timeout=10s"])
                .stderr(std::process::Stdio::null());
            command
        };
        // Fails harmlessly where the capstan CRDs are not installed.
        let Ok(listed) = kubectl()
            .args(["get", "chartdeployments.capstan.dev", "--output=name"])
            .output()
        else {
            return;
        };
        for object in String::from_utf8_lossy(&listed.stdout).lines() {
            let _ = kubectl()
                .args(["patch", object, "--type=merge"])
                .args(["--patch", r#"{"metadata":{"finalizers":null}}"#])
                .stdout(std::process::Stdio::null())
                .status();
        }
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        if self.deleted {
            return;
        }
        self.release_finalizers();
        let outcome = std::process::Command::new(&self.kubectl)
            .env("KUBECONFIG", &self.kubeconfig)
            .args(["delete", "namespace", &self.name])
            .args([
                "--wait=false",
                "--ignore-not-found",
                "--request-timeout=10s",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        if !matches!(outcome, Ok(status) if status.success()) {
            eprintln!(
                "could not delete test namespace {}; remove leftovers with \
                 `kubectl delete namespace -l {TEST_NAMESPACE_LABEL}=true`",
                self.name
            );
        }
    }
}
