//! Go's `time` package as Sprig's date functions see it: instants with a location, layout
//! formatting and parsing against the reference time `Mon Jan 2 15:04:05 MST 2006`, durations
//! and their text form.
//!
//! Charts format dates with Go layouts (`date "2006-01-02"`, `toDate "2006-01-02" "2024-05-01"`);
//! the text must come out exactly as Go writes it, so the layout grammar, the calendar arithmetic
//! and the duration printer follow Go's `time/format.go` and `time/time.go` rule for rule. Time
//! zones come from the tz database through `jiff`; the calendar math is done here on plain
//! integers so that every `int64` second Go accepts can be formatted.

use std::fmt::Write as _;

/// Nanoseconds in one second.
const NANOS_PER_SECOND: i64 = 1_000_000_000;
const SECONDS_PER_DAY: i64 = 86_400;

/// Where an instant is shown: which wall clock and zone name apply.
#[derive(Debug, Clone)]
pub enum Location {
    /// Coordinated Universal Time, named `UTC`.
    Utc,
    /// A zone from the tz database (or the machine's own zone), with its Go name.
    Zone {
        name: String,
        zone: jiff::tz::TimeZone,
    },
    /// A fixed offset east of UTC in seconds, with the abbreviation to print (may be empty).
    Fixed { name: String, offset: i32 },
}

impl PartialEq for Location {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Location::Utc, Location::Utc) => true,
            (Location::Zone { name: a, .. }, Location::Zone { name: b, .. }) => a == b,
            (Location::Fixed { name: a, offset: x }, Location::Fixed { name: b, offset: y }) => {
                a == b && x == y
            }
            _ => false,
        }
    }
}

impl Location {
    /// Go's `time.LoadLocation`: `""` and `"UTC"` are UTC, `"Local"` is the machine's zone, any
    /// other name is looked up in the tz database.
    pub fn load(name: &str) -> Option<Location> {
        match name {
            "" | "UTC" => Some(Location::Utc),
            "Local" => Some(Location::local()),
            _ => jiff::tz::TimeZone::get(name)
                .ok()
                .map(|zone| Location::Zone {
                    name: name.to_string(),
                    zone,
                }),
        }
    }

    /// The machine's zone, which Go calls `Local` (from `TZ` or `/etc/localtime`; UTC when
    /// neither names a zone).
    pub fn local() -> Location {
        let zone = jiff::tz::TimeZone::system();
        if zone == jiff::tz::TimeZone::UTC {
            return Location::Utc;
        }
        Location::Zone {
            name: "Local".to_string(),
            zone,
        }
    }

    /// The zone abbreviation and offset (seconds east of UTC) in effect at `unix_seconds`.
    pub fn lookup(&self, unix_seconds: i64) -> (String, i32) {
        match self {
            Location::Utc => ("UTC".to_string(), 0),
            Location::Fixed { name, offset } => (name.clone(), *offset),
            Location::Zone { zone, .. } => {
                let clamped = unix_seconds.clamp(
                    jiff::Timestamp::MIN.as_second(),
                    jiff::Timestamp::MAX.as_second(),
                );
                let Ok(timestamp) = jiff::Timestamp::from_second(clamped) else {
                    return ("UTC".to_string(), 0);
                };
                let info = zone.to_offset_info(timestamp);
                (info.abbreviation().to_string(), info.offset().seconds())
            }
        }
    }

    /// Go's `Location.String()`.
    pub fn name(&self) -> &str {
        match self {
            Location::Utc => "UTC",
            Location::Zone { name, .. } => name,
            Location::Fixed { name, .. } => name,
        }
    }
}

/// A Go `time.Time`: an instant (Unix seconds and nanoseconds) shown in a location. Go's
/// monotonic clock reading is kept only to print it (`m=+0.000000001`) as `fmt` does for values
/// that came from `time.Now`.
#[derive(Debug, Clone, PartialEq)]
pub struct GoTime {
    pub unix_seconds: i64,
    pub nanos: u32,
    pub location: Location,
    /// Seconds since the process's clock start, for printing only (`None` once stripped).
    pub monotonic: Option<f64>,
}

/// The civil fields of an instant on a wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Civil {
    year: i64,
    /// 1 to 12.
    month: u32,
    day: u32,
    /// 1 to 366.
    year_day: u32,
    /// 0 is Sunday.
    weekday: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

const LONG_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const LONG_DAYS: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

impl GoTime {
    /// Go's `time.Unix(seconds, 0)` shown in `location`.
    pub fn from_unix(unix_seconds: i64, location: Location) -> GoTime {
        GoTime {
            unix_seconds,
            nanos: 0,
            location,
            monotonic: None,
        }
    }

    /// Go's `time.Now()` in the machine's zone.
    pub fn now() -> GoTime {
        let now = jiff::Timestamp::now();
        GoTime {
            unix_seconds: now.as_second(),
            nanos: now.subsec_nanosecond().max(0) as u32,
            location: Location::local(),
            monotonic: Some(process_clock_seconds()),
        }
    }

    /// Go's `t.In(location)`.
    pub fn in_location(&self, location: Location) -> GoTime {
        GoTime {
            location,
            ..self.clone()
        }
    }

    /// Go's `t.Unix()`.
    pub fn unix(&self) -> i64 {
        self.unix_seconds
    }

    /// Go's `t.Add(d)` (saturating where Go would overflow silently; such instants are
    /// billions of years away).
    pub fn add(&self, duration: Duration) -> GoTime {
        let total = i128::from(self.unix_seconds) * i128::from(NANOS_PER_SECOND)
            + i128::from(self.nanos)
            + i128::from(duration.0);
        let seconds = total.div_euclid(i128::from(NANOS_PER_SECOND));
        let nanos = total.rem_euclid(i128::from(NANOS_PER_SECOND));
        GoTime {
            unix_seconds: i64::try_from(seconds).unwrap_or(if seconds < 0 {
                i64::MIN
            } else {
                i64::MAX
            }),
            nanos: nanos as u32,
            location: self.location.clone(),
            monotonic: self.monotonic.map(|m| m + duration.0 as f64 / 1e9),
        }
    }

