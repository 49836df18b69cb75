//! `s3://` repositories: the S3 service a ChartRepository names, and the keys from its Secret.
//!
//! The Secret uses the keys Flux's Bucket source reads (`accessKeyID`, `secretAccessKey`), so one
//! Secret serves both. The keys only ever sign URLs: they are never sent, shown or logged, and
//! the signatures they make live in query strings, which no message prints.

use std::time::Duration;

use capstan_api::common::SecretReference;
use capstan_api::{ChartRepositorySpec, Connection};
use capstan_sources::http::HttpOptions;
use capstan_sources::s3::{S3Config, S3Repository, aws_endpoint, default_path_style};
use k8s_openapi::api::core::v1::Secret;

use crate::access::{Access, http_client, read_secret, secret_value};
use crate::context::Context;
use crate::error::{Error, Result};

/// Key of the access key ID in the `secretRef` Secret.
pub const ACCESS_KEY_ID: &str = "accessKeyID";
/// Key of the secret access key in the `secretRef` Secret.
pub const SECRET_ACCESS_KEY: &str = "secretAccessKey";
/// Region signed for when `spec.s3.region` is unset; what most self-hosted servers expect.
pub const DEFAULT_REGION: &str = "us-east-1";

/// The key pair from a Secret. `Debug` never prints the secret key.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Keys {
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for S3Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Keys")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// The keys in `secret` (named `name`). Messages name the keys, never their values.
pub fn keys_from_secret(secret: &Secret, name: &str) -> Result<S3Keys> {
    let text = |key: &str| -> Result<String> {
        let bytes = secret_value(secret, key).ok_or_else(|| Error::InputMissing {
            what: format!("Secret {name} key {key}"),
            message: format!(
                "not found; the secretRef of an s3:// repository must hold {ACCESS_KEY_ID} and \
                 {SECRET_ACCESS_KEY} (as for a Flux Bucket)"
            ),
        })?;
        let value = String::from_utf8(bytes.to_vec()).map_err(|_| {
            Error::InvalidSpec(format!("Secret {name} key {key} is not UTF-8 text"))
        })?;
        // `kubectl create secret --from-file` keeps a trailing newline, which would break the
        // signature; a key never ends in whitespace.
        let value = value.trim().to_string();
        if value.is_empty() {
            return Err(Error::InvalidSpec(format!(
                "Secret {name} key {key} is empty"
            )));
        }
        Ok(value)
    };
    Ok(S3Keys {
        access_key_id: text(ACCESS_KEY_ID)?,
        secret_access_key: text(SECRET_ACCESS_KEY)?,
    })
}

/// The S3 settings of `spec` with its defaults filled in.
pub fn config(spec: &ChartRepositorySpec, keys: S3Keys) -> S3Config {
    let settings = spec.s3.clone().unwrap_or_default();
    let region = settings
        .region
        .filter(|region| !region.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_REGION.to_string());
    let endpoint = settings
        .endpoint
        .unwrap_or_else(|| aws_endpoint(&region))
        .trim_end_matches('/')
        .to_string();
    let path_style = settings
        .path_style
        .unwrap_or_else(|| default_path_style(&endpoint));
    S3Config {
        endpoint,
        region,
        access_key: keys.access_key_id,
        secret_key: keys.secret_access_key,
        path_style,
    }
}

