//! Writes JSON-shaped values as YAML byte-for-byte the way Helm's Go YAML marshaller does.
//!
//! Used by chart provenance files and by the template functions `toYaml` and `toYamlPretty`.
//!
//! A provenance message block embeds the chart metadata as Helm serialises it: the metadata is
//! turned into JSON, read back as generic data and written by go-yaml v2. Anyone who rebuilds the
//! block (to compare it, or to sign what Helm would sign) must reproduce that output exactly, so
//! this module follows go-yaml v2's rules: keys in its "natural" order, indentless sequences,
//! plain scalars where they cannot be misread, single quotes when plain text would be ambiguous,
//! double quotes for text that would read as another type, literal blocks for multi-line text and
//! folding of long lines past column 80.
//!
//! Keys longer than 128 bytes or spanning lines are written as explicit `? key` entries, as
//! go-yaml does.

use serde_json::{Map, Number, Value};
use std::cmp::Ordering;

/// go-yaml's preferred line width: plain and quoted text is folded at the first space past it.
const BEST_WIDTH: usize = 80;
/// go-yaml's indentation step.
const INDENT_STEP: usize = 2;

/// Renders a mapping as a YAML document (without a `---` marker), ending in a newline.
pub fn mapping_to_yaml(map: &Map<String, Value>) -> String {
    let mut writer = Writer::default();
    if map.is_empty() {
        writer.write_str("{}");
    } else {
        writer.mapping(map, 0, false);
    }
    if writer.column > 0 || writer.pending_break {
        writer.out.push('\n');
    }
    writer.out
}

/// Renders any value as a YAML document the way go-yaml v2's `Marshal` does (what Helm's
/// `toYaml` produces through `sigs.k8s.io/yaml`), ending in a newline.
pub fn to_yaml_document(value: &Value) -> String {
    document(value, Writer::default())
}

/// Renders any value as go-yaml v3's encoder does with `SetIndent(2)` (Helm's `toYamlPretty`):
/// sequences indented under their key and long lines never folded.
pub fn to_yaml_document_v3(value: &Value) -> String {
    document(
        value,
        Writer {
            indent_sequences: true,
            fold_long_lines: false,
            ..Writer::default()
        },
    )
}

fn document(value: &Value, mut writer: Writer) -> String {
    match value {
        Value::Object(map) if !map.is_empty() => writer.mapping(map, 0, false),
        Value::Array(items) if !items.is_empty() => writer.sequence(items, 0, false),
        // A top-level scalar continues (folds, or runs a literal block) two columns in.
        other => writer.leaf(other, INDENT_STEP),
    }
    if writer.column > 0 || writer.pending_break {
        writer.out.push('\n');
    }
    writer.out
}

struct Writer {
    out: String,
    /// Characters since the last line break (go-yaml counts characters, not bytes).
    column: usize,
    /// go-yaml v3 indents a sequence under its key; v2 does not.
    indent_sequences: bool,
    /// go-yaml v2 folds long plain and quoted text at a space past column 80.
    fold_long_lines: bool,
    /// A literal block's final line break was taken back to serve as the break before whatever
    /// comes next, which must therefore start a new line even at column 0.
    pending_break: bool,
}

impl Default for Writer {
    fn default() -> Self {
        Writer {
            out: String::new(),
            column: 0,
            indent_sequences: false,
            fold_long_lines: true,
            pending_break: false,
        }
    }
}

impl Writer {
    fn write_str(&mut self, text: &str) {
        for ch in text.chars() {
            self.write_char(ch);
        }
    }

    fn write_char(&mut self, ch: char) {
        if ch == '\n' {
            self.out.push('\n');
            self.column = 0;
        } else {
            self.out.push(ch);
            self.column += 1;
        }
    }

    /// Starts a new line indented to `indent`, unless the cursor already sits at line start.
    fn new_line(&mut self, indent: usize) {
        if self.column > 0 || self.pending_break {
            self.write_char('\n');
        }
        self.pending_break = false;
        while self.column < indent {
            self.write_char(' ');
        }
    }