    /// Go's `t.Sub(u)`, saturating at the largest durations like Go does.
    pub fn sub(&self, other: &GoTime) -> Duration {
        let a =
            i128::from(self.unix_seconds) * i128::from(NANOS_PER_SECOND) + i128::from(self.nanos);
        let b =
            i128::from(other.unix_seconds) * i128::from(NANOS_PER_SECOND) + i128::from(other.nanos);
        Duration(i64::try_from(a - b).unwrap_or(if a < b { i64::MIN } else { i64::MAX }))
    }

    fn civil(&self) -> (Civil, String, i32) {
        let (zone_name, offset) = self.location.lookup(self.unix_seconds);
        let local = self.unix_seconds.saturating_add(i64::from(offset));
        let days = local.div_euclid(SECONDS_PER_DAY);
        let seconds_of_day = local.rem_euclid(SECONDS_PER_DAY) as u32;
        let (year, month, day) = civil_from_days(days);
        let year_day = (days - days_from_civil(year, 1, 1) + 1) as u32;
        let weekday = (days + 4).rem_euclid(7) as u32;
        let civil = Civil {
            year,
            month,
            day,
            year_day,
            weekday,
            hour: seconds_of_day / 3600,
            minute: seconds_of_day / 60 % 60,
            second: seconds_of_day % 60,
        };
        (civil, zone_name, offset)
    }

    /// Go's `t.Format(layout)`.
    pub fn format(&self, layout: &str) -> String {
        let (civil, zone_name, offset) = self.civil();
        let mut out = String::with_capacity(layout.len() + 10);
        let mut rest = layout;
        while !rest.is_empty() {
            let (prefix, chunk, suffix) = next_chunk(rest);
            out.push_str(prefix);
            let Some(chunk) = chunk else { break };
            rest = suffix;
            self.format_chunk(&mut out, chunk, &civil, &zone_name, offset);
        }
        out
    }

    fn format_chunk(
        &self,
        out: &mut String,
        chunk: Chunk,
        civil: &Civil,
        zone_name: &str,
        offset: i32,
    ) {
        let hour12 = match civil.hour % 12 {
            0 => 12,
            h => h,
        };
        match chunk {
            Chunk::Year => push_int(out, civil.year.abs() % 100, 2),
            Chunk::LongYear => push_int(out, civil.year, 4),
            Chunk::Month => out.push_str(&LONG_MONTHS[civil.month as usize - 1][..3]),
            Chunk::LongMonth => out.push_str(LONG_MONTHS[civil.month as usize - 1]),
            Chunk::NumMonth => push_int(out, civil.month.into(), 0),
            Chunk::ZeroMonth => push_int(out, civil.month.into(), 2),
            Chunk::WeekDay => out.push_str(&LONG_DAYS[civil.weekday as usize][..3]),
            Chunk::LongWeekDay => out.push_str(LONG_DAYS[civil.weekday as usize]),
            Chunk::Day => push_int(out, civil.day.into(), 0),
            Chunk::UnderDay => {
                if civil.day < 10 {
                    out.push(' ');
                }
                push_int(out, civil.day.into(), 0);
            }
            Chunk::ZeroDay => push_int(out, civil.day.into(), 2),
            Chunk::UnderYearDay => {
                if civil.year_day < 100 {
                    out.push(' ');
                    if civil.year_day < 10 {
                        out.push(' ');
                    }
                }
                push_int(out, civil.year_day.into(), 0);
            }
            Chunk::ZeroYearDay => push_int(out, civil.year_day.into(), 3),
            Chunk::Hour => push_int(out, civil.hour.into(), 2),
            Chunk::Hour12 => push_int(out, hour12.into(), 0),
            Chunk::ZeroHour12 => push_int(out, hour12.into(), 2),
            Chunk::Minute => push_int(out, civil.minute.into(), 0),
            Chunk::ZeroMinute => push_int(out, civil.minute.into(), 2),
            Chunk::Second => push_int(out, civil.second.into(), 0),
            Chunk::ZeroSecond => push_int(out, civil.second.into(), 2),
            Chunk::UpperPm => out.push_str(if civil.hour >= 12 { "PM" } else { "AM" }),
            Chunk::LowerPm => out.push_str(if civil.hour >= 12 { "pm" } else { "am" }),
            Chunk::Zone(style) => push_zone_offset(out, style, offset),
            Chunk::ZoneName => {
                if zone_name.is_empty() {
                    let minutes = offset / 60;
                    out.push(if minutes < 0 { '-' } else { '+' });
                    push_int(out, i64::from(minutes.abs() / 60), 2);
                    push_int(out, i64::from(minutes.abs() % 60), 2);
                } else {
                    out.push_str(zone_name);
                }
            }
            Chunk::Fraction {
                digits,
                trim,
                separator,
            } => push_fraction(out, self.nanos, digits, trim, separator),
        }
    }

    /// Go's `t.String()`: `2006-01-02 15:04:05.999999999 -0700 MST`, plus the monotonic clock
    /// reading when the time has one.
    pub fn go_string(&self) -> String {
        let mut text = self.format("2006-01-02 15:04:05.999999999 -0700 MST");
        if let Some(monotonic) = self.monotonic {
            let nanos = (monotonic * 1e9).round() as i64;
            let sign = if nanos < 0 { '-' } else { '+' };
            let nanos = nanos.unsigned_abs();
            let _ = write!(
                text,
                " m={sign}{}.{:09}",
                nanos / 1_000_000_000,
                nanos % 1_000_000_000
            );
        }
        text
    }
}

/// Seconds since this process first asked for the time, standing in for Go's monotonic reading.
fn process_clock_seconds() -> f64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs_f64()
}

