//! Running the controllers: metrics, leader election, then both controllers until shutdown.

use std::sync::Arc;
use std::time::Duration;

use capstan_api::ChartDeployment;
use kube::api::{Api, ListParams};

use crate::context::Context;
use crate::leader::{self, Leadership};
use crate::metrics::{self, Metrics};
use crate::settings::Settings;
use crate::values_key::ValuesKey;
use crate::{deployment, repository};

/// Longest the client waits for the API server to say anything on a request: its answer, the
/// next part of a watch, counted from when the request was sent or the last part came. The API
/// server gives up on a request itself after 60 s (`--request-timeout`) and ends each watch after
/// [`crate::context::WATCH_TIMEOUT_SECONDS`], so a connection quiet for longer is dead. Without
/// this bound a request or watch sent while the API server restarts can wait forever, and with
/// it the reconcile of its object, which nothing else can start while it runs, or the store a
/// controller reads its objects from.
pub const READ_TIMEOUT: Duration = Duration::from_secs(90);

/// The operator's client from `config`, with [`READ_TIMEOUT`].
pub fn client(config: kube::Config) -> anyhow::Result<kube::Client> {
    let mut config = config;
    config.read_timeout = Some(READ_TIMEOUT);
    config.reset_reader_on_write = true;
    Ok(kube::Client::try_from(config)?)
}

/// Serves the metrics, waits for the Lease when electing a leader, then runs both controllers
/// until shutdown (or until leadership is lost).
pub async fn operate(config: kube::Config, settings: Settings) -> anyhow::Result<()> {
    tracing::info!("capstan-operator started");
    let client = client(config)?;
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
