//! The executor, a port of Go's `text/template/exec.go`.
//!
//! Go's executor works on `reflect.Value`s, and three of their states show through in
//! behaviour and error texts: an invalid value ("no value", printed `<no value>`), a value whose
//! static type is `interface{}` (an element of a `map[string]interface{}` or `[]interface{}`:
//! field errors then say `in type interface {}`, and a nil one is a "nil pointer"), and a
//! concrete value. [`Val`] keeps exactly that distinction.

pub(crate) mod builtins;
mod call;

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{BudgetError, Error, ExecError, ExecLocation, Limit};
use crate::parse::node::{Arg, At, Branch, ListNode, Node, Number, Pipe, Tree};
use crate::set::{Budget, MissingKey, STEP_FUEL, Templates};
use crate::value::{Type, Value};

/// A value during execution (see the module documentation).
#[derive(Clone, Debug)]
pub(crate) enum Val {
    /// Go's invalid `reflect.Value`: no value at all.
    Invalid,
    /// A value whose static type is its own type.
    Concrete(Value),
    /// A value held in an `interface{}` slot (possibly a nil interface: `Iface(Value::Nil)`).
    Iface(Value),
}

impl Val {
    /// Go's `indirectInterface`: the value inside an interface, invalid for a nil one.
    pub fn indirect(&self) -> Option<&Value> {
        match self {
            Val::Invalid => None,
            Val::Concrete(v) => Some(v),
            Val::Iface(Value::Nil) => None,
            Val::Iface(v) => Some(v),
        }
    }

    /// What a function parameter of type `interface{}` receives: nil for no value.
    pub fn into_value(self) -> Value {
        match self {
            Val::Invalid => Value::Nil,
            Val::Concrete(v) | Val::Iface(v) => v,
        }
    }

    /// An element of a container whose element type is `elem`.
    pub fn element(value: Value, elem: &Type) -> Val {
        if *elem == Type::Interface {
            Val::Iface(value)
        } else {
            Val::Concrete(value)
        }
    }

    /// A value as a concrete one, or invalid for nil.
    fn from_concrete(value: Value) -> Val {
        match value {
            Value::Nil => Val::Invalid,
            v => Val::Concrete(v),
        }
    }

    /// Go's static type name of the value (`interface {}` for interface slots).
    pub fn type_name(&self) -> String {
        match self {
            Val::Invalid => "<nil>".to_string(),
            Val::Iface(_) => "interface {}".to_string(),
            Val::Concrete(v) => v.type_name(),
        }
    }
}

/// What walking a node asks of the enclosing `range`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Flow {
    Normal,
    Break,
    Continue,
}

type Result<T> = std::result::Result<T, Error>;

/// Per-execution state of functions ([`crate::CallContext::extension`]).
#[derive(Default)]
pub(crate) struct Extensions(HashMap<TypeId, Box<dyn Any + Send>>);

/// One template being executed: Go's `state`.
pub(crate) struct State<'e> {
    set: &'e Templates,
    tree: &'e Tree,
    budget: &'e mut Budget,
    extensions: &'e mut Extensions,
    out: &'e mut String,
    vars: Vec<(Arc<str>, Val)>,
    depth: usize,
    at: At<'e>,
}

/// Executes the template `name` of `set` with `data` as dot.
pub(crate) fn execute(
    set: &Templates,
    name: &str,
    data: &Value,
    budget: &mut Budget,
) -> Result<String> {
    let mut out = String::new();
    let mut extensions = Extensions::default();
    let Some(tree) = set.trees.get(name) else {
        return Err(no_template(set, name));
    };
    let mut state = State {
        set,
        tree,
        budget,
        extensions: &mut extensions,
        out: &mut out,
        vars: Vec::new(),
        depth: 0,
        at: At::None,
    };
    state.run(Val::from_concrete(data.clone()))?;
    Ok(out)
}

fn no_template(set: &Templates, name: &str) -> Error {
    Error::Exec(ExecError {
        at: None,
        message: format!(
            "template: no template {} associated with template {}",
            crate::fmt::quote(name),
            crate::fmt::quote(&set.name)
        ),
    })
}

impl<'e> State<'e> {
    fn run(&mut self, dot: Val) -> Result<()> {
        self.vars.push((Arc::from("$"), dot.clone()));
        let tree = self.tree;
        self.walk_list(&dot, &tree.root)?;
        Ok(())
    }

    // ---- errors and budgets ----

