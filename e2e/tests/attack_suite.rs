//! A tenant attacks the cluster through the operator, installed as `config/` installs it (see
//! `capstan_e2e::tenancy`): objects rendered outside its namespace, a ClusterRoleBinding to
//! itself, a foreign `targetNamespace`, taking over objects it did not create, and durations
//! that would stop the operator. Each attempt ends refused with a reason on the deployment's
//! status, nothing outside what the tenant may touch changes, and the other tenant's deployment
//! stays Ready and unrewritten.
//!
//! The operator authenticates as a ServiceAccount bound to the rules of `config/base/rbac.yaml`
//! and runs with `--default-service-account=default`, exactly as `config/` ships it: that is the
//! mode a shared cluster runs, and its operator has no rights of its own on what charts create.
//! So that the tests still fail without impersonation (where the operator's own missing rights
//! would refuse the write too), every refusal must name the tenant's ServiceAccount.
//!
//! Secrets and remote servers: `attack_secrets.rs`; hostile charts under a memory limit:
//! `attack_bombs.rs`.

use capstan_api::ChartDeployment;
use capstan_e2e::Cluster;
use capstan_e2e::etcd::{store_deployment, wait_reported_invalid, with_interval};
use capstan_e2e::operator::{TestResult, WAIT, applied, ready_is, ready_message};
use capstan_e2e::tenancy::{TENANT, Tenancy, TenancyOptions, create_json};
use capstan_e2e::wait::{wait_for, wait_for_deletion};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, PostParams};
use kube::{Resource, ResourceExt};
use serde_json::json;

/// A ConfigMap in the tenant's own namespace. Its template file sorts first, so it comes first
/// in install order: without a dry run of every write before the first, it would be applied
/// before the refused object and stay behind.
const OWN: (&str, &str) = (
    "templates/a-own.yaml",
    "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ release.name }}-own
data:
  mine: 'yes'
",
);

/// A ConfigMap in the namespace `values.namespace`.
const ELSEWHERE: (&str, &str) = (
    "templates/b-elsewhere.yaml",
    "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ values.name }}
  namespace: {{ values.namespace }}
data:
  planted: 'yes'
",
);

/// A ClusterRoleBinding granting cluster-admin to the tenant's ServiceAccount.
const ROOT: (&str, &str) = (
    "templates/b-root.yaml",
    "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: {{ values.binding }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
  - kind: ServiceAccount
    name: {{ values.serviceAccount }}
    namespace: {{ values.serviceAccountNamespace }}
",
);

/// Waits until the deployment is refused with `reason`, and checks that nothing of it was
/// applied; its Ready message.
async fn refused(tenancy: &Tenancy, name: &str, reason: &'static str) -> TestResult<String> {
    let deployment = tenancy
        .wait_tenant_deployment(name, ready_is("False", move |r| r == reason))
        .await?;
    let status = deployment.status.clone().unwrap_or_default();
    assert!(
        status.last_applied_revision.is_none() && status.inventory.is_empty(),
        "{name} applied something: {status:?}"
    );
    let own = format!("{name}-own");
    assert!(
        tenancy
            .tenant_a
            .api::<ConfigMap>()
            .get_opt(&own)
            .await?
            .is_none(),
        "{own} was applied although its revision was refused"
    );
    Ok(ready_message(&deployment))
}

