//! Plan, approve, apply exactly that plan (`spec.approval: Manual`) against the real API server:
//! the plan waits in status with its diffs in ConfigMaps and nothing applied; approving its digest
//! applies it; a stale digest applies nothing; a live edit makes another plan; Secret values never
//! show; 500 objects stay within status limits.

use capstan_api::ChartDeployment;
use capstan_e2e::operator::{Setup, TestResult, applied, ready_is};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{ListParams, Patch, PatchParams};
use serde_json::json;

const CANARY: &str = "s3cr3t-canary-value-7c1";

/// A ConfigMap `<release>-main` and a Secret `<release>-creds` holding `values.password`.
const TEMPLATES: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ release.name }}-main
data:
  greeting: {{ values.greeting }}
---
apiVersion: v1
kind: Secret
metadata:
  name: {{ release.name }}-creds
stringData:
  password: {{ values.password }}
";

/// `values.count` ConfigMaps.
const MANY: &str = "{% for n in range(values.count) %}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ release.name }}-item-{{ n }}
data:
  n: \"{{ n }}\"
{% endfor %}";

fn plan_digest(deployment: &ChartDeployment) -> Option<String> {
    deployment
        .status
        .as_ref()
        .and_then(|status| status.plan.as_ref())
        .map(|plan| plan.digest.clone())
}

async fn all_plan_text(setup: &Setup, name: &str) -> TestResult<String> {
    let config_maps = setup
        .namespace
        .api::<ConfigMap>()
        .list(&ListParams::default().labels(&format!("capstan.dev/plan-of={name}")))
        .await?;
    Ok(config_maps
        .items
        .iter()
        .flat_map(|config_map| config_map.data.iter().flatten())
        .map(|(_, diff)| diff.clone())
        .collect::<Vec<_>>()
        .join("\n"))
}

#[tokio::test]
async fn a_manual_deployment_applies_only_the_approved_plan() -> TestResult {
    let setup = Setup::new("approval").await?;
    setup.publish(
        "app",
        "1.0.0",
        &[
            (
                "values.yaml",
                &format!("greeting: hello\npassword: {CANARY}\n"),
            ),
            ("templates/main.yaml", TEMPLATES),
        ],
    )?;
    setup.apply_repository().await?;
    let spec = |extra: serde_json::Value| {
        let mut spec = json!({"chart": {"repository": {"repositoryRef": {"name": "charts"},
                                                      "name": "app", "version": "1.0.0"}},
                              "approval": "Manual", "interval": "2s"});
        if let (Some(spec), Some(extra)) = (spec.as_object_mut(), extra.as_object()) {
            spec.extend(extra.clone());
        }
        spec
    };
    setup.apply_deployment_with("web", spec(json!({}))).await?;
    let waiting = setup
        .wait_deployment(
            "web",
            ready_is("False", |reason| reason == "AwaitingApproval"),
        )
        .await?;
    let plan = waiting
        .status
        .as_ref()
        .and_then(|s| s.plan.clone())
        .ok_or("no plan")?;
    assert_eq!(
        (plan.create, plan.change, plan.prune),
        (2, 0, 0),
        "{plan:?}"
    );
    let config_maps = setup.namespace.api::<ConfigMap>();
    assert!(
        config_maps.get_opt("web-main").await?.is_none(),
        "nothing applied"
    );
    let text = all_plan_text(&setup, "web").await?;
    assert!(text.contains("greeting: hello"), "{text}");
    assert!(text.contains("(masked "), "{text}");
    let status_text = serde_json::to_string(&waiting.status)?;
    for shown in [&text, &status_text] {
        assert!(!shown.contains(CANARY), "the Secret value shows: {shown}");
    }

    // A stale digest applies nothing.
    setup
        .patch_spec("web", json!({"approvedPlan": "sha256:0000"}))
        .await?;
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    assert!(
        config_maps.get_opt("web-main").await?.is_none(),
        "stale digest applied"
    );

    // The right one applies exactly that plan, recorded in history.
    setup
        .patch_spec("web", json!({"approvedPlan": plan.digest}))
        .await?;
    let done = setup.wait_deployment("web", applied("1.0.0")).await?;
    let status = done.status.unwrap_or_default();
    assert_eq!(status.plan, None);
    assert_eq!(
        status.history[0].plan_digest.as_deref(),
        Some(plan.digest.as_str())
    );
    let secret = setup.namespace.api::<Secret>().get("web-creds").await?;
    assert!(
        secret
            .data
            .is_some_and(|data| data.contains_key("password"))
    );

    // Someone edits a live object: correcting it is a new plan with another digest.
    config_maps
        .patch(
            "web-main",
            &PatchParams::apply("someone-else").force(),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap",
                                 "data": {"greeting": "edited"}})),
        )
        .await?;
    let replanned = setup
        .wait_deployment("web", |d: Option<&ChartDeployment>| {
            d.and_then(plan_digest)
                .is_some_and(|digest| digest != plan.digest)
        })
        .await?;
    let edit_plan = replanned.status.and_then(|s| s.plan).ok_or("no plan")?;
    assert_eq!(
        (edit_plan.create, edit_plan.change),
        (0, 1),
        "{edit_plan:?}"
    );
    assert_eq!(edit_plan.objects[0].paths, ["/data/greeting"]);
    let greeting = config_maps.get("web-main").await?.data.unwrap_or_default();
    assert_eq!(greeting.get("greeting").map(String::as_str), Some("edited"));
    setup.finish().await
}

#[tokio::test]
async fn a_plan_of_500_objects_stays_within_status_limits() -> TestResult {
    let setup = Setup::new("approval-many").await?;
    setup.publish(
        "many",
        "1.0.0",
        &[
            ("values.yaml", "count: 500\n"),
            ("templates/items.yaml", MANY),
        ],
    )?;
    setup.apply_repository().await?;
    setup
        .apply_deployment_with(
            "big",
            json!({"chart": {"repository": {"repositoryRef": {"name": "charts"},
                                            "name": "many", "version": "1.0.0"}},
                   "approval": "Manual"}),
        )
        .await?;
    let waiting = setup
        .wait_deployment(
            "big",
            ready_is("False", |reason| reason == "AwaitingApproval"),
        )
        .await?;
    let plan = waiting
        .status
        .as_ref()
        .and_then(|s| s.plan.clone())
        .ok_or("no plan")?;
    assert_eq!(plan.create, 500);
    assert!(
        plan.objects.len() <= 50 && plan.truncated,
        "{}",
        plan.objects.len()
    );
    assert!(serde_json::to_vec(&waiting.status)?.len() < 64 * 1024);
    let text = all_plan_text(&setup, "big").await?;
    assert_eq!(text.matches("# Create ConfigMap").count(), 500);
    setup.finish().await
}
