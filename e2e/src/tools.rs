//! Running the peer command-line tools (kubectl, helm, crane, gpg) with bounded time.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use crate::error::{E2eError, Result};

/// Long enough for a chart push or a `kubectl wait`; short enough that a stuck tool fails the test.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// A binary of this workspace: the path in `env_var` when set, else the debug build named `name`
/// under `CARGO_TARGET_DIR` (or the workspace's `target/`). `make test` builds them first.
pub fn workspace_binary(env_var: &str, name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env_var) {
        return path.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("debug").join(name)
}

/// A command to run: program, arguments, extra environment, optional standard input and a time limit.
#[derive(Clone, Debug)]
pub struct ToolCommand {
    program: OsString,
    args: Vec<OsString>,
    envs: Vec<(OsString, OsString)>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
}

/// What a finished command printed, and how it exited.
#[derive(Clone, Debug)]
pub struct CommandOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl ToolCommand {
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        Self {
            program: program.as_ref().to_owned(),
            args: Vec::new(),
            envs: Vec::new(),
            stdin: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|arg| arg.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.envs
            .push((name.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Bytes for standard input, e.g. a password for `--password-stdin` so it never appears in `ps`.
    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The command line as shown in errors (arguments only: environment values may be secrets).
    pub fn display(&self) -> String {
        let program = Path::new(&self.program)
            .file_name()
            .unwrap_or(&self.program)
            .to_string_lossy()
            .into_owned();
        std::iter::once(program)
            .chain(
                self.args
                    .iter()
                    .map(|arg| arg.to_string_lossy().into_owned()),
            )
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Runs the command and returns its output whatever its exit status.
    pub async fn output(&self) -> Result<CommandOutput> {
        let mut child = tokio::process::Command::new(&self.program)
            .args(&self.args)
            .envs(self.envs.iter().map(|(name, value)| (name, value)))
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| E2eError::Spawn {
                program: self.program.to_string_lossy().into_owned(),
                source,
            })?;
        if let (Some(input), Some(mut pipe)) = (&self.stdin, child.stdin.take()) {
            // A tool that exits without reading its input closes the pipe; its exit status tells more.
            let _ = pipe.write_all(input).await;
        }
        let finished = tokio::time::timeout(self.timeout, child.wait_with_output()).await;
        let output = finished
            .map_err(|_| E2eError::CommandTimeout {
                command: self.display(),
                after: self.timeout,
            })?
            .map_err(|source| E2eError::Spawn {
                program: self.program.to_string_lossy().into_owned(),
                source,
            })?;
        Ok(CommandOutput {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// Runs the command and fails, with its stderr, unless it exits successfully.
    pub async fn run(&self) -> Result<CommandOutput> {
        let output = self.output().await?;
        if output.status.success() {
            Ok(output)
        } else {
            Err(E2eError::CommandFailed {
                command: self.display(),
                status: output.status,
                stderr: output.stderr,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passes_stdin_and_environment() {
        let output = ToolCommand::new("sh")
            .args(["-c", "read line; echo \"$line-$SUFFIX\""])
            .env("SUFFIX", "env")
            .stdin("input\n")
            .run()
            .await
            .unwrap();
        assert_eq!(output.stdout, "input-env\n");
    }

    #[tokio::test]
    async fn reports_failure_with_stderr() {
        let error = ToolCommand::new("sh")
            .args(["-c", "echo broken >&2; exit 3"])
            .run()
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with("`sh -c"), "{message}");
        assert!(message.contains("broken"), "{message}");
    }

    #[tokio::test]
    async fn kills_a_command_that_outlives_its_timeout() {
        let started = std::time::Instant::now();
        let error = ToolCommand::new("sleep")
            .arg("30")
            .timeout(Duration::from_millis(200))
            .run()
            .await
            .unwrap_err();
        assert!(matches!(error, E2eError::CommandTimeout { .. }), "{error}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
