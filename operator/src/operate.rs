//! Running the controllers: metrics, leader election, then both controllers until shutdown.

use std::sync::Arc;

use capstan_api::ChartDeployment;
use kube::api::{Api, ListParams};

use crate::context::Context;
use crate::leader::{self, Leadership};
use crate::metrics::{self, Metrics};
use crate::settings::Settings;
use crate::values_key::ValuesKey;
use crate::{deployment, repository};

/// Serves the metrics, waits for the Lease when electing a leader, then runs both controllers
/// until shutdown (or until leadership is lost).
pub async fn operate(client: kube::Client, settings: Settings) -> anyhow::Result<()> {
    tracing::info!("capstan-operator started");
    check_label_selector(&client, &settings).await?;
    let metrics = Arc::new(Metrics::default());
    if let Some(address) = settings.metrics_bind_address {
        let listener = metrics::bind(address)
            .await
            .map_err(|error| anyhow::anyhow!("--metrics-bind-address {address}: {error}"))?;
        tokio::spawn(metrics::serve(listener, Arc::clone(&metrics)));
    }
    let leadership = match settings.lease.clone() {
        None => None,
        Some(lease) => {
            tokio::select! {
                leadership = leader::acquire(client.clone(), lease) => Some(leadership),
                () = shutdown_signal() => return Ok(()),
            }
        }
    };
    metrics.set_leader(true);
    let values_key = match settings.key_namespace() {
        Some(namespace) => ValuesKey::load_or_create(&client, &namespace).await?,
        None => {
            tracing::warn!(
                "no namespace to keep the values digest key in (set POD_NAMESPACE or \
                 --namespace): using a key for this process only, so every revision is applied \
                 again after a restart"
            );
            ValuesKey::random()?
        }
    };
    let ctx = Arc::new(Context::new(client, settings, metrics, values_key));
    let controllers = async {
        tokio::join!(
            deployment::controller::run(ctx.clone()),
            repository::controller::run(ctx)
        );
    };
    match leadership {
        None => {
            controllers.await;
            Ok(())
        }
        Some(leadership) => lead(leadership, controllers).await,
    }
}

/// Asks the API server whether `--watch-label-selector` is a label selector (the API server's
/// grammar is the one that counts), so a typo stops the operator at once with the reason instead
/// of failing every watch over and over. Other errors are left to the watches, which retry.
async fn check_label_selector(client: &kube::Client, settings: &Settings) -> anyhow::Result<()> {
    let Some(selector) = &settings.watch_label_selector else {
        return Ok(());
    };
    let deployments: Api<ChartDeployment> = match &settings.watch_namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    };
    let params = ListParams::default().labels(selector).limit(1);
    match deployments.list_metadata(&params).await {
        Err(kube::Error::Api(status)) if status.code == 400 => anyhow::bail!(
            "--watch-label-selector {selector:?} was refused by the API server: {}; write it as \
             kubectl's -l takes it, e.g. `sharding.fluxcd.io/key=shard1` or \
             `!sharding.fluxcd.io/key`",
            status.message
        ),
        Err(error) => tracing::warn!(%error, "checking --watch-label-selector failed"),
        Ok(_) => {}
    }
    tracing::info!(
        %selector,
        "watching only the ChartDeployments and ChartRepositories whose labels match"
    );
    Ok(())
}

/// Runs `controllers` while renewing the Lease. A clean shutdown releases the Lease for a
/// standby; lost leadership ends the process with an error, before a second leader can start.
async fn lead(
    mut leadership: Leadership,
    controllers: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let lost = tokio::select! {
        () = controllers => None,
        lost = leadership.keep() => Some(lost),
    };
    match lost {
        Some(lost) => Err(lost.into()),
        None => {
            leadership.release().await;
            Ok(())
        }
    }
}

/// SIGTERM (what Kubernetes sends a pod) or Ctrl-C, for a standby that is not running the
/// controllers (they stop on these signals by themselves).
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