    fn here(&self) -> Option<ExecLocation> {
        let pos = self.at.pos()?;
        let mut context = String::new();
        self.at.write(self.tree, &mut context);
        Some(ExecLocation {
            template: self.tree.name.to_string(),
            location: Some(self.tree.location(pos)),
            context,
        })
    }

    /// An execution error at the current node, worded by the caller as Go words it.
    pub(crate) fn error(&self, message: impl Into<String>) -> Error {
        let at = self.here().or_else(|| {
            Some(ExecLocation {
                template: self.tree.name.to_string(),
                location: None,
                context: String::new(),
            })
        });
        Error::Exec(ExecError {
            at,
            message: message.into(),
        })
    }

    fn budget_error(&self, limit: Limit, allowed: u64) -> Error {
        Error::Budget(BudgetError {
            limit,
            allowed,
            at: self.here(),
        })
    }

    /// The output limit ran out while building a value.
    pub(crate) fn output_exceeded(&self) -> Error {
        self.budget_error(Limit::Output, self.budget.limits.max_output as u64)
    }

    pub(crate) fn charge(&mut self, units: u64) -> Result<()> {
        if self.budget.fuel_left < units {
            self.budget.fuel_left = 0;
            return Err(self.budget_error(Limit::Fuel, self.budget.limits.fuel));
        }
        self.budget.fuel_left -= units;
        Ok(())
    }

    pub(crate) fn charge_bytes(&mut self, len: usize) -> Result<()> {
        if len > self.budget.limits.max_output {
            return Err(self.budget_error(Limit::Output, self.budget.limits.max_output as u64));
        }
        self.charge(len as u64)
    }

    /// Writes to the output, charging fuel and holding the output limit.
    fn write(&mut self, s: &str) -> Result<()> {
        if self.out.len() + s.len() > self.budget.limits.max_output {
            return Err(self.budget_error(Limit::Output, self.budget.limits.max_output as u64));
        }
        self.charge(s.len() as u64)?;
        self.out.push_str(s);
        Ok(())
    }

    fn room(&self) -> usize {
        self.budget.limits.max_output.saturating_sub(self.out.len())
    }

    // ---- variables ----

    fn push(&mut self, name: &Arc<str>, value: Val) {
        self.vars.push((name.clone(), value));
    }

    fn set_var(&mut self, name: &str, value: Val) -> Result<()> {
        match self.vars.iter_mut().rev().find(|(n, _)| &**n == name) {
            Some(slot) => {
                slot.1 = value;
                Ok(())
            }
            None => Err(self.error(format!("undefined variable: {name}"))),
        }
    }

    fn set_top_var(&mut self, n: usize, value: Val) {
        let len = self.vars.len();
        self.vars[len - n].1 = value;
    }

    fn var_value(&self, name: &str) -> Result<Val> {
        match self.vars.iter().rev().find(|(n, _)| &**n == name) {
            Some((_, v)) => Ok(v.clone()),
            None => Err(self.error(format!("undefined variable: {name}"))),
        }
    }

    // ---- statements ----

    fn walk_list(&mut self, dot: &Val, list: &'e ListNode) -> Result<Flow> {
        for node in &list.nodes {
            let flow = self.walk(dot, node)?;
            if flow != Flow::Normal {
                return Ok(flow);
            }
        }
        Ok(Flow::Normal)
    }

    fn walk(&mut self, dot: &Val, node: &'e Node) -> Result<Flow> {
        self.at = At::Node(node);
        self.charge(STEP_FUEL)?;
        match node {
            Node::Action { pipe, .. } => {
                let value = self.eval_pipeline(dot, pipe)?;
                if pipe.decl.is_empty() {
                    self.at = At::Node(node);
                    self.print_value(&value)?;
                }
            }
            Node::Break { .. } => return Ok(Flow::Break),
            Node::Continue { .. } => return Ok(Flow::Continue),
            Node::Comment { .. } => {}
            Node::If(b) => return self.walk_if_or_with(false, dot, b),
            Node::With(b) => return self.walk_if_or_with(true, dot, b),
            Node::Range(b) => return self.walk_range(dot, node, b),
            Node::Template { name, pipe, .. } => {
                self.walk_template(dot, node, name, pipe.as_ref())?
            }
            Node::Text { text, .. } => {
                let tree = self.tree;
                self.write(tree.slice(text))?;
            }
        }
        Ok(Flow::Normal)
    }

