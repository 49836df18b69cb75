//! How to reach a chart source: credentials and TLS settings read from the Secrets a spec names
//! (`secretRef`, `certSecretRef`), turned into options for the HTTP client or the registry client.
//!
//! Secret values never leave this module except inside those options; every message names the
//! Secret and the key, never a value.

use std::time::Duration;

use capstan_api::Connection;
use capstan_sources::http::{Credentials, HttpClient, HttpOptions};
use capstan_sources::oci::{Auth, RegistryOptions, docker_config_auth_json};
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

use crate::error::{Error, Result};
use crate::object_data::DataObject;

/// Key of the CA bundle in the `certSecretRef` Secret.
const CA_KEY: &str = "ca.crt";
/// Keys of the client certificate and its private key in the `certSecretRef` Secret.
const CLIENT_CERT_KEY: &str = "tls.crt";
const CLIENT_KEY_KEY: &str = "tls.key";
/// Key and type of a Docker config Secret (`kubectl create secret docker-registry`).
const DOCKER_CONFIG_KEY: &str = ".dockerconfigjson";
const DOCKER_CONFIG_TYPE: &str = "kubernetes.io/dockerconfigjson";
/// Type of the Secrets that hold a ServiceAccount's token.
const SERVICE_ACCOUNT_TOKEN_TYPE: &str = "kubernetes.io/service-account-token";

/// What the `secretRef` Secret holds.
#[derive(Clone, PartialEq, Eq)]
enum SecretCredentials {
    /// `username` and `password`, or `token`.
    Http(Credentials),
    /// The JSON of a `kubernetes.io/dockerconfigjson` Secret; the entry for the registry's host
    /// is picked when the registry is known.
    DockerConfig { secret: String, json: String },
}

impl std::fmt::Debug for SecretCredentials {
    /// Never prints a credential (`Credentials` redacts its own).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretCredentials::Http(credentials) => credentials.fmt(f),
            SecretCredentials::DockerConfig { secret, .. } => {
                write!(f, "DockerConfig {{ secret: {secret:?}, json: <redacted> }}")
            }
        }
    }
}

/// Credentials and TLS settings for one source.
#[derive(Clone, Default)]
pub struct Access {
    credentials: Option<SecretCredentials>,
    ca_pem: Option<Vec<u8>>,
    client_identity_pem: Option<Vec<u8>>,
    insecure_skip_tls_verify: bool,
    plain_http: bool,
}

impl Access {
    /// Reads the Secrets `connection` names from `namespace`. `spec_path` is where the
    /// connection fields live in the spec (`spec`, `spec.chart.oci`), for messages.
    pub async fn read(
        client: &Client,
        namespace: &str,
        connection: &Connection,
        spec_path: &str,
    ) -> Result<Self> {
        let credentials = match &connection.secret_ref {
            Some(reference) => {
                let field = format!("{spec_path}.secretRef");
                let secret = read_secret(client, namespace, &reference.name, &field).await?;
                Some(secret_credentials(&secret, &reference.name, &field)?)
            }
            None => None,
        };
        let mut access = Access {
            credentials,
            insecure_skip_tls_verify: connection.insecure_skip_tls_verify,
            plain_http: connection.plain_http,
            ..Access::default()
        };
        if let Some(reference) = &connection.cert_secret_ref {
            let field = format!("{spec_path}.certSecretRef");
            let secret = read_secret(client, namespace, &reference.name, &field).await?;
            access.read_certificates(&secret, &reference.name)?;
        }
        Ok(access)
    }

