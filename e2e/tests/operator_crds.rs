//! CRDs against the real API server: the chart's `crds/` are created on install and left alone on
//! upgrade unless `spec.upgrade.crds` says so; an existing CRD of someone else is neither changed
//! nor listed; an update that drops a stored version is refused with nothing written; CRDs are
//! never pruned, and deleted with the deployment only with `spec.uninstall.deleteCRDs`.

use capstan_api::ChartDeployment;
use capstan_e2e::operator::{Setup, TestResult, WAIT, applied, ready_is, ready_message};
use capstan_e2e::wait::{wait_for, wait_for_deletion};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;

/// A namespaced CRD `<plural>.<group>` of kind `kind` serving `versions` (the last one stored).
fn crd(group: &str, kind: &str, versions: &[&str]) -> String {
    let plural = format!("{}s", kind.to_lowercase());
    let last = versions.len() - 1;
    let versions: String = versions
        .iter()
        .enumerate()
        .map(|(index, version)| {
            format!(
                "    - name: {version}\n      served: true\n      storage: {}\n      schema:\n        \
                 openAPIV3Schema:\n          type: object\n          x-kubernetes-preserve-unknown-fields: true\n",
                index == last
            )
        })
        .collect();
    format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  \
         name: {plural}.{group}\nspec:\n  group: {group}\n  scope: Namespaced\n  names:\n    \
         plural: {plural}\n    singular: {singular}\n    kind: {kind}\n  versions:\n{versions}",
        singular = kind.to_lowercase(),
    )
}

/// A Widget `<release>-w` of `group`/`version`.
fn widget(group: &str, version: &str) -> String {
    format!(
        "apiVersion: {group}/{version}\nkind: Widget\nmetadata:\n  name: {{{{ release.name }}}}-w\n\
         spec:\n  size: 1\n"
    )
}

const MARKER: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-marker\n\
                      data:\n  version: \"{{ chart.version }}\"\n";

fn served_versions(crd: &CustomResourceDefinition) -> Vec<String> {
    crd.spec.versions.iter().map(|v| v.name.clone()).collect()
}

