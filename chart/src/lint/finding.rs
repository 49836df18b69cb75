//! What a lint rule reports.

use serde::Serialize;
use std::fmt;

/// How serious a finding is. `Error` fails `capstan lint`; `Warning` fails it with `--strict`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Info => "INFO",
            Severity::Warning => "WARNING",
            Severity::Error => "ERROR",
        })
    }
}

/// One problem found in a chart: where (chart-relative file, 1-based line when known) and what,
/// phrased so the author knows what to change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    pub message: String,
}

impl Finding {
    pub fn new(severity: Severity, file: impl Into<String>, message: impl Into<String>) -> Self {
        Finding {
            severity,
            file: file.into(),
            line: None,
            message: message.into(),
        }
    }

    pub fn error(file: impl Into<String>, message: impl Into<String>) -> Self {
        Finding::new(Severity::Error, file, message)
    }

    pub fn warning(file: impl Into<String>, message: impl Into<String>) -> Self {
        Finding::new(Severity::Warning, file, message)
    }

    pub fn info(file: impl Into<String>, message: impl Into<String>) -> Self {
        Finding::new(Severity::Info, file, message)
    }

    pub fn at_line(mut self, line: Option<u64>) -> Self {
        self.line = line;
        self
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(
                f,
                "[{}] {}:{}: {}",
                self.severity, self.file, line, self.message
            ),
            None => write!(f, "[{}] {}: {}", self.severity, self.file, self.message),
        }
    }
}

/// The 1-based line of a top-level `key:` in a YAML document, for pointing findings at it.
pub fn line_of_top_level_key(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .position(|line| {
            line.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|index| index as u64 + 1)
}

/// A YAML parse error as (line, one-line message), without the source snippet serde-saphyr adds,
/// because findings are printed one per line.
pub fn describe_yaml_error(err: &serde_saphyr::Error) -> (Option<u64>, String) {
    let line = err.location().map(|l| l.line());
    let text = err.without_snippet().to_string();
    let first_line = text.lines().next().unwrap_or_default();
    let message = first_line.strip_prefix("error: ").unwrap_or(first_line);
    // The position is reported in the finding's line field; keep the message itself.
    let message = match message.split_once(": ") {
        Some((position, rest)) if position.starts_with("line ") => rest,
        _ => message,
    };
    (line, message.to_string())
}