    /// Writes a mapping whose keys start at `indent`. With `inline_first`, the first key
    /// continues the current line (a mapping that is a sequence item).
    fn mapping(&mut self, map: &Map<String, Value>, indent: usize, inline_first: bool) {
        let mut keys: Vec<&String> = map.keys().collect();
        sort_go_keys(&mut keys);
        for (position, key) in keys.into_iter().enumerate() {
            if !(inline_first && position == 0) {
                self.new_line(indent);
            }
            if is_simple_key(key) {
                self.scalar_text(key, indent + INDENT_STEP, false);
            } else {
                // go-yaml writes a key longer than 128 bytes or spanning lines as an explicit
                // `? key` entry, with the value after `:` on the next line.
                self.write_str("? ");
                self.scalar_text(key, indent + INDENT_STEP, true);
                self.new_line(indent);
            }
            self.write_char(':');
            self.node_after_key(&map[key.as_str()], indent);
        }
    }

    /// Writes a value that follows `key:` in a mapping indented at `indent`.
    fn node_after_key(&mut self, value: &Value, indent: usize) {
        match value {
            Value::Object(inner) if !inner.is_empty() => {
                self.mapping(inner, indent + INDENT_STEP, false)
            }
            // go-yaml v2 does not indent a sequence under its key; v3 does.
            Value::Array(items) if !items.is_empty() => {
                let at = if self.indent_sequences {
                    indent + INDENT_STEP
                } else {
                    indent
                };
                self.sequence(items, at, false)
            }
            _ => {
                self.write_char(' ');
                self.leaf(value, indent + INDENT_STEP);
            }
        }
    }

    fn sequence(&mut self, items: &[Value], indent: usize, inline_first: bool) {
        for (position, item) in items.iter().enumerate() {
            if !(inline_first && position == 0) {
                self.new_line(indent);
            }
            self.write_str("- ");
            match item {
                Value::Object(inner) if !inner.is_empty() => {
                    self.mapping(inner, indent + INDENT_STEP, true)
                }
                Value::Array(nested) if !nested.is_empty() => {
                    self.sequence(nested, indent + INDENT_STEP, true)
                }
                _ => self.leaf(item, indent + INDENT_STEP),
            }
        }
    }

    /// Writes a scalar or an empty collection; `indent` is where folded lines continue.
    fn leaf(&mut self, value: &Value, indent: usize) {
        match value {
            Value::Null => self.write_str("null"),
            Value::Bool(flag) => self.write_str(if *flag { "true" } else { "false" }),
            Value::Number(number) => self.write_str(&go_number(number)),
            Value::String(text) => self.scalar_text(text, indent, true),
            Value::Array(_) => self.write_str("[]"),
            Value::Object(_) => self.write_str("{}"),
        }
    }

    /// Writes a string in the style go-yaml picks for it. Keys (`allow_breaks == false`) are
    /// never folded and never use block style.
    fn scalar_text(&mut self, text: &str, indent: usize, allow_breaks: bool) {
        let analysis = Analysis::of(text);
        let is_key = !allow_breaks;
        let mut style = if text.contains('\n') {
            Style::Literal
        } else if resolves_as_plain_string(text) {
            Style::Plain
        } else {
            Style::DoubleQuoted
        };
        if style == Style::Plain && (!analysis.block_plain_allowed || analysis.multiline) {
            style = Style::SingleQuoted;
        }
        if style == Style::SingleQuoted && !analysis.single_quoted_allowed {
            style = Style::DoubleQuoted;
        }
        if style == Style::Literal && (!analysis.block_allowed || is_key) {
            style = Style::DoubleQuoted;
        }
        match style {
            Style::Plain => self.plain(text, indent, allow_breaks),
            Style::SingleQuoted => self.quoted(text, indent, allow_breaks, false),
            Style::DoubleQuoted => self.quoted(text, indent, allow_breaks, true),
            Style::Literal => self.literal(text, indent),
        }
    }

    fn plain(&mut self, text: &str, indent: usize, allow_breaks: bool) {
        let chars: Vec<char> = text.chars().collect();
        let mut after_space = false;
        for (i, &ch) in chars.iter().enumerate() {
            if ch == ' ' {
                let next_is_space = chars.get(i + 1) == Some(&' ');
                if allow_breaks
                    && self.fold_long_lines
                    && !after_space
                    && self.column > BEST_WIDTH
                    && !next_is_space
                {
                    self.fold(indent);
                } else {
                    self.write_char(ch);
                }
                after_space = true;
            } else {
                self.write_char(ch);
                after_space = false;
            }
        }
    }

