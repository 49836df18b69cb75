//! A small in-memory Kubernetes API server for in-process reconcile tests.
//!
//! It serves what a ChartDeployment reconcile asks for: aggregated discovery (`/api`, `/apis`),
//! `/version`, and GET, server-side apply PATCH and DELETE of namespaced objects (and their
//! `status` subresource), plus Event creation. Objects live in a map keyed by their path; a
//! server-side apply merges the applied fields over the stored object (enough for the reconcile's
//! own round trips, not a model of field ownership), a resourceVersion it carries being a
//! precondition on a stored object. Every request is recorded, so tests can
//! assert which writes a reconcile sent (none, on a reconcile that changes nothing).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use kube::client::Body;
use serde_json::{Value, json};

/// One request the fake server received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    pub method: String,
    /// The path without the query string.
    pub path: String,
    /// Sent with `dryRun=All`: checked, nothing stored.
    pub dry_run: bool,
    /// The user impersonated (`Impersonate-User`), if any.
    pub impersonating: Option<String>,
}

impl Recorded {
    /// Whether the request changes something (anything but GET, or a dry run).
    pub fn is_write(&self) -> bool {
        self.method != "GET" && !self.dry_run
    }
}

/// The kinds the fake server serves: `(group, version, kind, plural)`, all namespaced.
const KINDS: &[(&str, &str, &str, &str)] = &[
    ("", "v1", "ConfigMap", "configmaps"),
    ("", "v1", "Secret", "secrets"),
    ("", "v1", "Service", "services"),
    ("apps", "v1", "Deployment", "deployments"),
    (
        "capstan.dev",
        "v1alpha1",
        "ChartDeployment",
        "chartdeployments",
    ),
    (
        "capstan.dev",
        "v1alpha1",
        "ChartRepository",
        "chartrepositories",
    ),
    ("events.k8s.io", "v1", "Event", "events"),
];

#[derive(Default)]
struct State {
    objects: BTreeMap<String, Value>,
    requests: Vec<Recorded>,
    next_version: u64,
}

/// The fake server; cheap to clone, all clones share the same objects.
#[derive(Clone, Default)]
pub struct FakeApi {
    state: Arc<Mutex<State>>,
}

impl FakeApi {
    /// A client that talks to this server.
    pub fn client(&self) -> kube::Client {
        let api = self.clone();
        let service = tower::service_fn(move |request: Request<Body>| {
            let api = api.clone();
            async move { Ok::<_, Infallible>(api.handle(request).await) }
        });
        kube::Client::new(service, "default")
    }

    /// Stores `object` (a full Kubernetes object as JSON) as if created by someone else.
    pub fn insert(&self, object: Value) {
        let path = object_path(&object).expect("the object names a served kind");
        let mut state = self.lock();
        let stored = state.stamp(object);
        state.objects.insert(path, stored);
    }

    /// The stored object at `api_version`/`kind`/`namespace`/`name`.
    pub fn get(&self, api_version: &str, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let path = path_of(api_version, kind, namespace, name)?;
        self.lock().objects.get(&path).cloned()
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// Forgets the requests received so far.
    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    async fn handle(&self, request: Request<Body>) -> Response<Full<Bytes>> {
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let dry_run = request
            .uri()
            .query()
            .is_some_and(|query| query.contains("dryRun=All"));
        let impersonating = request
            .headers()
            .get("Impersonate-User")
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        let body = request
            .into_body()
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .unwrap_or_default();
        let mut state = self.lock();
        state.requests.push(Recorded {
            method: method.to_string(),
            path: path.clone(),
            dry_run,
            impersonating,
        });
        match (method, path.as_str()) {
            (Method::GET, "/version") => respond(
                StatusCode::OK,
                json!({"major": "1", "minor": "36", "gitVersion": "v1.36.3"}),
            ),
            (Method::GET, "/api") => respond(StatusCode::OK, discovery(true)),
            (Method::GET, "/apis") => respond(StatusCode::OK, discovery(false)),
            (Method::GET, path) => match state.objects.get(path.trim_end_matches("/status")) {
                Some(object) => respond(StatusCode::OK, object.clone()),
                None => not_found(path),
            },
            (Method::PATCH, path) => state.apply(path, &body, dry_run),
            (Method::POST, path) if path.ends_with("/events") => {
                let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                respond(StatusCode::CREATED, event)
            }
            (Method::DELETE, path) => match state.objects.remove(path) {
                Some(object) => respond(StatusCode::OK, object),
                None => not_found(path),
            },
            (method, path) => respond(
                StatusCode::METHOD_NOT_ALLOWED,
                status_body(405, &format!("{method} {path} is not served by the fake")),
            ),
        }
    }
}

impl State {
    fn stamp(&mut self, mut object: Value) -> Value {
        self.next_version += 1;
        let metadata = &mut object["metadata"];
        if metadata.get("uid").is_none() {
            metadata["uid"] = json!(format!("uid-{}", self.next_version));
        }
        metadata["resourceVersion"] = json!(self.next_version.to_string());
        object
    }