    fn read_certificates(&mut self, secret: &Secret, name: &str) -> Result<()> {
        self.ca_pem = secret_value(secret, CA_KEY).map(<[u8]>::to_vec);
        match (
            secret_value(secret, CLIENT_CERT_KEY),
            secret_value(secret, CLIENT_KEY_KEY),
        ) {
            (Some(cert), Some(key)) => {
                let mut identity = cert.to_vec();
                identity.push(b'\n');
                identity.extend_from_slice(key);
                self.client_identity_pem = Some(identity);
            }
            (None, None) => {}
            _ => {
                return Err(Error::InvalidSpec(format!(
                    "Secret {name} (certSecretRef) must hold both {CLIENT_CERT_KEY} and \
                     {CLIENT_KEY_KEY} for a client certificate, or neither"
                )));
            }
        }
        if self.ca_pem.is_none() && self.client_identity_pem.is_none() {
            return Err(Error::InputMissing {
                what: format!("Secret {name} key {CA_KEY}"),
                message: format!(
                    "not found; certSecretRef must name a Secret with a PEM {CA_KEY}, or \
                     {CLIENT_CERT_KEY} and {CLIENT_KEY_KEY}"
                ),
            });
        }
        Ok(())
    }

    /// A bounded HTTP client for an HTTP repository. Its credentials go to the origin of each
    /// URL it is asked for, so callers use [`Access::without_credentials`] for other hosts.
    pub fn http_client(&self, total_timeout: Duration) -> Result<HttpClient> {
        http_client(self.http_options(total_timeout)?)
    }

    /// The options [`Access::http_client`] builds its client from, for callers that tighten them
    /// (a smaller body limit for an index, say).
    pub fn http_options(&self, total_timeout: Duration) -> Result<HttpOptions> {
        let credentials = match &self.credentials {
            Some(SecretCredentials::Http(credentials)) => Some(credentials.clone()),
            Some(SecretCredentials::DockerConfig { secret, .. }) => {
                return Err(Error::InvalidSpec(format!(
                    "Secret {secret} is a {DOCKER_CONFIG_TYPE} Secret, which only registries \
                     (oci://) read; give an HTTP repository `username` and `password`, or `token`"
                )));
            }
            None => None,
        };
        let options = HttpOptions {
            total_timeout,
            credentials,
            ca_pem: self.ca_pem.clone(),
            client_identity_pem: self.client_identity_pem.clone(),
            insecure_skip_tls_verify: self.insecure_skip_tls_verify,
            ..HttpOptions::default()
        };
        Ok(options)
    }

    /// The same settings without credentials, for hosts other than the repository's.
    pub fn without_credentials(&self) -> Access {
        Access {
            credentials: None,
            ..self.clone()
        }
    }

    /// Options for the registry client, for the registry `host` (`host[:port]`).
    pub fn registry_options(&self, host: &str) -> Result<RegistryOptions> {
        if self.client_identity_pem.is_some() {
            return Err(Error::InvalidSpec(format!(
                "certSecretRef: client certificates ({CLIENT_CERT_KEY}, {CLIENT_KEY_KEY}) are not \
                 supported for OCI registries; use {CA_KEY} only, with credentials in secretRef"
            )));
        }
        let auth = match &self.credentials {
            None => Auth::Anonymous,
            Some(SecretCredentials::Http(Credentials::Basic { username, password })) => {
                Auth::Basic {
                    username: username.clone(),
                    password: password.clone(),
                }
            }
            Some(SecretCredentials::Http(Credentials::Bearer { token })) => Auth::Bearer {
                token: token.clone(),
            },
            Some(SecretCredentials::DockerConfig { secret, json }) => {
                match docker_config_auth_json(json, host) {
                    Ok(Auth::Anonymous) => {
                        return Err(Error::InvalidSpec(format!(
                            "Secret {secret} key {DOCKER_CONFIG_KEY} has no `auths` entry with \
                             credentials for {host}"
                        )));
                    }
                    Ok(auth) => auth,
                    Err(reason) => {
                        return Err(Error::InvalidSpec(format!(
                            "Secret {secret} key {DOCKER_CONFIG_KEY}: {reason}"
                        )));
                    }
                }
            }
        };
        Ok(RegistryOptions {
            plain_http: self.plain_http,
            ca_pem: self.ca_pem.clone(),
            insecure_skip_tls_verify: self.insecure_skip_tls_verify,
            auth,
        })
    }
}

/// The one builder of HTTP clients from options: a client that cannot be set up (a CA that is
/// not PEM, say) is the spec's to fix.
pub fn http_client(options: HttpOptions) -> Result<HttpClient> {
    HttpClient::new(options).map_err(|error| Error::InvalidSpec(error.to_string()))
}

