//! Keyrings: the OpenPGP certificates (public, or with secret keys for signing) that Helm users
//! keep in files exported from GnuPG.

use super::ProvenanceError;
use sequoia_openpgp::Cert;
use sequoia_openpgp::cert::CertParser;
use sequoia_openpgp::parse::Parse;
use std::io::Read;
use std::path::Path;

/// Keyring files larger than this are refused: real keyrings are kilobytes.
pub const MAX_KEYRING_BYTES: u64 = 16 * 1024 * 1024;

/// GnuPG 2.1+ keeps keys in a "keybox", recognised by this magic at offset 8.
const KEYBOX_MAGIC: &[u8] = b"KBXf";

/// A set of certificates read from one file: binary (`gpg --export`, legacy `pubring.gpg` and
/// `secring.gpg`) or ASCII-armored, holding one or several keys.
#[derive(Debug, Clone)]
pub struct Keyring {
    certs: Vec<Cert>,
    /// Where the keys came from, for messages.
    source_name: String,
}

impl Keyring {
    /// Reads a keyring file, bounded by [`MAX_KEYRING_BYTES`].
    pub fn from_file(path: &Path) -> Result<Self, ProvenanceError> {
        let bytes = read_bounded(path, MAX_KEYRING_BYTES, "keyring")?;
        Self::from_bytes(&bytes, &path.display().to_string())
    }

    /// Parses keyring bytes; `source_name` names them in errors.
    pub fn from_bytes(bytes: &[u8], source_name: &str) -> Result<Self, ProvenanceError> {
        if bytes.get(8..12) == Some(KEYBOX_MAGIC) {
            return Err(ProvenanceError::KeyboxKeyring {
                path: source_name.to_string(),
            });
        }
        let invalid = |reason: String| ProvenanceError::InvalidKeyring {
            source_name: source_name.to_string(),
            reason,
        };
        let parser = CertParser::from_bytes(bytes).map_err(|e| invalid(e.to_string()))?;
        let mut certs = Vec::new();
        let mut first_error = None;
        for cert in parser {
            // One unreadable certificate (say, an unsupported algorithm) must not hide the others.
            match cert {
                Ok(cert) => certs.push(cert),
                Err(e) => {
                    first_error.get_or_insert_with(|| e.to_string());
                }
            }
        }
        if certs.is_empty() {
            return Err(match first_error {
                Some(reason) => invalid(reason),
                None => ProvenanceError::EmptyKeyring {
                    source_name: source_name.to_string(),
                },
            });
        }
        Ok(Keyring {
            certs,
            source_name: source_name.to_string(),
        })
    }

    /// Builds a keyring from certificates already in memory.
    pub fn from_certs(certs: Vec<Cert>, source_name: &str) -> Self {
        Keyring {
            certs,
            source_name: source_name.to_string(),
        }
    }

