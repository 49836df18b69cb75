//! One module per `capstan` subcommand. Each exposes an `Args` struct for clap and a `run`
//! function returning the process exit code.

mod aws_config;
pub mod completion;
pub mod create;
pub mod lint;
pub mod package;
pub mod pull;
pub mod push;
mod registry;
pub mod repo;
mod repo_source;
mod s3_push;
pub mod search;
pub mod show;
pub mod signing;
pub mod template;
mod values_args;
pub mod verify;
pub mod write;
