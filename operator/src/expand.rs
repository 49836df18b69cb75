//! Rendering the chart with the user's values and the cluster's capabilities.

use capstan_chart::model::Chart;
use capstan_chart::render::{RenderOptions, Rendered};
use capstan_chart::values::{Values, merge};

use crate::error::{Error, Result};

/// Renders `chart` with `user_values` over its own values. Errors name the chart file and line
/// (the renderer's message) and are stalled: only a new chart or new values can fix them.
///
/// `capstan_chart::expand::expand` (subchart values, `kubeVersion`) replaces the body once it is
/// available, so that the operator renders exactly as `capstan template` does.
pub fn render(chart: Chart, user_values: Values, options: RenderOptions) -> Result<Rendered> {
    let mut values = chart.values.clone();
    merge(&mut values, user_values);
    capstan_chart::render::render(&chart, &values, &options)
        .map_err(|error| Error::Render(error.to_string()))
}
