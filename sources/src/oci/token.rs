//! The credentials a pull sends, with the registry's token negotiated under a bound on everything
//! the registry and its token service send.
//!
//! A registry that wants a token answers `GET /v2/` with 401 and a challenge, `WWW-Authenticate:
//! Bearer realm="…",service="…"`; the token service at `realm` trades the configured credentials
//! (or nothing, for an anonymous pull) for a token scoped to the repository (the distribution
//! token specification, as Docker and Helm speak it). `oci-client` negotiates the same way but
//! reads the token service's answer whole, success or refusal, so a registry whose realm points
//! at an endless answer could take the operator's memory from every tenant. Here both answers
//! are read through [`HttpClient::exchange`](crate::http::HttpClient::exchange), at most
//! [`MAX_TOKEN_ANSWER_BYTES`], and nothing the token service says beyond its status reaches an
//! error (a registry may name an internal host, and errors reach whoever reads the status).

use std::collections::HashMap;

use oci_client::Reference;
use reqwest::header::{AUTHORIZATION, HeaderMap, WWW_AUTHENTICATE};
use reqwest::{Method, Url};

use super::bounded::http_error;
use super::clients::RegistryClients;
use super::remembered::{NO_CHALLENGE_LIFETIME, token_lifetime};
use super::{Auth, OciError, RegistryOptions, refused_reason};
use crate::http::{Credentials, authorization_value};

/// The largest answer read from `GET /v2/` or from the token service: 64 KiB. A token is a few
/// KiB (a signed JWT); the distribution registry's own answers are a few hundred bytes.
pub const MAX_TOKEN_ANSWER_BYTES: u64 = 64 * 1024;

/// Runs `read` with the credentials for `reference`'s repository. Credentials remembered from
/// an earlier negotiation ([`super::remembered`]) are tried first; when the registry refuses
/// them, they are forgotten and `read` runs once more with freshly negotiated ones, which are
/// forgotten too if the registry refuses those as well.
///
/// `read` takes the credentials by value (an `AsyncFn` over a borrowed `&Credentials` would
/// make the future lose `Send` in the operator's controller).
pub async fn with_pull_credentials<T, Read, Reading>(
    clients: &RegistryClients,
    options: &RegistryOptions,
    reference: &Reference,
    read: Read,
) -> Result<T, OciError>
where
    Read: Fn(Option<Credentials>) -> Reading,
    Reading: Future<Output = Result<T, OciError>>,
{
    if let Some(remembered) = clients.remembered.get(reference) {
        match read(remembered).await {
            Err(OciError::Unauthorized { .. }) => clients.remembered.forget(reference),
            done => return done,
        }
    }
    let credentials = pull_credentials(clients, options, reference).await?;
    let done = read(credentials).await;
    if matches!(done, Err(OciError::Unauthorized { .. })) {
        // Refused even fresh: nothing worth trying first next time.
        clients.remembered.forget(reference);
    }
    done
}

/// The credentials that reads of `reference`'s repository carry: a bearer token when the
/// registry challenges for one (negotiated with the configured credentials), else the configured
/// credentials as they are (a registry that takes basic credentials directly, or none). What was
/// negotiated is remembered in `clients` for the next read.
async fn pull_credentials(
    clients: &RegistryClients,
    options: &RegistryOptions,
    reference: &Reference,
) -> Result<Option<Credentials>, OciError> {
    let configured = match &options.auth {
        Auth::Bearer { token } => {
            return Ok(Some(Credentials::Bearer {
                token: token.clone(),
            }));
        }
        Auth::Basic { username, password } => Some(Credentials::Basic {
            username: username.clone(),
            password: password.clone(),
        }),
        Auth::Anonymous => None,
    };
    let scheme = if options.plain_http { "http" } else { "https" };
    let ping = parse(
        reference,
        &format!("{scheme}://{}/v2/", reference.resolve_registry()),
    )?;
    let answer = clients
        .http
        .exchange(
            Method::GET,
            &ping,
            HeaderMap::new(),
            None,
            MAX_TOKEN_ANSWER_BYTES,
        )
        .await
        .map_err(|e| http_error(reference, options, e))?;
    let challenge = answer
        .headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(BearerChallenge::parse);
    let (credentials, lifetime) = match challenge {
        Some(challenge) => {
            let granted =
                token(clients, options, reference, &challenge, configured.as_ref()).await?;
            (
                Some(Credentials::Bearer {
                    token: granted.token,
                }),
                token_lifetime(granted.expires_in),
            )
        }
        None => (configured, NO_CHALLENGE_LIFETIME),
    };
    clients
        .remembered
        .remember(reference, credentials.clone(), lifetime);
    Ok(credentials)
}

