//! Go durations (`90s`, `10m`, `1h30m`) as `interval` and `timeout` hold them.
//!
//! A duration is written by a tenant and read by an operator that serves every tenant, so it is
//! checked twice: the API server refuses anything that is not a Go duration of at most
//! [`MAX_TEXT`] (CEL rules in the CRD's schema), and this parser, which the operator and
//! `capstan lint` share, refuses the same with checked arithmetic, so no text can overflow or
//! panic it. The text is kept as written, so `capstan write` prints what it was given.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest duration accepted, as Go writes it: a year.
pub const MAX_TEXT: &str = "8760h";
/// [`MAX_TEXT`] in nanoseconds.
const MAX_NANOS: u128 = 8760 * 3600 * 1_000_000_000;
/// The longest text accepted (the CEL rules need a bound on their input).
pub const MAX_LENGTH: usize = 64;

/// A non-negative Go duration of at most a year.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Duration {
    value: std::time::Duration,
    text: String,
}

/// Why a text is not a duration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("it is empty")]
    Empty,
    #[error("it is longer than {MAX_LENGTH} characters")]
    TooLong,
    #[error("it is negative")]
    Negative,
    #[error("{0:?} is not a number followed by a unit")]
    Malformed(String),
    #[error("unknown unit {0:?} (expected ns, us, ms, s, m or h)")]
    UnknownUnit(String),
    #[error("it is longer than {MAX_TEXT}")]
    TooLarge,
}

impl Duration {
    /// The duration as a standard one.
    pub fn get(&self) -> std::time::Duration {
        self.value
    }

    /// The text as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl From<Duration> for std::time::Duration {
    fn from(duration: Duration) -> Self {
        duration.value
    }
}

impl From<&Duration> for std::time::Duration {
    fn from(duration: &Duration) -> Self {
        duration.value
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Duration {
    type Err = DurationError;

    /// Go's `time.ParseDuration` syntax: a sequence of decimal numbers, each with an optional
    /// fraction and a unit (`ns`, `us`/`µs`, `ms`, `s`, `m`, `h`), or `0`; a leading `+` is allowed,
    /// a `-` is refused.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(Duration {
            value: std::time::Duration::from_nanos(
                u64::try_from(parse_nanos(text)?).map_err(|_| DurationError::TooLarge)?,
            ),
            text: text.to_string(),
        })
    }
}

fn parse_nanos(text: &str) -> Result<u128, DurationError> {
    if text.len() > MAX_LENGTH {
        return Err(DurationError::TooLong);
    }
    let rest = text.strip_prefix('+').unwrap_or(text);
    if rest.starts_with('-') {
        return Err(DurationError::Negative);
    }
    if rest.is_empty() {
        return Err(DurationError::Empty);
    }
    if rest == "0" {
        return Ok(0);
    }
    let mut total: u128 = 0;
    let mut rest = rest;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| DurationError::Malformed(rest.to_string()))?;
        let (number, after) = rest.split_at(number_end);
        if number.is_empty() {
            return Err(DurationError::Malformed(rest.to_string()));
        }
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_end);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "\u{00b5}s" | "\u{03bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60 * 1_000_000_000,
            "h" => 3600 * 1_000_000_000,
            "" => return Err(DurationError::Malformed(rest.to_string())),
            other => return Err(DurationError::UnknownUnit(other.to_string())),
        };
        total = total
            .checked_add(
                scaled(number, scale).ok_or_else(|| DurationError::Malformed(rest.to_string()))?,
            )
            .filter(|total| *total <= MAX_NANOS)
            .ok_or(DurationError::TooLarge)?;
        rest = after;
    }
    Ok(total)
}

/// `number` (digits with an optional fraction) times `scale` nanoseconds, or `None` when it is
/// not a number or exceeds the maximum (Go's fraction digits beyond a nanosecond are dropped).
fn scaled(number: &str, scale: u128) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    if !whole.bytes().all(|b| b.is_ascii_digit()) || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut value: u128 = 0;
    for digit in whole.bytes() {
        value = value
            .checked_mul(10)?
            .checked_add(u128::from(digit - b'0'))?;
        if value > MAX_NANOS {
            return Some(u128::MAX);
        }
    }
    let mut nanos = value.checked_mul(scale)?;
    let mut place = scale;
    for digit in fraction.bytes() {
        place /= 10;
        if place == 0 {
            break;
        }
        nanos = nanos.checked_add(u128::from(digit - b'0') * place)?;
    }
    Some(nanos)
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<'de, str>::deserialize(deserializer)?;
        text.parse().map_err(|error| {
            serde::de::Error::custom(format!(
                "{text:?} is not a duration: {error}; write a Go duration such as 90s, 10m or 1h30m"
            ))
        })
    }
}

