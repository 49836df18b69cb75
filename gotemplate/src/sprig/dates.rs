//! Sprig's date functions over Go's `time.Time` ([`GoTimeValue`], built on [`super::gotime`]):
//! `now`, `date`, `dateInZone`, `htmlDate`, `htmlDateInZone`, `dateModify`, `ago`, `duration`,
//! `durationRound`, `toDate`, `unixEpoch`, and the snake-case aliases.
//!
//! As in Sprig, a date argument may be a `time.Time` or a Unix time in seconds as `int`, `int32`
//! or `int64`; anything else (a `float64` from the values, a string) silently means "now".
//! "Local" is the machine's zone, as for Helm.

use super::gotime::{Duration, GoTime, Location, parse_duration, parse_in_location};
use super::types::{any, string};
use super::{arg, define, str_arg, string_result};
use crate::funcs::{CallContext, FuncError, Funcs, Signature};
use crate::value::{IntKind, Object, Type, Value};
use std::any::Any;
use std::borrow::Cow;

const TIME_TYPE: &str = "time.Time";

fn time_type() -> Type {
    Type::Named(TIME_TYPE.into())
}

pub(super) fn register(funcs: &mut Funcs) {
    define(funcs, &["now"], Signature::new([]), |_, _| {
        Ok(Value::object(GoTimeValue(GoTime::now())))
    });
    define(
        funcs,
        &["date"],
        Signature::new([string(), any()]),
        |ctx, args| {
            let text = date_in_zone(str_arg(args, 0), &arg(args, 1), "Local");
            string_result(ctx, text)
        },
    );
    define(
        funcs,
        &["dateInZone", "date_in_zone"],
        Signature::new([string(), any(), string()]),
        |ctx, args| {
            let text = date_in_zone(str_arg(args, 0), &arg(args, 1), str_arg(args, 2));
            string_result(ctx, text)
        },
    );
    define(
        funcs,
        &["htmlDate"],
        Signature::new([any()]),
        |ctx, args| string_result(ctx, date_in_zone("2006-01-02", &arg(args, 0), "Local")),
    );
    define(
        funcs,
        &["htmlDateInZone"],
        Signature::new([any(), string()]),
        |ctx, args| {
            let text = date_in_zone("2006-01-02", &arg(args, 0), str_arg(args, 1));
            string_result(ctx, text)
        },
    );
    define(
        funcs,
        &["dateModify", "date_modify"],
        Signature::new([string(), time_type()]),
        |_, args| {
            let time = time_arg(args, 1)?;
            let modified = match parse_duration(str_arg(args, 0)) {
                Ok(duration) => time.add(duration),
                Err(_) => time,
            };
            Ok(Value::object(GoTimeValue(modified)))
        },
    );
    define(
        funcs,
        &["mustDateModify", "must_date_modify"],
        Signature::new([string(), time_type()]),
        |_, args| {
            let time = time_arg(args, 1)?;
            let duration = parse_duration(str_arg(args, 0)).map_err(FuncError::new)?;
            Ok(Value::object(GoTimeValue(time.add(duration))))
        },
    );
    define(funcs, &["ago"], Signature::new([any()]), |ctx, args| {
        let then = match &arg(args, 0) {
            Value::Object(object) => as_time(&**object).unwrap_or_else(GoTime::now),
            Value::Int(seconds, IntKind::Int | IntKind::Int64) => {
                GoTime::from_unix(*seconds, Location::local())
            }
            _ => GoTime::now(),
        };
        let since = GoTime::now().sub(&then).round(Duration::SECOND);
        string_result(ctx, since.go_string())
    });
    define(
        funcs,
        &["duration"],
        Signature::new([any()]),
        |ctx, args| {
            let seconds = match &arg(args, 0) {
                Value::String(s) => parse_decimal_int64(s).unwrap_or(0),
                Value::Int(n, IntKind::Int64) => *n,
                _ => 0,
            };
            string_result(
                ctx,
                Duration(seconds.wrapping_mul(Duration::SECOND)).go_string(),
            )
        },
    );
    define(
        funcs,
        &["durationRound"],
        Signature::new([any()]),
        |ctx, args| {
            let duration = match &arg(args, 0) {
                Value::String(s) => parse_duration(s).unwrap_or(Duration(0)),
                Value::Int(n, IntKind::Int64) => Duration(*n),
                Value::Object(object) => {
                    as_time(&**object).map_or(Duration(0), |then| GoTime::now().sub(&then))
                }
                _ => Duration(0),
            };
            string_result(ctx, duration_round(duration))
        },
    );
    define(
        funcs,
        &["toDate"],
        Signature::new([string(), string()]),
        |_, args| {
            let parsed = parse_in_location(str_arg(args, 0), str_arg(args, 1), &Location::local())
                .unwrap_or_else(|_| zero_time());
            Ok(Value::object(GoTimeValue(parsed)))
        },
    );
    define(
        funcs,
        &["mustToDate"],
        Signature::new([string(), string()]),
        |_, args| {
            let parsed = parse_in_location(str_arg(args, 0), str_arg(args, 1), &Location::local())
                .map_err(FuncError::new)?;
            Ok(Value::object(GoTimeValue(parsed)))
        },
    );
    define(
        funcs,
        &["unixEpoch"],
        Signature::new([time_type()]),
        |_, args| Ok(Value::string(time_arg(args, 0)?.unix().to_string())),
    );
}

