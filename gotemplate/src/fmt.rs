//! Go's `fmt` as templates use it.

use crate::value::Value;

/// Go's `fmt.Sprint`.
pub fn sprint(_args: &[Value]) -> String {
    String::new()
}

/// Go's `strconv.Quote`.
pub fn quote(s: &str) -> String {
    format!("{s:?}")
}
