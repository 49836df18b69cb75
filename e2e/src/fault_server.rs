//! An HTTP/1.1 server owned by one test that misbehaves on purpose, path by path: it answers
//! normally, never answers, trickles its answer a byte at a time, or closes the connection half-way
//! through the body. It stands in for a chart repository or registry in trouble, and counts what
//! it was asked and how many connections it is holding open, so a test can tell that a client is
//! stuck in it right now. It stops, and lets go of every connection, when dropped.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Longest request head accepted; real clients send a few hundred bytes.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// How the server answers one path (or every path under a prefix).
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// 200 with this body.
    Serve(Arc<Vec<u8>>),
    /// Reads the request and never answers, holding the connection until the client gives up.
    Hang,
    /// 200 with a `Content-Length` for the whole body, then one byte per interval.
    Trickle(Arc<Vec<u8>>, Duration),
    /// 200 with a `Content-Length` for the whole body, half of it, then the connection closed.
    CutOff(Arc<Vec<u8>>),
}

/// What one path saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PathCounts {
    /// Requests for the path, answered or not.
    pub requests: usize,
    /// Connections for the path still open: the client is waiting on the server.
    pub open: usize,
}

#[derive(Default)]
struct State {
    exact: HashMap<String, Behaviour>,
    prefixes: Vec<(String, Behaviour)>,
    counts: HashMap<String, PathCounts>,
}

impl State {
    fn behaviour(&self, path: &str) -> Option<Behaviour> {
        self.exact.get(path).cloned().or_else(|| {
            self.prefixes
                .iter()
                .find(|(prefix, _)| path.starts_with(prefix.as_str()))
                .map(|(_, behaviour)| behaviour.clone())
        })
    }
}

/// The server: started by [`FaultServer::start`], stopped when dropped.
pub struct FaultServer {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl FaultServer {
    /// Listens on a free loopback port; every path is 404 until given a behaviour.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let state = Arc::new(Mutex::new(State::default()));
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&shared);
                let stopped = stopped.clone();
                tokio::spawn(async move {
                    // A client that hangs up is what some behaviours wait for.
                    let _ = serve(stream, &state, stopped).await;
                });
            }
        });
        Ok(FaultServer {
            address,
            state,
            stop,
            task,
        })
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// `127.0.0.1:<port>`, as an OCI reference names a registry.
    pub fn host(&self) -> String {
        self.address.to_string()
    }

    /// Answers `/path` with `behaviour` from now on.
    pub fn route(&self, path: &str, behaviour: Behaviour) {
        lock(&self.state).exact.insert(normalize(path), behaviour);
    }

    /// Answers every path starting with `/prefix` that has no route of its own with `behaviour`.
    pub fn route_prefix(&self, prefix: &str, behaviour: Behaviour) {
        lock(&self.state)
            .prefixes
            .push((normalize(prefix), behaviour));
    }

    /// What `/path` saw so far.
    pub fn counts(&self, path: &str) -> PathCounts {
        lock(&self.state)
            .counts
            .get(&normalize(path))
            .copied()
            .unwrap_or_default()
    }

    /// Requests for any path starting with `/prefix`.
    pub fn requests_under(&self, prefix: &str) -> usize {
        let prefix = normalize(prefix);
        lock(&self.state)
            .counts
            .iter()
            .filter(|(path, _)| path.starts_with(&prefix))
            .map(|(_, counts)| counts.requests)
            .sum()
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        self.task.abort();
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|poison| poison.into_inner())
}

fn normalize(path: &str) -> String {
    format!("/{}", path.trim_start_matches('/'))
}

/// Counts a connection as open for its path while alive.
struct Open {
    state: Arc<Mutex<State>>,
    path: String,
}

impl Open {
    fn new(state: &Arc<Mutex<State>>, path: &str) -> Self {
        let mut guard = lock(state);
        let counts = guard.counts.entry(path.to_string()).or_default();
        counts.requests += 1;
        counts.open += 1;
        Open {
            state: Arc::clone(state),
            path: path.to_string(),
        }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        if let Some(counts) = lock(&self.state).counts.get_mut(&self.path) {
            counts.open = counts.open.saturating_sub(1);
        }
    }
}