    /// Writes single- or double-quoted text. Both fold at a space past the line width (never the
    /// first or last character); single quotes double embedded quotes, double quotes escape
    /// unprintable characters and mark a folded run of spaces with `\`.
    fn quoted(&mut self, text: &str, indent: usize, allow_breaks: bool, double: bool) {
        let chars: Vec<char> = text.chars().collect();
        let quote = if double { '"' } else { '\'' };
        self.write_char(quote);
        let mut after_space = false;
        for (i, &ch) in chars.iter().enumerate() {
            let next_is_space = chars.get(i + 1) == Some(&' ');
            if let Some(escape) = double.then(|| double_quote_escape(ch)).flatten() {
                self.write_str(&escape);
                after_space = false;
            } else if ch == ' ' {
                let foldable = i != 0 && i + 1 != chars.len() && (double || !next_is_space);
                if allow_breaks
                    && self.fold_long_lines
                    && !after_space
                    && self.column > BEST_WIDTH
                    && foldable
                {
                    self.fold(indent);
                    if double && next_is_space {
                        self.write_char('\\');
                    }
                } else {
                    self.write_char(ch);
                }
                after_space = true;
            } else {
                if ch == '\'' && !double {
                    self.write_char('\'');
                }
                self.write_char(ch);
                after_space = false;
            }
        }
        self.write_char(quote);
    }

    fn literal(&mut self, text: &str, indent: usize) {
        self.write_char('|');
        if text.starts_with([' ', '\n']) {
            self.write_str(&INDENT_STEP.to_string());
        }
        if !text.ends_with('\n') {
            self.write_char('-');
        } else if text == "\n" || text.ends_with("\n\n") {
            self.write_char('+');
        }
        self.write_char('\n');
        let mut at_line_start = true;
        for ch in text.chars() {
            if ch == '\n' {
                self.write_char('\n');
                at_line_start = true;
            } else {
                if at_line_start {
                    self.new_line(indent);
                    at_line_start = false;
                }
                self.write_char(ch);
            }
        }
        // go-yaml lets the final line break double as the break before the next key.
        if text.ends_with('\n') {
            self.out.pop();
            let line_start = self.out.rfind('\n').map_or(0, |at| at + 1);
            self.column = self.out[line_start..].chars().count();
            self.pending_break = true;
        }
    }

