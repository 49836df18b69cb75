//! Calling functions and methods: Go's `evalFunction`, `evalCall`, `evalArg` and
//! `validateType`, with their argument rules and error texts.

use std::sync::Arc;

use super::builtins::{self, Builtin};
use super::{State, Val};
use crate::error::Error;
use crate::funcs::{CallContext, FuncError, Function, Signature};
use crate::parse::node::{Arg, At, Command};
use crate::set::STEP_FUEL;
use crate::value::{Object, Type, Value};

type Result<T> = std::result::Result<T, Error>;

/// The node a call's error is reported at: the whole command for a function, the field node for
/// a method.
#[derive(Clone, Copy)]
pub(crate) enum Site<'e> {
    Command(&'e Command),
    Arg(&'e Arg),
}

/// What is being called.
pub(crate) enum Callee<'a> {
    Builtin(Builtin),
    Func(&'a Function),
    Method {
        object: &'a Arc<dyn Object>,
        name: &'a str,
        signature: &'a Signature,
    },
}

/// A parameter type: a Go type, or `reflect.Value` (the builtins' parameters, which see values
/// exactly as the executor holds them, "no value" included).
#[derive(Clone, Copy)]
pub(crate) enum Param<'a> {
    Reflect,
    Go(&'a Type),
}

impl Callee<'_> {
    fn signature(&self) -> (Vec<Param<'_>>, Option<Param<'_>>) {
        match self {
            Callee::Builtin(b) => b.signature(),
            Callee::Func(f) => go_signature(&f.signature),
            Callee::Method { signature, .. } => go_signature(signature),
        }
    }
}

fn go_signature(sig: &Signature) -> (Vec<Param<'_>>, Option<Param<'_>>) {
    (
        sig.params.iter().map(Param::Go).collect(),
        sig.variadic.as_ref().map(Param::Go),
    )
}

impl<'e> State<'e> {
    pub(super) fn eval_function(
        &mut self,
        dot: &Val,
        name: &str,
        site: Site<'e>,
        args: &'e [Arg],
        last: Option<Val>,
    ) -> Result<Val> {
        let set = self.set;
        if let Some(function) = set.funcs.get(name) {
            return self.eval_call(dot, Callee::Func(function), site, name, args, last);
        }
        match builtins::lookup(name) {
            Some(b) => self.eval_call(dot, Callee::Builtin(b), site, name, args, last),
            None => Err(self.error(format!(
                "{} is not a defined function",
                crate::fmt::quote(name)
            ))),
        }
    }

    pub(super) fn eval_call(
        &mut self,
        dot: &Val,
        callee: Callee<'_>,
        site: Site<'e>,
        name: &str,
        args: &'e [Arg],
        last: Option<Val>,
    ) -> Result<Val> {
        self.charge(STEP_FUEL)?;
        let (params, variadic) = callee.signature();
        let num_in = args.len() + usize::from(last.is_some());
        let mut num_fixed = args.len();
        if variadic.is_some() {
            num_fixed = params.len();
            if num_in < num_fixed {
                return Err(self.error(format!(
                    "wrong number of args for {name}: want at least {} got {}",
                    params.len(),
                    args.len()
                )));
            }
        } else if num_in != params.len() {
            return Err(self.error(format!(
                "wrong number of args for {name}: want {} got {num_in}",
                params.len()
            )));
        }

        if let Callee::Builtin(b @ (Builtin::And | Builtin::Or)) = callee {
            let mut v = Val::Invalid;
            for arg in args {
                v = self.eval_arg(dot, Param::Reflect, arg)?;
                if builtins::truth(&v) == (b == Builtin::Or) {
                    return Ok(v);
                }
            }
            if let Some(last) = last {
                v = last;
            }
            return Ok(v);
        }

        let mut argv = Vec::with_capacity(num_in);
        let mut i = 0;
        while i < num_fixed && i < args.len() {
            argv.push(self.eval_arg(dot, params[i], &args[i])?);
            i += 1;
        }
        if let Some(rest) = variadic {
            while i < args.len() {
                argv.push(self.eval_arg(dot, rest, &args[i])?);
                i += 1;
            }
        }
        if let Some(last) = last {
            let t = match variadic {
                Some(rest) if num_in > num_fixed => rest,
                Some(_) => params[num_in - 1],
                None => params[params.len() - 1],
            };
            argv.push(self.validate_type(last, t)?);
        }

        let result = match callee {
            Callee::Builtin(b) => {
                let callee_name = match (b, args.first()) {
                    (Builtin::Call, Some(first)) => {
                        let mut s = String::new();
                        At::Arg(first).write(self.tree, &mut s);
                        s
                    }
                    _ => String::new(),
                };
                builtins::call(self, b, argv, &callee_name)
            }
            Callee::Func(function) => {
                let values: Vec<Value> = argv.into_iter().map(Val::into_value).collect();
                let mut ctx = CallContext { state: self };
                (function.call)(&mut ctx, &values).map(iface_result)
            }
            Callee::Method { object, name, .. } => {
                let values: Vec<Value> = argv.into_iter().map(Val::into_value).collect();
                let object = object.clone();
                let mut ctx = CallContext { state: self };
                object
                    .call_method(name, &mut ctx, &values)
                    .map(iface_result)
            }
        };
        result.map_err(|err| {
            self.at = match site {
                Site::Command(c) => At::Command(c),
                Site::Arg(a) => At::Arg(a),
            };
            self.call_error(name, err)
        })
    }

