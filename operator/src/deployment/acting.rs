//! A deployment acting on the cluster: discovery is the operator's and shared, every request
//! about the chart's objects is made as the deployment's [`Identity`].

use capstan_api::InventoryEntry;
use kube::Client;
use kube::api::{Api, DynamicObject};

use crate::cluster::ClusterInfo;
use crate::context::Context;
use crate::error::{Error, Result};

use super::identity::Identity;

/// The cluster as one deployment acts on it.
pub struct Acting<'a> {
    pub cluster: &'a ClusterInfo,
    /// Makes every request as [`Acting::identity`].
    pub client: Client,
    pub identity: Identity,
}

impl<'a> Acting<'a> {
    /// Acting as `identity` in `ctx`'s cluster.
    pub fn new(ctx: &'a Context, identity: Identity) -> Result<Self> {
        Ok(Acting {
            cluster: &ctx.cluster,
            client: ctx.clients.for_identity(&ctx.client, &identity)?,
            identity,
        })
    }

    /// The API of `entry`'s kind and namespace; `None` if the kind is not served.
    pub async fn api(&self, entry: &InventoryEntry) -> Result<Option<Api<DynamicObject>>> {
        self.cluster
            .dynamic_api(
                &self.client,
                &entry.api_version,
                &entry.kind,
                entry.namespace.as_deref(),
            )
            .await
    }

    /// [`Acting::api`], with a kind the cluster does not serve as [`Error::UnknownKind`].
    pub async fn served_api(&self, entry: &InventoryEntry) -> Result<Api<DynamicObject>> {
        self.api(entry).await?.ok_or_else(|| Error::UnknownKind {
            api_version: entry.api_version.clone(),
            kind: entry.kind.clone(),
        })
    }

    /// The error for a failed read of `object` (`Secret apps/values`), one the deployment
    /// names (a `valuesFrom` Secret, its package, its keyring): a 403 is [`Error::Forbidden`]
    /// naming the identity, a stalled state the tenant fixes with RBAC; anything else is
    /// [`Error::Kube`], retried.
    pub fn refused_read(&self, object: String, source: kube::Error) -> Error {
        read_refusal(&self.identity, object, source)
    }

    /// The error for a refused request about `object`: a 403 names the identity and the
    /// permission the API server says is missing.
    pub fn refused(&self, object: String, source: kube::Error) -> Error {
        match source {
            kube::Error::Api(status) if status.code == 403 => Error::Forbidden {
                object,
                identity: self.identity.to_string(),
                message: status.message,
            },
            source => Error::Apply { object, source },
        }
    }
}

/// See [`Acting::refused_read`].
fn read_refusal(identity: &Identity, object: String, source: kube::Error) -> Error {
    match source {
        kube::Error::Api(status) if status.code == 403 => Error::Forbidden {
            object,
            identity: identity.to_string(),
            message: status.message,
        },
        source => Error::Kube {
            action: format!("reading {object}"),
            source,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: u16, message: &str) -> kube::Error {
        kube::Error::Api(
            kube::core::Status::failure(message, "Forbidden")
                .with_code(code)
                .boxed(),
        )
    }

    #[test]
    fn a_refused_read_names_the_identity_and_is_forbidden() {
        let identity = Identity::ServiceAccount {
            namespace: "team".into(),
            name: "restricted".into(),
        };
        let error = read_refusal(
            &identity,
            "Secret team/admin-only".into(),
            api_error(403, "secrets \"admin-only\" is forbidden"),
        );
        assert_eq!(error.reason(), "Forbidden");
        assert!(error.is_stalled());
        let message = error.to_string();
        assert!(
            message.contains("ServiceAccount team/restricted")
                && message.contains("Secret team/admin-only"),
            "{message}"
        );
        let other = read_refusal(&identity, "Secret team/x".into(), api_error(500, "etcd"));
        assert_eq!(other.reason(), "KubernetesError");
        assert!(
            other
                .to_string()
                .starts_with("reading Secret team/x failed"),
            "{other}"
        );
    }
}