/// Which form of zone offset a layout asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ZoneStyle {
    /// `Z...` forms print `Z` for a zero offset.
    iso_z: bool,
    colon: bool,
    /// `-07`: hours only.
    hours_only: bool,
    with_seconds: bool,
}

/// One element of a Go layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chunk {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    UpperPm,
    LowerPm,
    ZoneName,
    Zone(ZoneStyle),
    Fraction {
        digits: usize,
        trim: bool,
        separator: char,
    },
}

fn starts_with_lower(text: &str) -> bool {
    text.as_bytes().first().is_some_and(u8::is_ascii_lowercase)
}

const fn zone(iso_z: bool, colon: bool, hours_only: bool, with_seconds: bool) -> Chunk {
    Chunk::Zone(ZoneStyle {
        iso_z,
        colon,
        hours_only,
        with_seconds,
    })
}

/// Go's `nextStdChunk`: the literal text before the first layout element, the element, and the
/// rest of the layout.
pub(crate) fn next_chunk(layout: &str) -> (&str, Option<Chunk>, &str) {
    let bytes = layout.as_bytes();
    let at = |i: usize, text: &str| layout.get(i..i + text.len()) == Some(text);
    for i in 0..bytes.len() {
        let found: Option<(Chunk, usize)> = match bytes[i] {
            b'J' if at(i, "January") => Some((Chunk::LongMonth, 7)),
            b'J' if at(i, "Jan") && !starts_with_lower(&layout[i + 3..]) => Some((Chunk::Month, 3)),
            b'M' if at(i, "Monday") => Some((Chunk::LongWeekDay, 6)),
            b'M' if at(i, "Mon") && !starts_with_lower(&layout[i + 3..]) => {
                Some((Chunk::WeekDay, 3))
            }
            b'M' if at(i, "MST") => Some((Chunk::ZoneName, 3)),
            b'0' if bytes.get(i + 1).is_some_and(|c| (b'1'..=b'6').contains(c)) => {
                let chunk = [
                    Chunk::ZeroMonth,
                    Chunk::ZeroDay,
                    Chunk::ZeroHour12,
                    Chunk::ZeroMinute,
                    Chunk::ZeroSecond,
                    Chunk::Year,
                ][usize::from(bytes[i + 1] - b'1')];
                Some((chunk, 2))
            }
            b'0' if at(i, "002") => Some((Chunk::ZeroYearDay, 3)),
            b'1' if at(i, "15") => Some((Chunk::Hour, 2)),
            b'1' => Some((Chunk::NumMonth, 1)),
            b'2' if at(i, "2006") => Some((Chunk::LongYear, 4)),
            b'2' => Some((Chunk::Day, 1)),
            b'_' if at(i, "_2006") => {
                // A literal underscore followed by the long year.
                return (&layout[..i + 1], Some(Chunk::LongYear), &layout[i + 5..]);
            }
            b'_' if at(i, "_2") => Some((Chunk::UnderDay, 2)),
            b'_' if at(i, "__2") => Some((Chunk::UnderYearDay, 3)),
            b'3' => Some((Chunk::Hour12, 1)),
            b'4' => Some((Chunk::Minute, 1)),
            b'5' => Some((Chunk::Second, 1)),
            b'P' if at(i, "PM") => Some((Chunk::UpperPm, 2)),
            b'p' if at(i, "pm") => Some((Chunk::LowerPm, 2)),
            b'-' if at(i, "-070000") => Some((zone(false, false, false, true), 7)),
            b'-' if at(i, "-07:00:00") => Some((zone(false, true, false, true), 9)),
            b'-' if at(i, "-0700") => Some((zone(false, false, false, false), 5)),
            b'-' if at(i, "-07:00") => Some((zone(false, true, false, false), 6)),
            b'-' if at(i, "-07") => Some((zone(false, false, true, false), 3)),
            b'Z' if at(i, "Z070000") => Some((zone(true, false, false, true), 7)),
            b'Z' if at(i, "Z07:00:00") => Some((zone(true, true, false, true), 9)),
            b'Z' if at(i, "Z0700") => Some((zone(true, false, false, false), 5)),
            b'Z' if at(i, "Z07:00") => Some((zone(true, true, false, false), 6)),
            b'Z' if at(i, "Z07") => Some((zone(true, false, true, false), 3)),
            b'.' | b',' if matches!(bytes.get(i + 1), Some(b'0' | b'9')) => {
                let digit = bytes[i + 1];
                let mut end = i + 1;
                while bytes.get(end) == Some(&digit) {
                    end += 1;
                }
                if bytes.get(end).is_some_and(u8::is_ascii_digit) {
                    None
                } else {
                    Some((
                        Chunk::Fraction {
                            digits: end - (i + 1),
                            trim: digit == b'9',
                            separator: char::from(bytes[i]),
                        },
                        end - i,
                    ))
                }
            }
            _ => None,
        };
        if let Some((chunk, len)) = found {
            return (&layout[..i], Some(chunk), &layout[i + len..]);
        }
    }
    (layout, None, "")
}

/// Go's `appendInt`: a decimal with at least `width` digits, zero-padded, sign first.
fn push_int(out: &mut String, value: i64, width: usize) {
    if value < 0 {
        out.push('-');
    }
    let _ = write!(out, "{:0width$}", value.unsigned_abs());
}

fn push_zone_offset(out: &mut String, style: ZoneStyle, offset: i32) {
    if offset == 0 && style.iso_z {
        out.push('Z');
        return;
    }
    let minutes = offset / 60;
    out.push(if minutes < 0 { '-' } else { '+' });
    let minutes = minutes.abs();
    push_int(out, i64::from(minutes / 60), 2);
    if style.colon {
        out.push(':');
    }
    if !style.hours_only {
        push_int(out, i64::from(minutes % 60), 2);
    }
    if style.with_seconds {
        if style.colon {
            out.push(':');
        }
        push_int(out, i64::from(offset.abs() % 60), 2);
    }
}