/// A number too long for CEL's `duration()` to convert in every combination that fits
/// [`MAX_LENGTH`].
const LONG_NUMBER: &str = "[0-9]{8,}";

/// The pattern of a Go duration, as the CEL rules check it.
const PATTERN: &str = r"^[+]?(0|([0-9]+([.][0-9]*)?|[.][0-9]+)(ns|us|µs|μs|ms|s|m|h))+$";

impl schemars::JsonSchema for Duration {
    fn schema_name() -> Cow<'static, str> {
        "GoDuration".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "maxLength": MAX_LENGTH,
            "x-kubernetes-validations": [
                {
                    "rule": format!("self.matches('{PATTERN}')"),
                    "message": "must be a Go duration such as 90s, 10m or 1h30m",
                },
                {
                    // Guarded so `duration()` never sees a number it cannot convert: an
                    // evaluation error, unlike a failed rule, is not ratcheted, so it would
                    // block even status writes to an object stored before this rule existed.
                    "rule": format!(
                        "!self.matches('{PATTERN}') || self.matches('{LONG_NUMBER}') || \
                         duration(self) <= duration('{MAX_TEXT}')"
                    ),
                    "message": format!("must be at most {MAX_TEXT}"),
                },
                {
                    "rule": format!("!self.matches('{LONG_NUMBER}')"),
                    "message": format!(
                        "must be at most {MAX_TEXT}, with numbers of at most 7 digits"
                    ),
                },
            ],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nanos(text: &str) -> Result<u128, DurationError> {
        text.parse::<Duration>().map(|d| d.get().as_nanos())
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(nanos("0"), Ok(0));
        assert_eq!(nanos("90s"), Ok(90_000_000_000));
        assert_eq!(nanos("1h30m"), Ok(5_400_000_000_000));
        assert_eq!(nanos("1.5s"), Ok(1_500_000_000));
        assert_eq!(nanos(".5ms"), Ok(500_000));
        assert_eq!(nanos("+10m"), Ok(600_000_000_000));
        assert_eq!(nanos("1µs2ns"), Ok(1_002));
        assert_eq!(nanos("8760h"), Ok(MAX_NANOS));
        assert_eq!("10m".parse::<Duration>().unwrap().to_string(), "10m");
    }

    #[test]
    fn anything_else_is_refused_without_panicking() {
        assert_eq!(nanos(""), Err(DurationError::Empty));
        assert_eq!(nanos("-5m"), Err(DurationError::Negative));
        assert!(matches!(nanos("banana"), Err(DurationError::Malformed(_))));
        assert!(matches!(nanos("5"), Err(DurationError::Malformed(_))));
        assert!(matches!(
            nanos("5 minutes"),
            Err(DurationError::UnknownUnit(_))
        ));
        assert!(matches!(nanos("1d"), Err(DurationError::UnknownUnit(_))));
        assert!(matches!(nanos("1..5s"), Err(DurationError::Malformed(_))));
        assert_eq!(nanos("8761h"), Err(DurationError::TooLarge));
        assert_eq!(nanos("8760h1ns"), Err(DurationError::TooLarge));
        assert_eq!(
            nanos("99999999999999999999999999999999999999999999h"),
            Err(DurationError::TooLarge)
        );
        assert_eq!(nanos(&"1h".repeat(40)), Err(DurationError::TooLong));
        assert_eq!(
            nanos("4000h4000h1000h"),
            Err(DurationError::TooLarge),
            "the sum is checked too"
        );
    }

    #[test]
    fn the_api_server_pattern_agrees_with_the_parser_on_examples() {
        // The same pattern in Rust's regex syntax would need a dependency; check the shape of
        // the rules instead, and that the texts above parse or not as the pattern says.
        let schema = serde_json::to_value(schemars::schema_for!(Duration)).unwrap();
        let rules = schema["x-kubernetes-validations"].as_array().unwrap();
        assert_eq!(rules.len(), 3);
        assert!(
            rules[1]["rule"]
                .as_str()
                .unwrap()
                .contains("duration('8760h')")
        );
        assert_eq!(schema["maxLength"], MAX_LENGTH);
    }
}
