//! `capstan search URL|FILE [TERM]`: find charts in a repository index.

use super::repo_source::{RepoConnectionArgs, is_url, load_index, runtime};
use capstan_chart::index::{ChartVersion, IndexFile};
use capstan_chart::version::Constraint;
use clap::{Args, ValueEnum};
use serde::Serialize;
use std::process::ExitCode;

/// Search a repository index for charts whose name, description or keywords contain TERM.
/// Shows the newest release of each chart unless --version or --versions says otherwise.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// A repository base URL (its index.yaml is fetched) or a local index file or folder.
    #[arg(value_name = "URL|FILE")]
    pub source: String,
    /// Case-insensitive text to look for; all charts when omitted.
    #[arg(value_name = "TERM")]
    pub term: Option<String>,
    /// Only versions matching this constraint (Helm syntax, e.g. "^1.2" or ">=1.0 <2").
    #[arg(long, value_name = "CONSTRAINT")]
    pub version: Option<String>,
    /// List every matching version, not only the newest.
    #[arg(long)]
    pub versions: bool,
    #[arg(short = 'o', long, value_enum, default_value_t = SearchOutput::Table)]
    pub output: SearchOutput,
    #[command(flatten)]
    pub connection: RepoConnectionArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SearchOutput {
    Table,
    Json,
}

/// One result row, also the JSON shape.
#[derive(Debug, Serialize)]
struct Hit {
    name: String,
    version: String,
    app_version: String,
    description: String,
}

pub fn run(args: SearchArgs) -> anyhow::Result<ExitCode> {
    let client = if is_url(&args.source) {
        Some(args.connection.client()?)
    } else {
        None
    };
    let index = runtime()?.block_on(load_index(&args.source, client.as_ref()))?;
    // Without --version, only releases count (as Helm's search shows the newest stable one).
    let constraint = Constraint::parse(args.version.as_deref().unwrap_or("*"))?;
    let hits = search(&index, args.term.as_deref(), &constraint, args.versions);
    match args.output {
        SearchOutput::Json => println!("{}", serde_json::to_string_pretty(&hits)?),
        SearchOutput::Table => print_table(&hits),
    }
    Ok(ExitCode::SUCCESS)
}

fn search(index: &IndexFile, term: Option<&str>, constraint: &Constraint, all: bool) -> Vec<Hit> {
    let term = term.map(str::to_lowercase);
    let mut hits = Vec::new();
    for (name, versions) in &index.entries {
        let matching = versions
            .iter()
            .filter(|v| v.semver().is_some_and(|sv| constraint.matches(sv)))
            .filter(|v| term.as_deref().is_none_or(|term| mentions(name, v, term)));
        for version in matching.take(if all { usize::MAX } else { 1 }) {
            hits.push(Hit {
                name: name.clone(),
                version: version.version.clone(),
                app_version: version.app_version.clone().unwrap_or_default(),
                description: version.description.clone().unwrap_or_default(),
            });
        }
    }
    hits
}

fn mentions(name: &str, version: &ChartVersion, term: &str) -> bool {
    name.to_lowercase().contains(term)
        || version
            .description
            .as_deref()
            .is_some_and(|d| d.to_lowercase().contains(term))
        || version
            .keywords
            .iter()
            .any(|k| k.to_lowercase().contains(term))
}

fn print_table(hits: &[Hit]) {
    if hits.is_empty() {
        println!("No results found");
        return;
    }
    let width = |pick: fn(&Hit) -> &str, title: &str| {
        hits.iter()
            .map(|hit| pick(hit).chars().count())
            .max()
            .unwrap_or(0)
            .max(title.len())
    };
    let name_width = width(|h| &h.name, "NAME");
    let version_width = width(|h| &h.version, "CHART VERSION");
    let app_width = width(|h| &h.app_version, "APP VERSION");
    println!(
        "{:name_width$}\t{:version_width$}\t{:app_width$}\tDESCRIPTION",
        "NAME", "CHART VERSION", "APP VERSION"
    );
    for hit in hits {
        println!(
            "{:name_width$}\t{:version_width$}\t{:app_width$}\t{}",
            hit.name, hit.version, hit.app_version, hit.description
        );
    }
}
