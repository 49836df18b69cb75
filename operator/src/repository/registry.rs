//! `oci://` repositories: no index to fetch; the status says whether the URL and the Secrets
//! it names are usable.

use crate::events::EventType;
use capstan_api::{ChartRepository, ChartRepositoryStatus};
use k8s_openapi::jiff::Timestamp;
use kube::Resource;
use kube::runtime::controller::Action;

use crate::access::Access;
use crate::conditions::{Outcome, conditions};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::object_key::{KindKey, ObjectKey};
use crate::report;

use super::controller::interval;
use super::status::needs_write;

/// An `oci://` repository has no index: its charts resolve over their tags when a deployment
/// needs them. Its status says whether the URL and the Secrets it names are usable.
pub async fn reconcile_registry(
    repository: &ChartRepository,
    ctx: &Context,
    kind_key: &KindKey,
) -> Result<Action> {
    let spec = &repository.spec;
    let generation = repository.meta().generation;
    let previous = repository.status.clone().unwrap_or_default();
    let checked = check_registry(repository, ctx).await;
    let outcome = match &checked {
        Ok(()) => Outcome::Ready {
            reason: "RegistryConfigured".into(),
            message: format!(
                "OCI registry: chart versions resolve over the tags under {}",
                spec.url
            ),
        },
        Err(error) => Outcome::from_error(error),
    };
    let status = ChartRepositoryStatus {
        conditions: conditions(&previous.conditions, &outcome, generation, Timestamp::now()),
        observed_generation: generation,
        ..ChartRepositoryStatus::default()
    };
    if needs_write(&previous, &status) {
        report::write_status(ctx, repository, &status).await?;
        if let Err(error) = &checked {
            report::publish(
                ctx,
                repository,
                EventType::Warning,
                error.reason(),
                error.to_string(),
            )
            .await;
        }
    }
    checked?;
    ctx.clear_failures(kind_key);
    Ok(Action::requeue(interval(spec, ctx.settings.min_interval)))
}

async fn check_registry(repository: &ChartRepository, ctx: &Context) -> Result<()> {
    let spec = &repository.spec;
    let host = capstan_sources::oci::registry_host(&spec.url)
        .map_err(|error| Error::InvalidSpec(format!("spec.url: {error}")))?;
    let namespace = ObjectKey::of(repository).namespace;
    let access = Access::read(&ctx.client, &namespace, &spec.connection, "spec").await?;
    access.registry_options(&host)?;
    Ok(())
}
