//! Verification: checking a `.prov` file's signature against a keyring and the archive's digest
//! against the signed text.

use super::ProvenanceError;
use super::keyring::{Keyring, display_user_id, read_bounded};
use super::message::{archive_digest, parse_message_block};
use super::mpi_repair::normalize_signature_mpis;
use sequoia_openpgp::cert::prelude::*;
use sequoia_openpgp::packet::Signature;
use sequoia_openpgp::parse::Parse;
use sequoia_openpgp::parse::stream::{
    GoodChecksum, MessageLayer, MessageStructure, VerificationError, VerificationHelper,
    VerifierBuilder,
};
use sequoia_openpgp::policy::{Policy, StandardPolicy};
use sequoia_openpgp::types::{HashAlgorithm, RevocationStatus};
use sequoia_openpgp::{Cert, KeyHandle};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// `.prov` files larger than this are refused before parsing: a real one is a few kilobytes.
pub const MAX_PROVENANCE_BYTES: u64 = 1024 * 1024;

const CLEARSIGN_HEADER: &[u8] = b"-----BEGIN PGP SIGNED MESSAGE-----";

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// The signer's primary user ID, e.g. `Name (comment) <email>`.
    pub signer: String,
    /// The signing certificate's (primary key's) fingerprint, upper-case hex.
    pub fingerprint: String,
    /// The verified archive digest, `sha256:<hex>`.
    pub hash: String,
}

/// Verifies an archive held in memory against its provenance text.
///
/// The signature is checked first (so a forged `.prov` is reported as such), then the archive's
/// name must be listed in `files:` with the archive's digest.
pub fn verify_archive(
    archive_name: &str,
    archive_bytes: &[u8],
    provenance: &[u8],
    keyring: &Keyring,
) -> Result<Verification, ProvenanceError> {
    verify_digest(
        archive_name,
        &archive_digest(archive_bytes),
        provenance,
        keyring,
    )
}

/// Verifies `archive` against `<archive>.prov` next to it, streaming the archive through the
/// digest so large archives need no memory.
pub fn verify_archive_file(
    archive: &Path,
    keyring: &Keyring,
) -> Result<Verification, ProvenanceError> {
    let prov_path = provenance_path(archive);
    let provenance = read_bounded(&prov_path, MAX_PROVENANCE_BYTES, "provenance file")?;
    let io_error = |source| ProvenanceError::Io {
        path: archive.to_path_buf(),
        source,
    };
    let mut file = std::fs::File::open(archive).map_err(io_error)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(io_error)?;
    let digest = format!("sha256:{}", hex::encode(hasher.finalize()));
    let archive_name = archive
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    verify_digest(&archive_name, &digest, &provenance, keyring)
}

/// `ARCHIVE.prov`, where Helm keeps an archive's provenance.
pub fn provenance_path(archive: &Path) -> PathBuf {
    let mut name = archive.as_os_str().to_owned();
    name.push(".prov");
    PathBuf::from(name)
}

fn verify_digest(
    archive_name: &str,
    digest: &str,
    provenance: &[u8],
    keyring: &Keyring,
) -> Result<Verification, ProvenanceError> {
    if provenance.len() as u64 > MAX_PROVENANCE_BYTES {
        return Err(ProvenanceError::TooLarge {
            what: "provenance".to_string(),
            size: provenance.len() as u64,
            limit: MAX_PROVENANCE_BYTES,
        });
    }
    let (signer, text) = verify_signature(provenance, keyring)?;
    let block = parse_message_block(&text)?;
    let Some(listed_digest) = block.files.get(archive_name) else {
        return Err(ProvenanceError::FileNotListed {
            name: archive_name.to_string(),
            listed: block.files.keys().cloned().collect::<Vec<_>>().join(", "),
        });
    };
    if listed_digest != digest {
        return Err(ProvenanceError::DigestMismatch {
            name: archive_name.to_string(),
            expected: listed_digest.clone(),
            actual: digest.to_string(),
        });
    }
    Ok(Verification {
        signer: signer.user_id,
        fingerprint: signer.fingerprint,
        hash: digest.to_string(),
    })
}

struct Signer {
    user_id: String,
    fingerprint: String,
}

/// Checks the clear signature and returns the signer and the signed text.
fn verify_signature(
    provenance: &[u8],
    keyring: &Keyring,
) -> Result<(Signer, String), ProvenanceError> {
    if !provenance
        .windows(CLEARSIGN_HEADER.len())
        .any(|window| window == CLEARSIGN_HEADER)
    {
        return Err(ProvenanceError::NotClearSigned {
            reason: "no `-----BEGIN PGP SIGNED MESSAGE-----` line".to_string(),
        });
    }
    let policy = StandardPolicy::new();
    let helper = Helper {
        keyring,
        policy: &policy,
        outcome: None,
    };
    let not_clear_signed = |e: sequoia_openpgp::anyhow::Error| ProvenanceError::NotClearSigned {
        reason: e.to_string(),
    };
    let provenance = normalize_signature_mpis(provenance);
    let mut verifier = VerifierBuilder::from_bytes(&*provenance)
        .and_then(|builder| builder.with_policy(&policy, None, helper))
        .map_err(not_clear_signed)?;
    let mut text = Vec::new();
    (&mut verifier)
        .take(MAX_PROVENANCE_BYTES)
        .read_to_end(&mut text)
        .map_err(|e| not_clear_signed(e.into()))?;
    let outcome = verifier.into_helper().outcome.unwrap_or_else(|| {
        Err(ProvenanceError::MalformedSignature {
            reason: "the message carries no signature".to_string(),
        })
    })?;
    let text = String::from_utf8(text).map_err(|_| ProvenanceError::MalformedMessage {
        reason: "the signed text is not UTF-8".to_string(),
    })?;
    Ok((outcome, text.replace("\r\n", "\n")))
}

