//! Hostile charts against an operator under the memory limit `config/base/deployment.yaml`
//! ships: each ends `RenderFailed` with a reason naming the limit it ran into, the operator
//! keeps running (the same process), and the other tenant's deployment is still served.
//!
//! The operator runs as `config/` runs it (see `attack_suite.rs` and `capstan_e2e::tenancy`),
//! under `prlimit --data` set to the container's memory limit: its heap, anonymous mappings and
//! thread stacks together may not exceed it, and an allocation beyond aborts the process, as
//! the kernel's OOM killer would end the container.
//!
//! Protection: the render's budgets (fuel for everything that makes bytes, the output capped
//! while it is written, the number of objects capped before they are parsed). Without them
//! each chart makes the renderer allocate far beyond the limit and the operator dies.

use std::time::Duration;

use capstan_e2e::Cluster;
use capstan_e2e::operator::{TestResult, ready_is, ready_message};
use capstan_e2e::tenancy::{Tenancy, TenancyOptions, create_json, shipped_memory_limit};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ListParams;
use serde_json::json;

/// Long enough for a bounded render to fail and be reported on a machine shared with builds.
const BOMB_WAIT: Duration = Duration::from_secs(180);

/// `indent` pads every line of a text with many lines: each call adds hundreds of megabytes.
const INDENT_BOMB: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: indent
data:
  text: |
{{ ('a\\n' * 200000) | indent(1000) | indent(1000) | nindent(1000) }}
";

/// A string that doubles on every turn of a short loop: few instructions, 2^64 bytes.
const OUTPUT_BOMB: &str = "{% set ns = namespace(s='xx') %}{% for i in range(64) %}\
{% set ns.s = ns.s ~ ns.s %}{% endfor %}apiVersion: v1
kind: ConfigMap
metadata:
  name: output
data:
  text: {{ ns.s }}
";

/// 100,000 tiny objects.
const MANY_OBJECTS: &str = "{% for i in range(100000) %}---
apiVersion: v1
kind: ConfigMap
metadata:
  name: tiny-{{ i }}
{% endfor %}";

/// Deploys `template` as a chart of the tenant under the shipped memory limit and checks the
/// outcome described in the module documentation.
async fn survives(prefix: &str, template: &str) -> TestResult {
    let options = TenancyOptions {
        memory_limit: Some(shipped_memory_limit()?),
        ..TenancyOptions::default()
    };
    let mut tenancy = Tenancy::start_with(prefix, options).await?;
    let cluster = Cluster::shared()?;
    // Should a bound be missing, the objects the operator would go on to create stay few: the
    // shared cluster is not flooded.
    create_json(
        cluster,
        &json!({"apiVersion": "v1", "kind": "ResourceQuota",
                "metadata": {"name": "few", "namespace": tenancy.tenant_a.name()},
                "spec": {"hard": {"count/configmaps": "20"}}}),
    )
    .await?;
    tenancy.publish("bomb", "1.0.0", &[("templates/bomb.yaml", template)])?;
    tenancy.tenant_adds_charts().await?;
    let mut spec = Tenancy::chart_spec("bomb");
    spec["timeout"] = json!("2m");
    tenancy.tenant_deploys("bomb", spec).await?;

    let refused = tenancy
        .wait_tenant_deployment_while_running(
            "bomb",
            BOMB_WAIT,
            ready_is("False", |reason| reason == "RenderFailed"),
        )
        .await?;
    let message = ready_message(&refused);
    assert!(
        message.contains("render limit") || message.contains("budget"),
        "the reason names the limit: {message}"
    );
    assert!(message.chars().count() <= 1000, "a short reason: {message}");
    let config_maps = tenancy
        .tenant_a
        .api::<ConfigMap>()
        .list(&ListParams::default())
        .await?;
    let applied: Vec<_> = config_maps
        .iter()
        .filter_map(|cm| cm.metadata.name.clone())
        .filter(|name| name != "kube-root-ca.crt")
        .collect();
    assert!(applied.is_empty(), "applied: {applied:?}");
    tenancy.assert_others_served("after the bomb").await?;
    tenancy.assert_others_untouched().await?;
    tenancy.finish().await
}

#[tokio::test]
async fn the_indent_bomb_is_stopped_by_the_render_budget() -> TestResult {
    survives("atk-indent", INDENT_BOMB).await
}

#[tokio::test]
async fn a_string_doubling_without_fuel_is_stopped_by_the_render_budget() -> TestResult {
    survives("atk-output", OUTPUT_BOMB).await
}

#[tokio::test]
async fn a_hundred_thousand_objects_are_stopped_by_the_object_limit() -> TestResult {
    survives("atk-objects", MANY_OBJECTS).await
}
