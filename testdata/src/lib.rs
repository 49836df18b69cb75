//! Fixtures in Helm's formats for the workspace's tests, and the tools their real peers run.
//!
//! Two sets of files share one layout (`provenance/`, `signtest/`, `loader/`, `repo/`), so a test
//! body takes a [`Vectors`] and runs against either:
//!
//! - [`Vectors::generated`]: `testdata/helm/`, made by `testdata/helm/generate` with Helm and GnuPG
//!   and committed. Every test runs against it, in a fresh clone too.
//! - [`Vectors::helm`]: Helm's own test vectors in `shared/testdata/helm` beside the repository (or
//!   under `$CAPSTAN_SHARED_DIR`). A fresh clone has no `shared/`, so tests that read them are
//!   `#[ignore = "needs ../shared/testdata/helm"]` and CI runs them with `--ignored`.
//!
//! What a test expects of the generated files (fingerprints, digests, Helm's output) comes from the
//! files `generate` recorded with the real tools; for Helm's vectors it comes from Helm's tests.

pub mod tools;

/// Declares checks that take `&Vectors` and makes two tests of each: `generated::NAME` on
/// [`Vectors::generated`], and `helm_vectors::NAME` on [`Vectors::helm`], ignored because a fresh
/// clone lacks `../shared` (CI runs it with `--ignored`).
///
/// ```ignore
/// capstan_testdata::vector_tests! {
///     /// What the check shows.
///     fn digest_is_shasums(vectors) {
///         assert!(vectors.hashtest_digest().starts_with("sha256:"));
///     }
/// }
/// ```
#[macro_export]
macro_rules! vector_tests {
    ($($(#[$meta:meta])* fn $name:ident($vectors:ident) $body:block)*) => {
        $(
            $(#[$meta])*
            fn $name($vectors: &$crate::Vectors) $body
        )*

        mod generated {
            $(
                #[test]
                fn $name() {
                    super::$name(&$crate::Vectors::generated());
                }
            )*
        }

        mod helm_vectors {
            $(
                #[test]
                #[ignore = "needs ../shared/testdata/helm"]
                fn $name() {
                    super::$name(&$crate::Vectors::helm());
                }
            )*
        }
    };
}

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Where `shared/` is when `$CAPSTAN_SHARED_DIR` does not say: beside the repository.
const SHARED_BESIDE_REPOSITORY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared");

/// One OpenPGP key of a fixture set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Key {
    /// The user ID, as `Name (comment) <email>`.
    pub user_id: String,
    /// Upper-case hex, as GnuPG and `helm verify` print it.
    pub fingerprint: String,
}

impl Key {
    fn new(user_id: &str, fingerprint: &str) -> Self {
        Key {
            user_id: user_id.to_string(),
            fingerprint: fingerprint.to_string(),
        }
    }

    /// The address between `<` and `>`, which selects the key by name as `--key` does.
    pub fn email(&self) -> &str {
        let start = self.user_id.rfind('<').map_or(0, |i| i + 1);
        self.user_id[start..].trim_end_matches('>')
    }

    /// The long key ID: the fingerprint's last 16 hex digits, as a signature's issuer names it.
    pub fn key_id(&self) -> &str {
        &self.fingerprint[self.fingerprint.len() - 16..]
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    Generated,
    Helm,
}

/// A set of fixture files and the facts tests check about them.
#[derive(Clone, Debug)]
pub struct Vectors {
    root: PathBuf,
    origin: Origin,
}

impl Vectors {
    /// The committed files in `testdata/helm/`.
    pub fn generated() -> Self {
        Vectors {
            root: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/helm")),
            origin: Origin::Generated,
        }
    }

    /// Helm's test vectors in `shared/testdata/helm`. Panics, saying where to put them, when absent.
    pub fn helm() -> Self {
        let shared = std::env::var_os("CAPSTAN_SHARED_DIR")
            .filter(|dir| !dir.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(SHARED_BESIDE_REPOSITORY));
        let root = shared.join("testdata/helm");
        assert!(
            root.join("SHA256SUMS").is_file(),
            "Helm's test vectors are not in {}: put the project's shared/ directory beside the \
             repository (CI does) or set CAPSTAN_SHARED_DIR to it. Without them, run the tests \
             without --ignored: the same checks run against testdata/helm.",
            root.display()
        );
        Vectors {
            root,
            origin: Origin::Helm,
        }
    }

    /// True for Helm's vectors, false for the generated set.
    pub fn is_helms(&self) -> bool {
        self.origin == Origin::Helm
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The path of a file in the set, e.g. `provenance/hashtest-1.2.3.tgz`.
    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// The bytes of a file in the set; panics naming the file when it cannot be read.
    pub fn read(&self, relative: &str) -> Vec<u8> {
        let path = self.path(relative);
        std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
    }

    pub fn read_string(&self, relative: &str) -> String {
        String::from_utf8(self.read(relative))
            .unwrap_or_else(|e| panic!("fixture {relative} is not UTF-8: {e}"))
    }

    /// The key that signed `hashtest-1.2.3.tgz.prov`, `msgblock.yaml.asc` and signtest's `.prov`;
    /// `provenance/helm-test-key.{pub,secret}` hold it, without a passphrase.
    pub fn signer(&self) -> Key {
        match self.origin {
            Origin::Helm => Key::new(
                "Helm Testing (This key should only be used for testing. DO NOT TRUST.) \
                 <helm-testing@helm.sh>",
                "5E615389B53CA37F0EE60BD3843BBF981FC18762",
            ),
            Origin::Generated => self.recorded_key("signer"),
        }
    }

    /// The Ed25519 key that `provenance/helm-mixed-keyring.pub` holds beside the signer's.
    pub fn ed25519_key(&self) -> Key {
        match self.origin {
            Origin::Helm => Key::new(
                "Helm Ed25519 Test <helm-ed25519@helm.sh>",
                "4CBE754C25580C6C878DE711FB856812CE2FCB64",
            ),
            Origin::Generated => self.recorded_key("ed25519"),
        }
    }

    /// The key in `provenance/helm-password-key.secret`, locked with [`Vectors::PASSPHRASE`].
    pub fn password_key(&self) -> Key {
        match self.origin {
            Origin::Helm => Key::new(
                "password key (fake) <fake@helm.sh>",
                "E18D0BE258CB62933597C3527A891631B10DA2B1",
            ),
            Origin::Generated => self.recorded_key("password"),
        }
    }

    /// The passphrase of [`Vectors::password_key`], in both sets.
    pub const PASSPHRASE: &'static str = "secret";

    /// Text in the user IDs of both keys of the mixed keyring, so looking it up is ambiguous.
    pub fn mixed_keyring_common_text(&self) -> &'static str {
        match self.origin {
            Origin::Helm => "helm.sh",
            Origin::Generated => "capstan.example",
        }
    }

    /// `sha256:<hex>` of `provenance/hashtest-1.2.3.tgz`, from `hashtest.sha256` (shasum's output).
    pub fn hashtest_digest(&self) -> String {
        let sums = self.read_string("provenance/hashtest.sha256");
        let hex = sums
            .split_whitespace()
            .next()
            .expect("hashtest.sha256 is empty");
        format!("sha256:{hex}")
    }

    /// What `helm verify signtest/signtest-0.1.0.tgz --keyring provenance/helm-test-key.pub` prints.
    pub fn signtest_helm_verify_output(&self) -> String {
        match self.origin {
            Origin::Helm => format!(
                "Signed by: {}\nUsing Key With Fingerprint: {}\nChart Hash Verified: \
                 sha256:e5ef611620fb97704d8751c16bab17fedb68883bfb0edc76f78a70e9173f9b55\n",
                self.signer().user_id,
                self.signer().fingerprint
            ),
            Origin::Generated => self.read_string("signtest/helm-verify.txt"),
        }
    }

    /// The digest the repo/ index files list for alpine 1.0.0, as the catalogue keeps it (hex, no
    /// `sha256:`). Helm's vectors carry a made-up one; the generated index has the archive's.
    pub fn index_alpine_digest(&self) -> String {
        match self.origin {
            Origin::Helm => "1234567890abcdef".to_string(),
            Origin::Generated => {
                hex::encode(Sha256::digest(self.read("repo/charts/alpine-1.0.0.tgz")))
            }
        }
    }

    /// A key from `provenance/keys.txt`, where `generate` wrote `role fingerprint user-id` lines.
    fn recorded_key(&self, role: &str) -> Key {
        let listing = self.read_string("provenance/keys.txt");
        listing
            .lines()
            .filter(|line| !line.starts_with('#'))
            .find_map(|line| {
                let mut fields = line.splitn(3, ' ');
                match (fields.next(), fields.next(), fields.next()) {
                    (Some(listed), Some(fingerprint), Some(user_id)) if listed == role => {
                        Some(Key::new(user_id, fingerprint))
                    }
                    _ => None,
                }
            })
            .unwrap_or_else(|| {
                panic!("provenance/keys.txt lists no {role} key: re-run testdata/helm/generate")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_read_from_the_listing() {
        let vectors = Vectors::generated();
        let signer = vectors.signer();
        assert_eq!(signer.fingerprint.len(), 40, "{signer:?}");
        assert_eq!(signer.email(), "testing@capstan.example");
        assert!(signer.user_id.starts_with("Capstan Testing"), "{signer:?}");
        assert_ne!(signer, vectors.ed25519_key());
        assert_ne!(signer, vectors.password_key());
        assert!(
            vectors
                .signtest_helm_verify_output()
                .contains(&signer.fingerprint)
        );
    }

    #[test]
    fn key_id_and_email_come_from_the_key() {
        let key = Key::new(
            "A B <a@b.example>",
            "5E615389B53CA37F0EE60BD3843BBF981FC18762",
        );
        assert_eq!(key.key_id(), "843BBF981FC18762");
        assert_eq!(key.email(), "a@b.example");
    }
}
