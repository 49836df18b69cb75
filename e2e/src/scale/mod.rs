//! Measuring many deployments at once: the chart every tool deploys, counting objects that reached
//! a state with one watch, the operator's resource use and its API requests.
//!
//! `e2e/bench` (the `capstan-bench` binary) and the fault tests (`tests/faults.rs`) share these.

pub mod audit;
pub mod bench;
pub mod chart;
pub mod count;
pub mod usage;
