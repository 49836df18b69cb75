//! What a function can do besides computing its result: charge the budget, render templates of
//! the current set (`include`), parse and render text in it (`tpl`), and keep per-execution state.

use std::any::Any;

use super::FuncError;
use crate::MissingKey;
use crate::exec::State;
use crate::value::Value;

/// The executor as a function sees it during one call.
///
/// Everything a function does through the context counts against the same budget as the
/// template that called it, and nested renders report errors with their own template and
/// position.
pub struct CallContext<'a, 'e> {
    pub(crate) state: &'a mut State<'e>,
}

impl CallContext<'_, '_> {
    /// Charges `units` of fuel (one unit is one byte produced, [`crate::STEP_FUEL`] one execution
    /// step). Charge
    /// for work proportional to input size that is not output, e.g. one unit per element a
    /// function walks over.
    pub fn charge(&mut self, units: u64) -> Result<(), FuncError> {
        self.state.charge(units).map_err(FuncError::from)
    }

    /// Charges for a string, list or map of `len` bytes (or elements) that the function is about
    /// to build, and refuses one longer than the output limit. Call it *before* building, with
    /// the size computed from the inputs (`repeat`: count × length), so that a hostile template
    /// cannot make a function allocate more than the limits allow.
    pub fn charge_bytes(&mut self, len: usize) -> Result<(), FuncError> {
        self.state.charge_bytes(len).map_err(FuncError::from)
    }

    /// Renders the template `name` of the current set with `data` as dot (and `$`) into a
    /// string: what Helm's `include` does. Nesting counts against the depth limit.
    ///
    /// A failure inside comes back as [`FuncError::Template`] holding the nested error (whose
    /// text Go would print after `error calling include: `), or as [`FuncError::Budget`].
    pub fn execute_template(&mut self, name: &str, data: Value) -> Result<String, FuncError> {
        self.state
            .execute_nested(name, data)
            .map_err(FuncError::from)
    }

    /// Whether the current set has a template `name` (with a body).
    pub fn has_template(&self, name: &str) -> bool {
        self.state.has_template(name)
    }

    /// Parses `text` as a template called `name` in a copy of the current set (so its `define`s
    /// are visible to itself and to the templates it includes, and disappear afterwards) and
    /// renders it with `data`: what Helm's `tpl` does. Nesting counts against the depth limit.
    ///
    /// A parse failure comes back as [`FuncError::Template`] holding the
    /// [`crate::Error::Parse`].
    pub fn parse_and_execute(
        &mut self,
        name: &str,
        text: &str,
        data: Value,
    ) -> Result<String, FuncError> {
        self.state
            .parse_and_execute(name, text, data)
            .map_err(FuncError::from)
    }

    /// The name of the template being executed (Go's `Template.Name()` of the current one: a
    /// `define` name inside an included template).
    pub fn template_name(&self) -> &str {
        self.state.template_name()
    }

    /// The `missingkey` option of this execution.
    pub fn missing_key(&self) -> MissingKey {
        self.state.missing_key()
    }

    /// Per-execution state of type `T`, created with `T::default()` on first use and shared by
    /// every function call of one top-level execution, nested `include`s and `tpl`s included
    /// (Helm's count of nested includes per template name lives here).
    pub fn extension<T: Any + Default + Send>(&mut self) -> &mut T {
        self.state.extension::<T>()
    }
}
