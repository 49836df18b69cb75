//! The functions Helm's engine gives templates: Sprig's (less `env` and `expandenv`), Helm's own
//! (`toYaml`, `required`, `lookup`...), and the two that render templates, `include` and `tpl`.
//!
//! `lookup` returns an empty map, as it does in `helm template`; the operator renders the same
//! way, so what the CLI prints is what the operator applies.

use std::sync::{Arc, OnceLock};

use capstan_gotemplate::{CallContext, Error, FuncError, Funcs, Signature, Type, Value};

/// The name of Helm's template set, which `tpl` parses its text under and which errors about a
/// missing template name.
pub(crate) const SET_NAME: &str = "gotpl";

/// How `required` and `fail` behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Rendering: they stop the render with their message.
    Render,
    /// `helm lint`'s engine: they give an empty string, so linting goes on.
    Lint,
}

/// The function set for `mode`, built once per process.
pub(crate) fn funcs(mode: Mode) -> Arc<Funcs> {
    static RENDER: OnceLock<Arc<Funcs>> = OnceLock::new();
    static LINT: OnceLock<Arc<Funcs>> = OnceLock::new();
    let cell = match mode {
        Mode::Render => &RENDER,
        Mode::Lint => &LINT,
    };
    cell.get_or_init(|| Arc::new(build(mode))).clone()
}

fn build(mode: Mode) -> Funcs {
    let mut funcs = Funcs::new();
    capstan_gotemplate::sprig::register(&mut funcs);
    funcs.register(
        "include",
        Signature::new([Type::String, Type::Interface]),
        |ctx, args| {
            let name = args[0].as_str().unwrap_or_default();
            let rendered = ctx.execute_template(name, args[1].clone())?;
            Ok(Value::string(rendered))
        },
    );
    funcs.register(
        "tpl",
        Signature::new([Type::String, Type::Interface]),
        |ctx, args| {
            let text = args[0].as_str().unwrap_or_default();
            tpl(ctx, text, args[1].clone()).map(Value::string)
        },
    );
    if mode == Mode::Lint {
        funcs.register(
            "required",
            Signature::new([Type::String, Type::Interface]),
            |_, args| {
                let missing = match &args[1] {
                    Value::Nil => true,
                    Value::String(text) => text.is_empty(),
                    _ => false,
                };
                Ok(if missing {
                    Value::string("")
                } else {
                    args[1].clone()
                })
            },
        );
        funcs.register("fail", Signature::new([Type::String]), |_, _| {
            Ok(Value::string(""))
        });
    }
    funcs
}

/// Helm's `tpl`: parses `text` into a copy of the template set under the set's name and renders
/// it with `data`; `<no value>` is removed from the result as from every rendered file.
fn tpl(ctx: &mut CallContext<'_, '_>, text: &str, data: Value) -> Result<String, FuncError> {
    match ctx.parse_and_execute(SET_NAME, text, data) {
        Ok(rendered) => Ok(rendered.replace("<no value>", "")),
        Err(FuncError::Template(error)) => match *error {
            Error::Parse(parse) => Err(FuncError::new(format!(
                "cannot parse template {}: {parse}",
                capstan_gotemplate::fmt::quote(text)
            ))),
            Error::Budget(budget) => Err(FuncError::Budget(Box::new(budget))),
            other => Err(FuncError::new(format!(
                "error during tpl function execution for {}: {other}",
                capstan_gotemplate::fmt::quote(text)
            ))),
        },
        Err(other) => Err(other),
    }
}

/// `toYaml` of `value`, as Helm's `AsConfig`, `AsSecrets` and `Values.YAML` produce it.
pub(crate) fn to_yaml(ctx: &mut CallContext<'_, '_>, value: &Value) -> Result<String, FuncError> {
    let funcs = funcs(Mode::Render);
    let Some(to_yaml) = funcs.get("toYaml") else {
        return Err(FuncError::new("toYaml is not registered"));
    };
    let yaml = (to_yaml.call)(ctx, std::slice::from_ref(value))?;
    Ok(yaml.as_str().unwrap_or_default().to_string())
}
