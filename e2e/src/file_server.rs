//! A small HTTP/1.1 file server owned by one test, counting what it answers.
//!
//! Tests use it where the shared chart server cannot tell them enough: how many times a file was
//! downloaded (200) and how many times a conditional request was answered 304 Not Modified. It
//! serves files from memory, validates with an ETag or a Last-Modified date (one of the two, so
//! each can be tested alone) and closes every connection after one answer. It stops when dropped.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Longest request head accepted; real clients send a few hundred bytes.
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// How long a connection may take to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Which validator the server sends and honours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validation {
    /// `ETag`, answered 304 on a matching `If-None-Match`.
    ETag,
    /// `Last-Modified`, answered 304 on a matching `If-Modified-Since`.
    LastModified,
}

/// What the server answered for one path.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Every request for the path.
    pub requests: usize,
    /// Answers with the file's body.
    pub downloads: usize,
    /// 304 answers.
    pub not_modified: usize,
}

struct File {
    body: Arc<Vec<u8>>,
    /// Changes with every [`FileServer::put`] of the path.
    revision: u64,
}

#[derive(Default)]
struct State {
    files: HashMap<String, File>,
    counts: HashMap<String, Counts>,
    revisions: u64,
}

/// The server: started by [`FileServer::start`], stopped when dropped.
pub struct FileServer {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl FileServer {
    /// Listens on a free loopback port.
    pub async fn start(validation: Validation) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    // A client that hangs up early is its own problem; the counts show the rest.
                    let _ = serve(stream, &state, validation).await;
                });
            }
        });
        Ok(FileServer {
            address,
            state,
            task,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Serves `body` at `/path` from now on, with new validators.
    pub fn put(&self, path: &str, body: Vec<u8>) {
        let mut state = lock(&self.state);
        state.revisions += 1;
        let revision = state.revisions;
        state.files.insert(
            normalize(path),
            File {
                body: Arc::new(body),
                revision,
            },
        );
    }

    /// What was answered for `/path` so far.
    pub fn counts(&self, path: &str) -> Counts {
        lock(&self.state)
            .counts
            .get(&normalize(path))
            .copied()
            .unwrap_or_default()
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|poison| poison.into_inner())
}

fn normalize(path: &str) -> String {
    format!("/{}", path.trim_start_matches('/'))
}

fn etag(revision: u64) -> String {
    format!("\"r{revision}\"")
}

/// A distinct HTTP date per revision (a second apart), so two changes within one second still
/// get different `Last-Modified` values.
fn last_modified(revision: u64) -> String {
    let base = Timestamp::from_second(1_767_225_600).unwrap_or(Timestamp::UNIX_EPOCH);
    let seconds = i64::try_from(revision).unwrap_or(i64::MAX);
    base.checked_add(SignedDuration::from_secs(seconds))
        .unwrap_or(base)
        .strftime("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

async fn serve(
    mut stream: TcpStream,
    state: &Mutex<State>,
    validation: Validation,
) -> std::io::Result<()> {
    let head = tokio::time::timeout(READ_TIMEOUT, read_head(&mut stream))
        .await
        .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or("/"),
    );
    let path = target.split('?').next().unwrap_or("/").to_string();
    let header = |name: &str| {
        head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then(|| value.trim().to_string())
        })
    };
    let answer = {
        let mut state = lock(state);
        let file = state
            .files
            .get(&path)
            .map(|file| (Arc::clone(&file.body), file.revision));
        let counts = state.counts.entry(path.clone()).or_default();
        counts.requests += 1;
        match file {
            None => Answer::NotFound,
            Some((body, revision)) => {
                let (name, value, condition) = match validation {
                    Validation::ETag => ("ETag", etag(revision), header("If-None-Match")),
                    Validation::LastModified => (
                        "Last-Modified",
                        last_modified(revision),
                        header("If-Modified-Since"),
                    ),
                };
                if condition.as_deref() == Some(value.as_str()) {
                    counts.not_modified += 1;
                    Answer::NotModified { name, value }
                } else {
                    counts.downloads += 1;
                    Answer::Body { name, value, body }
                }
            }
        }
    };
    let head_only = method.eq_ignore_ascii_case("HEAD");
    let (status, extra, body) = match answer {
        Answer::NotFound => (
            "404 Not Found",
            String::new(),
            Arc::new(b"not found\n".to_vec()),
        ),
        Answer::NotModified { name, value } => (
            "304 Not Modified",
            format!("{name}: {value}\r\n"),
            Arc::new(Vec::new()),
        ),
        Answer::Body { name, value, body } => ("200 OK", format!("{name}: {value}\r\n"), body),
    };
    let response_head = format!(
        "HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
        if status.starts_with("304") {
            0
        } else {
            body.len()
        }
    );
    stream.write_all(response_head.as_bytes()).await?;
    if !head_only && !status.starts_with("304") {
        stream.write_all(&body).await?;
    }
    stream.shutdown().await
}