fn push_fraction(out: &mut String, nanos: u32, digits: usize, trim: bool, separator: char) {
    if trim && (digits == 0 || nanos == 0) {
        return;
    }
    let all = format!("{nanos:09}");
    let mut fraction = &all[..digits.min(9)];
    if trim {
        fraction = fraction.trim_end_matches('0');
        if fraction.is_empty() {
            return;
        }
    }
    out.push(separator);
    out.push_str(fraction);
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A proleptic Gregorian date to days since 1970-01-01. Month and day may be out of range and
/// are normalised the way Go's `time.Date` does.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let month0 = month - 1;
    let year = year + month0.div_euclid(12);
    let month = month0.rem_euclid(12) + 1;
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468 + (day - 1)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(month: i64, year: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Go's `time.Duration`: signed nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Duration(pub i64);

impl Duration {
    pub const SECOND: i64 = NANOS_PER_SECOND;

    /// Go's `Duration.String()`: `1h2m3.5s`, `1.5ms`, `0s`.
    pub fn go_string(self) -> String {
        let negative = self.0 < 0;
        let mut value = self.0.unsigned_abs();
        // Built right to left like Go's buffer.
        let mut out: Vec<u8> = Vec::with_capacity(32);
        if value < NANOS_PER_SECOND as u64 {
            out.push(b's');
            let precision;
            match value {
                0 => return "0s".to_string(),
                v if v < 1_000 => {
                    precision = 0;
                    out.push(b'n');
                }
                v if v < 1_000_000 => {
                    precision = 3;
                    // "µ" reversed.
                    out.extend_from_slice(&[0xB5, 0xC2]);
                }
                _ => {
                    precision = 6;
                    out.push(b'm');
                }
            }
            value = push_fraction_reversed(&mut out, value, precision);
            push_uint_reversed(&mut out, value);
        } else {
            out.push(b's');
            value = push_fraction_reversed(&mut out, value, 9);
            push_uint_reversed(&mut out, value % 60);
            value /= 60;
            if value > 0 {
                out.push(b'm');
                push_uint_reversed(&mut out, value % 60);
                value /= 60;
                if value > 0 {
                    out.push(b'h');
                    push_uint_reversed(&mut out, value);
                }
            }
        }
        if negative {
            out.push(b'-');
        }
        out.reverse();
        String::from_utf8(out).unwrap_or_default()
    }

    /// Go's `Duration.Round(m)`.
    pub fn round(self, multiple: i64) -> Duration {
        if multiple <= 0 {
            return self;
        }
        let d = self.0;
        let less_than_half = |r: i64| (r as u64).wrapping_add(r as u64) < multiple as u64;
        let mut r = d % multiple;
        if d < 0 {
            r = -r;
            if less_than_half(r) {
                return Duration(d + r);
            }
            return match (d - multiple).checked_add(r) {
                Some(d1) if d1 < d => Duration(d1),
                _ => Duration(i64::MIN),
            };
        }
        if less_than_half(r) {
            return Duration(d - r);
        }
        match (d + r.wrapping_neg()).checked_add(multiple) {
            Some(d1) if d1 > d => Duration(d1),
            _ => Duration(i64::MAX),
        }
    }
}

fn push_fraction_reversed(out: &mut Vec<u8>, mut value: u64, precision: u32) -> u64 {
    let mut print = false;
    for _ in 0..precision {
        let digit = value % 10;
        print = print || digit != 0;
        if print {
            out.push(b'0' + digit as u8);
        }
        value /= 10;
    }
    if print {
        out.push(b'.');
    }
    value
}

fn push_uint_reversed(out: &mut Vec<u8>, mut value: u64) {
    if value == 0 {
        out.push(b'0');
        return;
    }
    while value > 0 {
        out.push(b'0' + (value % 10) as u8);
        value /= 10;
    }
}

/// Go's `strconv.Quote`-style quoting used inside `time` error messages.
fn time_quote(text: &str) -> String {
    let mut out = String::from("\"");
    for ch in text.chars() {
        match ch {
            '"' | '\\' => {
                out.push('\\');
                out.push(ch);
            }
            c if (' '..='~').contains(&c) => out.push(c),
            c => {
                let mut buffer = [0u8; 4];
                for byte in c.encode_utf8(&mut buffer).bytes() {
                    let _ = write!(out, "\\x{byte:02x}");
                }
            }
        }
    }
    out.push('"');
    out
}

/// Go's `time.ParseDuration`, with Go's error text (`time: invalid duration "x"`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = |message: &str| format!("time: {message} {}", time_quote(text));
    let mut rest = text;
    let mut negative = false;
    if let Some(first) = rest.chars().next()
        && (first == '-' || first == '+')
    {
        negative = first == '-';
        rest = &rest[1..];
    }
    if rest == "0" {
        return Ok(Duration(0));
    }
    if rest.is_empty() {
        return Err(invalid("invalid duration"));
    }
    let mut total: u64 = 0;
    const LIMIT: u64 = 1 << 63;
    while !rest.is_empty() {
        let bytes = rest.as_bytes();
        if !(bytes[0] == b'.' || bytes[0].is_ascii_digit()) {
            return Err(invalid("invalid duration"));
        }
        let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
        let mut whole: u64 = 0;
        for &b in &bytes[..digits] {
            if whole > LIMIT / 10 {
                return Err(invalid("invalid duration"));
            }
            whole = whole * 10 + u64::from(b - b'0');
            if whole > LIMIT {
                return Err(invalid("invalid duration"));
            }
        }
        rest = &rest[digits..];
        let had_whole = digits > 0;
        let (mut fraction, mut scale, mut had_fraction) = (0u64, 1f64, false);
        if rest.starts_with('.') {
            rest = &rest[1..];
            let bytes = rest.as_bytes();
            let count = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
            let mut overflow = false;
            for &b in &bytes[..count] {
                if overflow {
                    continue;
                }
                if fraction > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let next = fraction * 10 + u64::from(b - b'0');
                if next > LIMIT {
                    overflow = true;
                    continue;
                }
                fraction = next;
                scale *= 10.0;
            }
            rest = &rest[count..];
            had_fraction = count > 0;
        }
        if !had_whole && !had_fraction {
            return Err(invalid("invalid duration"));
        }
        let unit_len = rest
            .bytes()
            .take_while(|&c| !(c == b'.' || c.is_ascii_digit()))
            .count();
        if unit_len == 0 {
            return Err(invalid("missing unit in duration"));
        }
        let unit_text = &rest[..unit_len];
        rest = &rest[unit_len..];
        let unit: u64 = match unit_text {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(invalid(&format!(
                    "unknown unit {} in duration",
                    time_quote(unit_text)
                )));
            }
        };
        if whole > LIMIT / unit {
            return Err(invalid("invalid duration"));
        }
        whole *= unit;
        if fraction > 0 {
            whole += (fraction as f64 * (unit as f64 / scale)) as u64;
            if whole > LIMIT {
                return Err(invalid("invalid duration"));
            }
        }
        total += whole;
        if total > LIMIT {
            return Err(invalid("invalid duration"));
        }
    }
    if negative {
        return Ok(Duration((total as i64).wrapping_neg()));
    }
    if total > LIMIT - 1 {
        return Err(invalid("invalid duration"));
    }
    Ok(Duration(total as i64))
}

