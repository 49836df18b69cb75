//! Signing: turning an archive and its metadata into a `.prov` file.

use super::ProvenanceError;
use super::keyring::Keyring;
use super::message::message_block;
use crate::model::ChartMetadata;
use sequoia_openpgp::Cert;
use sequoia_openpgp::cert::amalgamation::key::PrimaryKey;
use sequoia_openpgp::crypto::{KeyPair, Password};
use sequoia_openpgp::policy::StandardPolicy;
use sequoia_openpgp::serialize::stream::{Message, Signer};
use sequoia_openpgp::types::HashAlgorithm;
use std::io::Write;

/// Signs an archive: returns the `.prov` text (a clear-signed message block, SHA-512, as Helm
/// makes it). `key` must carry a secret signing key; `passphrase` unlocks it if protected.
pub fn sign(
    archive_name: &str,
    archive_bytes: &[u8],
    metadata: &ChartMetadata,
    key: &Cert,
    passphrase: Option<&str>,
) -> Result<String, ProvenanceError> {
    let keypair = signing_keypair(key, passphrase)?;
    let fingerprint = key.fingerprint().to_hex();
    let signing_error = |e: sequoia_openpgp::anyhow::Error| ProvenanceError::Signing {
        fingerprint: fingerprint.clone(),
        reason: e.to_string(),
    };
    let block = message_block(metadata, archive_name, archive_bytes);
    // The clear-text framework ends the text with a line break of its own; handing it the block
    // without its final newline gives Helm's layout (no blank line before the signature).
    let text = block.strip_suffix('\n').unwrap_or(&block);
    let mut output = Vec::new();
    {
        let message = Message::new(&mut output);
        let mut signer = Signer::new(message, keypair)
            .and_then(|signer| signer.cleartext().hash_algo(HashAlgorithm::SHA512))
            .and_then(|signer| signer.build())
            .map_err(signing_error)?;
        signer
            .write_all(text.as_bytes())
            .map_err(|e| signing_error(e.into()))?;
        signer.finalize().map_err(signing_error)?;
    }
    String::from_utf8(output).map_err(|e| signing_error(e.into()))
}

/// [`sign`] with the key chosen from a secret keyring by name, e-mail or fingerprint, as
/// `helm package --sign --key NAME --keyring FILE` does.
pub fn sign_with_keyring(
    archive_name: &str,
    archive_bytes: &[u8],
    metadata: &ChartMetadata,
    keyring: &Keyring,
    key_name: &str,
    passphrase: Option<&str>,
) -> Result<String, ProvenanceError> {
    let key = keyring.find(key_name)?;
    sign(archive_name, archive_bytes, metadata, key, passphrase)
}

/// Picks the key that signs: the primary key when it can sign (as Helm does), else a signing
/// subkey; unlocks it with the passphrase when it is protected.
fn signing_keypair(cert: &Cert, passphrase: Option<&str>) -> Result<KeyPair, ProvenanceError> {
    let policy = StandardPolicy::new();
    let fingerprint = cert.fingerprint().to_hex();
    let valid = cert
        .with_policy(&policy, None)
        .map_err(|e| ProvenanceError::KeyRejected {
            fingerprint: fingerprint.clone(),
            reason: e.to_string(),
        })?;
    let mut candidates: Vec<_> = valid
        .keys()
        .secret()
        .alive()
        .revoked(false)
        .for_signing()
        .collect();
    candidates.sort_by_key(|key| !key.primary());
    let Some(key) = candidates.into_iter().next() else {
        return Err(ProvenanceError::NoSecretKey { fingerprint });
    };
    let mut secret_key = key.key().clone();
    if secret_key.secret().is_encrypted() {
        let Some(passphrase) = passphrase else {
            return Err(ProvenanceError::PassphraseRequired { fingerprint });
        };
        secret_key = secret_key
            .decrypt_secret(&Password::from(passphrase))
            .map_err(|_| ProvenanceError::WrongPassphrase {
                fingerprint: fingerprint.clone(),
            })?;
    }
    secret_key
        .into_keypair()
        .map_err(|e| ProvenanceError::Signing {
            fingerprint,
            reason: e.to_string(),
        })
}