/// The repository `spec` names, with its keys and CA read from the Secrets in `namespace`, and
/// the HTTP options (TLS, `timeout`, no credentials) its downloads use: requests carry no
/// credentials but the signature, and the same options serve hosts outside the bucket.
pub async fn repository(
    ctx: &Context,
    namespace: &str,
    spec: &ChartRepositorySpec,
    timeout: Duration,
) -> Result<(S3Repository, HttpOptions)> {
    let reference: &SecretReference = spec.connection.secret_ref.as_ref().ok_or_else(|| {
        Error::InvalidSpec(format!(
            "spec.secretRef is required for {}: name a Secret with {ACCESS_KEY_ID} and \
             {SECRET_ACCESS_KEY}",
            spec.url
        ))
    })?;
    let secret = read_secret(&ctx.client, namespace, &reference.name, "spec.secretRef").await?;
    let keys = keys_from_secret(&secret, &reference.name)?;
    // The CA and TLS settings as for HTTP; the credentials are the keys above, not an
    // Authorization header.
    let tls_only = Connection {
        secret_ref: None,
        ..spec.connection.clone()
    };
    let tls = Access::read(&ctx.client, namespace, &tls_only, "spec").await?;
    let options = tls.http_options(timeout)?;
    let http = http_client(options.clone())?;
    let bucket = S3Repository::new(&spec.url, &config(spec, keys), http)
        .map_err(|error| Error::InvalidSpec(format!("spec.url / spec.s3: {error}")))?;
    Ok((bucket, options))
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_api::S3Settings;
    use k8s_openapi::ByteString;
    use std::collections::BTreeMap;

    fn secret(pairs: &[(&str, &str)]) -> Secret {
        Secret {
            data: Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Secret::default()
        }
    }

    fn spec(s3: Option<S3Settings>) -> ChartRepositorySpec {
        ChartRepositorySpec {
            url: "s3://charts/stable".into(),
            s3,
            interval: None,
            timeout: None,
            connection: Connection {
                secret_ref: Some(SecretReference {
                    name: "keys".into(),
                }),
                ..Connection::default()
            },
            pass_credentials: false,
            suspend: false,
        }
    }

    fn keys() -> S3Keys {
        S3Keys {
            access_key_id: "AKID".into(),
            secret_access_key: "wJalrXUtnFEMI".into(),
        }
    }

    #[test]
    fn keys_come_from_flux_bucket_keys_and_are_never_shown() {
        let read = keys_from_secret(
            &secret(&[
                (ACCESS_KEY_ID, "AKID\n"),
                (SECRET_ACCESS_KEY, "wJalrXUtnFEMI\n"),
            ]),
            "keys",
        )
        .unwrap();
        assert_eq!(read, keys());
        assert!(!format!("{read:?}").contains("wJalrXUtnFEMI"));
        let error = keys_from_secret(&secret(&[(ACCESS_KEY_ID, "AKID")]), "keys").unwrap_err();
        assert_eq!(error.reason(), "InputMissing");
        assert!(
            error
                .to_string()
                .contains("Secret keys key secretAccessKey"),
            "{error}"
        );
        assert!(!error.to_string().contains("AKID"), "{error}");
        let error = keys_from_secret(
            &secret(&[(ACCESS_KEY_ID, "AKID"), (SECRET_ACCESS_KEY, " ")]),
            "keys",
        )
        .unwrap_err();
        assert!(error.to_string().contains("is empty"), "{error}");
    }

    #[test]
    fn settings_default_to_aws_in_us_east_1() {
        let aws = config(&spec(None), keys());
        assert_eq!(aws.endpoint, "https://s3.us-east-1.amazonaws.com");
        assert_eq!(aws.region, DEFAULT_REGION);
        assert!(!aws.path_style);
        let local = config(
            &spec(Some(S3Settings {
                endpoint: Some("http://127.0.0.1:9000/".into()),
                region: Some("eu-west-1".into()),
                path_style: None,
            })),
            keys(),
        );
        assert_eq!(local.endpoint, "http://127.0.0.1:9000");
        assert_eq!(local.region, "eu-west-1");
        assert!(local.path_style);
        let minio = config(
            &spec(Some(S3Settings {
                endpoint: Some("https://minio.storage".into()),
                region: None,
                path_style: Some(true),
            })),
            keys(),
        );
        assert!(minio.path_style);
        assert_eq!(minio.secret_key, "wJalrXUtnFEMI");
    }
}