struct Helper<'a> {
    keyring: &'a Keyring,
    policy: &'a dyn Policy,
    outcome: Option<Result<Signer, ProvenanceError>>,
}

impl VerificationHelper for Helper<'_> {
    fn get_certs(&mut self, _ids: &[KeyHandle]) -> sequoia_openpgp::Result<Vec<Cert>> {
        Ok(self.keyring.certs().to_vec())
    }

    fn check(&mut self, structure: MessageStructure) -> sequoia_openpgp::Result<()> {
        for layer in structure {
            if let MessageLayer::SignatureGroup { results } = layer {
                let mut first_error = None;
                for result in results {
                    match result {
                        Ok(good) => {
                            self.outcome = Some(self.accept(good));
                            return Ok(());
                        }
                        Err(error) => {
                            first_error.get_or_insert_with(|| self.classify(error));
                        }
                    }
                }
                self.outcome = first_error.map(Err);
            }
        }
        Ok(())
    }
}

impl Helper<'_> {
    /// A signature that checks out cryptographically; the key must also be usable today (Helm
    /// refuses signatures from keys that have since expired or been revoked).
    fn accept(&self, good: GoodChecksum<'_>) -> Result<Signer, ProvenanceError> {
        refuse_weak_hash(good.sig)?;
        let cert = good.ka.cert();
        let fingerprint = cert.fingerprint().to_hex();
        let signer = display_user_id(cert, self.policy);
        let valid_now =
            cert.with_policy(self.policy, None)
                .map_err(|e| ProvenanceError::KeyRejected {
                    fingerprint: fingerprint.clone(),
                    reason: e.to_string(),
                })?;
        let signing_key = valid_now
            .keys()
            .key_handle(good.ka.key().fingerprint())
            .next();
        let revoked = matches!(valid_now.revocation_status(), RevocationStatus::Revoked(_))
            || signing_key
                .as_ref()
                .is_some_and(|key| matches!(key.revocation_status(), RevocationStatus::Revoked(_)));
        if revoked {
            return Err(ProvenanceError::KeyRevoked {
                fingerprint,
                signer,
            });
        }
        let expired = valid_now.alive().is_err()
            || signing_key.as_ref().is_some_and(|key| key.alive().is_err());
        if expired {
            return Err(ProvenanceError::KeyExpired {
                fingerprint,
                signer,
            });
        }
        Ok(Signer {
            user_id: signer,
            fingerprint,
        })
    }

    fn classify(&self, error: VerificationError<'_>) -> ProvenanceError {
        match error {
            VerificationError::MissingKey { sig } => {
                refuse_weak_hash(sig)
                    .err()
                    .unwrap_or_else(|| ProvenanceError::UnknownKey {
                        issuer: sig
                            .get_issuers()
                            .first()
                            .map_or_else(|| "(no issuer recorded)".to_string(), KeyHandle::to_hex),
                        keyring: self.keyring.source_name().to_string(),
                    })
            }
            VerificationError::UnboundKey { sig, cert, error } => refuse_weak_hash(sig)
                .err()
                .unwrap_or_else(|| ProvenanceError::KeyRejected {
                    fingerprint: cert.fingerprint().to_hex(),
                    reason: error.to_string(),
                }),
            VerificationError::BadKey { sig, ka, error } => {
                if let Err(weak) = refuse_weak_hash(sig) {
                    return weak;
                }
                let fingerprint = ka.cert().fingerprint().to_hex();
                let signer = display_user_id(ka.cert(), self.policy);
                let revoked = matches!(
                    ka.valid_cert().revocation_status(),
                    RevocationStatus::Revoked(_)
                ) || matches!(ka.revocation_status(), RevocationStatus::Revoked(_));
                if revoked {
                    ProvenanceError::KeyRevoked {
                        fingerprint,
                        signer,
                    }
                } else if ka.valid_cert().alive().is_err() || ka.alive().is_err() {
                    ProvenanceError::KeyExpired {
                        fingerprint,
                        signer,
                    }
                } else {
                    ProvenanceError::KeyRejected {
                        fingerprint,
                        reason: error.to_string(),
                    }
                }
            }
            VerificationError::BadSignature { sig, error, .. } => refuse_weak_hash(sig)
                .err()
                .unwrap_or_else(|| ProvenanceError::BadSignature {
                    detail: error.to_string(),
                }),
            VerificationError::MalformedSignature { sig, error } => refuse_weak_hash(sig)
                .err()
                .unwrap_or_else(|| ProvenanceError::MalformedSignature {
                    reason: error.to_string(),
                }),
            other => ProvenanceError::MalformedSignature {
                reason: other.to_string(),
            },
        }
    }
}

/// MD5, SHA-1 and RIPEMD-160 signatures can be forged by collision; they are refused whatever
/// the key.
fn refuse_weak_hash(sig: &Signature) -> Result<(), ProvenanceError> {
    match sig.hash_algo() {
        HashAlgorithm::MD5 | HashAlgorithm::SHA1 | HashAlgorithm::RipeMD => {
            Err(ProvenanceError::WeakHash {
                algorithm: sig.hash_algo().to_string(),
            })
        }
        _ => Ok(()),
    }
}
