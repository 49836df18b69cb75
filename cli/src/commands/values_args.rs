//! The values flags shared by `lint` and `template`, so both read values the same way.

use anyhow::Context;
use capstan_chart::values::{Values, parse_values_file};
use clap::Args;
use std::path::PathBuf;

/// Values given on the command line, applied over the chart's `values.yaml` in order.
#[derive(Debug, Clone, Default, Args)]
pub struct ValuesArgs {
    /// A YAML values file; repeat to layer several, later ones win.
    #[arg(short = 'f', long = "values", value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

impl ValuesArgs {
    /// Reads every layer, naming the file that fails.
    pub fn layers(&self) -> anyhow::Result<Vec<Values>> {
        self.files
            .iter()
            .map(|path| {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("cannot read values file {}", path.display()))?;
                Ok(parse_values_file(&path.display().to_string(), &bytes)?)
            })
            .collect()
    }
}
