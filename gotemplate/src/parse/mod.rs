//! Go's `text/template/parse`: the lexer and parser, producing [`Tree`]s.

mod lex;
pub mod node;
mod number;
mod parser;
mod unquote;

use std::sync::Arc;

pub use node::Tree;

use crate::Options;
use crate::error::Error;
use crate::funcs::Funcs;

/// Parses `text` under `name`: the top-level tree first, then one per `define` and `block`.
pub(crate) fn parse(
    name: &str,
    text: &str,
    funcs: &Funcs,
    options: &Options,
) -> Result<Vec<Tree>, Error> {
    let text: Arc<str> = Arc::from(text);
    parser::parse(
        name,
        &text,
        funcs,
        &options.left_delim,
        &options.right_delim,
    )
    .map_err(Error::Parse)
}