    fn fold(&mut self, indent: usize) {
        self.write_char('\n');
        while self.column < indent {
            self.write_char(' ');
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
}

/// Which styles can carry a string without changing its meaning (go-yaml's scalar analysis,
/// for block context).
struct Analysis {
    block_plain_allowed: bool,
    single_quoted_allowed: bool,
    block_allowed: bool,
    multiline: bool,
}

impl Analysis {
    fn of(text: &str) -> Self {
        let mut analysis = Analysis {
            block_plain_allowed: true,
            single_quoted_allowed: true,
            block_allowed: true,
            multiline: false,
        };
        if text.is_empty() {
            analysis.block_plain_allowed = false;
            return analysis;
        }
        if text.starts_with("---") || text.starts_with("...") {
            analysis.block_plain_allowed = false;
        }
        let chars: Vec<char> = text.chars().collect();
        let is_blank_at = |i: usize| {
            chars
                .get(i)
                .is_none_or(|&c| c == ' ' || c == '\t' || is_break(c))
        };
        let (mut block_indicators, mut special, mut line_breaks) = (false, false, false);
        let (mut space_break, mut break_space) = (false, false);
        let mut previous_space = false;
        let mut previous_break = false;
        let mut preceded_by_whitespace = true;
        for (i, &ch) in chars.iter().enumerate() {
            let followed_by_whitespace = is_blank_at(i + 1);
            if i == 0 {
                match ch {
                    '#' | ',' | '[' | ']' | '{' | '}' | '&' | '*' | '!' | '|' | '>' | '\''
                    | '"' | '%' | '@' | '`' => block_indicators = true,
                    '?' | ':' | '-' if followed_by_whitespace => block_indicators = true,
                    _ => {}
                }
            } else {
                match ch {
                    ':' if followed_by_whitespace => block_indicators = true,
                    '#' if preceded_by_whitespace => block_indicators = true,
                    _ => {}
                }
            }
            if !is_printable(ch) {
                special = true;
            }
            if ch == '\n' {
                line_breaks = true;
            }
            if ch == ' ' {
                if previous_break {
                    break_space = true;
                }
                previous_space = true;
                previous_break = false;
            } else if ch == '\n' {
                if previous_space {
                    space_break = true;
                }
                previous_space = false;
                previous_break = true;
            } else {
                previous_space = false;
                previous_break = false;
            }
            preceded_by_whitespace = ch == ' ' || ch == '\t' || is_break(ch);
        }
        let first = chars[0];
        let last = chars[chars.len() - 1];
        if first == ' ' || first == '\n' || last == ' ' || last == '\n' {
            analysis.block_plain_allowed = false;
        }
        if last == ' ' {
            analysis.block_allowed = false;
        }
        if break_space {
            analysis.block_plain_allowed = false;
            analysis.single_quoted_allowed = false;
        }
        if space_break || special {
            analysis.block_plain_allowed = false;
            analysis.single_quoted_allowed = false;
            analysis.block_allowed = false;
        }
        if line_breaks {
            analysis.block_plain_allowed = false;
            analysis.multiline = true;
        }
        if block_indicators {
            analysis.block_plain_allowed = false;
        }
        analysis
    }
}

/// go-yaml's `yaml_emitter_check_simple_key` for a string key: at most 128 bytes, one line.
fn is_simple_key(key: &str) -> bool {
    key.len() <= 128 && !key.chars().any(is_break)
}

/// YAML line breaks (go-yaml treats all of these as breaks when analysing text).
fn is_break(ch: char) -> bool {
    matches!(ch, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

/// go-yaml v2's printable set: it writes other non-ASCII text as is, but its test covers one- to
/// three-byte UTF-8 only, so characters beyond U+FFFF (emoji) count as unprintable and are
/// escaped (`"\U0001F600"`).
fn is_printable(ch: char) -> bool {
    matches!(ch, '\n' | '\u{20}'..='\u{7E}' | '\u{85}' | '\u{A0}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        && ch != '\u{FEFF}'
}

/// The escape go-yaml writes for `ch` inside double quotes, if it needs one.
fn double_quote_escape(ch: char) -> Option<String> {
    let named = match ch {
        '\0' => "\\0",
        '\u{7}' => "\\a",
        '\u{8}' => "\\b",
        '\t' => "\\t",
        '\n' => "\\n",
        '\u{B}' => "\\v",
        '\u{C}' => "\\f",
        '\r' => "\\r",
        '\u{1B}' => "\\e",
        '"' => "\\\"",
        '\\' => "\\\\",
        '\u{85}' => "\\N",
        '\u{A0}' => "\\_",
        '\u{2028}' => "\\L",
        '\u{2029}' => "\\P",
        _ if !is_printable(ch) || ch == '\u{FEFF}' => {
            let code = ch as u32;
            return Some(if code <= 0xFF {
                format!("\\x{code:02X}")
            } else if code <= 0xFFFF {
                format!("\\u{code:04X}")
            } else {
                format!("\\U{code:08X}")
            });
        }
        _ => return None,
    };
    Some(named.to_string())
}

/// Whether go-yaml v2 (YAML 1.1 rules) would read `text`, unquoted, back as the same string
/// rather than as a null, bool, number or timestamp. (The merge key `<<` stays plain: go-yaml's
/// encoder writes it so.)
fn resolves_as_plain_string(text: &str) -> bool {
    const SPECIAL: &[&str] = &[
        "", "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
        "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
        ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF",
    ];
    if SPECIAL.contains(&text) {
        return false;
    }
    let Some(first) = text.chars().next() else {
        return false;
    };
    let looks_numeric = match first {
        '.' => is_go_float(text),
        '0'..='9' | '+' | '-' => {
            is_timestamp(text) || {
                let plain = text.replace('_', "");
                is_go_int(&plain) || is_yaml_float(&plain) || is_binary_int(&plain)
            }
        }
        _ => false,
    };
    !looks_numeric && !is_base60_float(text)
}

/// Go's `strconv.ParseInt(s, 0, 64)` / `ParseUint` acceptance (overflow aside: a literal too
/// large for 64 bits still reads as a number to go-yaml via its float rule).
fn is_go_int(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (digits, radix) =
        if let Some(rest) = unsigned.strip_prefix("0x").or(unsigned.strip_prefix("0X")) {
            (rest, 16)
        } else if let Some(rest) = unsigned.strip_prefix("0o").or(unsigned.strip_prefix("0O")) {
            (rest, 8)
        } else if let Some(rest) = unsigned.strip_prefix("0b").or(unsigned.strip_prefix("0B")) {
            (rest, 2)
        } else if unsigned.len() > 1 && unsigned.starts_with('0') {
            (&unsigned[1..], 8)
        } else {
            (unsigned, 10)
        };
    !digits.is_empty()
        && digits.chars().all(|c| c.is_digit(radix))
        && u64::from_str_radix(digits, radix).is_ok()
}

fn is_binary_int(text: &str) -> bool {
    let rest = text.strip_prefix("-0b").or(text.strip_prefix("0b"));
    rest.is_some_and(|digits| !digits.is_empty() && digits.chars().all(|c| c == '0' || c == '1'))
}

/// go-yaml's float pattern: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(text: &str) -> bool {
    let rest = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (mantissa, exponent) = match rest.find(['e', 'E']) {
        Some(at) => (&rest[..at], Some(&rest[at + 1..])),
        None => (rest, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", fraction)) => !fraction.is_empty() && all_digits(fraction),
        Some((whole, fraction)) => !whole.is_empty() && all_digits(whole) && all_digits(fraction),
        None => !mantissa.is_empty() && all_digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
        !digits.is_empty() && all_digits(digits)
    });
    mantissa_ok && exponent_ok
}

/// Go's `strconv.ParseFloat` for text starting with `.`: decimal digits and an exponent.
fn is_go_float(text: &str) -> bool {
    is_yaml_float(text)
}

/// go-yaml's base-60 float: `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`.
fn is_base60_float(text: &str) -> bool {
    let rest = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (main, fraction) = match rest.split_once('.') {
        Some((main, fraction)) => (main, Some(fraction)),
        None => (rest, None),
    };
    let mut groups = main.split(':');
    let head = groups.next().unwrap_or("");
    let head_ok = head.starts_with(|c: char| c.is_ascii_digit())
        && head.chars().all(|c| c.is_ascii_digit() || c == '_');
    let tail: Vec<&str> = groups.collect();
    let tail_ok = !tail.is_empty()
        && tail.iter().all(|group| {
            let bytes = group.as_bytes();
            match bytes {
                [d] => d.is_ascii_digit(),
                [a, b] => (b'0'..=b'5').contains(a) && b.is_ascii_digit(),
                _ => false,
            }
        });
    let fraction_ok = fraction.is_none_or(|f| f.chars().all(|c| c.is_ascii_digit() || c == '_'));
    head_ok && tail_ok && fraction_ok
}

/// go-yaml's timestamp forms: `YYYY-M-D`, optionally followed by `T`, `t` or a space and
/// `h:m:s[.fraction]` with an optional zone.
fn is_timestamp(text: &str) -> bool {
    let bytes = text.as_bytes();
    if bytes.len() < 8 || !bytes[..4].iter().all(u8::is_ascii_digit) || bytes[4] != b'-' {
        return false;
    }
    let split_at = text.find(['T', 't', ' ']);
    let (date, time) = match split_at {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let date_parts: Vec<&str> = date.split('-').collect();
    let date_ok = date_parts.len() == 3
        && date_parts[1..]
            .iter()
            .all(|p| (1..=2).contains(&p.len()) && all_digits(p));
    let time_ok = time.is_none_or(|time| {
        let clock_end = time.find(['Z', '+', '-']).unwrap_or(time.len());
        let (clock, zone) = time.split_at(clock_end);
        let clock = clock.split_once('.').map_or(clock, |(hms, _)| hms);
        let parts: Vec<&str> = clock.split(':').collect();
        let zone_ok = zone.is_empty() || zone == "Z" || zone.len() >= 3;
        parts.len() == 3
            && parts
                .iter()
                .all(|p| (1..=2).contains(&p.len()) && all_digits(p))
            && zone_ok
    });
    date_ok && time_ok
}

fn all_digits(text: &str) -> bool {
    text.chars().all(|c| c.is_ascii_digit())
}

/// A JSON number as go-yaml writes it: integers as is, other numbers like Go's shortest `%g`
/// (exponent form below 1e-4 and from 1e6 on, with at least two exponent digits).
fn go_number(number: &Number) -> String {
    let Some(value) = number
        .as_f64()
        .filter(|_| !(number.is_i64() || number.is_u64()))
    else {
        return number.to_string();
    };
    // Rust's `{:e}` gives the shortest round-trip digits, e.g. `1.5e-7`.
    let scientific = format!("{value:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..6).contains(&exponent) {
        return value.to_string();
    }
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.abs())
}

/// Sorts keys in go-yaml v2's order: letters by code point, letters after other characters,
/// and runs of digits by numeric value. The comparison is not a strict total order for every
/// input, so a simple stable insertion sort is used (map keys are few).
fn sort_go_keys(keys: &mut [&String]) {
    for i in 1..keys.len() {
        let mut j = i;
        while j > 0 && go_key_order(keys[j], keys[j - 1]) == Ordering::Less {
            keys.swap(j, j - 1);
            j -= 1;
        }
    }
}

fn go_key_order(a: &str, b: &str) -> Ordering {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    for i in 0..a.len().min(b.len()) {
        if a[i] == b[i] {
            continue;
        }
        let (a_letter, b_letter) = (a[i].is_alphabetic(), b[i].is_alphabetic());
        if a_letter && b_letter {
            return a[i].cmp(&b[i]);
        }
        if a_letter || b_letter {
            return if b_letter {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        let (mut a_number, mut b_number) = (0i64, 0i64);
        if a[i] == '0' || b[i] == '0' {
            let leading_nonzero = a[..i]
                .iter()
                .rev()
                .take_while(|c| c.is_ascii_digit())
                .any(|&c| c != '0');
            if leading_nonzero {
                a_number = 1;
                b_number = 1;
            }
        }
        let a_end = digits_end(&a, i, &mut a_number);
        let b_end = digits_end(&b, i, &mut b_number);
        if a_number != b_number {
            return a_number.cmp(&b_number);
        }
        if a_end != b_end {
            return a_end.cmp(&b_end);
        }
        return a[i].cmp(&b[i]);
    }
    a.len().cmp(&b.len())
}

fn digits_end(text: &[char], start: usize, number: &mut i64) -> usize {
    let mut end = start;
    while let Some(digit) = text.get(end).and_then(|c| c.to_digit(10)) {
        *number = number.wrapping_mul(10).wrapping_add(i64::from(digit));
        end += 1;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(value: Value) -> String {
        match value {
            Value::Object(map) => mapping_to_yaml(&map),
            _ => unreachable!("tests pass mappings"),
        }
    }

    #[test]
    fn keys_sort_like_go_yaml() {
        let keys: Vec<String> = [
            "version",
            "apiVersion",
            "annotations",
            "a10",
            "a9",
            "a.b",
            "Zed",
        ]
        .map(String::from)
        .to_vec();
        let mut refs: Vec<&String> = keys.iter().collect();
        sort_go_keys(&mut refs);
        let sorted: Vec<&str> = refs.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            sorted,
            [
                "Zed",
                "a.b",
                "a9",
                "a10",
                "annotations",
                "apiVersion",
                "version"
            ]
        );
    }

    #[test]
    fn ambiguous_strings_are_quoted() {
        let yaml = render(json!({
            "appVersion": "1.0",
            "a": "true",
            "b": "",
            "c": "- x",
            "d": "it's: here",
            "e": "tab\there",
            "f": "2024-01-02",
            "g": "1:20",
            "h": "v1.2.3",
        }));
        assert_eq!(
            yaml,
            "a: \"true\"\nappVersion: \"1.0\"\nb: \"\"\nc: '- x'\nd: 'it''s: here'\ne: \"tab\\there\"\nf: \"2024-01-02\"\ng: \"1:20\"\nh: v1.2.3\n"
        );
    }

    #[test]
    fn collections_use_go_yaml_layout() {
        let yaml = render(json!({
            "keywords": ["a", "b"],
            "maintainers": [{"name": "x", "email": "x@example.com"}],
            "annotations": {"example.com/b": "2", "example.com/a": "one"},
            "empty": [],
        }));
        assert_eq!(
            yaml,
            "annotations:\n  example.com/a: one\n  example.com/b: \"2\"\nempty: []\nkeywords:\n- a\n- b\nmaintainers:\n- email: x@example.com\n  name: x\n"
        );
    }

    #[test]
    fn long_text_folds_after_column_eighty() {
        let words = "word ".repeat(20);
        let yaml = render(json!({ "description": words.trim_end() }));
        let lines: Vec<&str> = yaml.lines().collect();
        assert_eq!(lines.len(), 2, "{yaml}");
        assert!(lines[0].chars().count() > BEST_WIDTH);
        assert!(lines[1].starts_with("  word"));
    }

    #[test]
    fn multi_line_text_is_a_literal_block() {
        let yaml = render(json!({ "description": "one\ntwo", "z": "end\n" }));
        assert_eq!(yaml, "description: |-\n  one\n  two\nz: |\n  end\n");
    }
}
