//! `config/finalizer-on-create` installed for one namespace: the shipped MutatingAdmissionPolicy
//! and its binding, under names of their own and with the binding narrowed to that namespace, so
//! that tests and benchmarks sharing the cluster are not touched and a run cut short leaves
//! nothing that would hold another namespace's deletions. Deleted again when dropped.

use std::time::Duration;

use capstan_api::ChartDeployment;
use capstan_api::labels::FINALIZER;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

use crate::Cluster;
use crate::operator::TestResult;
use crate::tenancy::ClusterObjects;

/// How long a new policy may take to be applied by the API server.
const TAKES_EFFECT_WITHIN: Duration = Duration::from_secs(60);

const SHIPPED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../config/finalizer-on-create/policy.yaml"
);

/// The installed policy and binding.
pub struct FinalizerPolicy {
    installed: ClusterObjects,
}

impl FinalizerPolicy {
    /// Installs the shipped policy for ChartDeployments created in `namespace`. The API server
    /// applies a new policy after a moment: wait for it before relying on it.
    pub async fn install(cluster: &Cluster, namespace: &str) -> TestResult<Self> {
        let shipped = std::fs::read_to_string(SHIPPED)?;
        let name = format!("capstan-finalizer-{namespace}");
        let policy = FinalizerPolicy {
            installed: ClusterObjects::default(),
        };
        for document in shipped.split("\n---\n") {
            let mut object: Value = serde_saphyr::from_str(document)?;
            let kind = object["kind"].as_str().unwrap_or_default().to_lowercase();
            object["metadata"]["name"] = json!(name);
            if kind == "mutatingadmissionpolicybinding" {
                object["spec"]["policyName"] = json!(name);
                object["spec"]["matchResources"] = json!({"namespaceSelector": {"matchLabels":
                    {"kubernetes.io/metadata.name": namespace}}});
            }
            policy
                .installed
                .remember(&format!("{kind}.admissionregistration.k8s.io"), &name);
            cluster
                .kubectl()
                .args(["apply", "--server-side", "-f", "-"])
                .stdin(serde_json::to_vec(&object)?)
                .run()
                .await?;
        }
        Ok(policy)
    }
}

impl FinalizerPolicy {
    /// Waits until a ChartDeployment created through `api` (in the policy's namespace) gets the
    /// operator's finalizer, probing with dry-run creates of one that already carries
    /// `example.com/theirs`; returns the finalizers the last probe came back with.
    pub async fn wait_effective(&self, api: &Api<ChartDeployment>) -> TestResult<Vec<String>> {
        let probe: ChartDeployment = serde_json::from_value(json!({
            "apiVersion": "capstan.dev/v1alpha1", "kind": "ChartDeployment",
            "metadata": {"name": "finalizer-probe", "finalizers": ["example.com/theirs"]},
            "spec": {"chart": {"repository": {"repositoryRef": {"name": "charts"},
                                              "name": "probe"}}},
        }))?;
        let dry_run = PostParams {
            dry_run: true,
            ..PostParams::default()
        };
        let deadline = tokio::time::Instant::now() + TAKES_EFFECT_WITHIN;
        loop {
            let created = api.create(&dry_run, &probe).await?;
            let finalizers = created.metadata.finalizers.unwrap_or_default();
            if finalizers.iter().any(|f| f == FINALIZER) {
                return Ok(finalizers);
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!(
                    "the finalizer policy did not take effect within {TAKES_EFFECT_WITHIN:?}: \
                     a create came back with finalizers {finalizers:?}"
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}
