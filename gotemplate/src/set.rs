//! A set of named templates (Go's `*template.Template` with its associated templates), its
//! options, and the budgets an execution runs under.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::Error;
use crate::exec;
use crate::funcs::Funcs;
use crate::parse::{self, Tree};
use crate::value::Value;

/// What a field access on a map does when the key is missing (Go's `missingkey` option).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MissingKey {
    /// `missingkey=default` (also `invalid`): no value, printed `<no value>`.
    #[default]
    Default,
    /// `missingkey=zero`: the zero value of the map's element type (a nil `interface{}` for
    /// `map[string]interface{}`, which still prints `<no value>`). Helm renders with this.
    Zero,
    /// `missingkey=error`: execution stops with `map has no entry for key "x"`. Helm's strict
    /// lint uses this.
    Error,
}

/// Parse and execution options.
#[derive(Clone, Debug)]
pub struct Options {
    /// The `missingkey` option.
    pub missing_key: MissingKey,
    /// The left action delimiter (`{{`).
    pub left_delim: String,
    /// The right action delimiter (`}}`).
    pub right_delim: String,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            missing_key: MissingKey::Default,
            left_delim: "{{".to_string(),
            right_delim: "}}".to_string(),
        }
    }
}

/// The fuel of one execution step (a node, command, field or call); a byte made costs one. So
/// fuel bounds time and data alike: 200 000 000 fuel is about 6 million steps (well under a second)
/// or 200 MB of text.
pub const STEP_FUEL: u64 = 32;

/// Bounds on one execution of an untrusted template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Fuel: [`STEP_FUEL`] units per execution step (node, command, argument, call, `range`
    /// iteration) plus one
    /// per byte written or built by a function.
    pub fuel: u64,
    /// The most bytes one output (the rendered file, or one `include` result) may have, and the
    /// longest string a function may build.
    pub max_output: usize,
    /// How deep `template`, `include` and `tpl` may nest.
    pub max_depth: usize,
    /// How many `range` iterations one execution may run, over all loops.
    pub max_range_iterations: u64,
}

impl Default for Limits {
    /// Generous for real charts (the largest in the corpus use a small fraction), small enough
    /// that a hostile template stops within about a second and a few hundred megabytes.
    fn default() -> Limits {
        Limits {
            fuel: 200_000_000,
            max_output: 64 << 20,
            max_depth: 150,
            max_range_iterations: 10_000_000,
        }
    }
}

/// What is left of the [`Limits`] during executions. One budget can be shared by several
/// executions (all files of a chart) to bound their total.
#[derive(Clone, Debug)]
pub struct Budget {
    pub(crate) limits: Limits,
    pub(crate) fuel_left: u64,
    pub(crate) iterations_left: u64,
}

impl Budget {
    /// A full budget.
    pub fn new(limits: Limits) -> Budget {
        Budget {
            limits,
            fuel_left: limits.fuel,
            iterations_left: limits.max_range_iterations,
        }
    }

    /// The limits it started from.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The fuel used so far.
    pub fn fuel_used(&self) -> u64 {
        self.limits.fuel - self.fuel_left
    }
}

impl Default for Budget {
    fn default() -> Budget {
        Budget::new(Limits::default())
    }
}

/// A set of templates that can call each other by name, with the functions they may use.
///
/// Cloning is cheap (the parsed trees are shared), which is how `tpl` gets a private copy.
#[derive(Clone, Debug)]
pub struct Templates {
    pub(crate) name: Arc<str>,
    pub(crate) trees: HashMap<Arc<str>, Arc<Tree>>,
    pub(crate) funcs: Arc<Funcs>,
    pub(crate) options: Options,
}

impl Templates {
    /// An empty set using these functions (besides the builtins) and default options.
    pub fn new(funcs: Arc<Funcs>) -> Templates {
        Templates::with_options(funcs, Options::default())
    }

    /// An empty set with these functions and options.
    pub fn with_options(funcs: Arc<Funcs>, options: Options) -> Templates {
        Templates {
            name: Arc::from(""),
            trees: HashMap::new(),
            funcs,
            options,
        }
    }

    /// Names the set, as Go's `template.New(name)` does: errors for a missing template say
    /// `no template "x" associated with template "NAME"` (Helm's set is named `gotpl`).
    pub fn set_name(&mut self, name: &str) {
        self.name = Arc::from(name);
    }

    /// The set's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The options.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Changes the options (e.g. `missingkey`) for later executions.
    pub fn options_mut(&mut self) -> &mut Options {
        &mut self.options
    }

    /// The functions.
    pub fn funcs(&self) -> &Arc<Funcs> {
        &self.funcs
    }

    /// Parses `text` as the template `name` and adds it, with every `define` and `block` in it,
    /// to the set (Go's `t.New(name).Parse(text)`): a template replaces an earlier one of the same
    /// name unless its body is empty. On error the set is unchanged.
    pub fn parse(&mut self, name: &str, text: &str) -> Result<(), Error> {
        let trees = parse::parse(name, text, &self.funcs, &self.options)?;
        for tree in trees {
            let keep_old = tree.is_empty() && self.trees.contains_key(&tree.name);
            if !keep_old {
                self.trees.insert(tree.name.clone(), Arc::new(tree));
            }
        }
        Ok(())
    }

    /// Like [`Templates::parse`], returning the tree parsed for `name` itself, which an empty
    /// text leaves out of the set when a template of that name exists (Go's `New(name).Parse`).
    pub(crate) fn parse_returning(
        &mut self,
        name: &str,
        text: &str,
    ) -> Result<Option<Arc<Tree>>, Error> {
        let trees = parse::parse(name, text, &self.funcs, &self.options)?;
        let mut main = None;
        for tree in trees {
            let tree = Arc::new(tree);
            if &*tree.name == name {
                main = Some(tree.clone());
            }
            let keep_old = tree.is_empty() && self.trees.contains_key(&tree.name);
            if !keep_old {
                self.trees.insert(tree.name.clone(), tree);
            }
        }
        Ok(main)
    }

    /// Whether the set has a template `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.trees.contains_key(name)
    }

    /// The names of the templates, in no particular order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.trees.keys().map(|k| &**k)
    }

    /// Renders the template `name` with `data` as dot under a fresh default [`Budget`].
    pub fn render(&self, name: &str, data: &Value) -> Result<String, Error> {
        self.execute(name, data, &mut Budget::default())
    }

    /// Renders the template `name` with `data` as dot, charging `budget`.
    pub fn execute(&self, name: &str, data: &Value, budget: &mut Budget) -> Result<String, Error> {
        exec::execute(self, name, data, budget)
    }
}