// Protections: impersonation of the deployment's ServiceAccount (--default-service-account) for
// every write, and, a first install being written without dry runs, the undo of what it created
// before a refusal (deployment::undo). Without the first the operator's identity makes the
// writes (the message would name it, not the tenant's ServiceAccount; in single-tenant mode they
// would succeed); without the second `<name>-own`, applied before the refused object, would stay.
#[tokio::test]
async fn objects_outside_the_tenants_namespace_are_refused_and_nothing_is_applied() -> TestResult {
    let mut tenancy = Tenancy::start("atk-escape").await?;
    let cluster = Cluster::shared()?;
    let (tenant_a, victim) = (tenancy.tenant_a.name(), tenancy.victim.name());
    tenancy.publish("escape", "1.0.0", &[OWN, ELSEWHERE])?;
    tenancy.publish("root", "1.0.0", &[OWN, ROOT])?;
    tenancy.publish("plain", "1.0.0", &[OWN])?;
    tenancy.tenant_adds_charts().await?;
    let victim_before = Tenancy::contents(&tenancy.victim).await?;

    // The tenant's own rights are what the module says: nothing in the victim namespace.
    let direct = Api::<ConfigMap>::namespaced(tenancy.tenant_client(), victim)
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "direct"}}))?,
        )
        .await;
    assert!(
        matches!(&direct, Err(kube::Error::Api(status)) if status.code == 403),
        "{direct:?}"
    );

    let planted = format!("{tenant_a}-planted");
    let binding = format!("{tenant_a}-root");
    // Deleted with the tenancy should the attack succeed.
    tenancy.remember_cluster_object("clusterrolebinding", &binding);
    let with_values = |chart: &str, values: serde_json::Value| {
        let mut spec = Tenancy::chart_spec(chart);
        spec["values"] = values;
        spec
    };
    tenancy
        .tenant_deploys(
            "into-victim",
            with_values("escape", json!({"name": planted, "namespace": victim})),
        )
        .await?;
    tenancy
        .tenant_deploys(
            "into-kube-system",
            with_values(
                "escape",
                json!({"name": planted, "namespace": "kube-system"}),
            ),
        )
        .await?;
    tenancy
        .tenant_deploys(
            "cluster-admin",
            with_values(
                "root",
                json!({"binding": binding, "serviceAccount": TENANT,
                       "serviceAccountNamespace": tenant_a}),
            ),
        )
        .await?;
    let mut target_victim = Tenancy::chart_spec("plain");
    target_victim["targetNamespace"] = json!(victim);
    tenancy
        .tenant_deploys("target-victim", target_victim)
        .await?;

    let acting_as = format!("ServiceAccount {tenant_a}/default");
    for (name, object) in [
        ("into-victim", format!("ConfigMap {victim}/{planted}")),
        (
            "into-kube-system",
            format!("ConfigMap kube-system/{planted}"),
        ),
        ("cluster-admin", format!("ClusterRoleBinding {binding}")),
        (
            "target-victim",
            format!("ConfigMap {victim}/target-victim-own"),
        ),
    ] {
        let message = refused(&tenancy, name, "Forbidden").await?;
        assert!(
            message.contains(&acting_as) && message.contains(&object),
            "{name}: the refusal names the identity and the object: {message}"
        );
    }

    assert_eq!(Tenancy::contents(&tenancy.victim).await?, victim_before);
    let kube_system = Api::<ConfigMap>::namespaced(tenancy.tenant_a.client(), "kube-system");
    assert!(kube_system.get_opt(&planted).await?.is_none());
    let bindings = Api::<ClusterRoleBinding>::all(cluster.client().await?);
    assert!(bindings.get_opt(&binding).await?.is_none());
    tenancy.assert_others_untouched().await?;
    tenancy.finish().await
}

