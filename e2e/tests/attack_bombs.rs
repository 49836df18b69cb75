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

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use capstan_e2e::Cluster;
use capstan_e2e::operator::{
    TestResult, ready_is, ready_message, repository_ready, repository_ready_is,
};
use capstan_e2e::tenancy::{Tenancy, TenancyOptions, create_json, shipped_memory_limit};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::ListParams;
use serde_json::json;
use support::ChartServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

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

/// A server that answers every request with `200 OK`, no declared length, and zeros until the
/// client hangs up: a download only a cap while reading can stop.
struct EndlessServer {
    url: String,
    /// Bytes sent, all connections together.
    sent: Arc<AtomicU64>,
    accept: JoinHandle<()>,
}

impl EndlessServer {
    async fn start() -> TestResult<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let sent = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&sent);
        let accept = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let mut head = [0u8; 4096];
                    let _ = stream.read(&mut head).await;
                    let header = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n";
                    if stream.write_all(header).await.is_err() {
                        return;
                    }
                    let zeros = vec![0u8; 64 << 10];
                    while stream.write_all(&zeros).await.is_ok() {
                        counter.fetch_add(zeros.len() as u64, Ordering::Relaxed);
                    }
                });
            }
        });
        Ok(EndlessServer { url, sent, accept })
    }
}

impl Drop for EndlessServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

// Protection: downloads capped while they are read (the index at --max-index-bytes, an archive
// at the loader's 20 MiB). Without it the operator reads an endless answer into memory until
// the limit aborts it.
#[tokio::test]
async fn endless_downloads_are_cut_at_their_caps() -> TestResult {
    let options = TenancyOptions {
        memory_limit: Some(shipped_memory_limit()?),
        ..TenancyOptions::default()
    };
    let mut tenancy = Tenancy::start_with("atk-endless", options).await?;
    let endless = EndlessServer::start().await?;
    // A well-formed index whose one chart's archive is the endless answer.
    let index_server = ChartServer::start().await?;
    std::fs::write(
        index_server.dir().join("index.yaml"),
        format!(
            "apiVersion: v1\nentries:\n  endless:\n  - apiVersion: v2\n    name: endless\n    \
             version: 1.0.0\n    urls:\n    - {}/endless-1.0.0.tgz\n",
            endless.url
        ),
    )?;
    tenancy
        .tenant_adds_repository("endless-index", json!({"url": endless.url}))
        .await?;
    tenancy
        .tenant_adds_repository("charts", json!({"url": index_server.url()}))
        .await?;
    let mut spec = Tenancy::chart_spec("endless");
    spec["timeout"] = json!("2m");
    tenancy.tenant_deploys("endless", spec).await?;

    let repository = tenancy
        .wait_tenant_repository(
            "endless-index",
            repository_ready_is("False", |reason| reason == "IndexTooLarge"),
        )
        .await?;
    let message = repository_ready(&repository)
        .map(|ready| ready.message.clone())
        .unwrap_or_default();
    assert!(message.contains("limit"), "{message}");
    let refused = tenancy
        .wait_tenant_deployment_while_running(
            "endless",
            BOMB_WAIT,
            ready_is("False", |reason| reason == "FetchFailed"),
        )
        .await?;
    let message = ready_message(&refused);
    assert!(
        message.contains("larger than the limit of 20971520 bytes"),
        "the reason names the cap: {message}"
    );
    tenancy
        .assert_others_served("after the endless downloads")
        .await?;
    tenancy.assert_others_untouched().await?;
    // The answers were really streamed up to the caps (no declared length refused them early).
    let sent = endless.sent.load(Ordering::Relaxed);
    assert!(sent >= 20 << 20, "only {sent} bytes were sent");
    tenancy.finish().await
}
