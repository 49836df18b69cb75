//! Provenance policy: which mode and keyring apply to a chart source, what a `.prov` file's
//! presence means under each mode, and the verification itself. No client here: the keyring
//! Secret is read by [`super::dereference`].

use capstan_api::{VerificationMode, VerificationPolicy};
use capstan_chart::provenance::{Keyring, Verification, verify_archive};
use k8s_openapi::api::core::v1::Secret;

use crate::error::{Error, Result};
use crate::object_data::DataObject;

/// The provenance policy that applies to a source, and where its keyring lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    pub mode: VerificationMode,
    pub keyring_secret: Option<String>,
}

impl Policy {
    /// The policy `spec.verify` states (`Ignore` when unset).
    pub fn from_spec(policy: Option<&VerificationPolicy>) -> Self {
        Policy {
            mode: policy.map_or(VerificationMode::Ignore, |p| p.mode),
            keyring_secret: policy
                .and_then(|p| p.keyring_secret_ref.as_ref())
                .map(|r| r.name.clone()),
        }
    }

    /// Whether provenance is looked at at all (so a `.prov` is worth downloading).
    pub fn wants_provenance(&self) -> bool {
        self.mode != VerificationMode::Ignore
    }

    /// The keyring Secret to read, when provenance is checked and one is named.
    pub fn keyring_to_read(&self) -> Option<&str> {
        match self.mode {
            VerificationMode::Ignore => None,
            _ => self.keyring_secret.as_deref(),
        }
    }

    /// Tells policies (and keyring versions) apart, so a revision applied under one policy is
    /// checked again under another: the mode, the keyring Secret and the `resourceVersion` of
    /// the keyring read (a key added or revoked).
    pub fn tag(&self, keyring: Option<&Secret>) -> String {
        let keyring_version = keyring
            .and_then(|secret| secret.metadata.resource_version.as_deref())
            .unwrap_or_default();
        format!(
            "{:?}/{}@{keyring_version}",
            self.mode,
            self.keyring_secret.as_deref().unwrap_or_default()
        )
    }

    /// The trusted keys, from the keyring Secret read for this reconcile.
    pub fn keyring(&self, keyring: Option<&Secret>) -> Result<Vec<u8>> {
        let name = self.keyring_secret.as_deref().ok_or_else(|| {
            Error::InvalidSpec(
                "verify.keyringSecretRef is required to check provenance; name a Secret holding \
                 keyring.gpg"
                    .into(),
            )
        })?;
        let secret = keyring.ok_or_else(|| Error::InputMissing {
            what: format!("Secret {name} (verify.keyringSecretRef)"),
            message: "not found; create it with the trusted public keys in keyring.gpg".into(),
        })?;
        keyring_from_secret(secret, name)
    }
}

/// What to do with a package under `mode`, before any cryptography: whether a signature must be
/// checked, or why the package is refused outright.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    /// Nothing to verify.
    Skip,
    /// Verify the provenance file against the keyring.
    Verify,
}

/// Decides from the mode and whether a provenance file came with the archive.
pub fn decide(mode: VerificationMode, has_provenance: bool) -> Result<Check> {
    match (mode, has_provenance) {
        (VerificationMode::Ignore, _) | (VerificationMode::IfPresent, false) => Ok(Check::Skip),
        (VerificationMode::Required, false) => Err(Error::VerificationPolicy(
            "the policy is Required but the chart has no provenance (.prov) file; sign it with \
             `capstan package --sign` or relax spec.verify.mode"
                .into(),
        )),
        (_, true) => Ok(Check::Verify),
    }
}

/// Verifies `archive` against its provenance file and the trusted `keyring`: the signature must
/// come from a key in the keyring and the `.prov` must list `archive_name` (Helm's
/// `<chart>-<version>.tgz`) with the archive's digest.
pub fn verify_signature(
    archive_name: &str,
    archive: &[u8],
    provenance: &[u8],
    keyring: &[u8],
) -> Result<Verification> {
    let verification_error = |source| Error::Verification {
        archive: archive_name.to_string(),
        source,
    };
    let keyring = Keyring::from_bytes(keyring, "the keyring Secret").map_err(verification_error)?;
    verify_archive(archive_name, archive, provenance, &keyring).map_err(verification_error)
}

/// Largest keyring accepted from a Secret (Secrets themselves are limited to about 1 MiB).
const MAX_KEYRING_BYTES: usize = 1024 * 1024;

