//! The parser, a port of Go's `text/template/parse/parse.go`: the same grammar, the same three
//! token lookahead (which decides which line an error reports), the same node positions and the
//! same error texts.

use std::collections::HashMap;
use std::sync::Arc;

use super::lex::{Item, ItemType, Lexer};
use super::node::{Arg, Branch, Command, ListNode, Node, Number, Pipe, Pos, Tree, Variable};
use super::number::parse_number;
use super::unquote::{unquote, unquote_char};
use crate::error::ParseError;
use crate::exec::builtins::is_builtin;
use crate::funcs::Funcs;

/// How deeply parenthesised expressions may nest. Go allows 10000, which its growable stacks
/// survive; a fixed Rust stack needs a smaller bound (Go's message is kept).
const MAX_EXPRESSION_DEPTH: usize = 200;
/// How deeply `if`/`range`/`with`/`define`/`block` may nest (Go has no bound).
const MAX_CONTROL_DEPTH: usize = 200;

type Result<T> = std::result::Result<T, ParseError>;

/// What `textOrAction` can produce: a node, or the `{{end}}`/`{{else}}` that closes a list.
enum Parsed {
    Node(Node),
    End,
    Else { pos: Pos },
}

impl Parsed {
    fn describe(&self) -> &'static str {
        match self {
            Parsed::End => "{{end}}",
            Parsed::Else { .. } => "{{else}}",
            Parsed::Node(_) => "node",
        }
    }
}

/// The per-tree part of Go's `Tree` parsing state (a `define` gets a fresh one).
struct TreeState<'s> {
    name: Arc<str>,
    token: [Item<'s>; 3],
    peek_count: usize,
    vars: Vec<Arc<str>>,
    action_line: usize,
    range_depth: usize,
}

impl<'s> TreeState<'s> {
    fn new(name: Arc<str>) -> TreeState<'s> {
        TreeState {
            name,
            token: [Item::eof(), Item::eof(), Item::eof()],
            peek_count: 0,
            vars: vec![Arc::from("$")],
            action_line: 0,
            range_depth: 0,
        }
    }
}

pub(crate) struct Parser<'s, 'f> {
    lex: Lexer<'s>,
    funcs: &'f Funcs,
    text: Arc<str>,
    parse_name: Arc<str>,
    tree: TreeState<'s>,
    /// Parenthesis depth (Go's `stackDepth`).
    stack_depth: usize,
    /// Control structure depth.
    control_depth: usize,
    /// Parsed trees in order of completion; `index` maps names to positions.
    trees: Vec<Tree>,
    index: HashMap<Arc<str>, usize>,
    /// Interned names, so that `.Values` everywhere shares one allocation.
    names: HashMap<&'s str, Arc<str>>,
}

/// Parses `text` as the template `name`: the top-level tree first, then one per `define` and
/// `block`, as Go's `parse.Parse` builds its tree set.
pub(crate) fn parse(
    name: &str,
    text: &Arc<str>,
    funcs: &Funcs,
    left_delim: &str,
    right_delim: &str,
) -> Result<Vec<Tree>> {
    let source: &str = text;
    let mut lex = Lexer::new(source, left_delim, right_delim);
    lex.break_ok = !has_function(funcs, "break");
    lex.continue_ok = !has_function(funcs, "continue");
    let name: Arc<str> = Arc::from(name);
    let mut parser = Parser {
        lex,
        funcs,
        text: text.clone(),
        parse_name: name.clone(),
        tree: TreeState::new(name),
        stack_depth: 0,
        control_depth: 0,
        trees: Vec::new(),
        index: HashMap::new(),
        names: HashMap::new(),
    };
    let root = parser.parse_top()?;
    parser.add(root)?;
    // The top-level template comes first for callers.
    let mut trees = parser.trees;
    if let Some(top) = trees.iter().position(|t| t.name == parser.parse_name) {
        let top = trees.remove(top);
        trees.insert(0, top);
    }
    Ok(trees)
}

fn has_function(funcs: &Funcs, name: &str) -> bool {
    funcs.contains(name) || is_builtin(name)
}