/// A token from the token service, and the seconds it said the token lasts.
struct Granted {
    token: String,
    expires_in: Option<u64>,
}

/// Asks the token service `challenge` names for a pull token of `reference`'s repository.
async fn token(
    clients: &RegistryClients,
    options: &RegistryOptions,
    reference: &Reference,
    challenge: &BearerChallenge,
    configured: Option<&Credentials>,
) -> Result<Granted, OciError> {
    let mut url = parse(reference, &challenge.realm)?;
    if !options.plain_http && url.scheme() != "https" {
        return Err(OciError::Registry {
            reference: reference.whole(),
            message: format!(
                "the registry's token service {} is not HTTPS, and credentials and tokens go \
                 only over HTTPS to a registry reached over HTTPS",
                crate::http::display_url(&url)
            ),
        });
    }
    {
        let mut query = url.query_pairs_mut();
        query.append_pair(
            "scope",
            &format!("repository:{}:pull", reference.repository()),
        );
        if let Some(service) = &challenge.service {
            query.append_pair("service", service);
        }
    }
    let mut headers = HeaderMap::new();
    if let Some(credentials) = configured {
        let value =
            authorization_value(credentials).map_err(|e| http_error(reference, options, e))?;
        headers.insert(AUTHORIZATION, value);
    }
    let answer = clients
        .http
        .exchange(Method::GET, &url, headers, None, MAX_TOKEN_ANSWER_BYTES)
        .await
        .map_err(|e| http_error(reference, options, e))?;
    match answer.status {
        200..=299 => {}
        401 | 403 => {
            return Err(OciError::Unauthorized {
                registry: reference.registry().to_string(),
                reference: reference.whole(),
                reason: refused_reason(&options.auth),
            });
        }
        status => {
            return Err(OciError::Registry {
                reference: reference.whole(),
                message: format!(
                    "the registry's token service {} answered HTTP {status}",
                    crate::http::display_url(&url)
                ),
            });
        }
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        token: Option<String>,
        access_token: Option<String>,
        /// Read leniently: a lifetime in another shape only means the token is not remembered
        /// past the default.
        expires_in: Option<serde_json::Value>,
    }
    let no_token = |why: &str| OciError::Registry {
        reference: reference.whole(),
        message: format!(
            "the registry's token service {} answered {why}",
            crate::http::display_url(&url)
        ),
    };
    let parsed: Answer = serde_json::from_slice(&answer.body).map_err(|e| {
        no_token(&format!(
            "with no JSON document (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let token = parsed
        .token
        .or(parsed.access_token)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| no_token("without a token"))?;
    Ok(Granted {
        token,
        expires_in: parsed
            .expires_in
            .as_ref()
            .and_then(serde_json::Value::as_u64),
    })
}

fn parse(reference: &Reference, url: &str) -> Result<Url, OciError> {
    Url::parse(url).map_err(|e| OciError::Registry {
        reference: reference.whole(),
        message: format!("the registry named a token service that is not a URL: {e}"),
    })
}

/// A `WWW-Authenticate: Bearer …` challenge: where to ask for a token, and for which service.
#[derive(Debug, PartialEq, Eq)]
struct BearerChallenge {
    realm: String,
    service: Option<String>,
}

impl BearerChallenge {
    /// The challenge in one `WWW-Authenticate` value, if it is a bearer challenge with a realm
    /// (RFC 7235's `auth-param`s: `key=value` or `key="quoted, value"`, comma-separated).
    fn parse(header: &str) -> Option<Self> {
        let header = header.trim_start();
        let (scheme, rest) = header.split_once(char::is_whitespace)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let mut params = auth_params(rest);
        Some(BearerChallenge {
            realm: params.remove("realm").filter(|realm| !realm.is_empty())?,
            service: params.remove("service"),
        })
    }
}

/// `key=value` pairs of a challenge, keys lower-cased; a quoted value keeps its commas and loses
/// its backslash escapes.
fn auth_params(text: &str) -> HashMap<String, String> {
    let mut params = HashMap::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ',' || c.is_whitespace()).is_some() {}
        let key: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if key.is_empty() {
            break;
        }
        if chars.next_if_eq(&'=').is_none() {
            continue;
        }
        let value = if chars.next_if_eq(&'"').is_some() {
            let mut value = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => value.extend(chars.next()),
                    c => value.push(c),
                }
            }
            value
        } else {
            std::iter::from_fn(|| chars.next_if(|c| *c != ','))
                .collect::<String>()
                .trim()
                .to_string()
        };
        params.insert(key.trim().to_ascii_lowercase(), value);
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    #[test]
    fn a_bearer_challenge_gives_its_realm_and_service_with_quoted_commas_kept() {
        let challenge = BearerChallenge::parse(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        )
        .unwrap();
        assert_eq!(
            challenge,
            BearerChallenge {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
            }
        );
        let unquoted =
            BearerChallenge::parse("bearer realm=https://a.example/t , service=s").unwrap();
        assert_eq!(unquoted.realm, "https://a.example/t");
        assert_eq!(unquoted.service.as_deref(), Some("s"));
        let escaped = BearerChallenge::parse(r#"Bearer realm="https://a.example/\"q\"""#).unwrap();
        assert_eq!(escaped.realm, r#"https://a.example/"q""#);
    }

    #[test]
    fn other_challenges_and_bearer_without_a_realm_are_not_bearer_challenges() {
        assert_eq!(BearerChallenge::parse(r#"Basic realm="registry""#), None);
        assert_eq!(BearerChallenge::parse(r#"Bearer service="x""#), None);
        assert_eq!(BearerChallenge::parse(r#"Bearer realm="""#), None);
        assert_eq!(BearerChallenge::parse("Bearer"), None);
    }

    /// One request as the fake registry saw it: its request line and its Authorization header.
    #[derive(Clone, Debug)]
    struct Seen {
        line: String,
        authorization: Option<String>,
    }

    /// What the fake registry answers: a whole answer, or a head followed by `endless` bytes of
    /// body sent in 64 KiB pieces without a length.
    enum Answer {
        Whole(String),
        Endless(String, usize),
    }

    /// A registry and token service on 127.0.0.1 answering each request with `answer(line)`,
    /// recording what it was sent; serves until the test ends.
    fn serve(
        answer: impl Fn(&str, u16) -> Answer + Send + 'static,
    ) -> (u16, Arc<Mutex<Vec<Seen>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let mut authorization = None;
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap() == 0 || header == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = header.split_once(':')
                        && name.eq_ignore_ascii_case("authorization")
                    {
                        authorization = Some(value.trim().to_string());
                    }
                }
                let line = line.trim().to_string();
                log.lock().unwrap().push(Seen {
                    line: line.clone(),
                    authorization,
                });
                match answer(&line, port) {
                    Answer::Whole(text) => {
                        let _ = stream.write_all(text.as_bytes());
                    }
                    Answer::Endless(head, len) => {
                        let _ = stream.write_all(head.as_bytes());
                        let piece = vec![b' '; 64 * 1024];
                        let mut sent = 0;
                        while sent < len && stream.write_all(&piece).is_ok() {
                            sent += piece.len();
                        }
                    }
                }
            }
        });
        (port, seen)
    }

    fn challenge(port: u16) -> Answer {
        Answer::Whole(format!(
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"fake\"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ))
    }

    fn json(status: &str, body: &str) -> Answer {
        Answer::Whole(format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ))
    }

    fn options(auth: Auth) -> RegistryOptions {
        RegistryOptions {
            plain_http: true,
            auth,
            ..RegistryOptions::default()
        }
    }

    fn basic() -> Auth {
        Auth::Basic {
            username: "puller".into(),
            password: "s3cret".into(),
        }
    }

    #[tokio::test]
    async fn an_endless_token_answer_is_refused_at_the_limit() {
        let (port, _) = serve(|line, port| {
            if line.starts_with("GET /v2/ ") {
                challenge(port)
            } else {
                Answer::Endless(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n".into(),
                    64 * 1024 * 1024,
                )
            }
        });
        let url = format!("oci://127.0.0.1:{port}/charts/app");
        let error = super::super::resolve_digest(&url, Some("1.0.0"), &options(Auth::Anonymous))
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains(&format!(
                "larger than the limit of {MAX_TOKEN_ANSWER_BYTES} bytes"
            )),
            "{message}"
        );
    }

    #[tokio::test]
    async fn a_token_is_asked_for_the_repository_with_the_credentials_and_sent_with_the_reads() {
        let (port, seen) = serve(|line, port| {
            if line.starts_with("GET /v2/ ") {
                challenge(port)
            } else if line.starts_with("GET /token?") {
                json("200 OK", r#"{"token":"t0ken","expires_in":300}"#)
            } else {
                json(
                    "404 Not Found",
                    r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"no"}]}"#,
                )
            }
        });
        let url = format!("oci://127.0.0.1:{port}/charts/app");
        let error = super::super::resolve_digest(&url, Some("1.0.0"), &options(basic()))
            .await
            .unwrap_err();
        assert!(error.to_string().contains("404"), "{error}");
        let seen = seen.lock().unwrap().clone();
        let token_request = seen
            .iter()
            .find(|s| s.line.starts_with("GET /token?"))
            .expect("the token service was asked");
        assert!(
            token_request
                .line
                .contains("scope=repository%3Acharts%2Fapp%3Apull")
                && token_request.line.contains("service=fake"),
            "{token_request:?}"
        );
        assert_eq!(
            token_request.authorization.as_deref(),
            Some("Basic cHVsbGVyOnMzY3JldA=="),
            "the configured credentials go to the token service"
        );
        let manifest_request = seen
            .iter()
            .find(|s| s.line.starts_with("GET /v2/charts/app/manifests/1.0.0 "))
            .expect("the manifest was read");
        assert_eq!(
            manifest_request.authorization.as_deref(),
            Some("Bearer t0ken")
        );
    }

    #[tokio::test]
    async fn a_refused_token_request_names_the_user_and_not_what_the_service_said() {
        let (port, _) = serve(|line, port| {
            if line.starts_with("GET /v2/ ") {
                challenge(port)
            } else {
                json(
                    "401 Unauthorized",
                    r#"{"details":"internal-host.corp rejected"}"#,
                )
            }
        });
        let url = format!("oci://127.0.0.1:{port}/charts/app");
        let error = super::super::resolve_digest(&url, Some("1.0.0"), &options(basic()))
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, OciError::Unauthorized { .. }) && message.contains("\"puller\""),
            "{message}"
        );
        assert!(!message.contains("internal-host"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }

    #[tokio::test]
    async fn a_registry_without_a_challenge_gets_the_configured_credentials() {
        let (port, seen) = serve(|line, _| {
            if line.starts_with("GET /v2/ ") {
                json("200 OK", "{}")
            } else {
                json("404 Not Found", "{}")
            }
        });
        let url = format!("oci://127.0.0.1:{port}/charts/plain");
        super::super::resolve_digest(&url, Some("1.0.0"), &options(basic()))
            .await
            .unwrap_err();
        let seen = seen.lock().unwrap().clone();
        assert!(seen.iter().all(|s| !s.line.contains("/token")), "{seen:?}");
        let manifest_request = seen
            .iter()
            .find(|s| s.line.contains("/manifests/"))
            .expect("the manifest was read");
        assert_eq!(
            manifest_request.authorization.as_deref(),
            Some("Basic cHVsbGVyOnMzY3JldA==")
        );
    }

    /// A registry whose tag list needs a token, and whose token service grants `t1`, `t2`, ...
    /// lasting `expires_in` seconds; the tag-list requests numbered in `refused` (from 1) are
    /// refused as if the token had been revoked.
    fn tokened_registry(
        expires_in: u64,
        refused: &'static [usize],
    ) -> (u16, Arc<Mutex<Vec<Seen>>>) {
        let granted = std::sync::atomic::AtomicUsize::new(0);
        let listed = std::sync::atomic::AtomicUsize::new(0);
        serve(move |line, port| {
            use std::sync::atomic::Ordering::SeqCst;
            if line.starts_with("GET /v2/ ") {
                challenge(port)
            } else if line.starts_with("GET /token?") {
                let n = granted.fetch_add(1, SeqCst) + 1;
                json(
                    "200 OK",
                    &format!(r#"{{"token":"t{n}","expires_in":{expires_in}}}"#),
                )
            } else if refused.contains(&(listed.fetch_add(1, SeqCst) + 1)) {
                challenge(port)
            } else {
                json("200 OK", r#"{"name":"charts/app","tags":["1.0.0"]}"#)
            }
        })
    }

    /// The versions at `url`, read with the basic credentials.
    async fn list(url: &str) -> Result<Vec<String>, OciError> {
        super::super::list_versions(url, &options(basic())).await
    }

    fn lines_starting(seen: &Mutex<Vec<Seen>>, start: &str) -> Vec<Seen> {
        let seen = seen.lock().unwrap();
        seen.iter()
            .filter(|s| s.line.starts_with(start))
            .cloned()
            .collect()
    }

    #[tokio::test]
    async fn a_token_is_negotiated_once_and_reused_by_the_next_reads_of_the_repository() {
        let (port, seen) = tokened_registry(300, &[]);
        let url = format!("oci://127.0.0.1:{port}/charts/reused");
        for _ in 0..3 {
            let versions = list(&url).await.unwrap();
            assert_eq!(versions, ["1.0.0"]);
        }
        assert_eq!(lines_starting(&seen, "GET /v2/ ").len(), 1, "one ping");
        assert_eq!(lines_starting(&seen, "GET /token?").len(), 1, "one token");
        let reads = lines_starting(&seen, "GET /v2/charts/reused/tags/list");
        assert_eq!(reads.len(), 3);
        assert!(
            reads
                .iter()
                .all(|s| s.authorization.as_deref() == Some("Bearer t1")),
            "{reads:?}"
        );
    }

    #[tokio::test]
    async fn a_token_the_registry_refuses_is_forgotten_and_negotiated_again_within_the_read() {
        let (port, seen) = tokened_registry(300, &[2]);
        let url = format!("oci://127.0.0.1:{port}/charts/revoked");
        for _ in 0..2 {
            list(&url)
                .await
                .expect("a refused remembered token costs a renegotiation, not a failure");
        }
        let reads = lines_starting(&seen, "GET /v2/charts/revoked/tags/list");
        let sent: Vec<_> = reads.iter().map(|s| s.authorization.as_deref()).collect();
        assert_eq!(
            sent,
            [Some("Bearer t1"), Some("Bearer t1"), Some("Bearer t2")]
        );
        assert_eq!(lines_starting(&seen, "GET /token?").len(), 2);
    }

    #[tokio::test]
    async fn a_refusal_with_fresh_credentials_is_reported_and_not_retried_again() {
        let (port, seen) = tokened_registry(300, &[1, 2, 3, 4]);
        let url = format!("oci://127.0.0.1:{port}/charts/refused");
        let error = list(&url).await.unwrap_err();
        assert!(matches!(error, OciError::Unauthorized { .. }), "{error}");
        assert_eq!(
            lines_starting(&seen, "GET /v2/charts/refused/tags/list").len(),
            1
        );
        // Nothing refused is remembered: the next read negotiates again, and does not try the
        // refused token first.
        list(&url).await.unwrap_err();
        assert_eq!(lines_starting(&seen, "GET /token?").len(), 2);
        assert_eq!(
            lines_starting(&seen, "GET /v2/charts/refused/tags/list").len(),
            2
        );
    }

    #[tokio::test]
    async fn a_token_about_to_expire_is_not_reused() {
        let (port, seen) = tokened_registry(5, &[]);
        let url = format!("oci://127.0.0.1:{port}/charts/short-lived");
        for _ in 0..2 {
            list(&url).await.unwrap();
        }
        assert_eq!(lines_starting(&seen, "GET /token?").len(), 2);
    }

    #[tokio::test]
    async fn a_registry_without_a_challenge_is_pinged_once_for_many_reads() {
        let (port, seen) = serve(|line, _| {
            if line.starts_with("GET /v2/ ") {
                json("200 OK", "{}")
            } else {
                json("200 OK", r#"{"name":"charts/open","tags":["1.0.0"]}"#)
            }
        });
        let url = format!("oci://127.0.0.1:{port}/charts/open");
        for _ in 0..3 {
            super::super::list_versions(&url, &options(Auth::Anonymous))
                .await
                .unwrap();
        }
        assert_eq!(lines_starting(&seen, "GET /v2/ ").len(), 1);
        assert_eq!(
            lines_starting(&seen, "GET /v2/charts/open/tags/list").len(),
            3
        );
    }
}