// A refusal is fixed outside the deployment: once the tenant's ServiceAccount is granted the
// rights, the next retry goes ahead. Refusals by RBAC retry within a minute (FORBIDDEN_RETRY_CAP);
// other stalled errors wait five, longer than this test waits, as a refusal did before.
#[tokio::test]
async fn a_refused_deployment_goes_ahead_once_its_service_account_is_granted_the_rights()
-> TestResult {
    let mut tenancy = Tenancy::start("atk-grant").await?;
    let cluster = Cluster::shared()?;
    let (tenant_a, victim) = (
        tenancy.tenant_a.name().to_string(),
        tenancy.victim.name().to_string(),
    );
    tenancy.publish("plain", "1.0.0", &[OWN])?;
    tenancy.tenant_adds_charts().await?;
    let mut spec = Tenancy::chart_spec("plain");
    spec["targetNamespace"] = json!(victim);
    tenancy.tenant_deploys("granted-later", spec).await?;
    let message = refused(&tenancy, "granted-later", "Forbidden").await?;
    assert!(message.contains("tried again within a minute"), "{message}");

    create_json(
        cluster,
        &json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": "tenant-a-edits", "namespace": victim},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                            "name": "edit"},
                "subjects": [{"kind": "ServiceAccount", "name": "default",
                              "namespace": tenant_a}]}),
    )
    .await?;
    tenancy
        .wait_tenant_deployment_while_running(
            "granted-later",
            std::time::Duration::from_secs(150),
            applied("1.0.0"),
        )
        .await?;
    let applied_there = Api::<ConfigMap>::namespaced(cluster.client().await?, &victim)
        .get_opt("granted-later-own")
        .await?;
    assert!(
        applied_there.is_some(),
        "granted-later-own is not in {victim}"
    );
    tenancy.finish().await
}

// Protection: --no-cross-namespace-refs. The tenant's ServiceAccount may write ConfigMaps in the
// victim namespace here, so without the flag the chart would be applied there.
#[tokio::test]
async fn with_no_cross_namespace_refs_a_foreign_target_namespace_is_invalid() -> TestResult {
    let options = TenancyOptions {
        no_cross_namespace_refs: true,
        ..TenancyOptions::default()
    };
    let mut tenancy = Tenancy::start_with("atk-nocross", options).await?;
    let cluster = Cluster::shared()?;
    let (tenant_a, victim) = (tenancy.tenant_a.name(), tenancy.victim.name());
    for object in [
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
               "metadata": {"name": "tenant-a-writes", "namespace": victim},
               "rules": [{"apiGroups": [""], "resources": ["configmaps"],
                          "verbs": ["get", "create", "patch", "update", "delete"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
               "metadata": {"name": "tenant-a-writes", "namespace": victim},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                           "name": "tenant-a-writes"},
               "subjects": [{"kind": "ServiceAccount", "name": "default",
                             "namespace": tenant_a}]}),
    ] {
        create_json(cluster, &object).await?;
    }
    tenancy.publish("plain", "1.0.0", &[OWN])?;
    tenancy.tenant_adds_charts().await?;
    let victim_before = Tenancy::contents(&tenancy.victim).await?;
    let mut spec = Tenancy::chart_spec("plain");
    spec["targetNamespace"] = json!(victim);
    tenancy.tenant_deploys("target-victim", spec).await?;

    let message = refused(&tenancy, "target-victim", "InvalidSpec").await?;
    assert!(
        message.contains("spec.targetNamespace") && message.contains("--no-cross-namespace-refs"),
        "{message}"
    );
    assert_eq!(Tenancy::contents(&tenancy.victim).await?, victim_before);

    // Its own namespace is still fine.
    tenancy
        .tenant_deploys("at-home", Tenancy::chart_spec("plain"))
        .await?;
    tenancy
        .wait_tenant_deployment("at-home", applied("1.0.0"))
        .await?;
    tenancy.assert_others_untouched().await?;
    tenancy.finish().await
}

/// A ConfigMap `settings` with the very data the existing one holds.
const SETTINGS: (&str, &str) = (
    "templates/settings.yaml",
    "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: production
",
);

/// Just the name of an existing CRD.
const CRD_NAME_ONLY: (&str, &str) = (
    "templates/crd.yaml",
    "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {{ values.crd }}
",
);

/// Who manages `object`'s fields, and its capstan annotation, if any.
fn ownership_marks(object: &impl Resource) -> (Vec<String>, Option<String>) {
    let managers = object
        .meta()
        .managed_fields
        .iter()
        .flatten()
        .filter_map(|entry| entry.manager.clone())
        .collect();
    let annotation = object
        .meta()
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get("capstan.dev/deployment").cloned());
    (managers, annotation)
}