    fn call_error(&self, name: &str, err: FuncError) -> Error {
        match err {
            FuncError::Budget(b) => Error::Budget(*b),
            other => self.error(format!("error calling {name}: {other}")),
        }
    }

    /// Go's `evalArg`: one argument, checked against (or, for literals, converted to) `typ`.
    fn eval_arg(&mut self, dot: &Val, typ: Param<'_>, arg: &'e Arg) -> Result<Val> {
        self.at = At::Arg(arg);
        self.charge(STEP_FUEL)?;
        let value = match arg {
            Arg::Dot { .. } => dot.clone(),
            Arg::Nil { .. } => {
                return match typ {
                    Param::Reflect => Ok(Val::Invalid),
                    Param::Go(t) if t.can_be_nil() => Ok(Val::Concrete(t.zero())),
                    Param::Go(t) => Err(self.error(format!("cannot assign nil to {t}"))),
                };
            }
            Arg::Field { ident, .. } => {
                self.eval_field_chain(dot, dot.clone(), arg, ident, &[], None)?
            }
            Arg::Variable { .. } => self.eval_variable(dot, arg, &[], None)?,
            Arg::Pipe(pipe) => self.eval_pipeline(dot, pipe)?,
            Arg::Identifier { name, .. } => {
                self.eval_function(dot, name, Site::Arg(arg), &[], None)?
            }
            Arg::Chain { .. } => self.eval_chain(dot, arg, &[], None)?,
            Arg::Bool { .. } | Arg::Number(_) | Arg::String { .. } => {
                return self.eval_literal(typ, arg);
            }
        };
        // Go reports a type mismatch at whatever node evaluation reached last.
        self.validate_type(value, typ)
    }

    /// `evalArg` with no type (a chain's receiver).
    pub(super) fn eval_arg_untyped(&mut self, dot: &Val, arg: &'e Arg) -> Result<Val> {
        self.eval_arg(dot, Param::Reflect, arg)
    }

    fn eval_literal(&mut self, typ: Param<'_>, arg: &'e Arg) -> Result<Val> {
        let found = |state: &Self, what: &str| {
            let mut text = String::new();
            At::Arg(arg).write(state.tree, &mut text);
            Err(state.error(format!("expected {what}; found {text}")))
        };
        let t = match typ {
            Param::Reflect | Param::Go(Type::Interface) => {
                return match arg {
                    Arg::Bool { value, .. } => Ok(Val::Concrete(Value::Bool(*value))),
                    Arg::Number(n) => self.ideal_constant(arg, n),
                    Arg::String { text, .. } => Ok(Val::Concrete(Value::String(text.clone()))),
                    _ => Err(self.error("internal error: not a literal")),
                };
            }
            Param::Go(t) => t,
        };
        match (t, arg) {
            (Type::Bool, Arg::Bool { value, .. }) => Ok(Val::Concrete(Value::Bool(*value))),
            (Type::Bool, _) => found(self, "bool"),
            (Type::Float(k), Arg::Number(n)) if n.is_float && !n.is_complex => {
                Ok(Val::Concrete(Value::Float(n.float, *k)))
            }
            (Type::Float(_), _) => found(self, "float"),
            (Type::Int(k), Arg::Number(n)) if n.is_int && !n.is_complex => {
                Ok(Val::Concrete(Value::Int(builtins::wrap_int(n.int, *k), *k)))
            }
            (Type::Int(_), _) => found(self, "integer"),
            (Type::Uint(k), Arg::Number(n)) if n.is_uint && !n.is_complex => Ok(Val::Concrete(
                Value::Uint(builtins::wrap_uint(n.uint, *k), *k),
            )),
            (Type::Uint(_), _) => found(self, "unsigned integer"),
            (Type::String, Arg::String { text, .. }) => {
                Ok(Val::Concrete(Value::String(text.clone())))
            }
            (Type::String, _) => found(self, "string"),
            (t, _) => {
                let mut text = String::new();
                At::Arg(arg).write(self.tree, &mut text);
                Err(self.error(format!("can't handle {text} for arg of type {t}")))
            }
        }
    }

    /// Go's `validateType`: a computed value against a parameter type.
    fn validate_type(&mut self, value: Val, typ: Param<'_>) -> Result<Val> {
        let Param::Go(t) = typ else {
            return Ok(value);
        };
        match value {
            Val::Invalid => {
                if t.can_be_nil() {
                    Ok(Val::Concrete(t.zero()))
                } else {
                    Err(self.error(format!("invalid value; expected {t}")))
                }
            }
            Val::Iface(Value::Nil) | Val::Concrete(Value::Nil) => {
                if *t == Type::Interface {
                    Ok(Val::Iface(Value::Nil))
                } else {
                    Err(self.error(format!(
                        "wrong type for value; expected {t}; got interface {{}}"
                    )))
                }
            }
            Val::Iface(v) | Val::Concrete(v) => {
                if *t == Type::Interface || v.go_type() == *t {
                    return Ok(Val::Concrete(v));
                }
                // A named slice or map type passes as its underlying unnamed type.
                if let Value::Object(o) = &v
                    && let Some(inner) = o.underlying().filter(|u| u.go_type() == *t)
                {
                    return Ok(Val::Concrete(inner));
                }
                Err(self.error(format!(
                    "wrong type for value; expected {t}; got {}",
                    v.type_name()
                )))
            }
        }
    }
}

/// A function result as Go sees a returned value: a nil one is a nil interface.
fn iface_result(value: Value) -> Val {
    match value {
        Value::Nil => Val::Iface(Value::Nil),
        v => Val::Concrete(v),
    }
}
