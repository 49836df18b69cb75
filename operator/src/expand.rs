//! Rendering the chart with the user's values and the cluster's capabilities.

use capstan_chart::render::{RenderOptions, Rendered};
use capstan_chart::values::{Values, merge};

use crate::error::{Error, Result};

/// Inputs of one render.
pub struct RenderRequest<'a> {
    pub archive: &'a [u8],
    pub user_values: Values,
    pub release_name: String,
    pub namespace: String,
    pub is_install: bool,
    pub kube_version: String,
    pub api_versions: Vec<String>,
}

/// Loads the archive and renders it. Errors name the chart file and line (the renderer's message)
/// and are stalled: only a new chart or new values can fix them.
pub fn render(request: RenderRequest<'_>) -> Result<(capstan_chart::model::Chart, Rendered)> {
    let chart = capstan_chart::load::load_archive(request.archive)
        .map_err(|error| Error::Load(error.to_string()))?;
    let options = RenderOptions {
        release_name: request.release_name,
        namespace: request.namespace,
        revision: 1,
        is_install: request.is_install,
        kube_version: request.kube_version,
        api_versions: request.api_versions,
    };
    // The chart's own values under the user's; subchart values and kubeVersion are handled by
    // the chart library's full expansion.
    let mut values = chart.values.clone();
    merge(&mut values, request.user_values);
    let rendered = capstan_chart::render::render(&chart, &values, &options)
        .map_err(|error| Error::Render(error.to_string()))?;
    Ok((chart, rendered))
}