    fn print_value(&mut self, value: &Val) -> Result<()> {
        match value.indirect() {
            None => self.write("<no value>"),
            Some(Value::String(s)) => {
                let s = s.clone();
                self.write(&s)
            }
            Some(v) => match crate::fmt::print_value_limited(v, self.room()) {
                Ok(text) => self.write(&text),
                Err(_) => {
                    Err(self.budget_error(Limit::Output, self.budget.limits.max_output as u64))
                }
            },
        }
    }

    fn walk_if_or_with(&mut self, with: bool, dot: &Val, b: &'e Branch) -> Result<Flow> {
        let mark = self.vars.len();
        let result = self.walk_if_or_with_inner(with, dot, b);
        self.vars.truncate(mark);
        result
    }

    fn walk_if_or_with_inner(&mut self, with: bool, dot: &Val, b: &'e Branch) -> Result<Flow> {
        let value = self.eval_pipeline(dot, &b.pipe)?;
        let truth = value.indirect().is_some_and(Value::is_true);
        if truth {
            if with {
                self.walk_list(&value, &b.list)
            } else {
                self.walk_list(dot, &b.list)
            }
        } else if let Some(else_list) = &b.else_list {
            self.walk_list(dot, else_list)
        } else {
            Ok(Flow::Normal)
        }
    }

    fn walk_range(&mut self, dot: &Val, node: &'e Node, r: &'e Branch) -> Result<Flow> {
        self.at = At::Node(node);
        let mark = self.vars.len();
        let result = self.walk_range_inner(dot, node, r);
        self.vars.truncate(mark);
        result.map(|_| Flow::Normal)
    }

    fn walk_range_inner(&mut self, dot: &Val, node: &'e Node, r: &'e Branch) -> Result<()> {
        let value = self.eval_pipeline(dot, &r.pipe)?;
        let mark = self.vars.len();
        let collection = match value.indirect() {
            Some(Value::Object(o)) => o.underlying().map(Val::Concrete).unwrap_or(value.clone()),
            _ => value.clone(),
        };
        let ran = match collection.indirect() {
            None => false,
            Some(Value::Int(n, kind)) => {
                if r.pipe.decl.len() > 1 {
                    return Err(self.error(format!(
                        "can't use {} to iterate over more than one variable",
                        crate::fmt::sprint(std::slice::from_ref(&Value::Int(*n, *kind)))
                    )));
                }
                let (n, kind) = (*n, *kind);
                for i in 0..n.max(0) {
                    if self.iteration(
                        node,
                        r,
                        mark,
                        Val::Invalid,
                        Val::Concrete(Value::Int(i, kind)),
                    )? {
                        break;
                    }
                }
                n > 0
            }
            Some(Value::Uint(n, kind)) => {
                if r.pipe.decl.len() > 1 {
                    return Err(self.error(format!(
                        "can't use {} to iterate over more than one variable",
                        n
                    )));
                }
                let (n, kind) = (*n, *kind);
                for i in 0..n {
                    if self.iteration(
                        node,
                        r,
                        mark,
                        Val::Invalid,
                        Val::Concrete(Value::Uint(i, kind)),
                    )? {
                        break;
                    }
                }
                n > 0
            }
            Some(Value::List(list)) => {
                let list = list.clone();
                for (i, item) in list.items.iter().enumerate() {
                    let index = Val::Concrete(Value::int(i as i64));
                    let elem = Val::element(item.clone(), &list.elem);
                    if self.iteration(node, r, mark, index, elem)? {
                        break;
                    }
                }
                !list.items.is_empty()
            }
            Some(Value::Bytes(bytes)) => {
                let bytes = bytes.clone();
                for (i, b) in bytes.iter().enumerate() {
                    let index = Val::Concrete(Value::int(i as i64));
                    let elem = Val::Concrete(Value::Uint(*b as u64, crate::UintKind::Uint8));
                    if self.iteration(node, r, mark, index, elem)? {
                        break;
                    }
                }
                !bytes.is_empty()
            }
            Some(Value::Map(map)) => {
                let map = map.clone();
                let entries = map.snapshot();
                for (key, item) in &entries {
                    let index = Val::Concrete(Value::string(key.as_str()));
                    let elem = Val::element(item.clone(), map.elem());
                    if self.iteration(node, r, mark, index, elem)? {
                        break;
                    }
                }
                !entries.is_empty()
            }
            Some(other) => {
                return Err(self.error(format!(
                    "range can't iterate over {}",
                    crate::fmt::sprint(std::slice::from_ref(other))
                )));
            }
        };
        if !ran && let Some(else_list) = &r.else_list {
            self.walk_list(dot, else_list)?;
        }
        Ok(())
    }

