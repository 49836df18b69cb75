//! The parse tree, shaped like Go's `text/template/parse` nodes so that execution and error
//! messages (which quote nodes as Go's `String()` prints them) match.
//!
//! Text is not copied out of the source: text nodes are byte ranges into the [`Tree`]'s source,
//! and names (fields, variables, functions) are shared `Arc<str>`s resolved once at parse time.

use std::fmt::{self, Write};
use std::ops::Range;
use std::sync::Arc;

/// A byte offset into the template source.
pub type Pos = u32;

/// One parsed template: the top level of a file, or a `define`/`block` inside it.
#[derive(Debug)]
pub struct Tree {
    /// The template's name (the file name, or the name given to `define`).
    pub name: Arc<str>,
    /// The name of the text it was parsed from (the file), for error locations.
    pub parse_name: Arc<str>,
    /// The whole text it was parsed from (shared by the file's templates).
    pub text: Arc<str>,
    /// The body.
    pub root: ListNode,
}

impl Tree {
    /// The text of a text node.
    pub(crate) fn slice(&self, range: &Range<u32>) -> &str {
        &self.text[range.start as usize..range.end as usize]
    }

    /// `FILE:LINE:COL` of a byte position, as Go's `ErrorContext` computes it (column in bytes,
    /// counted from 0 on the first line and from the newline elsewhere... exactly Go's quirk).
    pub(crate) fn location(&self, pos: Pos) -> String {
        let before = &self.text[..(pos as usize).min(self.text.len())];
        let column = match before.rfind('\n') {
            None => pos as usize,
            Some(newline) => pos as usize - (newline + 1),
        };
        let line = 1 + before.bytes().filter(|&b| b == b'\n').count();
        format!("{}:{}:{}", self.parse_name, line, column)
    }

    /// Whether the body is only whitespace and comments (Go's `IsEmptyTree`): such a template
    /// does not replace an existing one of the same name.
    pub(crate) fn is_empty(&self) -> bool {
        self.root.nodes.iter().all(|n| match n {
            Node::Text { text, .. } => self.slice(text).trim_ascii().is_empty(),
            Node::Comment { .. } => true,
            _ => false,
        })
    }
}

/// A sequence of nodes.
#[derive(Debug, Default)]
pub struct ListNode {
    pub pos: Pos,
    pub nodes: Vec<Node>,
}

/// A statement-level node.
#[derive(Debug)]
pub enum Node {
    /// Literal text, as a range of the tree's text.
    Text { pos: Pos, text: Range<u32> },
    /// `{{/* ... */}}` (kept only for printing; never executed).
    Comment { pos: Pos, text: Range<u32> },
    /// `{{ pipeline }}`.
    Action { pos: Pos, pipe: Pipe },
    /// `{{if}}`.
    If(Box<Branch>),
    /// `{{range}}`.
    Range(Box<Branch>),
    /// `{{with}}`.
    With(Box<Branch>),
    /// `{{template "name" pipeline}}` (also what `{{block}}` leaves in place).
    Template {
        pos: Pos,
        name: Arc<str>,
        pipe: Option<Pipe>,
    },
    /// `{{break}}`.
    Break { pos: Pos },
    /// `{{continue}}`.
    Continue { pos: Pos },
}

/// The common shape of `if`, `range` and `with`.
#[derive(Debug)]
pub struct Branch {
    pub pos: Pos,
    pub pipe: Pipe,
    pub list: ListNode,
    pub else_list: Option<ListNode>,
}

/// A pipeline with optional variable declarations: `$x := a | b c`.
#[derive(Debug)]
pub struct Pipe {
    pub pos: Pos,
    /// `$x = ...` (assign) rather than `$x := ...` (declare).
    pub is_assign: bool,
    /// The declared or assigned variables (at most two, in `range`).
    pub decl: Vec<Variable>,
    pub cmds: Vec<Command>,
}

/// A variable named in a declaration.
#[derive(Debug)]
pub struct Variable {
    pub pos: Pos,
    pub name: Arc<str>,
}

/// One stage of a pipeline: a function or method call, or a single operand.
#[derive(Debug)]
pub struct Command {
    pub pos: Pos,
    pub args: Vec<Arg>,
}

/// An operand.
#[derive(Debug)]
pub enum Arg {
    /// A function name.
    Identifier { pos: Pos, name: Arc<str> },
    /// `.`
    Dot { pos: Pos },
    /// `nil`
    Nil { pos: Pos },
    /// `true` / `false`
    Bool { pos: Pos, value: bool },
    /// A number or character constant.
    Number(Box<Number>),
    /// A string constant.
    String {
        pos: Pos,
        quoted: Range<u32>,
        text: Arc<str>,
    },
    /// `.a.b.c`
    Field { pos: Pos, ident: Vec<Arc<str>> },
    /// `$x.a.b` (`ident[0]` is the variable, with its `$`).
    Variable { pos: Pos, ident: Vec<Arc<str>> },
    /// `(pipeline).a.b`
    Chain {
        pos: Pos,
        node: Box<Arg>,
        fields: Vec<Arc<str>>,
    },
    /// `(pipeline)`
    Pipe(Box<Pipe>),
}

/// A numeric constant with every interpretation Go's parser derives from it.
#[derive(Debug, Clone)]
pub struct Number {
    pub pos: Pos,
    pub is_int: bool,
    pub is_uint: bool,
    pub is_float: bool,
    pub is_complex: bool,
    pub int: i64,
    pub uint: u64,
    pub float: f64,
    /// The imaginary part of a complex constant (`float` holds the real part).
    pub imag: f64,
    /// The source text.
    pub text: Arc<str>,
}