const SHORT_DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// Go's `time.ParseInLocation(layout, value, location)`, with Go's error messages
/// (`parsing time "x" as "2006-01-02": cannot parse "x" as "2006"`).
pub fn parse_in_location(layout: &str, value: &str, location: &Location) -> Result<GoTime, String> {
    Parser {
        layout,
        value,
        location,
    }
    .parse()
}

struct Parser<'a> {
    layout: &'a str,
    value: &'a str,
    location: &'a Location,
}

#[derive(Default)]
struct Fields {
    year: i64,
    month: i64,
    day: i64,
    year_day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    nanos: i64,
    am: bool,
    pm: bool,
    utc: bool,
    zone_offset: Option<i64>,
    zone_name: String,
}

/// A failure inside one element: either the text did not fit, or a number was out of range.
enum ElementError {
    Bad,
    Range(&'static str),
}

impl Parser<'_> {
    fn error(&self, element: &str, value: &str, message: &str) -> String {
        if message.is_empty() {
            format!(
                "parsing time {} as {}: cannot parse {} as {}",
                time_quote(self.value),
                time_quote(self.layout),
                time_quote(value),
                time_quote(element)
            )
        } else {
            format!("parsing time {}{message}", time_quote(self.value))
        }
    }

    fn parse(&self) -> Result<GoTime, String> {
        let mut fields = Fields {
            month: -1,
            day: -1,
            year_day: -1,
            ..Fields::default()
        };
        let mut layout = self.layout;
        let mut value = self.value;
        loop {
            let (prefix, chunk, suffix) = next_chunk(layout);
            let element = &layout[prefix.len()..layout.len() - suffix.len()];
            value = skip(value, prefix).ok_or_else(|| self.error(prefix, value, ""))?;
            let Some(chunk) = chunk else {
                if !value.is_empty() {
                    return Err(self.error(
                        "",
                        value,
                        &format!(": extra text: {}", time_quote(value)),
                    ));
                }
                break;
            };
            layout = suffix;
            let hold = value;
            match parse_element(chunk, &mut value, &mut fields, layout) {
                Ok(()) => {}
                Err(ElementError::Range(what)) => {
                    return Err(self.error(element, value, &format!(": {what} out of range")));
                }
                Err(ElementError::Bad) => return Err(self.error(element, hold, "")),
            }
        }
        self.assemble(fields, value)
    }

    fn assemble(&self, mut f: Fields, value: &str) -> Result<GoTime, String> {
        if f.pm && f.hour < 12 {
            f.hour += 12;
        } else if f.am && f.hour == 12 {
            f.hour = 0;
        }
        if f.year_day >= 0 {
            let mut year_day = f.year_day;
            let (mut month, mut day) = (0, 0);
            if is_leap(f.year) {
                if year_day == 31 + 29 {
                    month = 2;
                    day = 29;
                } else if year_day > 31 + 29 {
                    year_day -= 1;
                }
            }
            if !(1..=365).contains(&year_day) {
                return Err(self.error("", value, ": day-of-year out of range"));
            }
            if month == 0 {
                const BEFORE: [i64; 13] =
                    [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334, 365];
                month = (year_day - 1) / 31 + 1;
                if BEFORE[month as usize] < year_day {
                    month += 1;
                }
                day = year_day - BEFORE[month as usize - 1];
            }
            if f.month >= 0 && f.month != month {
                return Err(self.error("", value, ": day-of-year does not match month"));
            }
            f.month = month;
            if f.day >= 0 && f.day != day {
                return Err(self.error("", value, ": day-of-year does not match day"));
            }
            f.day = day;
        } else {
            if f.month < 0 {
                f.month = 1;
            }
            if f.day < 0 {
                f.day = 1;
            }
        }
        if f.day < 1 || f.day > days_in_month(f.month, f.year) {
            return Err(self.error("", value, ": day out of range"));
        }
        let days = days_from_civil(f.year, f.month, f.day);
        let wall = days * SECONDS_PER_DAY + f.hour * 3600 + f.minute * 60 + f.second;
        let build = |unix_seconds: i64, location: Location| GoTime {
            unix_seconds,
            nanos: f.nanos as u32,
            location,
            monotonic: None,
        };
        if f.utc {
            return Ok(build(wall, Location::Utc));
        }
        if let Some(offset) = f.zone_offset {
            let unix = wall - offset;
            let (name, local_offset) = self.location.lookup(unix);
            if i64::from(local_offset) == offset && (f.zone_name.is_empty() || name == f.zone_name)
            {
                return Ok(build(unix, self.location.clone()));
            }
            return Ok(build(
                unix,
                Location::Fixed {
                    name: f.zone_name,
                    offset: offset as i32,
                },
            ));
        }
        if !f.zone_name.is_empty() {
            // Go looks the abbreviation up in the default location; only UTC-like names are
            // known here, any other keeps an unknown (zero) offset like Go's fallback.
            let (name, local_offset) = self.location.lookup(wall);
            if name == f.zone_name {
                return Ok(build(wall - i64::from(local_offset), self.location.clone()));
            }
            let mut offset = 0;
            if f.zone_name.len() > 3 && f.zone_name.starts_with("GMT") {
                offset = f.zone_name[3..].parse::<i32>().unwrap_or(0) * 3600;
            }
            return Ok(build(
                wall,
                Location::Fixed {
                    name: f.zone_name,
                    offset,
                },
            ));
        }
        // The wall clock is read in the default location.
        let (_, guess) = self.location.lookup(wall);
        let mut unix = wall - i64::from(guess);
        let (_, actual) = self.location.lookup(unix);
        if actual != guess {
            unix = wall - i64::from(actual);
        }
        Ok(build(unix, self.location.clone()))
    }
}