enum Answer {
    NotFound,
    NotModified {
        name: &'static str,
        value: String,
    },
    Body {
        name: &'static str,
        value: String,
        body: Arc<Vec<u8>>,
    },
}

async fn read_head(stream: &mut TcpStream) -> std::io::Result<String> {
    let mut head = Vec::with_capacity(1024);
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        if head.len() > MAX_HEAD_BYTES {
            return Err(std::io::Error::other("request head too large"));
        }
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&buffer[..read]);
    }
    Ok(String::from_utf8_lossy(&head).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(url: &str, header: Option<(&str, &str)>) -> (u16, Vec<(String, String)>, Vec<u8>) {
        let address = url.trim_start_matches("http://");
        let (host, path) = address.split_once('/').unwrap();
        let mut stream = TcpStream::connect(host).await.unwrap();
        let extra = header
            .map(|(name, value)| format!("{name}: {value}\r\n"))
            .unwrap_or_default();
        let request = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8(response[..split].to_vec()).unwrap();
        let mut lines = head.lines();
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|line| line.split_once(": "))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        (status, headers, response[split + 4..].to_vec())
    }

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> &'a str {
        &headers.iter().find(|(k, _)| k == name).unwrap().1
    }

    #[tokio::test]
    async fn answers_304_to_a_matching_etag_and_counts() {
        let server = FileServer::start(Validation::ETag).await.unwrap();
        server.put("index.yaml", b"one".to_vec());
        let url = format!("{}/index.yaml", server.url());
        let (status, headers, body) = get(&url, None).await;
        assert_eq!((status, body.as_slice()), (200, &b"one"[..]));
        let tag = header(&headers, "ETag").to_string();
        let (status, _, body) = get(&url, Some(("If-None-Match", &tag))).await;
        assert_eq!((status, body.len()), (304, 0));
        server.put("index.yaml", b"two".to_vec());
        let (status, _, body) = get(&url, Some(("If-None-Match", &tag))).await;
        assert_eq!((status, body.as_slice()), (200, &b"two"[..]));
        let (status, _, _) = get(&format!("{}/missing", server.url()), None).await;
        assert_eq!(status, 404);
        let counts = server.counts("/index.yaml");
        assert_eq!(
            counts,
            Counts {
                requests: 3,
                downloads: 2,
                not_modified: 1
            }
        );
    }

    #[tokio::test]
    async fn answers_304_to_a_matching_last_modified_date() {
        let server = FileServer::start(Validation::LastModified).await.unwrap();
        server.put("index.yaml", b"one".to_vec());
        let url = format!("{}/index.yaml", server.url());
        let (_, headers, _) = get(&url, None).await;
        let date = header(&headers, "Last-Modified").to_string();
        assert!(date.ends_with(" GMT"), "{date}");
        let (status, _, _) = get(&url, Some(("If-Modified-Since", &date))).await;
        assert_eq!(status, 304);
        server.put("index.yaml", b"two".to_vec());
        let (status, headers, _) = get(&url, Some(("If-Modified-Since", &date))).await;
        assert_eq!(status, 200);
        assert_ne!(header(&headers, "Last-Modified"), date);
    }
}