    pub fn certs(&self) -> &[Cert] {
        &self.certs
    }

    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    /// Finds the key to sign with, the way `helm package --sign --key NAME` does: a user ID equal
    /// to `name` wins; otherwise exactly one key whose user ID contains `name`. A fingerprint or
    /// key ID (hex, spaces ignored) also selects a key.
    pub fn find(&self, name: &str) -> Result<&Cert, ProvenanceError> {
        let wanted_hex: String = name.chars().filter(|c| !c.is_whitespace()).collect();
        let wanted_hex = wanted_hex.trim_start_matches("0x").to_ascii_uppercase();
        let mut candidates: Vec<&Cert> = Vec::new();
        for cert in &self.certs {
            let user_ids: Vec<String> = cert
                .userids()
                .map(|uid| String::from_utf8_lossy(uid.userid().value()).into_owned())
                .collect();
            if user_ids.iter().any(|uid| uid == name) {
                return Ok(cert);
            }
            let by_id = wanted_hex.len() >= 8
                && wanted_hex.chars().all(|c| c.is_ascii_hexdigit())
                && cert
                    .keys()
                    .any(|key| key.key().fingerprint().to_hex().ends_with(&wanted_hex));
            if by_id || user_ids.iter().any(|uid| uid.contains(name)) {
                candidates.push(cert);
            }
        }
        match candidates.as_slice() {
            [] => Err(ProvenanceError::KeyNotFound {
                source_name: self.source_name.clone(),
                name: name.to_string(),
            }),
            [only] => Ok(only),
            many => Err(ProvenanceError::AmbiguousKey {
                source_name: self.source_name.clone(),
                name: name.to_string(),
                candidates: many
                    .iter()
                    .map(|cert| cert.fingerprint().to_hex())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }
}

/// Reads a whole file, refusing it when it is larger than `limit` (`what` names it in errors).
pub(crate) fn read_bounded(
    path: &Path,
    limit: u64,
    what: &str,
) -> Result<Vec<u8>, ProvenanceError> {
    let io_error = |source| ProvenanceError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io_error)?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error)?;
    if bytes.len() as u64 > limit {
        return Err(ProvenanceError::TooLarge {
            what: format!("{what} {}", path.display()),
            size: bytes.len() as u64,
            limit,
        });
    }
    Ok(bytes)
}

/// The user ID to report for a certificate: its primary one when valid, else its first.
pub(crate) fn display_user_id(cert: &Cert, policy: &dyn sequoia_openpgp::policy::Policy) -> String {
    let primary = cert.with_policy(policy, None).ok().and_then(|valid| {
        valid
            .primary_userid()
            .ok()
            .map(|uid| uid.userid().value().to_vec())
    });
    let first = || {
        cert.userids()
            .next()
            .map(|uid| uid.userid().value().to_vec())
    };
    primary
        .or_else(first)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_else(|| "Unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring(vectors: &capstan_testdata::Vectors, name: &str) -> Keyring {
        Keyring::from_file(&vectors.path(&format!("provenance/{name}"))).unwrap()
    }

    capstan_testdata::vector_tests! {
        fn loads_binary_public_keyring(vectors) {
            let ring = keyring(vectors, "helm-test-key.pub");
            assert_eq!(ring.certs().len(), 1);
            let signer = vectors.signer();
            let cert = ring.find(&signer.user_id).unwrap();
            assert_eq!(cert.fingerprint().to_hex(), signer.fingerprint);
        }

        fn loads_binary_secret_key(vectors) {
            let ring = keyring(vectors, "helm-test-key.secret");
            let cert = ring.find(vectors.signer().email()).unwrap();
            assert!(cert.is_tsk());
        }

        fn finds_keys_in_mixed_keyring_by_name_and_fingerprint(vectors) {
            let ring = keyring(vectors, "helm-mixed-keyring.pub");
            assert_eq!(ring.certs().len(), 2);
            let ed25519 = ring.find("Ed25519").unwrap();
            assert_eq!(ed25519.fingerprint().to_hex(), vectors.ed25519_key().fingerprint);
            let signer = vectors.signer();
            let rsa = ring.find(signer.key_id()).unwrap();
            assert_eq!(rsa.fingerprint().to_hex(), signer.fingerprint);
            assert!(matches!(
                ring.find(vectors.mixed_keyring_common_text()),
                Err(ProvenanceError::AmbiguousKey { .. })
            ));
            assert!(matches!(
                ring.find("nobody"),
                Err(ProvenanceError::KeyNotFound { .. })
            ));
        }

        fn armored_keyring_with_several_keys_loads(vectors) {
            use sequoia_openpgp::serialize::SerializeInto;
            let ring = keyring(vectors, "helm-mixed-keyring.pub");
            let mut armored = Vec::new();
            for cert in ring.certs() {
                armored.extend(cert.armored().to_vec().unwrap());
            }
            let reread = Keyring::from_bytes(&armored, "armored").unwrap();
            assert_eq!(reread.certs().len(), 2);
        }
    }

    #[test]
    fn keybox_gets_an_export_hint() {
        let mut keybox = vec![0u8, 0, 0, 32, 1, 1, 0, 0];
        keybox.extend_from_slice(b"KBXf");
        keybox.resize(32, 0);
        let err = Keyring::from_bytes(&keybox, "pubring.kbx").unwrap_err();
        assert!(matches!(err, ProvenanceError::KeyboxKeyring { .. }));
        assert!(err.to_string().contains("gpg --export KEYID > keyring.gpg"));
    }

    #[test]
    fn garbage_is_not_a_keyring() {
        let err = Keyring::from_bytes(b"this is not a key", "notes.txt").unwrap_err();
        assert!(
            matches!(
                err,
                ProvenanceError::InvalidKeyring { .. } | ProvenanceError::EmptyKeyring { .. }
            ),
            "{err}"
        );
    }
}