/// The trusted public keys in a keyring Secret: every key named `*.gpg` or `*.asc`, in key
/// order, concatenated (OpenPGP keyrings, binary or armored, concatenate).
pub fn keyring_from_secret(secret: &Secret, name: &str) -> Result<Vec<u8>> {
    let mut keyring = Vec::new();
    for (key, value) in DataObject::Secret(secret).entries() {
        if key.ends_with(".gpg") || key.ends_with(".asc") {
            keyring.extend_from_slice(value);
        }
    }
    if keyring.is_empty() {
        return Err(Error::InvalidSpec(format!(
            "Secret {name} (verify.keyringSecretRef) has no key ending in .gpg or .asc; put the \
             trusted public keys in keyring.gpg"
        )));
    }
    if keyring.len() > MAX_KEYRING_BYTES {
        return Err(Error::InvalidSpec(format!(
            "Secret {name} (verify.keyringSecretRef): the keyring has more than \
             {MAX_KEYRING_BYTES} bytes"
        )));
    }
    Ok(keyring)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_are_tagged_by_mode_keyring_and_its_version() {
        let policy = Policy::from_spec(Some(&VerificationPolicy {
            mode: VerificationMode::Required,
            keyring_secret_ref: Some(capstan_api::SecretReference {
                name: "keys".into(),
            }),
        }));
        assert!(policy.wants_provenance());
        assert_eq!(policy.keyring_to_read(), Some("keys"));
        let mut keyring = Secret::default();
        keyring.metadata.resource_version = Some("7".into());
        assert_eq!(policy.tag(Some(&keyring)), "Required/keys@7");
        keyring.metadata.resource_version = Some("8".into());
        assert_eq!(policy.tag(Some(&keyring)), "Required/keys@8");
        let ignore = Policy::from_spec(None);
        assert!(!ignore.wants_provenance());
        assert_eq!(ignore.keyring_to_read(), None);
        let error = policy.keyring(None).unwrap_err();
        assert_eq!(error.reason(), "InputMissing");
    }

    #[test]
    fn modes_decide_whether_to_verify() {
        assert_eq!(decide(VerificationMode::Ignore, true).unwrap(), Check::Skip);
        assert_eq!(
            decide(VerificationMode::IfPresent, false).unwrap(),
            Check::Skip
        );
        assert_eq!(
            decide(VerificationMode::IfPresent, true).unwrap(),
            Check::Verify
        );
        assert_eq!(
            decide(VerificationMode::Required, true).unwrap(),
            Check::Verify
        );
        let error = decide(VerificationMode::Required, false).unwrap_err();
        assert!(error.is_stalled());
        assert!(error.to_string().contains("no provenance"));
    }

    #[test]
    fn keyrings_join_gpg_and_asc_keys_only() {
        use k8s_openapi::ByteString;
        let secret = Secret {
            data: Some(
                [("b.asc", "B"), ("a.gpg", "A"), ("note.txt", "ignored")]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect(),
            ),
            ..Secret::default()
        };
        assert_eq!(keyring_from_secret(&secret, "keys").unwrap(), b"AB");
        let error = keyring_from_secret(&Secret::default(), "keys").unwrap_err();
        assert!(error.to_string().contains("Secret keys"), "{error}");
    }

    capstan_testdata::vector_tests! {
        fn helm_signed_archives_verify_and_changed_ones_do_not(vectors) {
            let archive = vectors.read("provenance/hashtest-1.2.3.tgz");
            let provenance = vectors.read("provenance/hashtest-1.2.3.tgz.prov");
            let keyring = vectors.read("provenance/helm-test-key.pub");
            let verified =
                verify_signature("hashtest-1.2.3.tgz", &archive, &provenance, &keyring).unwrap();
            assert_eq!(verified.fingerprint, vectors.signer().fingerprint);
            let mut changed = archive.clone();
            changed.push(0);
            let error = verify_signature("hashtest-1.2.3.tgz", &changed, &provenance, &keyring)
                .unwrap_err();
            assert_eq!(error.reason(), "VerificationFailed");
            assert!(error.to_string().contains("hashtest-1.2.3.tgz"), "{error}");
            let error = verify_signature("hashtest-1.2.3.tgz", &archive, &provenance, b"not a key")
                .unwrap_err();
            assert!(error.to_string().contains("keyring"), "{error}");
        }
    }
}