    /// One pass of a range body; returns whether `{{break}}` ended the loop.
    fn iteration(
        &mut self,
        node: &'e Node,
        r: &'e Branch,
        mark: usize,
        index: Val,
        elem: Val,
    ) -> Result<bool> {
        if self.budget.iterations_left == 0 {
            self.at = At::Node(node);
            return Err(self.budget_error(
                Limit::RangeIterations,
                self.budget.limits.max_range_iterations,
            ));
        }
        self.budget.iterations_left -= 1;
        // An iteration is a step even when its body is empty.
        self.at = At::Node(node);
        self.charge(STEP_FUEL)?;
        let decl = &r.pipe.decl;
        if !decl.is_empty() {
            if r.pipe.is_assign {
                let first = if decl.len() > 1 {
                    index.clone()
                } else {
                    elem.clone()
                };
                self.set_var(&decl[0].name, first)?;
            } else {
                self.set_top_var(1, elem.clone());
            }
        }
        if decl.len() > 1 {
            if r.pipe.is_assign {
                self.set_var(&decl[1].name, elem.clone())?;
            } else {
                self.set_top_var(2, index);
            }
        }
        let flow = self.walk_list(&elem, &r.list);
        self.vars.truncate(mark);
        Ok(flow? == Flow::Break)
    }

    fn walk_template(
        &mut self,
        dot: &Val,
        node: &'e Node,
        name: &str,
        pipe: Option<&'e Pipe>,
    ) -> Result<()> {
        self.at = At::Node(node);
        let set = self.set;
        let Some(tree) = set.trees.get(name) else {
            return Err(self.error(format!("template {} not defined", crate::fmt::quote(name))));
        };
        self.check_depth()?;
        let dot = match pipe {
            Some(pipe) => self.eval_pipeline(dot, pipe)?,
            None => Val::Invalid,
        };
        let mut nested = State {
            set,
            tree,
            budget: &mut *self.budget,
            extensions: &mut *self.extensions,
            out: &mut *self.out,
            vars: Vec::new(),
            depth: self.depth + 1,
            at: At::None,
        };
        nested.run(dot)
    }

    fn check_depth(&self) -> Result<()> {
        if self.depth + 1 >= self.budget.limits.max_depth {
            return Err(self.budget_error(Limit::Depth, self.budget.limits.max_depth as u64));
        }
        Ok(())
    }

    // ---- what functions reach through CallContext ----

    /// Renders the template `name` of the current set into a string (Helm's `include`).
    pub(crate) fn execute_nested(&mut self, name: &str, data: Value) -> Result<String> {
        let set = self.set;
        let Some(tree) = set.trees.get(name) else {
            return Err(no_template(set, name));
        };
        self.run_nested(set, tree, data)
    }

    fn run_nested(&mut self, set: &Templates, tree: &Tree, data: Value) -> Result<String> {
        self.check_depth()?;
        let mut out = String::new();
        let mut nested = State {
            set,
            tree,
            budget: &mut *self.budget,
            extensions: &mut *self.extensions,
            out: &mut out,
            vars: Vec::new(),
            depth: self.depth + 1,
            at: At::None,
        };
        nested.run(Val::from_concrete(data))?;
        Ok(out)
    }

    pub(crate) fn has_template(&self, name: &str) -> bool {
        self.set.trees.contains_key(name)
    }

    /// Parses `text` into a copy of the current set and renders it (Helm's `tpl`).
    pub(crate) fn parse_and_execute(
        &mut self,
        name: &str,
        text: &str,
        data: Value,
    ) -> Result<String> {
        self.charge_bytes(text.len())?;
        let mut overlay = self.set.clone();
        // Go's `t.New(name).Parse(text)` then `t.Execute`: the text's own tree runs even when it is
        // empty and so does not replace a template of the same name in the set (Helm's `tpl` of
        // an empty string inside another `tpl` renders nothing, it does not run the outer text).
        let Some(tree) = overlay.parse_returning(name, text)? else {
            return Err(no_template(&overlay, name));
        };
        self.run_nested(&overlay, &tree, data)
    }

    pub(crate) fn template_name(&self) -> &str {
        &self.tree.name
    }