impl<'s> Parser<'s, '_> {
    // ---- token plumbing (Go's next/backup/peek) ----

    fn next(&mut self) -> Item<'s> {
        if self.tree.peek_count > 0 {
            self.tree.peek_count -= 1;
        } else {
            self.tree.token[0] = self.lex.next_item();
        }
        self.tree.token[self.tree.peek_count].clone()
    }

    fn backup(&mut self) {
        self.tree.peek_count += 1;
    }

    fn backup2(&mut self, t1: Item<'s>) {
        self.tree.token[1] = t1;
        self.tree.peek_count = 2;
    }

    fn backup3(&mut self, t2: Item<'s>, t1: Item<'s>) {
        self.tree.token[1] = t1;
        self.tree.token[2] = t2;
        self.tree.peek_count = 3;
    }

    fn peek(&mut self) -> Item<'s> {
        if self.tree.peek_count > 0 {
            return self.tree.token[self.tree.peek_count - 1].clone();
        }
        self.tree.peek_count = 1;
        self.tree.token[0] = self.lex.next_item();
        self.tree.token[0].clone()
    }

    fn next_non_space(&mut self) -> Item<'s> {
        loop {
            let token = self.next();
            if token.typ != ItemType::Space {
                return token;
            }
        }
    }

    fn peek_non_space(&mut self) -> Item<'s> {
        let token = self.next_non_space();
        self.backup();
        token
    }

    // ---- errors ----

    fn errorf<T>(&self, message: String) -> Result<T> {
        Err(ParseError {
            template: self.parse_name.to_string(),
            line: self.tree.token[0].line,
            message,
        })
    }

    fn expect(&mut self, expected: ItemType, context: &str) -> Result<Item<'s>> {
        let token = self.next_non_space();
        if token.typ != expected {
            return self.unexpected(&token, context);
        }
        Ok(token)
    }

    fn expect_one_of(&mut self, a: ItemType, b: ItemType, context: &str) -> Result<Item<'s>> {
        let token = self.next_non_space();
        if token.typ != a && token.typ != b {
            return self.unexpected(&token, context);
        }
        Ok(token)
    }

    fn unexpected<T>(&self, token: &Item<'_>, context: &str) -> Result<T> {
        if token.typ == ItemType::Error {
            let mut extra = String::new();
            if self.tree.action_line != 0 && self.tree.action_line != token.line {
                extra = format!(
                    " in action started at {}:{}",
                    self.parse_name, self.tree.action_line
                );
                if token.val.ends_with(" action") {
                    extra = extra[" in action".len()..].to_string();
                }
            }
            return self.errorf(format!("{token}{extra}"));
        }
        self.errorf(format!("unexpected {token} in {context}"))
    }

    fn intern(&mut self, name: &'s str) -> Arc<str> {
        self.names
            .entry(name)
            .or_insert_with(|| Arc::from(name))
            .clone()
    }

    // ---- trees ----

    /// Go's `Tree.add`: a tree replaces an earlier one of its name only if that one is empty.
    fn add(&mut self, root: ListNode) -> Result<()> {
        let tree = Tree {
            name: self.tree.name.clone(),
            parse_name: self.parse_name.clone(),
            text: self.text.clone(),
            root,
        };
        match self.index.get(&tree.name) {
            None => {
                self.index.insert(tree.name.clone(), self.trees.len());
                self.trees.push(tree);
            }
            Some(&i) if self.trees[i].is_empty() => self.trees[i] = tree,
            Some(_) if !tree.is_empty() => {
                return self.errorf(format!(
                    "template: multiple definition of template {}",
                    crate::fmt::quote(&tree.name)
                ));
            }
            Some(_) => {}
        }
        Ok(())
    }

    /// Parses a nested tree (`define`, `block`) with fresh per-tree state on the shared lexer.
    fn nested_tree<T>(
        &mut self,
        name: Arc<str>,
        body: impl FnOnce(&mut Self) -> Result<T>,
    ) -> Result<T> {
        self.control_depth += 1;
        if self.control_depth > MAX_CONTROL_DEPTH {
            return self.errorf("max nesting depth exceeded".to_string());
        }
        let outer = std::mem::replace(&mut self.tree, TreeState::new(name));
        let result = body(self);
        self.tree = outer;
        self.control_depth -= 1;
        result
    }

    fn parse_top(&mut self) -> Result<ListNode> {
        let mut root = ListNode {
            pos: self.peek().pos,
            nodes: Vec::new(),
        };
        while self.peek().typ != ItemType::Eof {
            if self.peek().typ == ItemType::LeftDelim {
                let delim = self.next();
                if self.next_non_space().typ == ItemType::Define {
                    self.nested_tree(Arc::from("definition"), |p| p.parse_definition())?;
                    continue;
                }
                self.backup2(delim);
            }
            match self.text_or_action()? {
                Parsed::Node(n) => root.nodes.push(n),
                other => return self.errorf(format!("unexpected {}", other.describe())),
            }
        }
        Ok(root)
    }

    fn parse_definition(&mut self) -> Result<()> {
        const CONTEXT: &str = "define clause";
        let name = self.expect_one_of(ItemType::String, ItemType::RawString, CONTEXT)?;
        match unquote(&name.val) {
            Ok(n) => self.tree.name = Arc::from(n),
            Err(e) => return self.errorf(e.to_string()),
        }
        self.expect(ItemType::RightDelim, CONTEXT)?;
        let (root, end) = self.item_list()?;
        if !matches!(end, Parsed::End) {
            return self.errorf(format!("unexpected {} in {CONTEXT}", end.describe()));
        }
        self.add(root)
    }

    fn item_list(&mut self) -> Result<(ListNode, Parsed)> {
        let mut list = ListNode {
            pos: self.peek_non_space().pos,
            nodes: Vec::new(),
        };
        while self.peek_non_space().typ != ItemType::Eof {
            match self.text_or_action()? {
                Parsed::Node(n) => list.nodes.push(n),
                end => return Ok((list, end)),
            }
        }
        self.errorf("unexpected EOF".to_string())
    }

    fn text_or_action(&mut self) -> Result<Parsed> {
        let token = self.next_non_space();
        match token.typ {
            ItemType::Text => {
                let start = token.pos;
                let end = start + token.val.len() as u32;
                Ok(Parsed::Node(Node::Text {
                    pos: start,
                    text: start..end,
                }))
            }
            ItemType::LeftDelim => {
                self.tree.action_line = token.line;
                let result = self.action();
                self.tree.action_line = 0;
                result
            }
            _ => self.unexpected(&token, "input"),
        }
    }

    fn action(&mut self) -> Result<Parsed> {
        let token = self.next_non_space();
        match token.typ {
            ItemType::Block => return self.block_control().map(Parsed::Node),
            ItemType::Break => return self.break_control(token.pos, "{{break}}", true),
            ItemType::Continue => return self.break_control(token.pos, "{{continue}}", false),
            ItemType::Else => return self.else_control(),
            ItemType::End => {
                self.expect(ItemType::RightDelim, "end")?;
                return Ok(Parsed::End);
            }
            ItemType::If => return self.control("if").map(|b| Parsed::Node(Node::If(b))),
            ItemType::Range => return self.control("range").map(|b| Parsed::Node(Node::Range(b))),
            ItemType::Template => return self.template_control().map(Parsed::Node),
            ItemType::With => return self.control("with").map(|b| Parsed::Node(Node::With(b))),
            _ => {}
        }
        self.backup();
        let token = self.peek();
        let pipe = self.pipeline("command", ItemType::RightDelim)?;
        Ok(Parsed::Node(Node::Action {
            pos: token.pos,
            pipe,
        }))
    }

    fn break_control(&mut self, pos: Pos, context: &str, is_break: bool) -> Result<Parsed> {
        let token = self.next_non_space();
        if token.typ != ItemType::RightDelim {
            return self.unexpected(&token, context);
        }
        if self.tree.range_depth == 0 {
            return self.errorf(format!("{context} outside {{{{range}}}}"));
        }
        Ok(Parsed::Node(if is_break {
            Node::Break { pos }
        } else {
            Node::Continue { pos }
        }))
    }

    fn pipeline(&mut self, context: &str, end: ItemType) -> Result<Pipe> {
        let token = self.peek_non_space();
        let mut pipe = Pipe {
            pos: token.pos,
            is_assign: false,
            decl: Vec::new(),
            cmds: Vec::new(),
        };
        // Go's `decls:` label: a declaration may list two variables in `range`.
        loop {
            let v = self.peek_non_space();
            if v.typ != ItemType::Variable {
                break;
            }
            self.next();
            let token_after_variable = self.peek();
            let next = self.peek_non_space();
            if next.typ == ItemType::Assign || next.typ == ItemType::Declare {
                pipe.is_assign = next.typ == ItemType::Assign;
                self.next_non_space();
                self.declare(&mut pipe, &v);
            } else if next.typ == ItemType::Char && next.val == "," {
                self.next_non_space();
                self.declare(&mut pipe, &v);
                if context == "range" && pipe.decl.len() < 2 {
                    match self.peek_non_space().typ {
                        ItemType::Variable | ItemType::RightDelim | ItemType::RightParen => {
                            continue;
                        }
                        _ => return self.errorf("range can only initialize variables".to_string()),
                    }
                }
                return self.errorf(format!("too many declarations in {context}"));
            } else if token_after_variable.typ == ItemType::Space {
                self.backup3(v, token_after_variable);
            } else {
                self.backup2(v);
            }
            break;
        }
        loop {
            let token = self.next_non_space();
            match token.typ {
                t if t == end => {
                    self.check_pipeline(&pipe, context)?;
                    return Ok(pipe);
                }
                ItemType::Bool
                | ItemType::CharConstant
                | ItemType::Complex
                | ItemType::Dot
                | ItemType::Field
                | ItemType::Identifier
                | ItemType::Number
                | ItemType::Nil
                | ItemType::RawString
                | ItemType::String
                | ItemType::Variable
                | ItemType::LeftParen => {
                    self.backup();
                    let cmd = self.command()?;
                    pipe.cmds.push(cmd);
                }
                _ => return self.unexpected(&token, context),
            }
        }
    }

    fn declare(&mut self, pipe: &mut Pipe, v: &Item<'s>) {
        let name: Arc<str> = Arc::from(&*v.val);
        pipe.decl.push(Variable {
            pos: v.pos,
            name: name.clone(),
        });
        self.tree.vars.push(name);
    }

    fn check_pipeline(&self, pipe: &Pipe, context: &str) -> Result<()> {
        if pipe.cmds.is_empty() {
            return self.errorf(format!("missing value for {context}"));
        }
        for (i, c) in pipe.cmds.iter().enumerate().skip(1) {
            if matches!(
                c.args.first(),
                Some(
                    Arg::Bool { .. }
                        | Arg::Dot { .. }
                        | Arg::Nil { .. }
                        | Arg::Number(_)
                        | Arg::String { .. }
                )
            ) {
                return self.errorf(format!(
                    "non executable command in pipeline stage {}",
                    i + 1
                ));
            }
        }
        Ok(())
    }

    /// Go's `parseControl` for `if`, `range` and `with`.
    fn control(&mut self, context: &'static str) -> Result<Box<Branch>> {
        self.control_depth += 1;
        if self.control_depth > MAX_CONTROL_DEPTH {
            return self.errorf("max nesting depth exceeded".to_string());
        }
        let vars = self.tree.vars.len();
        let result = self.control_body(context);
        self.tree.vars.truncate(vars);
        self.control_depth -= 1;
        result
    }

    fn control_body(&mut self, context: &'static str) -> Result<Box<Branch>> {
        let pipe = self.pipeline(context, ItemType::RightDelim)?;
        if context == "range" {
            self.tree.range_depth += 1;
        }
        let listed = self.item_list();
        if context == "range" {
            self.tree.range_depth -= 1;
        }
        let (list, next) = listed?;
        let mut else_list = None;
        if let Parsed::Else { pos } = next {
            let chained = match (context, self.peek().typ) {
                ("if", ItemType::If) => Some("if"),
                ("with", ItemType::With) => Some("with"),
                _ => None,
            };
            if let Some(keyword) = chained {
                self.next();
                let inner = self.control(keyword)?;
                let node = if keyword == "if" {
                    Node::If(inner)
                } else {
                    Node::With(inner)
                };
                else_list = Some(ListNode {
                    pos,
                    nodes: vec![node],
                });
            } else {
                let (list, next) = self.item_list()?;
                if !matches!(next, Parsed::End) {
                    return self.errorf(format!("expected end; found {}", next.describe()));
                }
                else_list = Some(list);
            }
        }
        Ok(Box::new(Branch {
            pos: pipe.pos,
            pipe,
            list,
            else_list,
        }))
    }

    fn else_control(&mut self) -> Result<Parsed> {
        let peek = self.peek_non_space();
        if peek.typ == ItemType::If || peek.typ == ItemType::With {
            return Ok(Parsed::Else { pos: peek.pos });
        }
        let token = self.expect(ItemType::RightDelim, "else")?;
        Ok(Parsed::Else { pos: token.pos })
    }

    fn block_control(&mut self) -> Result<Node> {
        const CONTEXT: &str = "block clause";
        let token = self.next_non_space();
        let name = self.parse_template_name(&token, CONTEXT)?;
        let pipe = self.pipeline(CONTEXT, ItemType::RightDelim)?;
        let end = self.nested_tree(name.clone(), |p| {
            let (root, end) = p.item_list()?;
            if matches!(end, Parsed::End) {
                p.add(root)?;
            }
            Ok(end)
        })?;
        if !matches!(end, Parsed::End) {
            return self.errorf(format!("unexpected {} in {CONTEXT}", end.describe()));
        }
        Ok(Node::Template {
            pos: token.pos,
            name,
            pipe: Some(pipe),
        })
    }

    fn template_control(&mut self) -> Result<Node> {
        const CONTEXT: &str = "template clause";
        let token = self.next_non_space();
        let name = self.parse_template_name(&token, CONTEXT)?;
        let mut pipe = None;
        if self.next_non_space().typ != ItemType::RightDelim {
            self.backup();
            pipe = Some(self.pipeline(CONTEXT, ItemType::RightDelim)?);
        }
        Ok(Node::Template {
            pos: token.pos,
            name,
            pipe,
        })
    }

    fn parse_template_name(&mut self, token: &Item<'s>, context: &str) -> Result<Arc<str>> {
        match token.typ {
            ItemType::String | ItemType::RawString => match unquote(&token.val) {
                Ok(s) => Ok(Arc::from(s)),
                Err(e) => self.errorf(e.to_string()),
            },
            _ => self.unexpected(token, context),
        }
    }

    fn command(&mut self) -> Result<Command> {
        let mut cmd = Command {
            pos: self.peek_non_space().pos,
            args: Vec::new(),
        };
        loop {
            self.peek_non_space();
            if let Some(operand) = self.operand()? {
                cmd.args.push(operand);
            }
            let token = self.next();
            match token.typ {
                ItemType::Space => continue,
                ItemType::RightDelim | ItemType::RightParen => self.backup(),
                ItemType::Pipe => {}
                _ => return self.unexpected(&token, "operand"),
            }
            break;
        }
        if cmd.args.is_empty() {
            return self.errorf("empty command".to_string());
        }
        Ok(cmd)
    }

    fn operand(&mut self) -> Result<Option<Arg>> {
        let Some(node) = self.term()? else {
            return Ok(None);
        };
        if self.peek().typ != ItemType::Field {
            return Ok(Some(node));
        }
        let pos = self.peek().pos;
        let mut fields = Vec::new();
        while self.peek().typ == ItemType::Field {
            let field = self.next();
            let val: &'s str = match field.val {
                std::borrow::Cow::Borrowed(s) => s,
                std::borrow::Cow::Owned(_) => {
                    return self.errorf("internal error: owned field".into());
                }
            };
            fields.push(self.intern(&val[1..]));
        }
        Ok(Some(match node {
            Arg::Field { mut ident, .. } => {
                ident.extend(fields);
                Arg::Field { pos, ident }
            }
            Arg::Variable { mut ident, .. } => {
                ident.extend(fields);
                Arg::Variable { pos, ident }
            }
            Arg::Bool { .. }
            | Arg::String { .. }
            | Arg::Number(_)
            | Arg::Nil { .. }
            | Arg::Dot { .. } => {
                let mut text = String::new();
                super::node::Printer {
                    tree: &Tree {
                        name: self.parse_name.clone(),
                        parse_name: self.parse_name.clone(),
                        text: self.text.clone(),
                        root: ListNode::default(),
                    },
                }
                .arg(&mut text, &node);
                return self.errorf(format!(
                    "unexpected . after term {}",
                    crate::fmt::quote(&text)
                ));
            }
            other => Arg::Chain {
                pos,
                node: Box::new(other),
                fields,
            },
        }))
    }

    fn term(&mut self) -> Result<Option<Arg>> {
        let token = self.next_non_space();
        let pos = token.pos;
        Ok(Some(match token.typ {
            ItemType::Identifier => {
                if !has_function(self.funcs, &token.val) {
                    return self.errorf(format!(
                        "function {} not defined",
                        crate::fmt::quote(&token.val)
                    ));
                }
                let name = self.intern_item(&token);
                Arg::Identifier { pos, name }
            }
            ItemType::Dot => Arg::Dot { pos },
            ItemType::Nil => Arg::Nil { pos },
            ItemType::Variable => {
                let name = self.intern_item(&token);
                if !self.tree.vars.iter().any(|v| **v == *name) {
                    return self.errorf(format!("undefined variable {}", crate::fmt::quote(&name)));
                }
                Arg::Variable {
                    pos,
                    ident: vec![name],
                }
            }
            ItemType::Field => {
                let name = self.intern_item(&token);
                Arg::Field {
                    pos,
                    ident: vec![Arc::from(&name[1..])],
                }
            }
            ItemType::Bool => Arg::Bool {
                pos,
                value: token.val == "true",
            },
            ItemType::CharConstant | ItemType::Complex | ItemType::Number => {
                let number = match token.typ {
                    ItemType::CharConstant => char_number(pos, &token.val),
                    _ => parse_number(pos, &token.val, token.typ == ItemType::Complex),
                };
                match number {
                    Ok(n) => Arg::Number(Box::new(n)),
                    Err(e) => return self.errorf(e),
                }
            }
            ItemType::LeftParen => {
                if self.stack_depth >= MAX_EXPRESSION_DEPTH {
                    return self.errorf("max expression depth exceeded".to_string());
                }
                self.stack_depth += 1;
                let pipe = self.pipeline("parenthesized pipeline", ItemType::RightParen);
                self.stack_depth -= 1;
                Arg::Pipe(Box::new(pipe?))
            }
            ItemType::String | ItemType::RawString => match unquote(&token.val) {
                Ok(s) => Arg::String {
                    pos,
                    quoted: pos..pos + token.val.len() as u32,
                    text: Arc::from(s),
                },
                Err(e) => return self.errorf(e.to_string()),
            },
            _ => {
                self.backup();
                return Ok(None);
            }
        }))
    }

    fn intern_item(&mut self, token: &Item<'s>) -> Arc<str> {
        match token.val {
            std::borrow::Cow::Borrowed(s) => self.intern(s),
            std::borrow::Cow::Owned(ref s) => Arc::from(s.as_str()),
        }
    }
}

/// A character constant: `'a'`, `'\n'`, `'\u00e9'`.
fn char_number(pos: Pos, text: &str) -> std::result::Result<Number, String> {
    let (r, tail) = unquote_char(&text[1..], '\'').map_err(|e| e.to_string())?;
    if tail != "'" {
        return Err(format!("malformed character constant: {text}"));
    }
    Ok(Number {
        pos,
        is_int: true,
        is_uint: true,
        is_float: true,
        is_complex: false,
        int: r as i64,
        uint: r as u64,
        float: r as u32 as f64,
        imag: 0.0,
        text: Arc::from(text),
    })
}
