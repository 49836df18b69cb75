//! A stand-in API server for unit tests: a [`Client`] whose every request gets the same answer,
//! and the requests it was sent.

use std::sync::{Arc, Mutex};

use kube::Client;
use kube::client::Body;

/// The requests a fake API server was sent, each as `METHOD /path?query`.
pub type Asked = Arc<Mutex<Vec<String>>>;

/// A client whose API server answers every request with `status` and `body`.
pub fn answering(status: u16, body: serde_json::Value) -> (Client, Asked) {
    fake(status, body, false)
}

/// [`answering`], each request logged with its body: `METHOD /path?query body`.
pub fn answering_with_bodies(status: u16, body: serde_json::Value) -> (Client, Asked) {
    fake(status, body, true)
}

fn fake(status: u16, body: serde_json::Value, with_bodies: bool) -> (Client, Asked) {
    let asked = Asked::default();
    let log = asked.clone();
    let service = tower::service_fn(move |request: http::Request<Body>| {
        let log = log.clone();
        let body = body.clone();
        async move {
            let target = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string());
            let method = request.method().clone();
            let mut line = format!("{method} {}", target.unwrap_or_default());
            if with_bodies {
                let sent = http_body_util::BodyExt::collect(request.into_body())
                    .await
                    .map(|collected| collected.to_bytes())
                    .unwrap_or_default();
                line.push(' ');
                line.push_str(&String::from_utf8_lossy(&sent));
            }
            log.lock().unwrap().push(line);
            http::Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(&body).unwrap_or_default()))
        }
    });
    (Client::new(service, "default"), asked)
}

/// The Status body of an API error.
pub fn status(code: u16, reason: &str) -> serde_json::Value {
    serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                       "reason": reason, "code": code, "message": reason.to_lowercase()})
}