/// Go's `skip`: matches the literal `prefix` against `value`, where a space in the layout
/// matches any run of spaces (at least one) in the value.
fn skip<'v>(mut value: &'v str, prefix: &str) -> Option<&'v str> {
    let mut prefix = prefix.as_bytes();
    while !prefix.is_empty() {
        if prefix[0] == b' ' {
            if !value.is_empty() && !value.starts_with(' ') {
                return None;
            }
            prefix = trim_leading_spaces(prefix);
            value = value.trim_start_matches(' ');
            continue;
        }
        if value.is_empty() || value.as_bytes()[0] != prefix[0] {
            return None;
        }
        prefix = &prefix[1..];
        value = &value[1..];
        // A multi-byte character in the value is split only when the layout matched its
        // first byte, which requires the same character there; re-align to a boundary.
        while !value.is_char_boundary(0) {
            value = &value[1..];
            prefix = prefix.get(1..).unwrap_or_default();
        }
    }
    Some(value)
}

fn trim_leading_spaces(bytes: &[u8]) -> &[u8] {
    let count = bytes.iter().take_while(|&&b| b == b' ').count();
    &bytes[count..]
}

fn is_digit_at(text: &str, i: usize) -> bool {
    text.as_bytes().get(i).is_some_and(u8::is_ascii_digit)
}

/// Go's `getnum`: one or two digits (exactly two when `fixed`).
fn get_num(value: &mut &str, fixed: bool) -> Result<i64, ElementError> {
    if !is_digit_at(value, 0) {
        return Err(ElementError::Bad);
    }
    if !is_digit_at(value, 1) {
        if fixed {
            return Err(ElementError::Bad);
        }
        let n = i64::from(value.as_bytes()[0] - b'0');
        *value = &value[1..];
        return Ok(n);
    }
    let bytes = value.as_bytes();
    let n = i64::from(bytes[0] - b'0') * 10 + i64::from(bytes[1] - b'0');
    *value = &value[2..];
    Ok(n)
}

/// Go's `getnum3`: one to three digits (exactly three when `fixed`).
fn get_num3(value: &mut &str, fixed: bool) -> Result<i64, ElementError> {
    let mut n = 0;
    let mut count = 0;
    while count < 3 && is_digit_at(value, count) {
        n = n * 10 + i64::from(value.as_bytes()[count] - b'0');
        count += 1;
    }
    if count == 0 || (fixed && count != 3) {
        return Err(ElementError::Bad);
    }
    *value = &value[count..];
    Ok(n)
}

/// Go's `atoi` for the fixed-width year fields: optional sign, then digits.
fn atoi(text: &str) -> Result<i64, ElementError> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ElementError::Bad);
    }
    let n: i64 = digits.parse().map_err(|_| ElementError::Bad)?;
    Ok(if negative { -n } else { n })
}

/// Go's `lookup`: a case-insensitive match of one of `names` at the start of `value`.
fn lookup_name(names: &[&str], value: &mut &str) -> Result<i64, ElementError> {
    for (index, name) in names.iter().enumerate() {
        if value.len() >= name.len()
            && value.is_char_boundary(name.len())
            && value[..name.len()].eq_ignore_ascii_case(name)
        {
            *value = &value[name.len()..];
            return Ok(index as i64);
        }
    }
    Err(ElementError::Bad)
}

/// Go's `parseNanoseconds`: `value` starts with the separator, `count` includes it.
fn parse_nanoseconds(value: &str, count: usize) -> Result<i64, ElementError> {
    if !matches!(value.as_bytes().first(), Some(b'.' | b',')) {
        return Err(ElementError::Bad);
    }
    let digits = &value[1..count.min(value.len())];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ElementError::Bad);
    }
    let kept = &digits[..digits.len().min(9)];
    let mut nanos: i64 = kept.parse().map_err(|_| ElementError::Bad)?;
    for _ in kept.len()..9 {
        nanos *= 10;
    }
    Ok(nanos)
}

/// Go's `parseTimeZone`: the length of a zone abbreviation at the start of `value`.
fn parse_time_zone(value: &str) -> Option<usize> {
    let bytes = value.as_bytes();
    if bytes.len() < 3 {
        return None;
    }
    if bytes.len() >= 4 && (&value[..4] == "ChST" || &value[..4] == "MeST") {
        return Some(4);
    }
    if &value[..3] == "GMT" {
        return Some(parse_gmt(value));
    }
    if bytes[0] == b'+' || bytes[0] == b'-' {
        return parse_sign_offset(value);
    }
    let upper = bytes.iter().take_while(|b| b.is_ascii_uppercase()).count();
    match upper {
        0..=2 => None,
        5 if bytes[4] == b'T' => Some(5),
        4 if bytes[3] == b'T' || &value[..4] == "WITA" => Some(4),
        3 => Some(3),
        _ => None,
    }
}

