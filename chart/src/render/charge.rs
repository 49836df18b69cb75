//! Charging Capstan's own helpers to the template engine's fuel.
//!
//! The engine charges the value a helper returns, but only once the helper has returned it: a
//! helper that builds a large string would allocate it first. So every helper that makes data
//! checks, before allocating, that the remaining fuel can pay for what it is about to make
//! ([`ensure_room`]), or writes it through a [`BoundedText`] that stops at that size when the size
//! is not known beforehand (serializers).

use std::cell::Cell;
use std::rc::Rc;

use minijinja::{Error, ErrorKind, State};

/// Bytes of data one unit of fuel pays for, as the engine counts them.
pub(crate) const BYTES_PER_FUEL: u64 = 64;

/// What one parsed node (a scalar, list or map held as a template value) is charged, in bytes:
/// about what it occupies in memory.
pub(crate) const NODE_BYTES: u64 = 64;

/// The bytes the remaining fuel of `state` can still pay for; `None` when fuel is not tracked.
pub(crate) fn room(state: &State) -> Option<u64> {
    state
        .fuel_levels()
        .map(|(_, remaining)| remaining.saturating_mul(BYTES_PER_FUEL))
}

/// Fails with the engine's out-of-fuel error, before anything is allocated, unless the remaining
/// fuel can pay for `bytes` of new data. Nothing is consumed when it can: the engine charges the
/// result once it exists.
pub(crate) fn ensure_room(state: &State, bytes: u64) -> Result<(), Error> {
    match room(state) {
        Some(room) if bytes >= room => Err(exhaust(state)),
        _ => Ok(()),
    }
}

/// Charges `bytes` of work or data that the engine does not see (a parsed tree, a deep copy).
pub(crate) fn charge_bytes(state: &State, bytes: u64) -> Result<(), Error> {
    state.consume_fuel(bytes.div_ceil(BYTES_PER_FUEL))
}

/// Uses up the remaining fuel and returns the out-of-fuel error, so that the render stops here
/// and is reported as having run out, whatever the caller does with the error.
pub(crate) fn exhaust(state: &State) -> Error {
    let remaining = state.fuel_levels().map_or(0, |(_, remaining)| remaining);
    match state.consume_fuel(remaining.saturating_add(1)) {
        Err(error) => error,
        Ok(()) => Error::from(ErrorKind::OutOfFuel),
    }
}

/// A string that refuses to grow past a limit: serializers write into it, and a value whose text
/// would not fit stops being written at the limit instead of being built whole first.
pub(crate) struct BoundedText {
    text: Vec<u8>,
    limit: u64,
    overflowed: bool,
}

impl BoundedText {
    /// A text limited to what the remaining fuel of `state` can pay for.
    pub(crate) fn for_state(state: &State) -> BoundedText {
        BoundedText {
            text: Vec::new(),
            limit: room(state).unwrap_or(u64::MAX),
            overflowed: false,
        }
    }

    /// The text, or the out-of-fuel error when it outgrew the limit. `failure` is the writer's
    /// own error, reported when the text did not overflow (a value that cannot be serialized).
    pub(crate) fn finish<E>(
        self,
        state: &State,
        written: Result<(), E>,
        failure: impl FnOnce(E) -> Error,
    ) -> Result<String, Error> {
        if self.overflowed {
            return Err(exhaust(state));
        }
        written.map_err(failure)?;
        String::from_utf8(self.text).map_err(|_| {
            Error::new(
                ErrorKind::InvalidOperation,
                "a serializer produced text that is not UTF-8",
            )
        })
    }

    fn push(&mut self, piece: &[u8]) -> bool {
        if self.overflowed || (self.text.len() + piece.len()) as u64 >= self.limit {
            self.overflowed = true;
            return false;
        }
        self.text.extend_from_slice(piece);
        true
    }
}

impl std::fmt::Write for BoundedText {
    fn write_str(&mut self, piece: &str) -> std::fmt::Result {
        if self.push(piece.as_bytes()) {
            Ok(())
        } else {
            Err(std::fmt::Error)
        }
    }
}

impl std::io::Write for BoundedText {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.push(bytes) {
            Ok(bytes.len())
        } else {
            Err(std::io::Error::other(
                "the text outgrew the render's budget",
            ))
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// YAML parser options that stop at `max_nodes` nodes or `max_events` parser events and record in `seen` how many nodes were
/// parsed, whether the parse succeeded or not. Anchors and aliases replay parts of the document,
/// so the parser's events (which replays produce too) and the events kept for replaying are
/// bounded by the same figure: a few lines of aliases cannot stand for a huge tree.
pub(crate) fn counted_yaml_options(
    max_nodes: usize,
    max_events: usize,
    seen: &Rc<Cell<usize>>,
) -> serde_saphyr::Options {
    let mut budget = serde_saphyr::Budget::default();
    budget.max_nodes = max_nodes;
    // A node is one event (a scalar) or two (a list or map); a document adds a few.
    budget.max_events = budget
        .max_events
        .min(max_nodes.saturating_mul(2) + 16)
        .min(max_events);
    budget.max_aliases = budget.max_aliases.min(max_nodes);
    budget.max_anchors = budget.max_anchors.min(max_nodes);
    budget.max_recorded_anchor_events = budget.max_recorded_anchor_events.min(max_nodes);
    let mut options = serde_saphyr::Options::default();
    options.budget = Some(budget);
    let seen = Rc::clone(seen);
    options.with_budget_report(move |report: serde_saphyr::budget::BudgetReport| {
        seen.set(report.nodes)
    })
}
