//! Whose rights a deployment's reads and writes use.
//!
//! With a ServiceAccount (the deployment's `serviceAccountName`, else the operator's
//! `--default-service-account`), the operator impersonates it: the API server then allows the
//! deployment exactly what that ServiceAccount's RBAC allows, and the operator itself needs no
//! rights on what charts create. Without one, the deployment acts with the operator's own
//! identity (the single-tenant mode).

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use capstan_api::ChartDeployment;
use http::{HeaderValue, Request};
use kube::Client;
use kube::client::Body;

use crate::context::lock;
use crate::error::{Error, Result};
use crate::object_key::ObjectKey;
use crate::settings::Settings;

/// Who a deployment acts as.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Identity {
    /// The operator's own ServiceAccount (single-tenant mode).
    Operator,
    /// A ServiceAccount in the deployment's namespace.
    ServiceAccount { namespace: String, name: String },
}

impl Identity {
    /// The identity `deployment` acts as under `settings`.
    pub fn of(deployment: &ChartDeployment, settings: &Settings) -> Identity {
        let name = deployment
            .spec
            .service_account_name
            .clone()
            .or_else(|| settings.default_service_account.clone());
        match name {
            Some(name) => Identity::ServiceAccount {
                namespace: ObjectKey::of(deployment).namespace,
                name,
            },
            None => Identity::Operator,
        }
    }

    /// The user name the API server knows it by, when impersonated.
    fn user(&self) -> Option<String> {
        match self {
            Identity::Operator => None,
            Identity::ServiceAccount { namespace, name } => {
                Some(format!("system:serviceaccount:{namespace}:{name}"))
            }
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Identity::Operator => f.write_str("the operator's own identity"),
            Identity::ServiceAccount { namespace, name } => {
                write!(f, "ServiceAccount {namespace}/{name}")
            }
        }
    }
}

/// Most impersonating clients kept; beyond it the cache starts over (each client is cheap to
/// make again: it shares the operator's connections).
const MAX_CLIENTS: usize = 1024;

/// One client per identity, built on the operator's own.
#[derive(Default)]
pub struct Clients {
    clients: Mutex<HashMap<Identity, Client>>,
}

impl Clients {
    /// The client that acts as `identity`.
    pub fn for_identity(&self, base: &Client, identity: &Identity) -> Result<Client> {
        let Some(user) = identity.user() else {
            return Ok(base.clone());
        };
        let mut clients = lock(&self.clients);
        if let Some(client) = clients.get(identity) {
            return Ok(client.clone());
        }
        if clients.len() >= MAX_CLIENTS {
            clients.clear();
        }
        let client = impersonating(base, &user)?;
        clients.insert(identity.clone(), client.clone());
        Ok(client)
    }
}

/// A client that sends every request of `base` as the ServiceAccount user `user` (the
/// `Impersonate-User` header; the operator needs the `impersonate` verb on ServiceAccounts). No
/// group is named: the API server then gives the ServiceAccount its own groups
/// (`system:serviceaccounts`, `system:serviceaccounts:<namespace>`, `system:authenticated`), and
/// the operator needs no right to impersonate groups, which would be far broader.
fn impersonating(base: &Client, user: &str) -> Result<Client> {
    let user = HeaderValue::from_str(user)
        .map_err(|_| Error::InvalidSpec(format!("{user:?} cannot be impersonated")))?;
    let base = base.clone();
    let namespace = base.default_namespace().to_string();
    let service = tower::service_fn(move |mut request: Request<Body>| {
        request
            .headers_mut()
            .insert("Impersonate-User", user.clone());
        let base = base.clone();
        async move { base.send(request).await }
    });
    Ok(Client::new(service, namespace))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(service_account: Option<&str>) -> ChartDeployment {
        serde_json::from_value(json!({
            "apiVersion": "capstan.dev/v1alpha1", "kind": "ChartDeployment",
            "metadata": {"name": "web", "namespace": "tenant-a"},
            "spec": {"chart": {"package": {"configMapRef": {"name": "p"}}},
                     "serviceAccountName": service_account},
        }))
        .unwrap()
    }

    #[test]
    fn the_spec_then_the_default_then_the_operator() {
        let settings = Settings::default();
        assert_eq!(
            Identity::of(&deployment(None), &settings),
            Identity::Operator
        );
        let own = Identity::of(&deployment(Some("deployer")), &settings);
        assert_eq!(own.to_string(), "ServiceAccount tenant-a/deployer");
        assert_eq!(
            own.user().as_deref(),
            Some("system:serviceaccount:tenant-a:deployer")
        );
        let locked = Settings {
            default_service_account: Some("restricted".into()),
            ..Settings::default()
        };
        assert_eq!(
            Identity::of(&deployment(None), &locked),
            Identity::ServiceAccount {
                namespace: "tenant-a".into(),
                name: "restricted".into()
            }
        );
        assert_eq!(
            Identity::of(&deployment(Some("deployer")), &locked).to_string(),
            "ServiceAccount tenant-a/deployer"
        );
    }
}