impl Arg {
    /// The byte position of the operand.
    pub fn pos(&self) -> Pos {
        match self {
            Arg::Identifier { pos, .. }
            | Arg::Dot { pos }
            | Arg::Nil { pos }
            | Arg::Bool { pos, .. }
            | Arg::String { pos, .. }
            | Arg::Field { pos, .. }
            | Arg::Variable { pos, .. }
            | Arg::Chain { pos, .. } => *pos,
            Arg::Number(n) => n.pos,
            Arg::Pipe(p) => p.pos,
        }
    }
}

impl Node {
    /// The byte position of the node.
    pub fn pos(&self) -> Pos {
        match self {
            Node::Text { pos, .. }
            | Node::Comment { pos, .. }
            | Node::Action { pos, .. }
            | Node::Template { pos, .. }
            | Node::Break { pos }
            | Node::Continue { pos } => *pos,
            Node::If(b) | Node::Range(b) | Node::With(b) => b.pos,
        }
    }
}

/// Writes nodes back as Go's `Node.String()` does, for error contexts.
pub(crate) struct Printer<'t> {
    pub tree: &'t Tree,
}

impl Printer<'_> {
    pub fn list(&self, out: &mut String, list: &ListNode) {
        for node in &list.nodes {
            self.node(out, node);
        }
    }

    pub fn node(&self, out: &mut String, node: &Node) {
        match node {
            Node::Text { text, .. } => out.push_str(self.tree.slice(text)),
            Node::Comment { text, .. } => {
                out.push_str("{{");
                out.push_str(self.tree.slice(text));
                out.push_str("}}");
            }
            Node::Action { pipe, .. } => {
                out.push_str("{{");
                self.pipe(out, pipe);
                out.push_str("}}");
            }
            Node::If(b) => self.branch(out, "if", b),
            Node::Range(b) => self.branch(out, "range", b),
            Node::With(b) => self.branch(out, "with", b),
            Node::Template { name, pipe, .. } => {
                out.push_str("{{template ");
                out.push_str(&crate::fmt::quote(name));
                if let Some(pipe) = pipe {
                    out.push(' ');
                    self.pipe(out, pipe);
                }
                out.push_str("}}");
            }
            Node::Break { .. } => out.push_str("{{break}}"),
            Node::Continue { .. } => out.push_str("{{continue}}"),
        }
    }

    fn branch(&self, out: &mut String, name: &str, b: &Branch) {
        out.push_str("{{");
        out.push_str(name);
        out.push(' ');
        self.pipe(out, &b.pipe);
        out.push_str("}}");
        self.list(out, &b.list);
        if let Some(else_list) = &b.else_list {
            out.push_str("{{else}}");
            self.list(out, else_list);
        }
        out.push_str("{{end}}");
    }

    pub fn pipe(&self, out: &mut String, pipe: &Pipe) {
        if !pipe.decl.is_empty() {
            for (i, v) in pipe.decl.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&v.name);
            }
            out.push_str(if pipe.is_assign { " = " } else { " := " });
        }
        for (i, c) in pipe.cmds.iter().enumerate() {
            if i > 0 {
                out.push_str(" | ");
            }
            self.command(out, c);
        }
    }

    pub fn command(&self, out: &mut String, cmd: &Command) {
        for (i, arg) in cmd.args.iter().enumerate() {
            if i > 0 {
                out.push(' ');
            }
            if let Arg::Pipe(p) = arg {
                out.push('(');
                self.pipe(out, p);
                out.push(')');
            } else {
                self.arg(out, arg);
            }
        }
    }

    pub fn arg(&self, out: &mut String, arg: &Arg) {
        match arg {
            Arg::Identifier { name, .. } => out.push_str(name),
            Arg::Dot { .. } => out.push('.'),
            Arg::Nil { .. } => out.push_str("nil"),
            Arg::Bool { value, .. } => out.push_str(if *value { "true" } else { "false" }),
            Arg::Number(n) => out.push_str(&n.text),
            Arg::String { quoted, .. } => out.push_str(self.tree.slice(quoted)),
            Arg::Field { ident, .. } => {
                for id in ident {
                    out.push('.');
                    out.push_str(id);
                }
            }
            Arg::Variable { ident, .. } => {
                for (i, id) in ident.iter().enumerate() {
                    if i > 0 {
                        out.push('.');
                    }
                    out.push_str(id);
                }
            }
            Arg::Chain { node, fields, .. } => {
                if let Arg::Pipe(p) = &**node {
                    out.push('(');
                    self.pipe(out, p);
                    out.push(')');
                } else {
                    self.arg(out, node);
                }
                for f in fields {
                    out.push('.');
                    out.push_str(f);
                }
            }
            Arg::Pipe(p) => self.pipe(out, p),
        }
    }
}

/// Any node the executor can be "at" when something fails, for the `<...>` context of the error.
#[derive(Clone, Copy)]
pub(crate) enum At<'t> {
    None,
    Node(&'t Node),
    Pipe(&'t Pipe),
    Command(&'t Command),
    Arg(&'t Arg),
}

impl At<'_> {
    pub fn pos(&self) -> Option<Pos> {
        match self {
            At::None => None,
            At::Node(n) => Some(n.pos()),
            At::Pipe(p) => Some(p.pos),
            At::Command(c) => Some(c.pos),
            At::Arg(a) => Some(a.pos()),
        }
    }

    pub fn write(&self, tree: &Tree, out: &mut String) {
        let printer = Printer { tree };
        match self {
            At::None => {}
            At::Node(n) => printer.node(out, n),
            At::Pipe(p) => printer.pipe(out, p),
            At::Command(c) => printer.command(out, c),
            At::Arg(a) => printer.arg(out, a),
        }
    }
}

impl fmt::Debug for At<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        let _ = write!(s, "At({:?})", self.pos());
        f.write_str(&s)
    }
}
