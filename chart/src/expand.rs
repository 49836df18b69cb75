//! The one path from a chart and user values to Kubernetes objects.
//!
//! `capstan template` and the operator both call [`expand`], so what an author previews is exactly
//! what the operator applies: values are resolved (subchart conditions, schema) the same way, the
//! chart's `kubeVersion` is enforced the same way, and the same renderer runs.

use crate::model::Chart;
use crate::render::{RenderError, RenderLimits, RenderOptions, Rendered, render_with_limits};
use crate::values::{Values, ValuesError, resolve};
use crate::version::{Constraint, VersionError, parse_version};

/// Everything a render depends on.
#[derive(Debug, Clone)]
pub struct ExpandInput {
    pub chart: Chart,
    /// Values layers over the chart's defaults, in order (files, then `--set` expressions).
    pub user_values: Vec<Values>,
    pub opts: RenderOptions,
}

/// Why a chart could not be expanded; each layer's error keeps its own file and position.
#[derive(Debug, thiserror::Error)]
pub enum ExpandError {
    #[error(transparent)]
    Values(#[from] ValuesError),
    #[error(
        "chart {chart} requires Kubernetes {constraint} (kubeVersion in Chart.yaml) but the target is {kube_version}; \
         deploy to a matching cluster or pass the right --kube-version"
    )]
    KubeVersionMismatch {
        chart: String,
        constraint: String,
        kube_version: String,
    },
    #[error("chart {chart}: Chart.yaml kubeVersion: {source}")]
    InvalidKubeVersionConstraint {
        chart: String,
        #[source]
        source: VersionError,
    },
    #[error("target Kubernetes version: {0}")]
    InvalidKubeVersion(#[source] VersionError),
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// Resolves values, checks every enabled chart's `kubeVersion` against `opts.kube_version`, and
/// renders within the default [`RenderLimits`].
pub fn expand(input: &ExpandInput) -> Result<Rendered, ExpandError> {
    expand_with_limits(input, &RenderLimits::default())
}

/// [`expand`] within `limits`.
pub fn expand_with_limits(
    input: &ExpandInput,
    limits: &RenderLimits,
) -> Result<Rendered, ExpandError> {
    let (chart, values) = resolve(&input.chart, &input.user_values)?;
    check_kube_version(&chart, &input.opts.kube_version)?;
    Ok(render_with_limits(&chart, &values, &input.opts, limits)?)
}

/// Helm compares the cluster version without its prerelease part (`v1.30.0-gke.1` is 1.30.0), so
/// managed clusters' suffixed versions satisfy `>=1.30.0`.
fn check_kube_version(chart: &Chart, kube_version: &str) -> Result<(), ExpandError> {
    let mut target = parse_version(kube_version).map_err(ExpandError::InvalidKubeVersion)?;
    target.prerelease.clear();
    target.build.clear();
    let mut pending = vec![chart];
    while let Some(current) = pending.pop() {
        if let Some(text) = &current.metadata.kube_version {
            let constraint = Constraint::parse(text).map_err(|source| {
                ExpandError::InvalidKubeVersionConstraint {
                    chart: current.name().to_string(),
                    source,
                }
            })?;
            if !constraint.matches(&target) {
                return Err(ExpandError::KubeVersionMismatch {
                    chart: current.name().to_string(),
                    constraint: text.clone(),
                    kube_version: kube_version.to_string(),
                });
            }
        }
        pending.extend(&current.dependencies);
    }
    Ok(())
}
