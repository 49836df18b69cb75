//! The executor.

use std::any::Any;

use crate::error::Error;
use crate::set::{Budget, MissingKey, Templates};
use crate::value::Value;

pub(crate) struct State<'e> {
    set: &'e Templates,
}

pub(crate) fn execute(_set: &Templates, _name: &str, _data: &Value, _budget: &mut Budget) -> Result<String, Error> {
    Ok(String::new())
}

impl State<'_> {
    pub fn charge(&mut self, _units: u64) -> Result<(), Error> { Ok(()) }
    pub fn charge_bytes(&mut self, _len: usize) -> Result<(), Error> { Ok(()) }
    pub fn execute_nested(&mut self, _name: &str, _data: Value) -> Result<String, Error> { Ok(String::new()) }
    pub fn has_template(&self, name: &str) -> bool { self.set.contains(name) }
    pub fn parse_and_execute(&mut self, _name: &str, _text: &str, _data: Value) -> Result<String, Error> { Ok(String::new()) }
    pub fn template_name(&self) -> &str { "" }
    pub fn missing_key(&self) -> MissingKey { self.set.options.missing_key }
    pub fn extension<T: Any + Default + Send>(&mut self) -> &mut T { unimplemented!() }
}
