//! `capstan`: the chart author's command line.

use clap::Parser;

/// Create, lint, render and publish Capstan charts. Never changes a cluster.
#[derive(Debug, Parser)]
#[command(name = "capstan", version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
}
