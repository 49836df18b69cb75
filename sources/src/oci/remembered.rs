//! Pull credentials remembered per repository, so a registry is not asked `GET /v2/` (and its
//! token service for a token) before every read.
//!
//! An operator resolving 1,000 deployments of one OCI chart otherwise pinged the registry twice
//! and asked for a token twice per deployment (once for the tag list, once for the manifest),
//! doubling what the registry served. What is remembered is what [`super::token`] negotiated:
//! a bearer token until shortly before the registry said it expires, or the fact that the
//! registry sent no challenge (for [`NO_CHALLENGE_LIFETIME`]). A read the registry refuses with
//! remembered credentials forgets them and negotiates again once, so a revoked token or a
//! registry that starts asking for tokens costs one more round trip, never a failed deployment.
//!
//! The memory lives in [`RegistryClients`](super::clients::RegistryClients), which are shared
//! only between callers with the same credentials: one tenant's token never reaches another's
//! reads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oci_client::Reference;

use crate::http::Credentials;

/// How long the answer "this registry sends no challenge" is trusted: five minutes.
pub const NO_CHALLENGE_LIFETIME: Duration = Duration::from_secs(300);
/// The longest a token is kept, whatever lifetime the token service gives it.
pub const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(300);
/// A token is given up this long before it expires, so a read never starts with a token about
/// to lapse.
pub const TOKEN_EXPIRY_MARGIN: Duration = Duration::from_secs(10);
/// The lifetime a token has when its service does not say (the distribution token
/// specification's default).
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);
/// Most repositories remembered per set of credentials; past it the memory starts again empty.
const MAX_REPOSITORIES: usize = 256;
/// Most bytes of repository names and tokens remembered per set of credentials: 256 KiB. A
/// token service may answer with tokens of up to 64 KiB
/// ([`super::token::MAX_TOKEN_ANSWER_BYTES`]), and the operator keeps clients for up to 64 sets
/// of credentials, so without it a registry could have it hold a gigabyte of tokens. Real
/// tokens are 1-3 KiB; past the bound the memory starts again empty.
const MAX_BYTES: usize = 256 * 1024;
/// A token longer than this (16 KiB) is used but not remembered.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Credentials negotiated for repositories, each until its own deadline.
#[derive(Clone, Default)]
pub struct RememberedCredentials {
    entries: Arc<Mutex<Entries>>,
}

#[derive(Default)]
struct Entries {
    by_repository: HashMap<String, Remembered>,
    /// The bytes of every key and token in `by_repository`.
    bytes: usize,
}

impl Entries {
    fn remove(&mut self, key: &str) {
        if let Some(entry) = self.by_repository.remove(key) {
            self.bytes -= key.len() + entry.size();
        }
    }
}

#[derive(Clone)]
struct Remembered {
    credentials: Option<Credentials>,
    until: Instant,
}

impl Remembered {
    /// The bytes of the secret it holds.
    fn size(&self) -> usize {
        match &self.credentials {
            Some(Credentials::Bearer { token }) => token.len(),
            Some(Credentials::Basic { username, password }) => username.len() + password.len(),
            None => 0,
        }
    }
}