fn parse_gmt(value: &str) -> usize {
    let rest = &value[3..];
    if rest.is_empty() {
        return 3;
    }
    parse_sign_offset(rest).map_or(3, |n| 3 + n)
}

/// Go's `parseSignedOffset`: `+h` / `-h` with an hour between -23 and 23.
fn parse_sign_offset(value: &str) -> Option<usize> {
    let sign = value.as_bytes().first()?;
    if *sign != b'+' && *sign != b'-' {
        return None;
    }
    let digits = value[1..].bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let hours: i64 = value[1..1 + digits].parse().ok()?;
    if hours > 23 {
        return None;
    }
    Some(1 + digits)
}

fn parse_element(
    chunk: Chunk,
    value: &mut &str,
    f: &mut Fields,
    rest_of_layout: &str,
) -> Result<(), ElementError> {
    match chunk {
        Chunk::Year => {
            if value.len() < 2 || !value.is_char_boundary(2) {
                return Err(ElementError::Bad);
            }
            let year = atoi(&value[..2])?;
            *value = &value[2..];
            f.year = if year >= 69 { year + 1900 } else { year + 2000 };
        }
        Chunk::LongYear => {
            if value.len() < 4 || !is_digit_at(value, 0) || !value.is_char_boundary(4) {
                return Err(ElementError::Bad);
            }
            f.year = atoi(&value[..4])?;
            *value = &value[4..];
        }
        Chunk::Month => {
            let short: Vec<&str> = LONG_MONTHS.iter().map(|m| &m[..3]).collect();
            f.month = lookup_name(&short, value)? + 1;
        }
        Chunk::LongMonth => f.month = lookup_name(&LONG_MONTHS, value)? + 1,
        Chunk::NumMonth | Chunk::ZeroMonth => {
            f.month = get_num(value, chunk == Chunk::ZeroMonth)?;
            if !(1..=12).contains(&f.month) {
                return Err(ElementError::Range("month"));
            }
        }
        Chunk::WeekDay => {
            lookup_name(&SHORT_DAYS, value)?;
        }
        Chunk::LongWeekDay => {
            lookup_name(&LONG_DAYS, value)?;
        }
        Chunk::Day | Chunk::UnderDay | Chunk::ZeroDay => {
            if chunk == Chunk::UnderDay && value.starts_with(' ') {
                *value = &value[1..];
            }
            f.day = get_num(value, chunk == Chunk::ZeroDay)?;
        }
        Chunk::UnderYearDay | Chunk::ZeroYearDay => {
            for _ in 0..2 {
                if chunk == Chunk::UnderYearDay && value.starts_with(' ') {
                    *value = &value[1..];
                }
            }
            f.year_day = get_num3(value, chunk == Chunk::ZeroYearDay)?;
        }
        Chunk::Hour => {
            f.hour = get_num(value, false)?;
            if !(0..24).contains(&f.hour) {
                return Err(ElementError::Range("hour"));
            }
        }
        Chunk::Hour12 | Chunk::ZeroHour12 => {
            f.hour = get_num(value, chunk == Chunk::ZeroHour12)?;
            if !(0..=12).contains(&f.hour) {
                return Err(ElementError::Range("hour"));
            }
        }
        Chunk::Minute | Chunk::ZeroMinute => {
            f.minute = get_num(value, chunk == Chunk::ZeroMinute)?;
            if !(0..60).contains(&f.minute) {
                return Err(ElementError::Range("minute"));
            }
        }
        Chunk::Second | Chunk::ZeroSecond => {
            f.second = get_num(value, chunk == Chunk::ZeroSecond)?;
            if !(0..60).contains(&f.second) {
                return Err(ElementError::Range("second"));
            }
            // A fraction in the value with none in the layout is read anyway.
            if value.len() >= 2
                && matches!(value.as_bytes()[0], b'.' | b',')
                && is_digit_at(value, 1)
            {
                let (_, next, _) = next_chunk(rest_of_layout);
                if !matches!(next, Some(Chunk::Fraction { .. })) {
                    let mut n = 2;
                    while is_digit_at(value, n) {
                        n += 1;
                    }
                    f.nanos = parse_nanoseconds(value, n)?;
                    *value = &value[n..];
                }
            }
        }
        Chunk::UpperPm | Chunk::LowerPm => {
            if value.len() < 2 || !value.is_char_boundary(2) {
                return Err(ElementError::Bad);
            }
            let (am, pm) = if chunk == Chunk::UpperPm {
                ("AM", "PM")
            } else {
                ("am", "pm")
            };
            match &value[..2] {
                p if p == pm => f.pm = true,
                p if p == am => f.am = true,
                _ => return Err(ElementError::Bad),
            }
            *value = &value[2..];
        }
        Chunk::Zone(style) => parse_zone_offset(style, value, f)?,
        Chunk::ZoneName => {
            if value.starts_with("UTC") {
                f.utc = true;
                *value = &value[3..];
                return Ok(());
            }
            let n = parse_time_zone(value).ok_or(ElementError::Bad)?;
            f.zone_name = value[..n].to_string();
            *value = &value[n..];
        }
        Chunk::Fraction { digits, trim, .. } => {
            if !trim {
                let count = 1 + digits;
                if value.len() < count {
                    return Err(ElementError::Bad);
                }
                f.nanos = parse_nanoseconds(value, count)?;
                *value = &value[count..];
            } else {
                if value.len() < 2
                    || !matches!(value.as_bytes()[0], b'.' | b',')
                    || !is_digit_at(value, 1)
                {
                    return Ok(());
                }
                let mut i = 0;
                while is_digit_at(value, i + 1) {
                    i += 1;
                }
                f.nanos = parse_nanoseconds(value, 1 + i)?;
                *value = &value[1 + i..];
            }
        }
    }
    Ok(())
}

