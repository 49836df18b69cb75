//! Rendering the chart with the user's values and the cluster's capabilities: CPU-bound work
//! on blocking threads, at most `--render-workers` at once, so a heavy chart never stalls the
//! threads that talk to the API server.

use std::sync::Arc;

use capstan_chart::expand::{ExpandInput, expand};
use capstan_chart::model::Chart;
use capstan_chart::render::{RenderOptions, Rendered};
use capstan_chart::values::Values;
use tokio::sync::Semaphore;

use crate::error::{Error, Result};

/// Renders `chart` with `user_values` over its own values through `capstan_chart::expand`, the
/// same path `capstan template` takes, so the operator applies exactly what the CLI prints: subchart
/// values, conditions, `values.schema.json` and `kubeVersion` included. Errors name the chart file
/// and line (the renderer's message) and are stalled: only a new chart or new values can fix them.
pub fn render(chart: Chart, user_values: Values, options: RenderOptions) -> Result<Rendered> {
    let input = ExpandInput {
        chart,
        user_values: vec![user_values],
        opts: options,
    };
    expand(&input).map_err(Error::Render)
}

/// [`render`] on a blocking thread, once one of `slots` is free.
pub async fn render_off_runtime(
    slots: &Arc<Semaphore>,
    chart: Chart,
    user_values: Values,
    options: RenderOptions,
) -> Result<Rendered> {
    // The semaphore is never closed, so acquiring only waits.
    let _permit = Arc::clone(slots).acquire_owned().await.ok();
    tokio::task::spawn_blocking(move || render(chart, user_values, options))
        .await
        .unwrap_or_else(|join| {
            // A panic in a renderer is a bug; it must not take the controller down with it.
            tracing::error!(error = %join, "the renderer panicked");
            Err(Error::Manifest(
                "rendering stopped unexpectedly (a bug in the renderer; the operator log has \
                 details)"
                    .into(),
            ))
        })
}