// Protection: no adoption without spec.adopt (plan::write_for refuses an existing object that
// belongs to no ChartDeployment), and a first install's writes are create-only (the API server
// refuses them for an object that exists, before anything is written: its resourceVersion stays).
// The identities here may write both objects, so without it server-side apply would claim them
// (same values conflict with nobody) and deleting the ChartDeployments would delete them.
#[tokio::test]
async fn existing_objects_rendered_by_name_are_not_taken_over_nor_deleted() -> TestResult {
    let mut tenancy = Tenancy::start("atk-adopt").await?;
    let cluster = Cluster::shared()?;
    let tenant_a = tenancy.tenant_a.name().to_string();

    // Someone else's ConfigMap in the tenant's namespace, and a cluster-scoped CRD.
    create_json(
        cluster,
        &json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "settings", "namespace": tenant_a},
                "data": {"mode": "production"}}),
    )
    .await?;
    let group = format!("{tenant_a}.e2e.capstan.dev");
    let crd_name = format!("gadgets.{group}");
    tenancy.remember_cluster_object("customresourcedefinition", &crd_name);
    create_json(
        cluster,
        &json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": crd_name},
                "spec": {"group": group, "scope": "Namespaced",
                         "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                         "versions": [{"name": "v1", "served": true, "storage": true,
                                       "schema": {"openAPIV3Schema": {"type": "object",
                                         "x-kubernetes-preserve-unknown-fields": true}}}]}}),
    )
    .await?;
    cluster
        .kubectl()
        .args(["wait", "--for=condition=Established", "--timeout=60s"])
        .arg(format!("crd/{crd_name}"))
        .run()
        .await?;
    // A platform ServiceAccount of the tenant that may change and delete that one CRD.
    let platform_rules = format!("{tenant_a}-platform");
    tenancy.remember_cluster_object("clusterrole", &platform_rules);
    tenancy.remember_cluster_object("clusterrolebinding", &platform_rules);
    for object in [
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": "platform", "namespace": tenant_a}}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
               "metadata": {"name": platform_rules},
               "rules": [{"apiGroups": ["apiextensions.k8s.io"],
                          "resources": ["customresourcedefinitions"],
                          "resourceNames": [crd_name],
                          "verbs": ["get", "patch", "update", "delete"]}]}),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
               "metadata": {"name": platform_rules},
               "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                           "name": platform_rules},
               "subjects": [{"kind": "ServiceAccount", "name": "platform",
                             "namespace": tenant_a}]}),
    ] {
        create_json(cluster, &object).await?;
    }
    let config_maps = tenancy.tenant_a.api::<ConfigMap>();
    let crds = Api::<CustomResourceDefinition>::all(cluster.client().await?);
    let settings_before = config_maps.get("settings").await?;
    let crd_before = crds.get(&crd_name).await?;

    tenancy.publish("take-settings", "1.0.0", &[SETTINGS])?;
    tenancy.publish("take-crd", "1.0.0", &[CRD_NAME_ONLY])?;
    tenancy.tenant_adds_charts().await?;
    tenancy
        .tenant_deploys("take-settings", Tenancy::chart_spec("take-settings"))
        .await?;
    let mut take_crd = Tenancy::chart_spec("take-crd");
    take_crd["values"] = json!({"crd": crd_name});
    take_crd["serviceAccountName"] = json!("platform");
    tenancy.tenant_deploys("take-crd", take_crd).await?;

    let message = refused(&tenancy, "take-settings", "AdoptionRefused").await?;
    assert!(
        message.contains(&format!("ConfigMap {tenant_a}/settings"))
            && message.contains("spec.adopt"),
        "{message}"
    );
    // A CRD that exists and is someone else's is left as it is and not listed, as Helm leaves
    // the CRDs that exist (spec.install.crds: Create); CreateReplace would need spec.adopt.
    let took = tenancy
        .wait_tenant_deployment("take-crd", ready_is("True", |_| true))
        .await?;
    let inventory = took.status.clone().unwrap_or_default().inventory;
    assert!(
        !inventory.iter().any(|entry| entry.name == crd_name),
        "the CRD was listed: {inventory:?}"
    );

    // The tenant deletes its ChartDeployments; the operator's cleanup runs and lets them go.
    let deployments = tenancy.tenant_api::<ChartDeployment>();
    for name in ["take-settings", "take-crd"] {
        let uid = deployments.get(name).await?.uid().unwrap_or_default();
        deployments.delete(name, &DeleteParams::default()).await?;
        wait_for_deletion(&tenancy.tenant_a.api::<ChartDeployment>(), name, &uid, WAIT).await?;
    }

    let settings_after = config_maps.get("settings").await?;
    let crd_after = crds.get(&crd_name).await?;
    for (what, before, after) in [
        (
            "ConfigMap settings",
            (
                settings_before.uid(),
                settings_before.resource_version(),
                ownership_marks(&settings_before),
            ),
            (
                settings_after.uid(),
                settings_after.resource_version(),
                ownership_marks(&settings_after),
            ),
        ),
        (
            "the CRD",
            (
                crd_before.uid(),
                crd_before.resource_version(),
                ownership_marks(&crd_before),
            ),
            (
                crd_after.uid(),
                crd_after.resource_version(),
                ownership_marks(&crd_after),
            ),
        ),
    ] {
        assert_eq!(after, before, "{what} was changed");
        let (managers, annotation) = &after.2;
        assert!(
            annotation.is_none() && !managers.iter().any(|m| m.starts_with("capstan")),
            "{what} carries a mark of ours: {managers:?} {annotation:?}"
        );
    }
    tenancy.assert_others_untouched().await?;
    tenancy.finish().await
}