/// Go's zero `time.Time{}`: January 1, year 1, 00:00:00 UTC.
fn zero_time() -> GoTime {
    GoTime::from_unix(-62_135_596_800, Location::Utc)
}

/// Go's `strconv.ParseInt(s, 10, 64)`.
fn parse_decimal_int64(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn as_time(object: &dyn Object) -> Option<GoTime> {
    (object as &dyn Any)
        .downcast_ref::<GoTimeValue>()
        .map(|t| t.0.clone())
}

/// The `time.Time` argument at `index` (the signature guarantees one).
fn time_arg(args: &[Value], index: usize) -> Result<GoTime, FuncError> {
    match args.get(index) {
        Some(Value::Object(object)) => as_time(&**object),
        _ => None,
    }
    .ok_or_else(|| FuncError::new("expected a time.Time"))
}

/// Sprig's `dateInZone`: the date (time, or Unix seconds as `int`/`int32`/`int64`, else now)
/// formatted with a Go layout in the zone (UTC when the zone is unknown).
fn date_in_zone(layout: &str, date: &Value, zone: &str) -> String {
    let time = match date {
        Value::Object(object) => as_time(&**object).unwrap_or_else(GoTime::now),
        Value::Int(seconds, IntKind::Int | IntKind::Int32 | IntKind::Int64) => {
            GoTime::from_unix(*seconds, Location::Utc)
        }
        _ => GoTime::now(),
    };
    let location = Location::load(zone).unwrap_or(Location::Utc);
    time.in_location(location).format(layout)
}

/// Sprig's `durationRound`: the duration in its largest whole unit (`2h`, `3mo`, `1y`), months
/// being 30 days and years 365.
fn duration_round(duration: Duration) -> String {
    let u = duration.0.unsigned_abs();
    const SECOND: u64 = 1_000_000_000;
    const MINUTE: u64 = 60 * SECOND;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    const MONTH: u64 = 30 * DAY;
    const YEAR: u64 = 365 * DAY;
    let units = [
        (YEAR, "y"),
        (MONTH, "mo"),
        (DAY, "d"),
        (HOUR, "h"),
        (MINUTE, "m"),
        (SECOND, "s"),
    ];
    for (size, suffix) in units {
        if u > size {
            return format!("{}{suffix}", u / size);
        }
    }
    "0s".to_string()
}

/// A Go `time.Time` value in a template. Prints as Go's `Time.String()`; offers the methods
/// charts call on times: `Format`, `Unix`, `UnixMilli`, `UnixNano`, `UTC`, `Local`, `Year`,
/// `YearDay`, `Day`, `Hour`, `Minute`, `Second`, `Nanosecond`, `IsZero`, `String`.
#[derive(Debug, Clone)]
pub(crate) struct GoTimeValue(pub GoTime);

impl Object for GoTimeValue {
    fn type_name(&self) -> Cow<'_, str> {
        Cow::Borrowed(TIME_TYPE)
    }

    fn method(&self, name: &str) -> Option<Signature> {
        match name {
            "Format" => Some(Signature::new([Type::String])),
            "Unix" | "UnixMilli" | "UnixNano" | "UTC" | "Local" | "Year" | "YearDay" | "Day"
            | "Hour" | "Minute" | "Second" | "Nanosecond" | "IsZero" | "String" => {
                Some(Signature::new([]))
            }
            _ => None,
        }
    }

    fn call_method(
        &self,
        name: &str,
        ctx: &mut CallContext<'_, '_>,
        args: &[Value],
    ) -> Result<Value, FuncError> {
        let t = &self.0;
        let int = |text: String| Value::int(text.parse().unwrap_or(0));
        Ok(match name {
            "Format" => {
                let text = t.format(str_arg(args, 0));
                ctx.charge_bytes(text.len())?;
                Value::string(text)
            }
            "Unix" => Value::int64(t.unix()),
            "UnixMilli" => Value::int64(
                t.unix()
                    .wrapping_mul(1000)
                    .wrapping_add(i64::from(t.nanos / 1_000_000)),
            ),
            "UnixNano" => Value::int64(
                t.unix()
                    .wrapping_mul(1_000_000_000)
                    .wrapping_add(i64::from(t.nanos)),
            ),
            "UTC" => Value::object(GoTimeValue(GoTime {
                monotonic: None,
                ..t.in_location(Location::Utc)
            })),
            "Local" => Value::object(GoTimeValue(GoTime {
                monotonic: None,
                ..t.in_location(Location::local())
            })),
            "Year" => int(t.format("2006")),
            "YearDay" => int(t.format("002")),
            "Day" => int(t.format("2")),
            "Hour" => int(t.format("15")),
            "Minute" => int(t.format("4")),
            "Second" => int(t.format("5")),
            "Nanosecond" => Value::int(i64::from(t.nanos)),
            "IsZero" => Value::Bool(t.unix() == -62_135_596_800 && t.nanos == 0),
            "String" => Value::string(t.go_string()),
            _ => return Err(FuncError::new(format!("time.Time has no method {name}"))),
        })
    }

    fn stringer(&self) -> Option<String> {
        Some(self.0.go_string())
    }

    fn equals(&self, other: &dyn Object) -> bool {
        (other as &dyn Any)
            .downcast_ref::<GoTimeValue>()
            .is_some_and(|o| o.0 == self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values printed by Go 1.26 through Sprig v3.3.0.

    #[test]
    fn duration_round_like_sprig() {
        assert_eq!(duration_round(Duration(0)), "0s");
        assert_eq!(duration_round(Duration(3_601 * Duration::SECOND)), "1h");
        assert_eq!(duration_round(Duration(-90 * Duration::SECOND)), "1m");
        assert_eq!(
            duration_round(Duration(400 * 86_400 * Duration::SECOND)),
            "1y"
        );
        assert_eq!(duration_round(Duration(Duration::SECOND)), "0s");
    }

    #[test]
    fn dates_format_in_zones() {
        let epoch = Value::int64(0);
        assert_eq!(
            date_in_zone("2006-01-02 15:04 MST", &epoch, "UTC"),
            "1970-01-01 00:00 UTC"
        );
        assert_eq!(
            date_in_zone("2006-01-02 15:04 MST", &epoch, "Asia/Tokyo"),
            "1970-01-01 09:00 JST"
        );
        assert_eq!(
            date_in_zone("2006-01-02 15:04 MST", &epoch, "Nowhere/City"),
            "1970-01-01 00:00 UTC"
        );
    }
}
