//! Rendering the chart with the user's values and the cluster's capabilities.

use capstan_chart::expand::{ExpandInput, expand};
use capstan_chart::model::Chart;
use capstan_chart::render::{RenderOptions, Rendered};
use capstan_chart::values::Values;

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
    expand(&input).map_err(|error| Error::Render(error.to_string()))
}