/// The Secret `name` in `namespace`, named by the spec field `field`, to read credentials from.
/// A ServiceAccount token is refused: it would hand the cluster identity of whoever owns it to
/// the source's server.
pub async fn read_secret(
    client: &Client,
    namespace: &str,
    name: &str,
    field: &str,
) -> Result<Secret> {
    let secret = Api::<Secret>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(Error::kube(format!(
            "reading Secret {namespace}/{name} ({field})"
        )))?
        .ok_or_else(|| Error::InputMissing {
            what: format!("Secret {name} ({field})"),
            message: "not found; create it in the namespace of the resource that names it".into(),
        })?;
    refuse_token_secret(&secret, name, field)?;
    Ok(secret)
}

/// Refuses a `kubernetes.io/service-account-token` Secret as a source of credentials.
pub fn refuse_token_secret(secret: &Secret, name: &str, field: &str) -> Result<()> {
    if secret.type_.as_deref() == Some(SERVICE_ACCOUNT_TOKEN_TYPE) {
        return Err(Error::InvalidSpec(format!(
            "{field}: Secret {name} is a ServiceAccount token ({SERVICE_ACCOUNT_TOKEN_TYPE}); \
             credentials for a chart source must be a Secret of their own, never a cluster \
             identity"
        )));
    }
    Ok(())
}

/// The value of `key` in `secret`.
pub fn secret_value<'a>(secret: &'a Secret, key: &str) -> Option<&'a [u8]> {
    DataObject::Secret(secret).get(key)
}

