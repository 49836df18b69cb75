//! `capstan repo index DIR`: write the `index.yaml` of a folder of chart archives.

use anyhow::Context;
use capstan_chart::index::{IndexFile, index_directory};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Work with chart repositories served over HTTP.
#[derive(Debug, Args)]
pub struct RepoArgs {
    #[command(subcommand)]
    pub command: RepoCommand,
}

#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    Index(IndexArgs),
}

/// Write DIR/index.yaml for the .tgz chart archives in DIR and its direct subdirectories, as
/// `helm repo index` does.
#[derive(Debug, Args)]
pub struct IndexArgs {
    /// The folder holding the chart archives.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// URL of the repository; chart URLs are this joined with each archive's relative path.
    #[arg(long, value_name = "URL", default_value = "")]
    pub url: String,
    /// An existing index whose entries are kept when DIR has no archive with the same name
    /// and version.
    #[arg(long, value_name = "FILE")]
    pub merge: Option<PathBuf>,
}

pub fn run(args: RepoArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        RepoCommand::Index(args) => index(args),
    }
}

fn index(args: IndexArgs) -> anyhow::Result<ExitCode> {
    let loaded = index_directory(&args.dir, &args.url)?;
    for warning in &loaded.warnings {
        eprintln!("warning: {warning}");
    }
    let mut index = loaded.index;
    if let Some(merge) = &args.merge
        && merge.exists()
    {
        let bytes =
            std::fs::read(merge).with_context(|| format!("cannot read {}", merge.display()))?;
        let existing = IndexFile::parse(&bytes, &merge.display().to_string())?;
        for warning in &existing.warnings {
            eprintln!("warning: {warning}");
        }
        index.merge(existing.index);
    }
    index.sort_entries();
    let target = args.dir.join("index.yaml");
    std::fs::write(&target, index.to_yaml()?)
        .with_context(|| format!("cannot write {}", target.display()))?;
    Ok(ExitCode::SUCCESS)
}
