//! The key of the values digest.
//!
//! A revision records a digest of the merged values so the operator can tell an unchanged
//! revision apart without keeping the values. Values may hold secrets, and status is readable by
//! whoever may read the ChartDeployment: a plain hash of a short secret (a PIN, a word) could be
//! guessed by hashing candidates. So the digest is an HMAC under a key only the operator knows,
//! kept in a Secret in its own namespace so that it survives restarts (a new key would make every
//! revision look new and re-apply everything once).

use capstan_chart::values::Values;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::Client;
use kube::api::{Api, PostParams};
use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};

use crate::error::{Error, Result};
use crate::object_data::DataObject;

/// The Secret holding the key, in the operator's namespace.
pub const SECRET_NAME: &str = "capstan-operator-values-key";
/// The key's entry in that Secret.
const KEY_ENTRY: &str = "key";
/// Bytes of a new key.
const KEY_BYTES: usize = 32;

/// The HMAC key of values digests.
#[derive(Clone)]
pub struct ValuesKey {
    key: hmac::Key,
}

impl std::fmt::Debug for ValuesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ValuesKey(<redacted>)")
    }
}

impl ValuesKey {
    pub fn from_bytes(bytes: &[u8]) -> Self {
        ValuesKey {
            key: hmac::Key::new(hmac::HMAC_SHA256, bytes),
        }
    }

    /// A key for this process only (when the operator has no namespace to keep one in).
    pub fn random() -> Result<Self> {
        Ok(Self::from_bytes(&new_key_bytes()?))
    }

    /// `hmac-sha256:<hex>` of `values` (their JSON).
    pub fn digest(&self, values: &Values) -> String {
        let bytes = serde_json::to_vec(values).unwrap_or_default();
        let tag = hmac::sign(&self.key, &bytes);
        format!("hmac-sha256:{}", hex::encode(tag.as_ref()))
    }

    /// The key kept in the Secret [`SECRET_NAME`] in `namespace`, created the first time.
    pub async fn load_or_create(client: &Client, namespace: &str) -> Result<Self> {
        let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
        let read_error = Error::kube(format!("reading Secret {namespace}/{SECRET_NAME}"));
        if let Some(secret) = secrets.get_opt(SECRET_NAME).await.map_err(read_error)? {
            return Self::from_secret(&secret, namespace);
        }
        let mut secret = Secret::default();
        secret.metadata.name = Some(SECRET_NAME.into());
        secret.data = Some([(KEY_ENTRY.to_string(), ByteString(new_key_bytes()?))].into());
        match secrets.create(&PostParams::default(), &secret).await {
            Ok(created) => Self::from_secret(&created, namespace),
            // Another replica created it first: use theirs.
            Err(kube::Error::Api(status)) if status.code == 409 => {
                let again = secrets.get(SECRET_NAME).await.map_err(Error::kube(format!(
                    "reading Secret {namespace}/{SECRET_NAME}"
                )))?;
                Self::from_secret(&again, namespace)
            }
            Err(source) => Err(Error::Kube {
                action: format!("creating Secret {namespace}/{SECRET_NAME}"),
                source,
            }),
        }
    }

    fn from_secret(secret: &Secret, namespace: &str) -> Result<Self> {
        match DataObject::Secret(secret).get(KEY_ENTRY) {
            Some(bytes) if bytes.len() >= 16 => Ok(Self::from_bytes(bytes)),
            _ => Err(Error::InvalidSpec(format!(
                "Secret {namespace}/{SECRET_NAME} has no key {KEY_ENTRY} of at least 16 bytes; \
                 delete it and the operator makes a new one"
            ))),
        }
    }
}

fn new_key_bytes() -> Result<Vec<u8>> {
    let mut key = vec![0u8; KEY_BYTES];
    SystemRandom::new()
        .fill(&mut key)
        .map_err(|_| Error::InvalidSpec("the system has no source of random bytes".into()))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values(value: serde_json::Value) -> Values {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn digests_depend_on_the_values_and_on_the_key() {
        let key = ValuesKey::from_bytes(b"0123456789abcdef0123456789abcdef");
        let pin = values(json!({"pin": "1234"}));
        let digest = key.digest(&pin);
        assert!(digest.starts_with("hmac-sha256:"), "{digest}");
        assert_eq!(digest, key.digest(&pin.clone()));
        assert_ne!(digest, key.digest(&values(json!({"pin": "1235"}))));
        // The plain hash of the values would be guessable; the keyed one is not that hash, and
        // another key gives another digest.
        let plain = hex::encode(ring::digest::digest(
            &ring::digest::SHA256,
            &serde_json::to_vec(&pin).unwrap(),
        ));
        assert!(!digest.contains(&plain));
        let other = ValuesKey::from_bytes(b"fedcba9876543210fedcba9876543210");
        assert_ne!(digest, other.digest(&pin));
        assert!(!format!("{key:?}").contains("0123"));
    }
}
