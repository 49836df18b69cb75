//! Helpers of the operator's lifecycle tests: a chart server the test can take down, the API
//! server's audit log, and condition checks.
//!
//! Each test binary that uses this declares `mod support;`, and not every binary uses every
//! helper.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use capstan_e2e::Cluster;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

pub type Outcome<T> = capstan_e2e::operator::TestResult<T>;
pub type TestResult = capstan_e2e::operator::TestResult;

// Not every test binary uses both.
#[allow(unused_imports)]
pub use capstan_e2e::operator::{ready_message, repository_ready_is};

/// A chart repository served over plain HTTP from a temporary directory by this test process,
/// so a test can make it unavailable or stop it without touching the shared peers. It counts
/// the requests for each path, also those it answers with 503.
pub struct ChartServer {
    dir: tempfile::TempDir,
    address: SocketAddr,
    state: Arc<ServerState>,
    accept: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct ServerState {
    unavailable: AtomicBool,
    /// How long answers to `index.yaml` are held back, in milliseconds.
    index_delay_ms: AtomicU64,
    requests: Mutex<HashMap<String, usize>>,
    /// Every request's head (request line and headers), as received.
    heads: Mutex<Vec<String>>,
}

/// Request heads larger than this are refused.
const MAX_REQUEST_HEAD: usize = 16 * 1024;

impl ChartServer {
    /// Serves a new empty directory on a free loopback port.
    pub async fn start() -> Outcome<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let mut server = ChartServer {
            dir: tempfile::tempdir()?,
            address,
            state: Arc::default(),
            accept: None,
        };
        server.serve(listener);
        Ok(server)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Closes the port: connections are refused until [`ChartServer::resume`].
    pub fn stop(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
        }
    }

    /// Listens again on the same port.
    pub async fn resume(&mut self) -> TestResult {
        self.stop();
        let mut attempts = 0;
        let listener = loop {
            match TcpListener::bind(self.address).await {
                Ok(listener) => break listener,
                Err(error) if attempts < 50 => {
                    attempts += 1;
                    eprintln!("rebinding {}: {error}; retrying", self.address);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(error) => return Err(error.into()),
            }
        };
        self.serve(listener);
        Ok(())
    }

    /// While set, every request is answered `503 Service Unavailable` (and still counted).
    pub fn set_unavailable(&self, unavailable: bool) {
        self.state.unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// Holds back every answer to `index.yaml` by `delay` (a slow repository), until set to zero.
    pub fn set_index_delay(&self, delay: Duration) {
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.state.index_delay_ms.store(millis, Ordering::SeqCst);
    }

    /// How many requests asked for a path ending in `suffix`.
    pub fn requests(&self, suffix: &str) -> usize {
        self.state
            .requests
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .iter()
            .filter(|(path, _)| path.ends_with(suffix))
            .map(|(_, count)| count)
            .sum()
    }

    /// The head (request line and headers) of every request received so far.
    pub fn request_heads(&self) -> Vec<String> {
        self.state
            .heads
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    fn serve(&mut self, listener: TcpListener) {
        let state = Arc::clone(&self.state);
        let root = self.dir.path().to_path_buf();
        // The connections live in a JoinSet owned by the accept loop, so stopping the loop
        // also drops every open connection.
        self.accept = Some(tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        connections.spawn(answer(stream, root.clone(), Arc::clone(&state)));
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        }));
    }
}

impl Drop for ChartServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Answers one request and closes the connection.
async fn answer(mut stream: TcpStream, root: PathBuf, state: Arc<ServerState>) {
    let mut head = Vec::new();
    let mut buffer = [0u8; 2048];
    let read_head = async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST_HEAD {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buffer[..n]),
            }
        }
        true
    };
    if !matches!(
        tokio::time::timeout(Duration::from_secs(10), read_head).await,
        Ok(true)
    ) {
        return;
    }
    let text = String::from_utf8_lossy(&head);
    let mut words = text.lines().next().unwrap_or_default().split_whitespace();
    let (method, path) = (
        words.next().unwrap_or_default(),
        words.next().unwrap_or("/"),
    );
    let path = path.split('?').next().unwrap_or_default().to_string();
    state
        .heads
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .push(text.to_string());
    *state
        .requests
        .lock()
        .unwrap_or_else(|poison| poison.into_inner())
        .entry(path.clone())
        .or_default() += 1;
    if path.ends_with("index.yaml") {
        let delay = state.index_delay_ms.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let (status, body) = if state.unavailable.load(Ordering::SeqCst) {
        ("503 Service Unavailable", b"unavailable\n".to_vec())
    } else if method != "GET" && method != "HEAD" {
        ("405 Method Not Allowed", Vec::new())
    } else {
        let relative = path.trim_start_matches('/');
        let safe = !relative.is_empty() && !relative.split('/').any(|part| part == "..");
        match safe.then(|| std::fs::read(root.join(relative))) {
            Some(Ok(bytes)) => ("200 OK", bytes),
            _ => ("404 Not Found", b"not found\n".to_vec()),
        }
    };
    let header = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(header.as_bytes()).await;
    if method != "HEAD" {
        let _ = stream.write_all(&body).await;
    }
    let _ = stream.shutdown().await;
}

