//! Test support shared by the operator's in-process tests.

pub mod fake_api;
