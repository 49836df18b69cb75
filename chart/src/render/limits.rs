//! The bounds of one render, and the running account of what a render has used.
//!
//! A chart is untrusted input: its templates are programs, and the operator runs them for tenants
//! who do not otherwise share anything. Every way a template can make the renderer work or hold
//! memory is therefore charged against a budget that is checked before the work or allocation
//! happens, not after:
//!
//! - *fuel* is the template engine's single currency: one unit per instruction and one per 64 bytes
//!   of data created (strings, list slots, output, captured output). Every helper Capstan adds
//!   charges it too, and checks that the bytes it is about to allocate can be paid for first. Fuel
//!   is granted per template file (which bounds the memory one file can hold at once, its `include`
//!   and `tpl` calls included) and per chart (which bounds the time of the whole render);
//! - the *output* of all templates together is capped while it is written;
//! - the *objects* the output holds are counted while the output is split into YAML documents,
//!   before any is parsed, and the YAML *nodes* parsed are counted as they are read, because a
//!   small text can stand for a large tree.

use std::cell::Cell;

/// Bounds on one render of a chart, its subcharts and `crds/` included.
///
/// The defaults leave a wide margin over the largest public charts while keeping one render within
/// roughly 200 MiB: a template's working data (64 MiB of fuel, up to twice that while strings
/// grow), the output (32 MiB) and the parsed objects (about 50 MiB).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderLimits {
    /// Fuel for one template file, its `include`s and `tpl`s included: about one unit per
    /// instruction or per 64 bytes of data, so this also bounds the memory one file can hold.
    /// Default 1 000 000 (a million instructions, or 64 MiB of strings).
    pub template_fuel: u64,
    /// Fuel for the whole chart, all template files together. Default 20 000 000, about two
    /// seconds of work.
    pub chart_fuel: u64,
    /// Largest rendered output, all template files together, checked as it is written. Default
    /// 32 MiB.
    pub max_output_bytes: usize,
    /// Most objects (non-empty YAML documents, `crds/` included) a chart may render. Default
    /// 10 000.
    pub max_objects: usize,
    /// Most YAML nodes (scalars, lists and maps) in all rendered objects together, counted while
    /// parsing. A node costs about 100 bytes while parsed; default 500 000.
    pub max_yaml_nodes: usize,
}

impl Default for RenderLimits {
    fn default() -> Self {
        RenderLimits {
            template_fuel: 1_000_000,
            chart_fuel: 20_000_000,
            max_output_bytes: 32 * 1024 * 1024,
            max_objects: 10_000,
            max_yaml_nodes: 500_000,
        }
    }
}

/// One of the bounds of [`RenderLimits`], for error messages that say which one was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    TemplateFuel,
    ChartFuel,
    OutputBytes,
    Objects,
    YamlNodes,
}

impl Limit {
    /// The field of [`RenderLimits`] that sets this bound.
    pub fn field(self) -> &'static str {
        match self {
            Limit::TemplateFuel => "template_fuel",
            Limit::ChartFuel => "chart_fuel",
            Limit::OutputBytes => "max_output_bytes",
            Limit::Objects => "max_objects",
            Limit::YamlNodes => "max_yaml_nodes",
        }
    }

    /// The value of this bound in `limits`.
    pub fn value_in(self, limits: &RenderLimits) -> u64 {
        match self {
            Limit::TemplateFuel => limits.template_fuel,
            Limit::ChartFuel => limits.chart_fuel,
            Limit::OutputBytes => limits.max_output_bytes as u64,
            Limit::Objects => limits.max_objects as u64,
            Limit::YamlNodes => limits.max_yaml_nodes as u64,
        }
    }
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.field())
    }
}

/// What a render has used so far, shared by all its template files. The render runs on one
/// thread, so plain cells do.
#[derive(Debug)]
pub(crate) struct Account {
    pub(crate) limits: RenderLimits,
    chart_fuel_left: Cell<u64>,
    output_left: Cell<usize>,
    objects_left: Cell<usize>,
    yaml_nodes_left: Cell<usize>,
}

impl Account {
    pub(crate) fn new(limits: &RenderLimits) -> Account {
        Account {
            limits: limits.clone(),
            chart_fuel_left: Cell::new(limits.chart_fuel),
            output_left: Cell::new(limits.max_output_bytes),
            objects_left: Cell::new(limits.max_objects),
            yaml_nodes_left: Cell::new(limits.max_yaml_nodes),
        }
    }

    /// The fuel the next template file gets, and which limit that amount comes from.
    pub(crate) fn fuel_for_template(&self) -> (u64, Limit) {
        let chart_left = self.chart_fuel_left.get();
        if chart_left < self.limits.template_fuel {
            (chart_left, Limit::ChartFuel)
        } else {
            (self.limits.template_fuel, Limit::TemplateFuel)
        }
    }

    /// Records fuel a template file used.
    pub(crate) fn spend_fuel(&self, fuel: u64) {
        self.chart_fuel_left
            .set(self.chart_fuel_left.get().saturating_sub(fuel));
    }

    /// Takes `bytes` of output; `false` (and nothing taken) when they do not fit.
    pub(crate) fn take_output(&self, bytes: usize) -> bool {
        take(&self.output_left, bytes)
    }

    /// Takes one object; `false` when the chart already rendered as many as it may.
    pub(crate) fn take_object(&self) -> bool {
        take(&self.objects_left, 1)
    }

    /// The YAML nodes still allowed.
    pub(crate) fn yaml_nodes_left(&self) -> usize {
        self.yaml_nodes_left.get()
    }

    /// Records YAML nodes parsed.
    pub(crate) fn spend_yaml_nodes(&self, nodes: usize) {
        self.yaml_nodes_left
            .set(self.yaml_nodes_left.get().saturating_sub(nodes));
    }
}

fn take(left: &Cell<usize>, amount: usize) -> bool {
    match left.get().checked_sub(amount) {
        Some(rest) => {
            left.set(rest);
            true
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_budget_caps_what_a_template_gets() {
        let account = Account::new(&RenderLimits {
            template_fuel: 100,
            chart_fuel: 250,
            ..RenderLimits::default()
        });
        assert_eq!(account.fuel_for_template(), (100, Limit::TemplateFuel));
        account.spend_fuel(200);
        assert_eq!(account.fuel_for_template(), (50, Limit::ChartFuel));
        account.spend_fuel(500);
        assert_eq!(account.fuel_for_template(), (0, Limit::ChartFuel));
    }

    #[test]
    fn output_and_objects_are_taken_until_none_is_left() {
        let account = Account::new(&RenderLimits {
            max_output_bytes: 10,
            max_objects: 1,
            ..RenderLimits::default()
        });
        assert!(account.take_output(6));
        assert!(!account.take_output(5));
        assert!(account.take_output(4));
        assert!(account.take_object());
        assert!(!account.take_object());
    }
}
