//! Hostile charts against an operator under the memory limit `config/base/deployment.yaml`
//! ships: each ends `RenderFailed` with a reason naming the limit it ran into, the operator
//! keeps running (the same process), and the other tenant's deployment is still served.
//!
//! The operator runs as `config/` runs it (see `attack_suite.rs` and `capstan_e2e::tenancy`),
//! under `prlimit --data` set to the container's memory limit: its heap, anonymous mappings and
//! thread stacks together may not exceed it, and an allocation beyond aborts the process, as
//! the kernel's OOM killer would end the container.
//!
//! Protection: the render's budgets (fuel for everything that makes bytes, file reads
//! included, the output capped while it is written, the number of objects capped before they
//! are parsed) and the YAML parser's depth limit. Without them each chart makes the renderer
//! allocate far beyond the limit, or the parser recurse off its stack, and the operator dies.

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

/// A 4 MiB file of the chart (a few kilobytes compressed) read again on every turn of a loop.
const FILES_BOMB: &str = "{% for i in range(100000) %}{{ files.get('big.txt') }}{% endfor %}";

/// YAML nested 200,000 levels deep: a parser without a depth limit recurses off its stack, which
/// aborts the whole process.
const DEEP_NESTING: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: deep
data: {{ '[' * 200000 }}{{ ']' * 200000 }}
";

/// Deploys the chart of `files` as the tenant's under the shipped memory limit and checks the
/// outcome described in the module documentation; the reason must contain one of `limit_named`.
async fn survives(prefix: &str, files: &[(&str, &str)], limit_named: &[&str]) -> TestResult {
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
    tenancy.publish("bomb", "1.0.0", files)?;
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
        limit_named.iter().any(|limit| message.contains(limit)),
        "the reason names the limit ({limit_named:?}): {message}"
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

/// What the reason of a render stopped by its budgets says.
const RENDER_LIMIT: &[&str] = &["render limit", "budget"];

#[tokio::test]
async fn the_indent_bomb_is_stopped_by_the_render_budget() -> TestResult {
    survives(
        "atk-indent",
        &[("templates/bomb.yaml", INDENT_BOMB)],
        RENDER_LIMIT,
    )
    .await
}

#[tokio::test]
async fn a_string_doubling_without_fuel_is_stopped_by_the_render_budget() -> TestResult {
    survives(
        "atk-output",
        &[("templates/bomb.yaml", OUTPUT_BOMB)],
        RENDER_LIMIT,
    )
    .await
}

#[tokio::test]
async fn a_hundred_thousand_objects_are_stopped_by_the_object_limit() -> TestResult {
    survives(
        "atk-objects",
        &[("templates/bomb.yaml", MANY_OBJECTS)],
        RENDER_LIMIT,
    )
    .await
}

#[tokio::test]
async fn a_big_file_read_in_a_loop_is_stopped_by_the_render_budget() -> TestResult {
    let big = "x".repeat(4 << 20);
    survives(
        "atk-files",
        &[("big.txt", &big), ("templates/bomb.yaml", FILES_BOMB)],
        RENDER_LIMIT,
    )
    .await
}

#[tokio::test]
async fn yaml_nested_two_hundred_thousand_deep_is_refused_by_the_depth_limit() -> TestResult {
    survives(
        "atk-deep",
        &[("templates/bomb.yaml", DEEP_NESTING)],
        &["recursion limit"],
    )
    .await
}
