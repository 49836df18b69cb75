//! `capstan completion SHELL`: print a shell completion script.

use clap::{Args, CommandFactory, ValueEnum};
use clap_complete::Shell;
use std::process::ExitCode;

/// Print a completion script for bash, zsh or fish, e.g. `source <(capstan completion bash)`.
#[derive(Debug, Args)]
pub struct CompletionArgs {
    pub shell: CompletionShell,
}

/// The shells a completion script can be generated for.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

impl From<CompletionShell> for Shell {
    fn from(shell: CompletionShell) -> Self {
        match shell {
            CompletionShell::Bash => Shell::Bash,
            CompletionShell::Zsh => Shell::Zsh,
            CompletionShell::Fish => Shell::Fish,
        }
    }
}

pub fn run(args: CompletionArgs) -> anyhow::Result<ExitCode> {
    let mut command = crate::Cli::command();
    let name = command.get_name().to_string();
    clap_complete::generate(
        Shell::from(args.shell),
        &mut command,
        name,
        &mut std::io::stdout(),
    );
    Ok(ExitCode::SUCCESS)
}