/// The API server's audit log, read from a position onwards.
pub struct AuditLog {
    path: PathBuf,
}

/// One audited request (a write, or a read of a ConfigMap).
#[derive(Debug)]
pub struct AuditedRequest {
    pub verb: String,
    pub user: String,
    pub resource: String,
    pub name: String,
    pub uri: String,
}

impl AuditLog {
    /// The cluster's audit log; an error that says how to get one when the cluster was started
    /// without it.
    pub fn of(cluster: &Cluster) -> Outcome<Self> {
        let path = cluster.env().audit_log.clone().filter(|path| path.exists()).ok_or(
            "the cluster runs without the API server's audit log (CAPSTAN_E2E_AUDIT_LOG); it was \
             started by an older e2e/cluster: restart it with `e2e/cluster down && e2e/cluster up`",
        )?;
        Ok(AuditLog { path })
    }

    /// The current end of the log.
    pub fn position(&self) -> Outcome<u64> {
        Ok(std::fs::metadata(&self.path)?.len())
    }

    /// Writes (create, update, patch, delete) to objects in `namespace` logged after `position`.
    pub fn writes_since(&self, position: u64, namespace: &str) -> Outcome<Vec<AuditedRequest>> {
        self.requests_since(position, namespace, |verb| {
            matches!(
                verb,
                "create" | "update" | "patch" | "delete" | "deletecollection"
            )
        })
    }

    /// Reads of single ConfigMaps in `namespace` logged after `position` (the only reads the
    /// cluster's audit policy records).
    pub fn config_map_reads_since(
        &self,
        position: u64,
        namespace: &str,
    ) -> Outcome<Vec<AuditedRequest>> {
        let reads = self.requests_since(position, namespace, |verb| verb == "get")?;
        Ok(reads
            .into_iter()
            .filter(|read| read.resource == "configmaps")
            .collect())
    }

    /// Requests whose verb `wanted` accepts, to objects in `namespace`, logged after `position`.
    fn requests_since(
        &self,
        position: u64,
        namespace: &str,
        wanted: impl Fn(&str) -> bool,
    ) -> Outcome<Vec<AuditedRequest>> {
        let mut file = std::fs::File::open(&self.path)?;
        let length = file.metadata()?.len();
        // A rotated log starts again from the beginning.
        file.seek(SeekFrom::Start(if length < position {
            0
        } else {
            position
        }))?;
        let mut text = String::new();
        file.read_to_string(&mut text)?;
        let mut writes = Vec::new();
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
                // The last line may still be being written.
                continue;
            };
            let field = |pointer: &str| {
                event
                    .pointer(pointer)
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let verb = field("/verb");
            if wanted(&verb)
                && field("/stage") == "ResponseComplete"
                && field("/objectRef/namespace") == namespace
            {
                writes.push(AuditedRequest {
                    verb,
                    user: field("/user/username"),
                    resource: field("/objectRef/resource"),
                    name: field("/objectRef/name"),
                    uri: field("/requestURI"),
                });
            }
        }
        Ok(writes)
    }
}
