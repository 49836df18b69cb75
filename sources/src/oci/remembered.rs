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

/// Credentials negotiated for repositories, each until its own deadline.
#[derive(Clone, Default)]
pub struct RememberedCredentials {
    entries: Arc<Mutex<HashMap<String, Remembered>>>,
}

#[derive(Clone)]
struct Remembered {
    credentials: Option<Credentials>,
    until: Instant,
}

impl RememberedCredentials {
    /// The credentials remembered for `reference`'s repository, if they are still good. The
    /// outer `None` means nothing is remembered; `Some(None)` that the registry wants none.
    pub fn get(&self, reference: &Reference) -> Option<Option<Credentials>> {
        let mut entries = self.lock();
        let key = repository_key(reference);
        match entries.get(&key) {
            Some(entry) if Instant::now() < entry.until => Some(entry.credentials.clone()),
            Some(_) => {
                entries.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Remembers `credentials` for `reference`'s repository for `lifetime`; a lifetime of zero
    /// remembers nothing.
    pub fn remember(
        &self,
        reference: &Reference,
        credentials: Option<Credentials>,
        lifetime: Duration,
    ) {
        if lifetime.is_zero() {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= MAX_REPOSITORIES {
            entries.clear();
        }
        entries.insert(
            repository_key(reference),
            Remembered {
                credentials,
                until: Instant::now() + lifetime,
            },
        );
    }

    /// Forgets what is remembered for `reference`'s repository (the registry refused it).
    pub fn forget(&self, reference: &Reference) {
        self.lock().remove(&repository_key(reference));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Remembered>> {
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
    fn no_more_than_the_bound_is_remembered() {
        let remembered = RememberedCredentials::default();
        for n in 0..MAX_REPOSITORIES + 5 {
            remembered.remember(&reference(&format!("r/{n}")), None, NO_CHALLENGE_LIFETIME);
            assert!(remembered.lock().len() <= MAX_REPOSITORIES);
        }
    }
}
