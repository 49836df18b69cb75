//! Prometheus metrics and the health endpoints, served over HTTP on `--metrics-bind-address`:
//! `/metrics` (Prometheus text format), `/healthz` and `/readyz` (the Deployment's probes).
//!
//! Labels name a controller, an outcome or a result kind, never an object: the series stay few
//! however many repositories and deployments there are, and no name or URL leaves the process.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tracing::{info, warn};

/// A slow client gets this long to send its request headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReconcileLabels {
    controller: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ControllerLabels {
    controller: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FetchLabels {
    result: &'static str,
}

/// What a fetch of a repository's index came to.
#[derive(Clone, Copy, Debug)]
pub enum IndexFetch {
    /// A new or changed index was downloaded.
    Downloaded,
    /// The server answered that the index had not changed: nothing downloaded.
    NotModified,
    /// The fetch failed; the last good index stays in use.
    Failed,
}

/// The operator's metrics. Cheap to update from any task.
pub struct Metrics {
    registry: Registry,
    reconciles: Family<ReconcileLabels, Counter>,
    reconcile_seconds: Family<ControllerLabels, Histogram, fn() -> Histogram>,
    index_fetches: Family<FetchLabels, Counter>,
    leader: Gauge,
}

fn reconcile_histogram() -> Histogram {
    // 5 ms to about 80 s.
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("capstan");
        let reconciles = Family::<ReconcileLabels, Counter>::default();
        registry.register(
            "reconciles",
            "Reconciles by controller and result (success or error)",
            reconciles.clone(),
        );
        let reconcile_seconds =
            Family::<ControllerLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                reconcile_histogram,
            );
        registry.register(
            "reconcile_duration_seconds",
            "How long reconciles took, by controller",
            reconcile_seconds.clone(),
        );
        let index_fetches = Family::<FetchLabels, Counter>::default();
        registry.register(
            "index_fetches",
            "Repository index fetches by result (downloaded, not_modified or failed)",
            index_fetches.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "leader",
            "1 while this process reconciles (it holds the Lease, or runs without leader election), 0 while it waits as a standby",
            leader.clone(),
        );
        Metrics {
            registry,
            reconciles,
            reconcile_seconds,
            index_fetches,
            leader,
        }
    }
}

impl Metrics {
    /// Records one reconcile of `controller` (`ChartDeployment` or `ChartRepository`).
    pub fn reconciled(&self, controller: &'static str, succeeded: bool, took: Duration) {
        let result = if succeeded { "success" } else { "error" };
        self.reconciles
            .get_or_create(&ReconcileLabels { controller, result })
            .inc();
        self.reconcile_seconds
            .get_or_create(&ControllerLabels { controller })
            .observe(took.as_secs_f64());
    }

    pub fn index_fetched(&self, fetch: IndexFetch) {
        let result = match fetch {
            IndexFetch::Downloaded => "downloaded",
            IndexFetch::NotModified => "not_modified",
            IndexFetch::Failed => "failed",
        };
        self.index_fetches
            .get_or_create(&FetchLabels { result })
            .inc();
    }

    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// The metrics in Prometheus' text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// Binds `address`, so that a taken port fails the start rather than the first scrape.
pub async fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let listener = TcpListener::bind(address).await?;
    info!(address = %listener.local_addr()?, "serving /metrics, /healthz and /readyz");
    Ok(listener)
}

/// Serves the endpoints on `listener` until the process ends.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                warn!(%error, "accepting a metrics connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let metrics = Arc::clone(&metrics);
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let response = respond(request.method(), request.uri().path(), &metrics);
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn respond(method: &Method, path: &str, metrics: &Metrics) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match (method, path) {
        (&Method::GET, "/metrics") => (
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics.encode(),
        ),
        // Alive and ready once serving: the API server was reachable at start, and a standby
        // is ready too (it is doing what it should).
        (&Method::GET, "/healthz" | "/readyz") => {
            (StatusCode::OK, "text/plain; charset=utf-8", "ok\n".into())
        }
        (&Method::GET, _) => (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found: try /metrics, /healthz or /readyz\n".into(),
        ),
        _ => (
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "only GET\n".into(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconciles_fetches_and_leadership_are_counted_without_object_names() {
        let metrics = Metrics::default();
        metrics.reconciled("ChartDeployment", true, Duration::from_millis(30));
        metrics.reconciled("ChartDeployment", true, Duration::from_millis(50));
        metrics.reconciled("ChartRepository", false, Duration::from_millis(5));
        metrics.index_fetched(IndexFetch::NotModified);
        metrics.set_leader(true);
        let text = metrics.encode();
        for line in [
            r#"capstan_reconciles_total{controller="ChartDeployment",result="success"} 2"#,
            r#"capstan_reconciles_total{controller="ChartRepository",result="error"} 1"#,
            r#"capstan_reconcile_duration_seconds_count{controller="ChartDeployment"} 2"#,
            r#"capstan_index_fetches_total{result="not_modified"} 1"#,
            "capstan_leader 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{line} missing from\n{text}"
            );
        }
    }

    #[test]
    fn the_endpoints_answer_get_only() {
        let metrics = Metrics::default();
        assert_eq!(
            respond(&Method::GET, "/healthz", &metrics).status(),
            StatusCode::OK
        );
        assert_eq!(
            respond(&Method::GET, "/readyz", &metrics).status(),
            StatusCode::OK
        );
        let scraped = respond(&Method::GET, "/metrics", &metrics);
        assert_eq!(scraped.status(), StatusCode::OK);
        assert!(
            scraped.headers()[hyper::header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("application/openmetrics-text")
        );
        assert_eq!(
            respond(&Method::GET, "/secrets", &metrics).status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            respond(&Method::POST, "/metrics", &metrics).status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }
}
