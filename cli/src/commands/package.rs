//! `capstan package PATH... [-d DIR]`: turn chart directories into reproducible `.tgz` archives.

use anyhow::Context;
use capstan_chart::package::{PackageOptions, package_dir};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Package chart directories as `<name>-<version>.tgz`. The chart is linted first and refused if
/// it has errors. The same chart always gives the same bytes (set SOURCE_DATE_EPOCH to choose
/// the timestamp written into the archive).
#[derive(Debug, Args)]
pub struct PackageArgs {
    /// Chart directories.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Directory to write the archives to.
    #[arg(short = 'd', long, value_name = "DIR", default_value = ".")]
    pub destination: PathBuf,
    /// Set the chart's version (SemVer) in the package.
    #[arg(long, value_name = "VERSION")]
    pub version: Option<String>,
    /// Set the chart's appVersion in the package.
    #[arg(long, value_name = "VERSION")]
    pub app_version: Option<String>,
    #[command(flatten)]
    pub signing: super::signing::SignArgs,
}

pub fn run(args: PackageArgs) -> anyhow::Result<ExitCode> {
    let options = PackageOptions {
        version: args.version,
        app_version: args.app_version,
        ..PackageOptions::default()
    };
    std::fs::create_dir_all(&args.destination)
        .with_context(|| format!("cannot create {}", args.destination.display()))?;
    for path in &args.paths {
        let (file_name, bytes) = package_dir(path, &options)?;
        let target = args.destination.join(&file_name);
        std::fs::write(&target, bytes)
            .with_context(|| format!("cannot write {}", target.display()))?;
        println!(
            "Successfully packaged chart and saved it to: {}",
            target.display()
        );
        super::signing::sign_package(&target, &args.signing)?;
    }
    Ok(ExitCode::SUCCESS)
}
