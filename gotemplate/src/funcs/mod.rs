//! Functions a template can call: how they are declared, registered and given access to the
//! executor.
//!
//! A function is a Rust closure with a Go [`Signature`]. The executor checks arguments against the
//! signature before the call exactly as Go's `text/template` does for a Go function (argument
//! count, `expected string; found 3`, `wrong type for value; expected int; got float64`, untyped
//! number literals becoming `int` or `float64`), so a function body can rely on the types it
//! declared: a parameter declared [`Type::String`] is always a [`Value::String`].
//!
//! ```
//! use capstan_gotemplate::funcs::{Funcs, Signature, FuncError};
//! use capstan_gotemplate::{Type, Value};
//!
//! let mut funcs = Funcs::new();
//! // Go: func(s string) string
//! funcs.register("shout", Signature::new([Type::String]), |ctx, args| {
//!     let s = args[0].as_str().unwrap_or_default();
//!     ctx.charge_bytes(s.len())?; // the bytes this function is about to produce
//!     Ok(Value::string(s.to_uppercase()))
//! });
//! // Go: func(args ...interface{}) (string, error)
//! funcs.register("fail", Signature::variadic([], Type::Interface), |_, _| {
//!     Err(FuncError::new("always fails"))
//! });
//! ```
//!
//! The text/template builtins (`and`, `or`, `printf`, `eq`...) are not in a [`Funcs`]: like Go's,
//! they are always there and a registered function of the same name overrides them.

mod context;

pub use context::CallContext;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::error::{BudgetError, Error};
use crate::value::{Type, Value};

/// The Rust side of a template function: called with the executor's context and the arguments,
/// already checked against the function's [`Signature`] (a variadic tail arrives flattened, one
/// [`Value`] per argument, as a Go variadic call sees them).
pub type NativeFn =
    dyn Fn(&mut CallContext<'_, '_>, &[Value]) -> Result<Value, FuncError> + Send + Sync;

/// A Go function signature: the parameter types, and for a variadic function (`...T`) the type
/// of each extra argument. Results are always `(Value, error)` in Go terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// The fixed parameters in order.
    pub params: Vec<Type>,
    /// `Some(T)` for a variadic function `func(fixed..., rest ...T)`.
    pub variadic: Option<Type>,
}

impl Signature {
    /// A function with exactly these parameters.
    pub fn new(params: impl Into<Vec<Type>>) -> Signature {
        Signature {
            params: params.into(),
            variadic: None,
        }
    }

    /// A variadic function: these fixed parameters, then any number of `rest`.
    pub fn variadic(params: impl Into<Vec<Type>>, rest: Type) -> Signature {
        Signature {
            params: params.into(),
            variadic: Some(rest),
        }
    }
}

/// A registered function: its signature and its body.
#[derive(Clone)]
pub struct Function {
    /// What the executor checks the arguments against.
    pub signature: Signature,
    /// The body.
    pub call: Arc<NativeFn>,
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Function")
            .field("signature", &self.signature)
            .finish_non_exhaustive()
    }
}

/// A set of named functions (Go's `template.FuncMap`): the registration point for Sprig and for
/// Helm's own functions (`sprig::register(&mut funcs)`).
///
/// Names must be valid Go identifiers. Parsing checks that every function a template names is
/// either here or a builtin (`function "x" not defined`), so register before parsing.
#[derive(Clone, Default, Debug)]
pub struct Funcs {
    functions: HashMap<String, Function>,
}

impl Funcs {
    /// An empty set (the builtins are always available regardless).
    pub fn new() -> Funcs {
        Funcs::default()
    }

    /// Registers `body` under `name` with the Go signature `signature`, replacing any function of
    /// that name.
    ///
    /// # Panics
    /// If `name` is not a Go identifier: that is a programming error in the registering code,
    /// not something a template can cause.
    pub fn register<F>(&mut self, name: &str, signature: Signature, body: F)
    where
        F: Fn(&mut CallContext<'_, '_>, &[Value]) -> Result<Value, FuncError>
            + Send
            + Sync
            + 'static,
    {
        self.insert(
            name,
            Function {
                signature,
                call: Arc::new(body),
            },
        );
    }

    /// Registers an already built [`Function`] (for sharing one body under several names).
    ///
    /// # Panics
    /// If `name` is not a Go identifier.
    pub fn insert(&mut self, name: &str, function: Function) {
        assert!(
            is_identifier(name),
            "function name {name:?} is not a valid identifier"
        );
        self.functions.insert(name.to_string(), function);
    }

    /// The function registered under `name`.
    pub fn get(&self, name: &str) -> Option<&Function> {
        self.functions.get(name)
    }

    /// Whether a function is registered under `name` (builtins aside).
    pub fn contains(&self, name: &str) -> bool {
        self.functions.contains_key(name)
    }

    /// Removes the function registered under `name`.
    pub fn remove(&mut self, name: &str) -> Option<Function> {
        self.functions.remove(name)
    }

    /// The registered names, in no particular order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.functions.keys().map(String::as_str)
    }
}

/// Go's `goodName`: a letter or `_`, then letters, digits and `_`.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c == '_' || c.is_alphabetic() => {}
        _ => return false,
    }
    chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// Why a function failed.
///
/// The executor reports it as Go does: `template: NAME:LINE:COL: executing "NAME" at <CALL>:
/// error calling FUNC: MESSAGE`, where MESSAGE is this error's text.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FuncError {
    /// An ordinary failure with Go's message (`fail`'s text, `required`'s message, a parse
    /// failure of `atoi`...).
    #[error("{0}")]
    Message(String),
    /// A nested template execution (`include`, `tpl`) failed; its full error text follows
    /// `error calling include: `, as Go's wrapping does.
    #[error("{0}")]
    Template(Box<Error>),
    /// A budget ran out (fuel, output size, depth, iterations). It is never wrapped: the whole
    /// render stops with this [`BudgetError`], whatever function or template it happened in.
    #[error("{0}")]
    Budget(Box<BudgetError>),
}

impl FuncError {
    /// An ordinary failure with this message.
    pub fn new(message: impl Into<String>) -> FuncError {
        FuncError::Message(message.into())
    }

    /// Adds context in front of the message, as Go's `fmt.Errorf("...: %w", err)` or
    /// `errors.Wrapf` do; a budget error stays as it is.
    pub fn wrap(self, prefix: impl fmt::Display) -> FuncError {
        match self {
            FuncError::Budget(b) => FuncError::Budget(b),
            other => FuncError::Message(format!("{prefix}: {other}")),
        }
    }

    /// Whether this is a budget running out (which must not be caught or reworded).
    pub fn is_budget(&self) -> bool {
        matches!(self, FuncError::Budget(_))
    }
}

impl From<Error> for FuncError {
    fn from(error: Error) -> FuncError {
        match error {
            Error::Budget(b) => FuncError::Budget(Box::new(b)),
            other => FuncError::Template(Box::new(other)),
        }
    }
}

impl From<BudgetError> for FuncError {
    fn from(error: BudgetError) -> FuncError {
        FuncError::Budget(Box::new(error))
    }
}