    /// Server-side apply, roughly: the applied fields merged over what is stored (the status
    /// subresource replaces `status` only).
    fn apply(&mut self, path: &str, body: &[u8], dry_run: bool) -> Response<Full<Bytes>> {
        let Ok(applied) = serde_json::from_slice::<Value>(body) else {
            return respond(
                StatusCode::BAD_REQUEST,
                status_body(400, "the patch is not JSON"),
            );
        };
        let (object_path, status_only) = match path.strip_suffix("/status") {
            Some(object_path) => (object_path.to_string(), true),
            None => (path.to_string(), false),
        };
        let stored = self.objects.get(&object_path).cloned();
        // A resourceVersion in the applied object is a precondition on a stored one; a create
        // ignores it.
        let precondition = applied["metadata"]["resourceVersion"]
            .as_str()
            .filter(|version| !version.is_empty());
        if let (Some(stored), Some(wanted)) = (&stored, precondition)
            && stored["metadata"]["resourceVersion"] != wanted
        {
            return respond(
                StatusCode::CONFLICT,
                status_body(409, "the object has been modified"),
            );
        }
        let merged = match (stored, status_only) {
            (Some(mut stored), true) => {
                stored["status"] = applied["status"].clone();
                stored
            }
            (None, true) => return not_found(path),
            (Some(mut stored), false) => {
                merge(&mut stored, &applied);
                stored
            }
            (None, false) => applied,
        };
        if dry_run {
            return respond(StatusCode::OK, merged);
        }
        let stored = self.stamp(merged);
        self.objects.insert(object_path, stored.clone());
        respond(StatusCode::OK, stored)
    }
}

/// Merges `patch` into `target`: maps key by key, anything else replaced.
fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(target.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

fn plural_of(api_version: &str, kind: &str) -> Option<(&'static str, &'static str)> {
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    KINDS
        .iter()
        .find(|(g, v, k, _)| *g == group && *v == version && *k == kind)
        .map(|(g, _, _, plural)| (*g, *plural))
}

fn path_of(api_version: &str, kind: &str, namespace: &str, name: &str) -> Option<String> {
    let (group, plural) = plural_of(api_version, kind)?;
    let prefix = if group.is_empty() {
        format!("/api/{api_version}")
    } else {
        format!("/apis/{api_version}")
    };
    Some(format!("{prefix}/namespaces/{namespace}/{plural}/{name}"))
}

fn object_path(object: &Value) -> Option<String> {
    path_of(
        object["apiVersion"].as_str()?,
        object["kind"].as_str()?,
        object["metadata"]["namespace"].as_str()?,
        object["metadata"]["name"].as_str()?,
    )
}

/// Aggregated discovery (`apidiscovery.k8s.io/v2`) of the core group or of the named groups.
fn discovery(core: bool) -> Value {
    let mut groups: BTreeMap<&str, BTreeMap<&str, Vec<Value>>> = BTreeMap::new();
    for (group, version, kind, plural) in KINDS {
        if group.is_empty() != core {
            continue;
        }
        groups
            .entry(group)
            .or_default()
            .entry(version)
            .or_default()
            .push(json!({
                "resource": plural,
                "responseKind": {"group": group, "version": version, "kind": kind},
                "scope": "Namespaced",
                "singularResource": kind.to_lowercase(),
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
            }));
    }
    let items: Vec<Value> = groups
        .into_iter()
        .map(|(group, versions)| {
            let versions: Vec<Value> = versions
                .into_iter()
                .map(|(version, resources)| json!({"version": version, "resources": resources}))
                .collect();
            json!({"metadata": {"name": group}, "versions": versions})
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    })
}

fn status_body(code: u16, message: &str) -> Value {
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "code": code,
        "reason": if code == 404 { "NotFound" } else { "BadRequest" },
    })
}

fn not_found(path: &str) -> Response<Full<Bytes>> {
    respond(
        StatusCode::NOT_FOUND,
        status_body(404, &format!("{path} not found")),
    )
}

fn respond(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}
