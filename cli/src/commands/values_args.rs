//! The values flags shared by `lint` and `template`, so both read values the same way.

use anyhow::Context;
use capstan_chart::values::{SetKind, Values, apply_set, parse_values_file};
use clap::Args;
use std::path::PathBuf;

/// Values given on the command line, applied over the chart's `values.yaml` in order.
#[derive(Debug, Clone, Default, Args)]
pub struct ValuesArgs {
    /// A YAML values file; repeat to layer several, later ones win.
    #[arg(short = 'f', long = "values", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// `key=value` with typed values (numbers, booleans, null); repeatable, comma-separated.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// `key=value` keeping every value a string.
    #[arg(long = "set-string", value_name = "KEY=VALUE")]
    pub set_string: Vec<String>,
    /// `key=JSON` with a JSON value.
    #[arg(long = "set-json", value_name = "KEY=JSON")]
    pub set_json: Vec<String>,
    /// `key=PATH`: the file's text becomes the value.
    #[arg(long = "set-file", value_name = "KEY=PATH")]
    pub set_file: Vec<String>,
}

impl ValuesArgs {
    /// Reads every layer: each file, then one layer of all `--set*` expressions in Helm's order
    /// (JSON, typed, string, file), naming the file or expression that fails.
    pub fn layers(&self) -> anyhow::Result<Vec<Values>> {
        let mut layers = self
            .files
            .iter()
            .map(|path| {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("cannot read values file {}", path.display()))?;
                Ok(parse_values_file(&path.display().to_string(), &bytes)?)
            })
            .collect::<anyhow::Result<Vec<Values>>>()?;
        let expressions = [
            (SetKind::Json, &self.set_json),
            (SetKind::Typed, &self.set),
            (SetKind::String, &self.set_string),
            (SetKind::File, &self.set_file),
        ];
        let mut set_layer = Values::new();
        for (kind, exprs) in expressions {
            for expr in exprs {
                apply_set(&mut set_layer, expr, kind)?;
            }
        }
        if !set_layer.is_empty() {
            layers.push(set_layer);
        }
        Ok(layers)
    }
}
