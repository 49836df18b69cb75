//! `capstan`: the chart author's command line. It never changes a cluster.
//!
//! Each subcommand lives in its own module under `commands/`; this file only parses arguments,
//! dispatches and turns errors into one readable paragraph on stderr with exit code 1 (clap
//! already uses 2 for usage errors).

mod commands;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Create, lint, render and publish Capstan charts. Never changes a cluster.
#[derive(Debug, Parser)]
#[command(name = "capstan", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Create(commands::create::CreateArgs),
    Lint(commands::lint::LintArgs),
    Show(commands::show::ShowArgs),
    Template(commands::template::TemplateArgs),
    Completion(commands::completion::CompletionArgs),
    Verify(commands::verify::VerifyArgs),
    Package(commands::package::PackageArgs),
    Repo(commands::repo::RepoArgs),
    Search(commands::search::SearchArgs),
    Pull(commands::pull::PullArgs),
    Write(commands::write::WriteArgs),
    Push(commands::push::PushArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Create(args) => commands::create::run(args),
        Command::Lint(args) => commands::lint::run(args),
        Command::Show(args) => commands::show::run(args),
        Command::Template(args) => commands::template::run(args),
        Command::Completion(args) => commands::completion::run(args),
        Command::Verify(args) => commands::verify::run(args),
        Command::Package(args) => commands::package::run(args),
        Command::Repo(args) => commands::repo::run(args),
        Command::Search(args) => commands::search::run(args),
        Command::Pull(args) => commands::pull::run(args),
        Command::Write(args) => commands::write::run(args),
        Command::Push(args) => commands::push::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            eprintln!("Error: {}", describe(&err));
            ExitCode::FAILURE
        }
    }
}

/// The error followed by its causes, as `{:#}` shows them, except that a cause whose words the
/// message before it already ends with is not repeated: many errors name their cause in their
/// own message, and also keep it as their source for callers that inspect it.
fn describe(err: &anyhow::Error) -> String {
    let mut shown = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if shown.ends_with(&text) {
            continue;
        }
        if !shown.is_empty() {
            shown.push_str(": ");
        }
        shown.push_str(&text);
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[derive(Debug, thiserror::Error)]
    #[error("uploading s3://b/c.tgz: {source}")]
    struct Upload {
        source: std::io::Error,
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let err = anyhow::Error::new(Upload {
            source: std::io::Error::other("HTTP 404 (NoSuchBucket)"),
        });
        assert_eq!(
            describe(&err),
            "uploading s3://b/c.tgz: HTTP 404 (NoSuchBucket)"
        );
        let err = anyhow::Error::new(std::io::Error::other("disk full")).context("writing x");
        assert_eq!(describe(&err), "writing x: disk full");
    }
}
