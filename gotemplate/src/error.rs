//! Errors, worded as Go's `text/template` words them (Helm users search for these texts).

use std::fmt;

/// Anything that can go wrong parsing or executing a template.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The template text is not valid: `template: NAME:LINE: MESSAGE`.
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// Execution failed: `template: NAME:LINE:COL: executing "NAME" at <NODE>: MESSAGE`.
    #[error("{0}")]
    Exec(#[from] ExecError),
    /// A budget for untrusted templates ran out; worded like an execution error.
    #[error("{0}")]
    Budget(#[from] BudgetError),
}

impl Error {
    /// Whether this is a budget running out rather than a fault of the template's logic.
    pub fn is_budget(&self) -> bool {
        matches!(self, Error::Budget(_))
    }
}

/// A syntax error, with the line it was found on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The name the text was parsed under (the file).
    pub template: String,
    /// The 1-based line of the offending token.
    pub line: usize,
    /// What is wrong, e.g. `unexpected "}" in operand` or `function "foo" not defined`.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "template: {}:{}: {}",
            self.template, self.line, self.message
        )
    }
}

impl std::error::Error for ParseError {}

/// Where in which template something happened during execution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecLocation {
    /// The template being executed (a `define` name or the file's name).
    pub template: String,
    /// `FILE:LINE:COL` (column counted in bytes from 0, as Go does), or `None` before the first
    /// node was reached.
    pub location: Option<String>,
    /// The source text of the node being evaluated, as Go prints it (`.Values.x`,
    /// `include "a" .`).
    pub context: String,
}

impl fmt::Display for ExecLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = crate::fmt::quote(&self.template);
        match &self.location {
            Some(location) => write!(
                f,
                "template: {location}: executing {name} at <{}>",
                self.context
            ),
            None => write!(f, "template: {}", self.template),
        }
    }
}

/// An execution error: the location plus Go's message for what failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecError {
    /// Where it happened; `None` for errors raised before execution started (no such
    /// template).
    pub at: Option<ExecLocation>,
    /// Go's message, e.g. `nil pointer evaluating interface {}.foo` or
    /// `error calling include: template: ...`.
    pub message: String,
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            Some(at) => write!(f, "{at}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ExecError {}

/// Which budget ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Steps plus bytes produced ([`crate::Limits::fuel`]).
    Fuel,
    /// The size of one rendered output or of one string a function builds
    /// ([`crate::Limits::max_output`]).
    Output,
    /// Nesting of `template`, `include` and `tpl` ([`crate::Limits::max_depth`]).
    Depth,
    /// Iterations of `range` over the whole execution ([`crate::Limits::max_range_iterations`]).
    RangeIterations,
}

/// A budget ran out: the template is too big, too slow or recursive for the limits it runs
/// under. The text names the template and position like an execution error does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetError {
    /// The budget that ran out.
    pub limit: Limit,
    /// Its configured value.
    pub allowed: u64,
    /// Where execution was when it ran out.
    pub at: Option<ExecLocation>,
}

impl fmt::Display for BudgetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(at) = &self.at {
            write!(f, "{at}: ")?;
        }
        let allowed = self.allowed;
        match self.limit {
            Limit::Fuel => write!(
                f,
                "execution used up its fuel of {allowed} steps and bytes; simplify the template or raise the fuel limit"
            ),
            Limit::Output => write!(
                f,
                "output would exceed the limit of {allowed} bytes; produce less output or raise the output limit"
            ),
            Limit::Depth => write!(
                f,
                "templates nest deeper than the limit of {allowed} (template, include and tpl calls); look for a template that includes itself"
            ),
            Limit::RangeIterations => write!(
                f,
                "range loops ran more than the limit of {allowed} iterations; iterate over less or raise the iteration limit"
            ),
        }
    }
}

impl std::error::Error for BudgetError {}
