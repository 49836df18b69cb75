//! Everything that can go wrong while signing or verifying a chart, each case with its own
//! variant so callers (and tests) can tell a tampered archive from an untrusted key.

use std::path::PathBuf;

/// A provenance failure. Messages name the file or key involved and say what to do next; they
/// never contain key material or passphrases.
#[derive(Debug, thiserror::Error)]
pub enum ProvenanceError {
    #[error("could not read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} is {size} bytes, more than the {limit} bytes allowed; is it the right file?")]
    TooLarge { what: String, size: u64, limit: u64 },
    #[error(
        "{path} is a GnuPG keybox (pubring.kbx), which cannot be read directly; export the keys \
         first with `gpg --export KEYID > keyring.gpg` (or `gpg --export-secret-keys` for signing) \
         and pass that file"
    )]
    KeyboxKeyring { path: String },
    #[error("{source_name} is not an OpenPGP keyring: {reason}")]
    InvalidKeyring { source_name: String, reason: String },
    #[error("{source_name} holds no OpenPGP keys")]
    EmptyKeyring { source_name: String },
    #[error("no key in {source_name} matches {name:?}; list keys with `gpg --list-keys`")]
    KeyNotFound { source_name: String, name: String },
    #[error(
        "more than one key in {source_name} matches {name:?}: {candidates}; use a longer name or the fingerprint"
    )]
    AmbiguousKey {
        source_name: String,
        name: String,
        candidates: String,
    },
    #[error(
        "key {fingerprint} has no usable secret signing key; pass a secret keyring \
         (`gpg --export-secret-keys KEYID > secring.gpg`)"
    )]
    NoSecretKey { fingerprint: String },
    #[error("key {fingerprint} is protected by a passphrase; pass it with --passphrase-file")]
    PassphraseRequired { fingerprint: String },
    #[error("the passphrase does not unlock key {fingerprint}")]
    WrongPassphrase { fingerprint: String },
    #[error("could not sign with key {fingerprint}: {reason}")]
    Signing { fingerprint: String, reason: String },
    #[error("the provenance file is not an OpenPGP clear-signed message: {reason}")]
    NotClearSigned { reason: String },
    #[error("the provenance message block is malformed: {reason}")]
    MalformedMessage { reason: String },
    #[error(
        "the provenance was signed by key {issuer}, which is not in the keyring {keyring}; \
         import the signer's public key into the keyring if you trust it"
    )]
    UnknownKey { issuer: String, keyring: String },
    #[error("the provenance signature does not match its text (BAD signature): the .prov file was changed after signing{}", detail_suffix(.detail))]
    BadSignature { detail: String },
    #[error("the provenance signature is malformed: {reason}")]
    MalformedSignature { reason: String },
    #[error(
        "the provenance is signed with the weak hash {algorithm}, which is refused; re-sign with SHA-256 or SHA-512"
    )]
    WeakHash { algorithm: String },
    #[error(
        "signing key {fingerprint} ({signer}) has expired; ask the publisher for a provenance signed with a current key"
    )]
    KeyExpired { fingerprint: String, signer: String },
    #[error("signing key {fingerprint} ({signer}) has been revoked; do not trust charts it signed")]
    KeyRevoked { fingerprint: String, signer: String },
    #[error("signing key {fingerprint} is not valid: {reason}")]
    KeyRejected { fingerprint: String, reason: String },
    #[error(
        "provenance does not contain a SHA for a file named {name:?} (it lists: {listed}); \
         was the archive renamed?"
    )]
    FileNotListed { name: String, listed: String },
    #[error(
        "sha256 sum does not match for {name}: the provenance says {expected} but the archive is {actual}; the archive was changed after signing"
    )]
    DigestMismatch {
        name: String,
        expected: String,
        actual: String,
    },
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    }
}
