//! Go's `text/template` in Rust, faithful enough to render Helm charts byte for byte.
//!
//! The language (lexer, parser, executor), the builtins (`and`, `or`, `eq`, `printf`, `index`...)
//! and the parts of Go's `fmt` that templates print through are implemented after Go 1.26's
//! sources, including their error texts and positions. Sprig and Helm's functions plug in through
//! [`Funcs`]; [`Value`] models the Go values Helm passes in.
//!
//! Templates may be hostile, so every execution runs under [`Limits`]: fuel for each step and
//! each byte produced, a cap on output size enforced while rendering, a nesting limit for
//! `template`/`include`/`tpl`, and a cap on `range` iterations. Running out is an
//! [`Error::Budget`] naming the template and position. Parsing bounds nesting too, so no input
//! can overflow the stack.
//!
//! ```
//! use capstan_gotemplate::{Funcs, Templates, Value};
//! use std::sync::Arc;
//!
//! let mut set = Templates::new(Arc::new(Funcs::new()));
//! set.parse("hello.txt", r#"{{ define "who" }}{{ .name }}{{ end }}Hello, {{ template "who" . }}!"#).unwrap();
//! let data = Value::from_json(&serde_json::json!({"name": "world"}));
//! assert_eq!(set.render("hello.txt", &data).unwrap(), "Hello, world!");
//! ```

pub mod error;
pub(crate) mod exec;
pub mod fmt;
pub mod funcs;
pub mod goyaml;
pub mod parse;
pub mod semver;
mod set;
pub mod sprig;
pub mod value;

pub use error::{BudgetError, Error, ExecError, Limit, ParseError};
pub use funcs::{CallContext, FuncError, Funcs, Function, Signature};
pub use set::{Budget, Limits, MissingKey, Options, STEP_FUEL, Templates};
pub use value::{FloatKind, IntKind, Kind, List, Map, Object, Type, UintKind, Value};
