//! Registry clients kept for reuse. Building one loads and parses the trusted roots (and any extra
//! CA), a few milliseconds of CPU each time; an operator resolving hundreds of OCI charts spent
//! most of its CPU there. Clients are shared only between callers with the same connection
//! settings *and the same credentials*: the push client (`oci-client`) remembers the credentials
//! and tokens it was given per registry, so one shared across credentials would let one tenant
//! act with another's. The bounded pull client carries no credentials (each read is given its
//! own), so for pulls the per-credential key only costs a few more clients. The key is a
//! digest, so no credential is kept in the map's keys.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use oci_client::Client;
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use sha2::{Digest, Sha256};

use super::remembered::RememberedCredentials;
use super::{Auth, CONNECT_TIMEOUT, READ_TIMEOUT, RegistryOptions};
use crate::http::{HttpClient, HttpError, HttpOptions};

/// Most client pairs kept. Past it the map starts again empty: many distinct credentials (many
/// tenants, or rotating tokens) cost a rebuild, never unbounded memory.
const MAX_KEPT: usize = 64;

/// The clients for one set of [`RegistryOptions`].
#[derive(Clone)]
pub struct RegistryClients {
    /// Pushes (`capstan push`): pulls do not use it (see [`super::bounded`]).
    pub oci: Client,
    /// Bounded reads of manifests, tag lists and layers, and the token negotiation before them
    /// ([`super::token`]); it carries no credentials of its own (each read gets the credentials
    /// negotiated for it).
    pub http: HttpClient,
    /// The pull credentials negotiated per repository with these clients' credentials
    /// ([`super::remembered`]).
    pub remembered: RememberedCredentials,
}

/// Clients by a digest of their options, at most [`MAX_KEPT`].
#[derive(Default)]
struct Kept(Mutex<HashMap<[u8; 32], RegistryClients>>);

static KEPT: LazyLock<Kept> = LazyLock::new(Kept::default);

/// The clients for `options`, built once per distinct settings and credentials.
pub fn for_options(options: &RegistryOptions) -> Result<RegistryClients, HttpError> {
    KEPT.clients_for(options)
}

impl Kept {
    fn clients_for(&self, options: &RegistryOptions) -> Result<RegistryClients, HttpError> {
        let key = key(options);
        let mut kept = self.0.lock().unwrap_or_else(|poison| poison.into_inner());
        if let Some(clients) = kept.get(&key) {
            return Ok(clients.clone());
        }
        let clients = RegistryClients {
            oci: oci_client(options),
            http: HttpClient::new(HttpOptions {
                connect_timeout: CONNECT_TIMEOUT,
                read_timeout: READ_TIMEOUT,
                ca_pem: options.ca_pem.clone(),
                insecure_skip_tls_verify: options.insecure_skip_tls_verify,
                ..HttpOptions::default()
            })?,
            remembered: RememberedCredentials::default(),
        };
        if kept.len() >= MAX_KEPT {
            kept.clear();
        }
        kept.insert(key, clients.clone());
        Ok(clients)
    }
}

/// A new `oci-client` client for `options`.
fn oci_client(options: &RegistryOptions) -> Client {
    // rustls needs a process-wide provider; keep one that is already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = ClientConfig {
        protocol: if options.plain_http {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        },
        extra_root_certificates: options
            .ca_pem
            .iter()
            .map(|pem| Certificate {
                encoding: CertificateEncoding::Pem,
                data: pem.clone(),
            })
            .collect(),
        accept_invalid_certificates: options.insecure_skip_tls_verify,
        // A registry that stops answering fails the request instead of hanging it.
        connect_timeout: Some(CONNECT_TIMEOUT),
        read_timeout: Some(READ_TIMEOUT),
        ..ClientConfig::default()
    };
    Client::new(config)
}

/// A digest of everything in `options` that a client keeps: connection settings and credentials.
/// Each field is length-prefixed, so no two different options hash the same input.
pub(crate) fn key(options: &RegistryOptions) -> [u8; 32] {
    let mut hash = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    field(&[
        u8::from(options.plain_http),
        u8::from(options.insecure_skip_tls_verify),
        u8::from(options.ca_pem.is_some()),
    ]);
    field(options.ca_pem.as_deref().unwrap_or_default());
    match &options.auth {
        Auth::Anonymous => field(b"anonymous"),
        Auth::Basic { username, password } => {
            field(b"basic");
            field(username.as_bytes());
            field(password.as_bytes());
        }
        Auth::Bearer { token } => {
            field(b"bearer");
            field(token.as_bytes());
        }
    }
    hash.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(username: &str, password: &str) -> RegistryOptions {
        RegistryOptions {
            auth: Auth::Basic {
                username: username.into(),
                password: password.into(),
            },
            ..RegistryOptions::default()
        }
    }

    #[test]
    fn clients_are_shared_only_between_the_same_settings_and_credentials() {
        let alice = basic("alice", "secret");
        assert_eq!(key(&alice), key(&alice.clone()));
        assert_ne!(key(&alice), key(&basic("alice", "other")));
        assert_ne!(key(&alice), key(&basic("bob", "secret")));
        // Length prefixes: moving a character from one field to the next is another key.
        assert_ne!(key(&basic("ab", "c")), key(&basic("a", "bc")));
        let bearer = RegistryOptions {
            auth: Auth::Bearer {
                token: "secret".into(),
            },
            ..RegistryOptions::default()
        };
        assert_ne!(key(&bearer), key(&basic("", "secret")));
        assert_ne!(key(&RegistryOptions::default()), key(&bearer));
        let plain = RegistryOptions {
            plain_http: true,
            ..RegistryOptions::default()
        };
        assert_ne!(key(&plain), key(&RegistryOptions::default()));
        let with_ca = RegistryOptions {
            ca_pem: Some(Vec::new()),
            ..RegistryOptions::default()
        };
        assert_ne!(key(&with_ca), key(&RegistryOptions::default()));
    }

    #[test]
    fn no_more_than_the_bound_is_kept_however_many_credentials_come() {
        // A map of its own: clearing the process's map would make other tests' clients forget
        // what they negotiated.
        let kept = Kept::default();
        for n in 0..MAX_KEPT + 5 {
            kept.clients_for(&basic("tenant", &format!("token-{n}")))
                .unwrap();
            let len = kept.0.lock().unwrap().len();
            assert!(len <= MAX_KEPT, "{len} kept");
        }
    }
}