fn parse_zone_offset(
    style: ZoneStyle,
    value: &mut &str,
    f: &mut Fields,
) -> Result<(), ElementError> {
    if style.iso_z && value.starts_with('Z') {
        *value = &value[1..];
        f.utc = true;
        return Ok(());
    }
    let bytes = value.as_bytes();
    let take = |n: usize| -> Result<&str, ElementError> { value.get(..n).ok_or(ElementError::Bad) };
    let (sign, hours, minutes, seconds, consumed) = if style.colon && !style.with_seconds {
        let text = take(6)?;
        if bytes[3] != b':' {
            return Err(ElementError::Bad);
        }
        (bytes[0], &text[1..3], &text[4..6], "00", 6)
    } else if style.hours_only {
        let text = take(3)?;
        (bytes[0], &text[1..3], "00", "00", 3)
    } else if style.colon && style.with_seconds {
        let text = take(9)?;
        if bytes[3] != b':' || bytes[6] != b':' {
            return Err(ElementError::Bad);
        }
        (bytes[0], &text[1..3], &text[4..6], &text[7..9], 9)
    } else if style.with_seconds {
        let text = take(7)?;
        (bytes[0], &text[1..3], &text[3..5], &text[5..7], 7)
    } else {
        let text = take(5)?;
        (bytes[0], &text[1..3], &text[3..5], "00", 5)
    };
    let two = |text: &str| {
        let mut t = text;
        get_num(&mut t, true)
    };
    let (h, m, s) = (two(hours)?, two(minutes)?, two(seconds)?);
    *value = &value[consumed..];
    if h > 24 {
        return Err(ElementError::Range("time zone offset hour"));
    }
    if m > 60 {
        return Err(ElementError::Range("time zone offset minute"));
    }
    if s > 60 {
        return Err(ElementError::Range("time zone offset second"));
    }
    let offset = (h * 60 + m) * 60 + s;
    f.zone_offset = Some(match sign {
        b'+' => offset,
        b'-' => -offset,
        _ => return Err(ElementError::Bad),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected texts below were printed by Go 1.26's `time` package.

    fn utc(seconds: i64, nanos: u32) -> GoTime {
        GoTime {
            unix_seconds: seconds,
            nanos,
            location: Location::Utc,
            monotonic: None,
        }
    }

    #[test]
    fn formats_the_reference_layouts() {
        let t = utc(1_136_239_445, 123_456_000); // 2006-01-02T22:04:05.123456Z
        assert_eq!(
            t.format("2006-01-02T15:04:05Z07:00"),
            "2006-01-02T22:04:05Z"
        );
        assert_eq!(
            t.format("Mon Jan _2 15:04:05 MST 2006"),
            "Mon Jan  2 22:04:05 UTC 2006"
        );
        assert_eq!(t.format("3:04PM .000 .999 ,9"), "10:04PM .123 .123 ,1");
        assert_eq!(
            t.format("January Monday 002 __2 06"),
            "January Monday 002   2 06"
        );
        assert_eq!(t.format("-07:00 -0700 Z0700"), "+00:00 +0000 Z");
        assert_eq!(t.go_string(), "2006-01-02 22:04:05.123456 +0000 UTC");
    }

    #[test]
    fn durations_print_like_go() {
        assert_eq!(Duration(0).go_string(), "0s");
        assert_eq!(Duration(1).go_string(), "1ns");
        assert_eq!(Duration(1_500).go_string(), "1.5µs");
        assert_eq!(Duration(1_500_000).go_string(), "1.5ms");
        assert_eq!(Duration(90 * Duration::SECOND).go_string(), "1m30s");
        assert_eq!(Duration(-3_723_500_000_000).go_string(), "-1h2m3.5s");
        assert_eq!(Duration(i64::MIN).go_string(), "-2562047h47m16.854775808s");
    }

    #[test]
    fn parses_durations_like_go() {
        assert_eq!(
            parse_duration("1h30m"),
            Ok(Duration(5_400 * Duration::SECOND))
        );
        assert_eq!(
            parse_duration("-1.5h"),
            Ok(Duration(-5_400 * Duration::SECOND))
        );
        assert_eq!(parse_duration("0"), Ok(Duration(0)));
        assert_eq!(
            parse_duration("1d"),
            Err("time: unknown unit \"d\" in duration \"1d\"".to_string())
        );
        assert_eq!(
            parse_duration("x"),
            Err("time: invalid duration \"x\"".to_string())
        );
        assert_eq!(
            parse_duration("10"),
            Err("time: missing unit in duration \"10\"".to_string())
        );
    }

    #[test]
    fn parses_layouts_like_go() {
        let t = parse_in_location("2006-01-02", "2024-02-29", &Location::Utc).unwrap();
        assert_eq!(t.unix(), 1_709_164_800);
        let t = parse_in_location(
            "2006-01-02T15:04:05Z07:00",
            "2024-02-29T10:00:00+02:00",
            &Location::Utc,
        )
        .unwrap();
        assert_eq!(t.unix(), 1_709_193_600);
        assert_eq!(t.format("15:04 -07:00"), "10:00 +02:00");
        assert_eq!(
            parse_in_location("2006-01-02", "2024-13-01", &Location::Utc).unwrap_err(),
            "parsing time \"2024-13-01\": month out of range"
        );
        assert_eq!(
            parse_in_location("2006-01-02", "x", &Location::Utc).unwrap_err(),
            "parsing time \"x\" as \"2006-01-02\": cannot parse \"x\" as \"2006\""
        );
        assert_eq!(
            parse_in_location("2006-01-02", "2023-02-29", &Location::Utc).unwrap_err(),
            "parsing time \"2023-02-29\": day out of range"
        );
    }
}