// Protections: the CRD's CEL rules on durations (the tenant's create is refused by the API
// server), and the undecodable object reported on itself while every other deployment is
// reconciled (without it, one bad object fails the operator's whole list of deployments and
// tenant-b is no longer served).
#[tokio::test]
async fn a_bad_duration_is_refused_and_one_written_around_validation_stops_nobody() -> TestResult {
    let mut tenancy = Tenancy::start("atk-duration").await?;
    let cluster = Cluster::shared()?;
    tenancy.publish("plain", "1.0.0", &[OWN])?;
    tenancy.tenant_adds_charts().await?;

    for interval in ["banana", "99999999999999999999h", "8761h"] {
        let mut spec = Tenancy::chart_spec("plain");
        spec["interval"] = json!(interval);
        let created = tenancy.tenant_deploys("wobbly", spec).await;
        let message = created.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("must be a Go duration") || message.contains("must be at most"),
            "the API server accepted interval {interval:?} from the tenant: {message}"
        );
    }

    // The same values stored around validation (as under an older CRD) are reported on the
    // objects themselves.
    for name in ["banana", "huge"] {
        tenancy
            .tenant_deploys(name, Tenancy::chart_spec("plain"))
            .await?;
        tenancy
            .wait_tenant_deployment(name, applied("1.0.0"))
            .await?;
    }
    store_deployment(
        cluster,
        &with_interval(&tenancy.tenant_a, "banana", "banana").await?,
    )
    .await?;
    store_deployment(
        cluster,
        &with_interval(&tenancy.tenant_a, "huge", "99999999999999999999h").await?,
    )
    .await?;
    for name in ["banana", "huge"] {
        let message = wait_reported_invalid(&tenancy.tenant_a, name).await?;
        assert!(message.contains("is not a duration"), "{message}");
    }
    tenancy.assert_others_served("after banana").await?;
    tenancy.assert_others_untouched().await?;

    // And a new deployment of the tenant itself is still reconciled.
    tenancy
        .tenant_deploys("after", Tenancy::chart_spec("plain"))
        .await?;
    tenancy
        .wait_tenant_deployment("after", applied("1.0.0"))
        .await?;
    let config_maps = tenancy.tenant_a.api::<ConfigMap>();
    wait_for(
        &config_maps,
        "after-own",
        "ConfigMap",
        WAIT,
        |cm: Option<&ConfigMap>| cm.is_some(),
    )
    .await?;
    tenancy.finish().await
}