#[tokio::test]
async fn crds_follow_the_install_upgrade_and_uninstall_policies() -> TestResult {
    let setup = Setup::new("crds").await?;
    let group = format!("{}.capstan.test", setup.namespace.name());
    let widgets = format!("widgets.{group}");
    let gadgets = format!("gadgets.{group}");
    let crds: Api<CustomResourceDefinition> = Api::all(setup.namespace.client());

    // Someone else's CRD that the chart also ships.
    let theirs: CustomResourceDefinition = serde_saphyr::from_str(&crd(&group, "Gadget", &["v1"]))?;
    crds.create(&PostParams::default(), &theirs).await?;

    let gadget_v2 = crd(&group, "Gadget", &["v1", "v2"]);
    let publish = |version: &str, widget_crd: Option<String>| {
        let mut files = vec![
            ("templates/marker.yaml", MARKER.to_string()),
            ("crds/gadget.yaml", gadget_v2.clone()),
        ];
        if let Some(widget_crd) = widget_crd {
            files.push(("crds/widget.yaml", widget_crd));
            files.push(("templates/widget.yaml", widget(&group, "v1")));
        }
        let files: Vec<(&str, &str)> = files.iter().map(|(p, c)| (*p, c.as_str())).collect();
        setup.publish("kit", version, &files).map(drop)
    };
    publish("1.0.0", Some(crd(&group, "Widget", &["v1"])))?;
    publish("1.1.0", Some(crd(&group, "Widget", &["v1", "v2"])))?;
    publish("1.2.0", Some(crd(&group, "Widget", &["v2"])))?;
    publish("1.3.0", None)?;
    setup.apply_repository().await?;
    let chart = |version: &str| json!({"repository": {"repositoryRef": {"name": "charts"}, "name": "kit", "version": version}});

    // Install: the missing CRD is created and listed; the existing one is left as it was.
    setup
        .apply_deployment_with("app", json!({"chart": chart("1.0.0")}))
        .await?;
    let installed = setup.wait_deployment("app", applied("1.0.0")).await?;
    let listed = |deployment: &ChartDeployment| -> Vec<String> {
        deployment.status.as_ref().map_or(Vec::new(), |status| {
            status
                .inventory
                .iter()
                .filter(|entry| entry.kind == "CustomResourceDefinition")
                .map(|entry| entry.name.clone())
                .collect()
        })
    };
    assert_eq!(listed(&installed), vec![widgets.clone()]);
    let gadget = crds.get(&gadgets).await?;
    assert_eq!(
        served_versions(&gadget),
        ["v1"],
        "someone else's CRD changed"
    );
    assert!(
        !gadget
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key("capstan.dev/deployment"),
        "someone else's CRD was claimed"
    );

    // Upgrade, by default: CRDs are left alone, and stay listed.
    setup
        .patch_spec("app", json!({"chart": chart("1.1.0")}))
        .await?;
    let upgraded = setup.wait_deployment("app", applied("1.1.0")).await?;
    assert_eq!(served_versions(&crds.get(&widgets).await?), ["v1"]);
    assert_eq!(listed(&upgraded), vec![widgets.clone()]);

    // CreateReplace updates the CRD this deployment made; the other one still is not taken.
    setup
        .patch_spec(
            "app",
            json!({"chart": chart("1.1.0"), "upgrade": {"crds": "CreateReplace"}, "adopt": false}),
        )
        .await?;
    setup
        .wait_deployment(
            "app",
            ready_is("False", |reason| reason == "AdoptionRefused"),
        )
        .await?;
    // Without the other's CRD in its way (its owner removed it), the update goes through.
    let gadget_uid = crds.get(&gadgets).await?.metadata.uid.unwrap_or_default();
    crds.delete(&gadgets, &DeleteParams::default()).await?;
    wait_for_deletion(&crds, &gadgets, &gadget_uid, WAIT).await?;
    // A refused adoption waits for a change of the spec before it is tried again.
    setup.patch_spec("app", json!({"interval": "2m"})).await?;
    let replaced = wait_for(
        &crds,
        &widgets,
        "CRD",
        WAIT,
        |crd: Option<&CustomResourceDefinition>| {
            crd.is_some_and(|crd| served_versions(crd) == ["v1", "v2"])
        },
    )
    .await?;
    assert!(replaced.is_some());
    setup.wait_deployment("app", applied("1.1.0")).await?;

    // Dropping v1, still stored: refused before anything is written.
    setup
        .patch_spec("app", json!({"chart": chart("1.2.0")}))
        .await?;
    let refused = setup
        .wait_deployment(
            "app",
            ready_is("False", |reason| reason == "CRDVersionDropped"),
        )
        .await?;
    let message = ready_message(&refused);
    assert!(
        message.contains(&widgets) && message.contains("v1"),
        "{message}"
    );
    let marker = setup.namespace.api::<ConfigMap>().get("app-marker").await?;
    assert_eq!(
        marker
            .data
            .unwrap_or_default()
            .get("version")
            .map(String::as_str),
        Some("1.1.0"),
        "a refused revision wrote something"
    );

    // A revision without the CRDs: they are not pruned.
    setup
        .patch_spec("app", json!({"chart": chart("1.3.0")}))
        .await?;
    let dropped = setup.wait_deployment("app", applied("1.3.0")).await?;
    assert!(crds.get_opt(&widgets).await?.is_some(), "a CRD was pruned");
    assert_eq!(listed(&dropped), vec![gadgets.clone()]);

    // Deleting the deployment: its CRD stays without deleteCRDs, goes with it.
    let deployments = setup.namespace.api::<ChartDeployment>();
    let keep = deployments.get("app").await?;
    deployments
        .patch(
            "app",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"spec": {"uninstall": {"deleteCRDs": true}}})),
        )
        .await?;
    deployments.delete("app", &DeleteParams::default()).await?;
    wait_for_deletion(
        &deployments,
        "app",
        &keep.metadata.uid.unwrap_or_default(),
        WAIT,
    )
    .await?;
    // The API server removes a CRD once its custom resources are gone.
    wait_for(
        &crds,
        &gadgets,
        "deletion of CRD",
        WAIT,
        |crd: Option<&CustomResourceDefinition>| crd.is_none(),
    )
    .await?;
    // The CRD no longer listed (dropped by 1.3.0) is still left alone.
    assert!(crds.get_opt(&widgets).await?.is_some());
    crds.delete(&widgets, &DeleteParams::default()).await?;
    setup.finish().await
}