async fn serve(
    mut stream: TcpStream,
    state: &Arc<Mutex<State>>,
    mut stopped: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let Some(path) = read_path(&mut stream).await? else {
        return Ok(());
    };
    let _open = Open::new(state, &path);
    let behaviour = lock(state).behaviour(&path);
    match behaviour {
        None => {
            let answer = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
            stream.write_all(answer.as_bytes()).await?;
        }
        Some(Behaviour::Serve(body)) => {
            stream.write_all(head(body.len()).as_bytes()).await?;
            stream.write_all(&body).await?;
        }
        Some(Behaviour::Hang) => {
            // Until the client hangs up (a read of 0 bytes, or an error) or the server stops.
            let mut scratch = [0u8; 1024];
            loop {
                tokio::select! {
                    read = stream.read(&mut scratch) => {
                        if matches!(read, Ok(0) | Err(_)) {
                            break;
                        }
                    }
                    _ = stopped.changed() => break,
                }
            }
        }
        Some(Behaviour::Trickle(body, interval)) => {
            stream.write_all(head(body.len()).as_bytes()).await?;
            for byte in body.iter() {
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = stopped.changed() => return Ok(()),
                }
                stream.write_all(&[*byte]).await?;
            }
        }
        Some(Behaviour::CutOff(body)) => {
            stream.write_all(head(body.len()).as_bytes()).await?;
            stream.write_all(&body[..body.len() / 2]).await?;
        }
    }
    stream.shutdown().await
}

fn head(length: usize) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {length}\r\n\
         Connection: close\r\n\r\n"
    )
}

/// The path of the request on `stream` (without its query), or `None` when the client sent no
/// complete request head.
async fn read_path(stream: &mut TcpStream) -> std::io::Result<Option<String>> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 2048];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        if head.len() > MAX_HEAD_BYTES {
            return Ok(None);
        }
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let text = String::from_utf8_lossy(&head);
    let target = text
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .unwrap_or("/");
    let path = target.split('?').next().unwrap_or("/");
    Ok(Some(normalize(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(server: &FaultServer, path: &str, timeout: Duration) -> Result<Vec<u8>, String> {
        let mut stream = TcpStream::connect(server.address)
            .await
            .map_err(|e| e.to_string())?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut answer = Vec::new();
        match tokio::time::timeout(timeout, stream.read_to_end(&mut answer)).await {
            Ok(Ok(_)) => Ok(answer),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err("timed out".into()),
        }
    }

    fn body_of(answer: &[u8]) -> &[u8] {
        let at = answer
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .map_or(answer.len(), |at| at + 4);
        &answer[at..]
    }

    #[tokio::test]
    async fn each_behaviour_does_what_it_says() {
        let server = FaultServer::start().await.unwrap();
        let body = Arc::new(b"0123456789".to_vec());
        server.route("/ok", Behaviour::Serve(Arc::clone(&body)));
        server.route("/cut", Behaviour::CutOff(Arc::clone(&body)));
        server.route(
            "/slow",
            Behaviour::Trickle(Arc::clone(&body), Duration::from_millis(1)),
        );
        server.route_prefix("/v2/", Behaviour::Hang);

        let ok = get(&server, "/ok?x=1", Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(body_of(&ok), b"0123456789");
        let cut = get(&server, "/cut", Duration::from_secs(5)).await.unwrap();
        assert_eq!(body_of(&cut), b"01234");
        assert!(String::from_utf8_lossy(&cut).contains("Content-Length: 10"));
        let slow = get(&server, "/slow", Duration::from_secs(5)).await.unwrap();
        assert_eq!(body_of(&slow), b"0123456789");
        let missing = get(&server, "/nothing", Duration::from_secs(5))
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(&missing).starts_with("HTTP/1.1 404"));

        let hung = get(
            &server,
            "/v2/charts/x/manifests/1",
            Duration::from_millis(300),
        )
        .await;
        assert_eq!(hung, Err("timed out".to_string()));
        assert_eq!(server.requests_under("/v2/"), 1);
        // The client gave up and closed its side: the server lets go of the connection.
        for _ in 0..100 {
            if server.counts("/v2/charts/x/manifests/1").open == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            server.counts("/v2/charts/x/manifests/1"),
            PathCounts {
                requests: 1,
                open: 0
            }
        );
        assert_eq!(server.counts("/ok").requests, 1);
    }
}