/// What a credentials Secret holds: a Docker config (by type or by key), basic credentials from
/// `username` + `password`, or a bearer `token`. Messages name the keys, never their values.
fn secret_credentials(secret: &Secret, name: &str, field: &str) -> Result<SecretCredentials> {
    let text = |key: &str| -> Result<Option<String>> {
        secret_value(secret, key)
            .map(|bytes| {
                String::from_utf8(bytes.to_vec()).map_err(|_| {
                    Error::InvalidSpec(format!("Secret {name} key {key} is not UTF-8 text"))
                })
            })
            .transpose()
    };
    let docker_type = secret.type_.as_deref() == Some(DOCKER_CONFIG_TYPE);
    if let Some(json) = text(DOCKER_CONFIG_KEY)? {
        return Ok(SecretCredentials::DockerConfig {
            secret: name.to_string(),
            json,
        });
    }
    if docker_type {
        return Err(Error::InvalidSpec(format!(
            "Secret {name} ({field}) has type {DOCKER_CONFIG_TYPE} but no {DOCKER_CONFIG_KEY} key"
        )));
    }
    match (text("username")?, text("password")?, text("token")?) {
        (Some(username), Some(password), _) => Ok(SecretCredentials::Http(Credentials::Basic {
            username,
            password,
        })),
        (None, None, Some(token)) => Ok(SecretCredentials::Http(Credentials::Bearer { token })),
        _ => Err(Error::InvalidSpec(format!(
            "Secret {name} ({field}) must hold `username` and `password`, `token`, or \
             {DOCKER_CONFIG_KEY}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use std::collections::BTreeMap;

    fn secret(type_: Option<&str>, pairs: &[(&str, &str)]) -> Secret {
        Secret {
            type_: type_.map(str::to_string),
            data: Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Secret::default()
        }
    }

    fn access(credentials: SecretCredentials) -> Access {
        Access {
            credentials: Some(credentials),
            ..Access::default()
        }
    }

    #[test]
    fn credentials_come_from_username_password_or_token() {
        let basic = secret_credentials(
            &secret(None, &[("username", "u"), ("password", "p")]),
            "auth",
            "spec.secretRef",
        );
        assert!(
            basic.unwrap()
                == SecretCredentials::Http(Credentials::Basic {
                    username: "u".into(),
                    password: "p".into()
                })
        );
        let bearer = secret_credentials(&secret(None, &[("token", "t")]), "auth", "f").unwrap();
        assert!(bearer == SecretCredentials::Http(Credentials::Bearer { token: "t".into() }));
        let error = secret_credentials(
            &secret(None, &[("username", "u")]),
            "auth",
            "spec.secretRef",
        )
        .unwrap_err();
        assert!(error.to_string().contains("Secret auth"), "{error}");
        assert!(!error.to_string().contains(": u"), "{error}");
    }

    #[test]
    fn docker_config_secrets_give_the_registry_its_entry() {
        let json = r#"{"auths":{"127.0.0.1:5001":{"username":"robot","password":"s3cret"}}}"#;
        let config = secret_credentials(
            &secret(Some(DOCKER_CONFIG_TYPE), &[(DOCKER_CONFIG_KEY, json)]),
            "pull",
            "spec.chart.oci.secretRef",
        )
        .unwrap();
        let options = access(config.clone())
            .registry_options("127.0.0.1:5001")
            .unwrap();
        assert!(matches!(options.auth, Auth::Basic { ref username, .. } if username == "robot"));
        let error = access(config.clone())
            .registry_options("other:5000")
            .unwrap_err();
        assert!(error.to_string().contains("no `auths` entry"), "{error}");
        let error = access(config)
            .http_client(Duration::from_secs(1))
            .unwrap_err();
        assert!(error.to_string().contains("only registries"), "{error}");
        assert!(!error.to_string().contains("s3cret"), "{error}");
        let error =
            secret_credentials(&secret(Some(DOCKER_CONFIG_TYPE), &[]), "pull", "f").unwrap_err();
        assert!(error.to_string().contains(DOCKER_CONFIG_KEY), "{error}");
    }

    #[test]
    fn tokens_become_bearer_auth_for_registries() {
        let options = access(SecretCredentials::Http(Credentials::Bearer {
            token: "t0ken".into(),
        }))
        .registry_options("r")
        .unwrap();
        assert!(matches!(options.auth, Auth::Bearer { ref token } if token == "t0ken"));
        assert!(!format!("{:?}", options.auth).contains("t0ken"));
    }

    #[test]
    fn certificate_secrets_need_a_ca_or_a_complete_client_pair() {
        let mut access = Access::default();
        access
            .read_certificates(&secret(None, &[("ca.crt", "PEM")]), "tls")
            .unwrap();
        assert_eq!(access.ca_pem.as_deref(), Some(&b"PEM"[..]));
        let error = Access::default()
            .read_certificates(&secret(None, &[("tls.crt", "C")]), "tls")
            .unwrap_err();
        assert!(
            error.to_string().contains("both tls.crt and tls.key"),
            "{error}"
        );
        let error = Access::default()
            .read_certificates(&secret(None, &[]), "tls")
            .unwrap_err();
        assert!(error.to_string().contains("ca.crt"), "{error}");
        let mut client = Access::default();
        client
            .read_certificates(&secret(None, &[("tls.crt", "C"), ("tls.key", "K")]), "tls")
            .unwrap();
        assert_eq!(client.client_identity_pem.as_deref(), Some(&b"C\nK"[..]));
        let error = client.registry_options("r").unwrap_err();
        assert!(error.to_string().contains("not supported"), "{error}");
    }

    #[test]
    fn service_account_tokens_are_never_credentials() {
        let token = secret(Some(SERVICE_ACCOUNT_TOKEN_TYPE), &[("token", "eyJ")]);
        let error = refuse_token_secret(&token, "default-token", "spec.secretRef").unwrap_err();
        assert_eq!(error.reason(), "InvalidSpec");
        assert!(error.to_string().contains("default-token"), "{error}");
        assert!(!error.to_string().contains("eyJ"), "{error}");
        refuse_token_secret(&secret(None, &[("token", "t")]), "auth", "spec.secretRef").unwrap();
    }

    #[test]
    fn credentials_can_be_dropped_for_other_hosts() {
        let access = access(SecretCredentials::Http(Credentials::Bearer {
            token: "t".into(),
        }));
        let bare = access.without_credentials();
        assert!(bare.credentials.is_none());
        let client = bare.http_client(Duration::from_secs(1)).unwrap();
        assert!(client.options().credentials.is_none());
    }
}
