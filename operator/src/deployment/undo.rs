//! Taking back a first install that failed halfway.
//!
//! A first install writes its objects without a server-side dry run of each before the first
//! write ([`super::live::NewObjects::Unread`]): every object it writes is one it creates, so what
//! a refusal would leave half-written is exactly the objects created before it, and deleting
//! them leaves nothing of the revision, as the dry runs would have, at half the requests. Each
//! is deleted only while it is still the object this attempt created (its uid), newest first.
//!
//! An attempt cut short (its `spec.timeout`, the operator killed) undoes nothing: what it
//! created carries the deployment's marks, and the next attempt finds it and takes it over.

use kube::api::{Api, DeleteParams, DynamicObject, Preconditions, PropagationPolicy};
use tracing::info;

use crate::error::Error;

use super::desired::DesiredObject;

/// One object this attempt created.
struct Created {
    api: Api<DynamicObject>,
    name: String,
    uid: Option<String>,
    /// `Kind namespace/name`, for messages.
    object: String,
}

/// The objects an attempt created, in the order it created them.
#[derive(Default)]
pub struct Undo {
    created: Vec<Created>,
}

impl Undo {
    /// Records that `object` was created through `api`; `answer` is the API server's answer to
    /// the write, which holds its uid.
    pub fn created(
        &mut self,
        api: &Api<DynamicObject>,
        object: &DesiredObject,
        answer: &serde_json::Value,
    ) {
        self.created.push(Created {
            api: api.clone(),
            name: object.entry.name.clone(),
            uid: answer["metadata"]["uid"].as_str().map(str::to_string),
            object: object.describe(),
        });
    }

    /// Deletes every object recorded, newest first, after the attempt failed with `error`;
    /// returns the error to report: `error` itself, or [`Error::UndoFailed`] naming what stayed.
    pub async fn after(self, error: Error) -> Error {
        if self.created.is_empty() {
            return error;
        }
        let mut left = Vec::new();
        let mut failure = None;
        for created in self.created.iter().rev() {
            if let Err(source) = delete(created).await {
                left.push(created.object.clone());
                failure = Some(source);
            }
        }
        match failure {
            None => {
                info!(deleted = self.created.len(), %error, "a first install failed; deleted the objects it had created");
                error
            }
            Some(source) => Error::UndoFailed {
                cause: Box::new(error),
                left: left.join(", "),
                source,
            },
        }
    }
}

/// The delete of one created object: gone already, or replaced by another object of that name
/// (the uid precondition fails), counts as done.
async fn delete(created: &Created) -> Result<(), kube::Error> {
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Background),
        preconditions: Some(Preconditions {
            uid: created.uid.clone(),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match created.api.delete(&created.name, &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if matches!(status.code, 404 | 409) => Ok(()),
        Err(source) => Err(source),
    }
}

#[cfg(test)]
mod tests {
    use capstan_api::InventoryEntry;
    use kube::core::{ApiResource, GroupVersionKind};
    use serde_json::json;

    use super::*;
    use crate::fake_api::{answering, answering_with_bodies, status};

    fn object(name: &str) -> DesiredObject {
        DesiredObject {
            entry: InventoryEntry {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                namespace: Some("apps".into()),
                name: name.into(),
            },
            object: json!({}),
            is_crd: false,
        }
    }

    fn undo_of(api: &Api<DynamicObject>, names: &[&str]) -> Undo {
        let mut undo = Undo::default();
        for name in names {
            undo.created(
                api,
                &object(name),
                &json!({"metadata": {"uid": format!("uid-{name}")}}),
            );
        }
        undo
    }

    fn api(
        answer_status: u16,
        answer: serde_json::Value,
    ) -> (Api<DynamicObject>, crate::fake_api::Asked) {
        let (client, asked) = answering(answer_status, answer);
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap"));
        (Api::namespaced_with(client, "apps", &resource), asked)
    }

    #[tokio::test]
    async fn the_objects_created_are_deleted_newest_first_each_only_as_the_one_created() {
        let (client, asked) = answering_with_bodies(200, status(200, "Success"));
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap"));
        let api = Api::namespaced_with(client, "apps", &resource);
        let error = undo_of(&api, &["first", "second"])
            .after(Error::Conflict("refused".into()))
            .await;
        assert!(
            matches!(error, Error::Conflict(_)),
            "the cause is reported: {error}"
        );
        let asked = asked.lock().unwrap().clone();
        assert_eq!(asked.len(), 2, "{asked:?}");
        for (sent, name) in asked.iter().zip(["second", "first"]) {
            assert!(
                sent.starts_with(&format!("DELETE /api/v1/namespaces/apps/configmaps/{name}"))
                    && sent.contains(&format!(r#""preconditions":{{"uid":"uid-{name}"}}"#))
                    && sent.contains(r#""propagationPolicy":"Background""#),
                "{sent}"
            );
        }
    }

    #[tokio::test]
    async fn an_object_gone_or_replaced_meanwhile_counts_as_undone() {
        for code in [404, 409] {
            let (api, _) = api(code, status(code, "Gone"));
            let error = undo_of(&api, &["first"])
                .after(Error::Conflict("refused".into()))
                .await;
            assert!(matches!(error, Error::Conflict(_)), "{code}: {error}");
        }
    }

    #[tokio::test]
    async fn a_failed_undo_names_what_stayed_and_keeps_the_cause_and_its_reason() {
        let (api, _) = api(403, status(403, "Forbidden"));
        let cause = Error::Manifest("port: Invalid value".into());
        let reason = cause.reason();
        let error = undo_of(&api, &["first", "second"]).after(cause).await;
        let message = error.to_string();
        assert_eq!(error.reason(), reason);
        assert!(
            message.starts_with("the chart's output cannot be applied: port: Invalid value")
                && message.contains("ConfigMap apps/second, ConfigMap apps/first stayed"),
            "{message}"
        );
        assert!(error.is_stalled(), "as stalled as its cause");
    }
}