impl RememberedCredentials {
    /// The credentials remembered for `reference`'s repository, if they are still good. The
    /// outer `None` means nothing is remembered; `Some(None)` that the registry wants none.
    pub fn get(&self, reference: &Reference) -> Option<Option<Credentials>> {
        let mut entries = self.lock();
        let key = repository_key(reference);
        match entries.by_repository.get(&key) {
            Some(entry) if Instant::now() < entry.until => Some(entry.credentials.clone()),
            Some(_) => {
                entries.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Remembers `credentials` for `reference`'s repository for `lifetime`; a lifetime of zero,
    /// or a token over [`MAX_TOKEN_BYTES`], is not remembered.
    pub fn remember(
        &self,
        reference: &Reference,
        credentials: Option<Credentials>,
        lifetime: Duration,
    ) {
        let entry = Remembered {
            credentials,
            until: Instant::now() + lifetime,
        };
        if lifetime.is_zero() || entry.size() > MAX_TOKEN_BYTES {
            return;
        }
        let key = repository_key(reference);
        let mut entries = self.lock();
        entries.remove(&key);
        let size = key.len() + entry.size();
        if entries.by_repository.len() >= MAX_REPOSITORIES || entries.bytes + size > MAX_BYTES {
            *entries = Entries::default();
        }
        entries.bytes += size;
        entries.by_repository.insert(key, entry);
    }

    /// Forgets what is remembered for `reference`'s repository (the registry refused it).
    pub fn forget(&self, reference: &Reference) {
        self.lock().remove(&repository_key(reference));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// How long a token with the service's `expires_in` (seconds) is used: that lifetime (or the
/// specification's default) less [`TOKEN_EXPIRY_MARGIN`], at most [`MAX_TOKEN_LIFETIME`].
pub fn token_lifetime(expires_in: Option<u64>) -> Duration {
    expires_in
        .map_or(DEFAULT_TOKEN_LIFETIME, Duration::from_secs)
        .saturating_sub(TOKEN_EXPIRY_MARGIN)
        .min(MAX_TOKEN_LIFETIME)
}

/// Tokens are scoped to one repository of one registry.
fn repository_key(reference: &Reference) -> String {
    format!(
        "{}/{}",
        reference.resolve_registry(),
        reference.repository()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(repository: &str) -> Reference {
        Reference::with_tag("registry.example".into(), repository.into(), "1.0.0".into())
    }

    fn bearer(token: &str) -> Option<Credentials> {
        Some(Credentials::Bearer {
            token: token.into(),
        })
    }

    #[test]
    fn a_token_is_remembered_for_its_own_repository_only() {
        let remembered = RememberedCredentials::default();
        remembered.remember(&reference("a/app"), bearer("t"), Duration::from_secs(60));
        assert_eq!(remembered.get(&reference("a/app")), Some(bearer("t")));
        assert_eq!(remembered.get(&reference("a/other")), None);
        remembered.forget(&reference("a/app"));
        assert_eq!(remembered.get(&reference("a/app")), None);
    }

    #[test]
    fn a_registry_without_a_challenge_is_remembered_as_wanting_no_credentials() {
        let remembered = RememberedCredentials::default();
        remembered.remember(&reference("a/app"), None, NO_CHALLENGE_LIFETIME);
        assert_eq!(remembered.get(&reference("a/app")), Some(None));
    }

    #[test]
    fn a_lapsed_or_lifeless_entry_is_not_handed_out() {
        let remembered = RememberedCredentials::default();
        remembered.remember(&reference("a/app"), bearer("t"), Duration::ZERO);
        assert_eq!(remembered.get(&reference("a/app")), None);
        remembered.remember(&reference("a/app"), bearer("t"), Duration::from_millis(1));
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(remembered.get(&reference("a/app")), None);
    }

    #[test]
    fn a_token_is_given_up_before_it_expires_and_kept_no_longer_than_the_cap() {
        assert_eq!(token_lifetime(Some(300)), Duration::from_secs(290));
        assert_eq!(token_lifetime(None), Duration::from_secs(50));
        assert_eq!(token_lifetime(Some(5)), Duration::ZERO);
        assert_eq!(token_lifetime(Some(86_400)), MAX_TOKEN_LIFETIME);
    }

    #[test]
    fn no_more_repositories_than_the_bound_are_remembered() {
        let remembered = RememberedCredentials::default();
        for n in 0..MAX_REPOSITORIES + 5 {
            remembered.remember(&reference(&format!("r/{n}")), None, NO_CHALLENGE_LIFETIME);
            assert!(remembered.lock().by_repository.len() <= MAX_REPOSITORIES);
        }
    }

    #[test]
    fn a_registry_handing_out_huge_tokens_gets_no_more_than_the_byte_bound_kept() {
        let remembered = RememberedCredentials::default();
        let huge = "t".repeat(MAX_TOKEN_BYTES);
        for n in 0..100 {
            remembered.remember(
                &reference(&format!("r/{n}")),
                bearer(&huge),
                Duration::from_secs(60),
            );
            let entries = remembered.lock();
            let counted: usize = entries
                .by_repository
                .iter()
                .map(|(key, entry)| key.len() + entry.size())
                .sum();
            assert_eq!(entries.bytes, counted);
            assert!(entries.bytes <= MAX_BYTES, "{} bytes", entries.bytes);
        }
        let too_long = "t".repeat(MAX_TOKEN_BYTES + 1);
        remembered.remember(
            &reference("r/long"),
            bearer(&too_long),
            Duration::from_secs(60),
        );
        assert_eq!(remembered.get(&reference("r/long")), None);
    }

    #[test]
    fn remembering_a_repository_again_replaces_its_entry_and_its_bytes() {
        let remembered = RememberedCredentials::default();
        remembered.remember(
            &reference("a/app"),
            bearer("first"),
            Duration::from_secs(60),
        );
        remembered.remember(
            &reference("a/app"),
            bearer("second"),
            Duration::from_secs(60),
        );
        assert_eq!(remembered.get(&reference("a/app")), Some(bearer("second")));
        let bytes = remembered.lock().bytes;
        assert_eq!(
            bytes,
            repository_key(&reference("a/app")).len() + "second".len()
        );
    }
}