    pub(crate) fn missing_key(&self) -> MissingKey {
        self.set.options.missing_key
    }

    pub(crate) fn extension<T: Any + Default + Send>(&mut self) -> &mut T {
        self.extensions
            .0
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Box::new(T::default()))
            .downcast_mut::<T>()
            .expect("extension slots are keyed by their type")
    }

    // ---- pipelines and commands ----

    fn eval_pipeline(&mut self, dot: &Val, pipe: &'e Pipe) -> Result<Val> {
        self.at = At::Pipe(pipe);
        let mut value: Option<Val> = None;
        for cmd in &pipe.cmds {
            let v = self.eval_command(dot, cmd, value.take())?;
            // An interface{} result is unwrapped: a nil one becomes no value.
            value = Some(match v {
                Val::Iface(Value::Nil) => Val::Invalid,
                Val::Iface(v) => Val::Concrete(v),
                other => other,
            });
        }
        let value = value.unwrap_or(Val::Invalid);
        for variable in &pipe.decl {
            if pipe.is_assign {
                self.set_var(&variable.name, value.clone())?;
            } else {
                self.push(&variable.name, value.clone());
            }
        }
        Ok(value)
    }

    fn not_a_function(&self, args: &'e [Arg], has_final: bool) -> Result<()> {
        if args.len() > 1 || has_final {
            let mut name = String::new();
            At::Arg(&args[0]).write(self.tree, &mut name);
            return Err(self.error(format!("can't give argument to non-function {name}")));
        }
        Ok(())
    }

    fn eval_command(
        &mut self,
        dot: &Val,
        cmd: &'e crate::parse::node::Command,
        last: Option<Val>,
    ) -> Result<Val> {
        self.charge(STEP_FUEL)?;
        let first = &cmd.args[0];
        match first {
            Arg::Field { ident, .. } => {
                self.at = At::Arg(first);
                return self.eval_field_chain(dot, dot.clone(), first, ident, &cmd.args[1..], last);
            }
            Arg::Chain { .. } => return self.eval_chain(dot, first, &cmd.args[1..], last),
            Arg::Identifier { name, .. } => {
                self.at = At::Arg(first);
                return self.eval_function(
                    dot,
                    name,
                    call::Site::Command(cmd),
                    &cmd.args[1..],
                    last,
                );
            }
            Arg::Pipe(pipe) => {
                self.not_a_function(&cmd.args, last.is_some())?;
                return self.eval_pipeline(dot, pipe);
            }
            Arg::Variable { .. } => return self.eval_variable(dot, first, &cmd.args[1..], last),
            _ => {}
        }
        self.at = At::Arg(first);
        self.not_a_function(&cmd.args, last.is_some())?;
        match first {
            Arg::Bool { value, .. } => Ok(Val::Concrete(Value::Bool(*value))),
            Arg::Dot { .. } => Ok(dot.clone()),
            Arg::Nil { .. } => Err(self.error("nil is not a command")),
            Arg::Number(n) => self.ideal_constant(first, n),
            Arg::String { text, .. } => Ok(Val::Concrete(Value::String(text.clone()))),
            _ => Err(self.error("can't evaluate command")),
        }
    }

    /// A number constant with no type to fit: Go's `idealConstant`.
    fn ideal_constant(&mut self, node: &'e Arg, n: &Number) -> Result<Val> {
        self.at = At::Arg(node);
        let text = &*n.text;
        if n.is_complex {
            return Ok(Val::Concrete(Value::object(crate::value::Complex {
                re: n.float,
                im: n.imag,
            })));
        }
        let hex_int = text.len() > 2
            && text.starts_with('0')
            && matches!(text.as_bytes()[1], b'x' | b'X')
            && !text.contains(['p', 'P']);
        let rune_int = text.starts_with('\'');
        if n.is_float && !hex_int && !rune_int && text.contains(['.', 'e', 'E', 'p', 'P']) {
            return Ok(Val::Concrete(Value::float(n.float)));
        }
        if n.is_int {
            return Ok(Val::Concrete(Value::int(n.int)));
        }
        if n.is_uint {
            return Err(self.error(format!("{text} overflows int")));
        }
        Ok(Val::Invalid)
    }

    fn eval_chain(
        &mut self,
        dot: &Val,
        chain: &'e Arg,
        args: &'e [Arg],
        last: Option<Val>,
    ) -> Result<Val> {
        self.at = At::Arg(chain);
        let Arg::Chain { node, fields, .. } = chain else {
            return Err(self.error("internal error: not a chain"));
        };
        if let Arg::Nil { .. } = **node {
            let mut text = String::new();
            At::Arg(chain).write(self.tree, &mut text);
            return Err(self.error(format!("indirection through explicit nil in {text}")));
        }
        let receiver = self.eval_arg_untyped(dot, node)?;
        self.eval_field_chain(dot, receiver, chain, fields, args, last)
    }

    fn eval_variable(
        &mut self,
        dot: &Val,
        variable: &'e Arg,
        args: &'e [Arg],
        last: Option<Val>,
    ) -> Result<Val> {
        self.at = At::Arg(variable);
        let Arg::Variable { ident, .. } = variable else {
            return Err(self.error("internal error: not a variable"));
        };
        let value = self.var_value(&ident[0])?;
        if ident.len() == 1 {
            // `args` excludes the variable itself; Go's check counts it.
            if !args.is_empty() || last.is_some() {
                return Err(self.error(format!("can't give argument to non-function {}", ident[0])));
            }
            return Ok(value);
        }
        self.eval_field_chain(dot, value, variable, &ident[1..], args, last)
    }

    fn eval_field_chain(
        &mut self,
        dot: &Val,
        mut receiver: Val,
        node: &'e Arg,
        ident: &'e [Arc<str>],
        args: &'e [Arg],
        last: Option<Val>,
    ) -> Result<Val> {
        let n = ident.len();
        for name in &ident[..n - 1] {
            receiver = self.eval_field(dot, name, node, &[], None, receiver)?;
        }
        self.eval_field(dot, &ident[n - 1], node, args, last, receiver)
    }

    fn eval_field(
        &mut self,
        dot: &Val,
        name: &str,
        node: &'e Arg,
        args: &'e [Arg],
        last: Option<Val>,
        receiver: Val,
    ) -> Result<Val> {
        self.charge(STEP_FUEL)?;
        let static_type = receiver.type_name();
        let value = match receiver {
            Val::Invalid => {
                if self.set.options.missing_key == MissingKey::Error {
                    return Err(self.error(format!(
                        "nil data; no entry for key {}",
                        crate::fmt::quote(name)
                    )));
                }
                return Ok(Val::Invalid);
            }
            Val::Iface(Value::Nil) | Val::Concrete(Value::Nil) => {
                return Err(self.error(format!("nil pointer evaluating {static_type}.{name}")));
            }
            Val::Concrete(v) | Val::Iface(v) => v,
        };
        let has_args = !args.is_empty() || last.is_some();
        if let Value::Object(object) = &value {
            if let Some(signature) = object.method(name) {
                let object = object.clone();
                let callee = call::Callee::Method {
                    object: &object,
                    name,
                    signature: &signature,
                };
                return self.eval_call(dot, callee, call::Site::Arg(node), name, args, last);
            }
            if object.is_nil() {
                return Err(self.error(format!("nil pointer evaluating {static_type}.{name}")));
            }
            if let Some(field) = object.field(name) {
                if has_args {
                    return Err(self.error(format!(
                        "{name} has arguments but cannot be invoked as function"
                    )));
                }
                return Ok(Val::element(field.clone(), &field.go_type_or_interface()));
            }
            if let Some(Value::Map(map)) = object.underlying() {
                return self.map_field(&map, name, has_args);
            }
        }
        if let Value::Map(map) = &value {
            return self.map_field(map, name, has_args);
        }
        Err(self.error(format!("can't evaluate field {name} in type {static_type}")))
    }

    fn map_field(&mut self, map: &crate::value::Map, name: &str, has_args: bool) -> Result<Val> {
        if has_args {
            return Err(self.error(format!("{name} is not a method but has arguments")));
        }
        if let Some(v) = map.get(name) {
            return Ok(Val::element(v, map.elem()));
        }
        match self.set.options.missing_key {
            MissingKey::Default => Ok(Val::Invalid),
            MissingKey::Zero => Ok(Val::element(map.elem().zero(), map.elem())),
            MissingKey::Error => Err(self.error(format!(
                "map has no entry for key {}",
                crate::fmt::quote(name)
            ))),
        }
    }
}

impl Value {
    /// The static type an object field is seen with: its own (fields are not interface slots).
    fn go_type_or_interface(&self) -> Type {
        match self {
            Value::Nil => Type::Interface,
            other => other.go_type(),
        }
    }
}
