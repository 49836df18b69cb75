//! Go's `fmt` printing (`Sprint`, `Sprintln`, `Sprintf`) and the `strconv` pieces it rests on
//! (`Quote`, `FormatFloat`), for the values of [`crate::value`].
//!
//! Ported from Go's `fmt/print.go` and `fmt/format.go`: verbs, flags, width, precision,
//! argument indexes, and the error forms (`%!d(string=x)`, `%!s(MISSING)`, `%!(EXTRA int=1)`).
//! Not supported: `%p` and the `b`/`x` verbs on floats (they print as `%!x(float64=...)`
//! would not, so they fall back to `%g`), and Go-syntax `%#v` beyond strings and numbers.
//!
//! Formatting stops growing its buffer at a length limit so that a hostile value (a map that
//! contains itself) cannot exhaust memory; the `*_limited` functions report that as an error.

use std::fmt::Write;

use crate::value::{Complex, FloatKind, Kind, List, Map, Object, UintKind, Value};

/// Printing nests at most this deep (a map that contains itself would otherwise recurse
/// forever); deeper values print as `...`.
const MAX_DEPTH: usize = 100;
/// The default output limit of the unlimited-looking functions.
const DEFAULT_LIMIT: usize = 64 << 20;

/// The formatted text would have exceeded the given limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("formatted text exceeds {limit} bytes")]
pub struct TooLong {
    pub limit: usize,
}

/// Go's `fmt.Sprint`: operands printed with `%v`, a space between two operands when neither is
/// a string.
pub fn sprint(args: &[Value]) -> String {
    sprint_limited(args, DEFAULT_LIMIT).unwrap_or_default()
}

/// Go's `fmt.Sprintln`: operands printed with `%v` separated by spaces, then a newline.
pub fn sprintln(args: &[Value]) -> String {
    sprintln_limited(args, DEFAULT_LIMIT).unwrap_or_default()
}

/// Go's `fmt.Sprintf`.
pub fn sprintf(format: &str, args: &[Value]) -> String {
    sprintf_limited(format, args, DEFAULT_LIMIT).unwrap_or_default()
}

/// [`sprint`], failing instead of producing more than `limit` bytes.
pub fn sprint_limited(args: &[Value], limit: usize) -> Result<String, TooLong> {
    let mut p = Printer::new(limit);
    let mut prev_string = false;
    for (i, arg) in args.iter().enumerate() {
        let is_string = matches!(arg, Value::String(_));
        if i > 0 && !is_string && !prev_string {
            p.buf.push(' ');
        }
        p.print_arg(arg, 'v');
        prev_string = is_string;
    }
    p.finish()
}

/// [`sprintln`], failing instead of producing more than `limit` bytes.
pub fn sprintln_limited(args: &[Value], limit: usize) -> Result<String, TooLong> {
    let mut p = Printer::new(limit);
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            p.buf.push(' ');
        }
        p.print_arg(arg, 'v');
    }
    p.buf.push('\n');
    p.finish()
}

/// [`sprintf`], failing instead of producing more than `limit` bytes.
pub fn sprintf_limited(format: &str, args: &[Value], limit: usize) -> Result<String, TooLong> {
    let mut p = Printer::new(limit);
    p.do_printf(format, args);
    p.finish()
}

/// What `{{ . }}` prints for a value: Go's `printableValue` then `%v`, where a pointer is
/// printed as what it points to and a String method on the pointer type applies.
pub(crate) fn print_value_limited(value: &Value, limit: usize) -> Result<String, TooLong> {
    let mut p = Printer::new(limit);
    p.addressable_top = true;
    p.print_arg(value, 'v');
    p.finish()
}

#[derive(Clone, Copy, Default)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
    wid: Option<usize>,
    prec: Option<usize>,
}

struct Printer {
    buf: String,
    f: Flags,
    limit: usize,
    erroring: bool,
    reordered: bool,
    good_arg_num: bool,
    /// Printing a template action's value: the top value is addressable and dereferenced.
    addressable_top: bool,
}

impl Printer {
    fn new(limit: usize) -> Printer {
        Printer {
            buf: String::new(),
            f: Flags::default(),
            limit,
            erroring: false,
            reordered: false,
            good_arg_num: true,
            addressable_top: false,
        }
    }

    fn finish(self) -> Result<String, TooLong> {
        if self.buf.len() > self.limit {
            Err(TooLong { limit: self.limit })
        } else {
            Ok(self.buf)
        }
    }

    fn over_limit(&self) -> bool {
        self.buf.len() > self.limit
    }

    // ---- padding (fmt.pad, fmt.padString, fmt.writePadding) ----

    fn write_padding(&mut self, n: usize) {
        if n == 0 || self.over_limit() {
            return;
        }
        let n = n.min(self.limit + 1 - self.buf.len().min(self.limit));
        let pad = if self.f.zero && !self.f.minus {
            '0'
        } else {
            ' '
        };
        self.buf.extend(std::iter::repeat_n(pad, n));
    }

    fn pad(&mut self, s: &str) {
        let Some(wid) = self.f.wid.filter(|&w| w > 0) else {
            self.buf.push_str(s);
            return;
        };
        let width = wid.saturating_sub(s.chars().count());
        if !self.f.minus {
            self.write_padding(width);
            self.buf.push_str(s);
        } else {
            self.buf.push_str(s);
            self.write_padding(width);
        }
    }

    // ---- printf ----

    fn do_printf(&mut self, format: &str, args: &[Value]) {
        let bytes = format.as_bytes();
        let end = bytes.len();
        let mut arg_num = 0usize;
        let mut after_index;
        self.reordered = false;
        let mut i = 0;
        'format: while i < end {
            if self.over_limit() {
                return;
            }
            self.good_arg_num = true;
            let lasti = i;
            while i < end && bytes[i] != b'%' {
                i += 1;
            }
            if i > lasti {
                self.buf.push_str(&format[lasti..i]);
            }
            if i >= end {
                break;
            }
            i += 1; // the '%'
            self.f = Flags::default();
            // Flags, and the fast path for a simple lower-case verb.
            while i < end {
                let c = bytes[i];
                match c {
                    b'#' => self.f.sharp = true,
                    b'0' => self.f.zero = !self.f.minus,
                    b'+' => self.f.plus = true,
                    b'-' => {
                        self.f.minus = true;
                        self.f.zero = false;
                    }
                    b' ' => self.f.space = true,
                    _ => {
                        if c.is_ascii_lowercase() && arg_num < args.len() {
                            if c == b'v' {
                                self.f.sharp_v = self.f.sharp;
                                self.f.sharp = false;
                                self.f.plus_v = self.f.plus;
                                self.f.plus = false;
                            }
                            self.print_arg(&args[arg_num], c as char);
                            arg_num += 1;
                            i += 1;
                            continue 'format;
                        }
                        break;
                    }
                }
                i += 1;
            }
            (arg_num, i, after_index) = self.arg_number(arg_num, format, i, args.len());

            // Width.
            if i < end && bytes[i] == b'*' {
                i += 1;
                let (num, ok, next) = int_from_arg(args, arg_num);
                arg_num = next;
                if !ok {
                    self.buf.push_str("%!(BADWIDTH)");
                    self.f.wid = None;
                } else if num < 0 {
                    self.f.wid = Some(num.unsigned_abs() as usize);
                    self.f.minus = true;
                    self.f.zero = false;
                } else {
                    self.f.wid = Some(num as usize);
                }
                after_index = false;
            } else {
                let (num, present, next) = parse_num(bytes, i, end);
                i = next;
                self.f.wid = present.then_some(num);
                if after_index && present {
                    self.good_arg_num = false;
                }
            }

            // Precision.
            if i + 1 < end && bytes[i] == b'.' {
                i += 1;
                if after_index {
                    self.good_arg_num = false;
                }
                (arg_num, i, after_index) = self.arg_number(arg_num, format, i, args.len());
                if i < end && bytes[i] == b'*' {
                    i += 1;
                    let (num, ok, next) = int_from_arg(args, arg_num);
                    arg_num = next;
                    self.f.prec = (ok && num >= 0).then_some(num as usize);
                    if self.f.prec.is_none() {
                        self.buf.push_str("%!(BADPREC)");
                    }
                    after_index = false;
                } else {
                    let (num, present, next) = parse_num(bytes, i, end);
                    i = next;
                    self.f.prec = Some(if present { num } else { 0 });
                }
            }

            if !after_index {
                (arg_num, i, _) = self.arg_number(arg_num, format, i, args.len());
            }

            if i >= end {
                self.buf.push_str("%!(NOVERB)");
                break;
            }

            let verb = format[i..].chars().next().unwrap_or('?');
            i += verb.len_utf8();

            match verb {
                '%' => self.buf.push('%'),
                _ if !self.good_arg_num => self.bad_arg(verb, "BADINDEX"),
                _ if arg_num >= args.len() => self.bad_arg(verb, "MISSING"),
                _ => {
                    if verb == 'v' {
                        self.f.sharp_v = self.f.sharp;
                        self.f.sharp = false;
                        self.f.plus_v = self.f.plus;
                        self.f.plus = false;
                    }
                    self.print_arg(&args[arg_num], verb);
                    arg_num += 1;
                }
            }
        }

        if !self.reordered && arg_num < args.len() {
            self.f = Flags::default();
            self.buf.push_str("%!(EXTRA ");
            for (i, arg) in args[arg_num..].iter().enumerate() {
                if i > 0 {
                    self.buf.push_str(", ");
                }
                if arg.is_nil() {
                    self.buf.push_str("<nil>");
                } else {
                    self.buf.push_str(&arg.type_name());
                    self.buf.push('=');
                    self.print_arg(arg, 'v');
                }
            }
            self.buf.push(')');
        }
    }

    fn bad_arg(&mut self, verb: char, what: &str) {
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
        self.buf.push_str(what);
        self.buf.push(')');
    }

    /// Go's `argNumber`: an explicit `[n]` argument index.
    fn arg_number(
        &mut self,
        arg_num: usize,
        format: &str,
        i: usize,
        num_args: usize,
    ) -> (usize, usize, bool) {
        let bytes = format.as_bytes();
        if bytes.len() <= i || bytes[i] != b'[' {
            return (arg_num, i, false);
        }
        self.reordered = true;
        let (index, wid, ok) = parse_arg_number(&bytes[i..]);
        if ok && index >= 0 && (index as usize) < num_args {
            return (index as usize, i + wid, true);
        }
        self.good_arg_num = false;
        (arg_num, i + wid, ok)
    }

    // ---- one argument ----

    fn bad_verb(&mut self, verb: char, value: Option<&Value>) {
        self.erroring = true;
        self.buf.push_str("%!");
        self.buf.push(verb);
        self.buf.push('(');
        match value {
            Some(v) if !v.is_nil() => {
                self.buf.push_str(&v.type_name());
                self.buf.push('=');
                self.print_value(v, 'v', 0);
            }
            _ => self.buf.push_str("<nil>"),
        }
        self.buf.push(')');
        self.erroring = false;
    }

    fn print_arg(&mut self, arg: &Value, verb: char) {
        if self.over_limit() {
            return;
        }
        if arg.is_nil() {
            match verb {
                'T' | 'v' => self.pad("<nil>"),
                _ => self.bad_verb(verb, None),
            }
            return;
        }
        if verb == 'T' {
            let name = arg.type_name();
            self.fmt_s(&name);
            return;
        }
        self.print_value(arg, verb, 0);
    }

    /// Go's `handleMethods` for Stringers: returns whether it printed.
    fn handle_methods(&mut self, object: &dyn Object, verb: char, depth: usize) -> bool {
        if self.erroring || self.f.sharp_v {
            return false;
        }
        if object.stringer_needs_pointer() && !(self.addressable_top && depth == 0) {
            return false;
        }
        if matches!(verb, 'v' | 's' | 'x' | 'X' | 'q')
            && let Some(s) = object.stringer()
        {
            self.fmt_string(&s, verb, None);
            return true;
        }
        false
    }

    fn print_value(&mut self, value: &Value, verb: char, depth: usize) {
        if self.over_limit() {
            return;
        }
        if depth > MAX_DEPTH {
            self.buf.push_str("...");
            return;
        }
        match value {
            Value::Nil => {
                // A nil interface inside a container.
                if depth == 0 {
                    self.buf.push_str("<invalid reflect.Value>");
                } else {
                    self.buf.push_str("<nil>");
                }
            }
            Value::Bool(b) => self.fmt_bool(*b, verb, value),
            Value::Int(n, _) => self.fmt_integer(*n as u64, true, verb, value),
            Value::Uint(n, _) => self.fmt_integer(*n, false, verb, value),
            Value::Float(f, kind) => self.fmt_float(*f, *kind, verb, value),
            Value::String(s) => self.fmt_string(s, verb, Some(value)),
            Value::Bytes(b) => self.fmt_bytes(b, verb, value, depth),
            Value::List(list) => self.print_list(list, verb, depth, value),
            Value::Map(map) => self.print_map(map, verb, depth),
            Value::Object(object) => self.print_object(&**object, verb, depth),
        }
    }

    fn print_list(&mut self, list: &List, verb: char, depth: usize, value: &Value) {
        if matches!(verb, 's' | 'q' | 'x' | 'X') && list.elem.kind() == Kind::Uint8 {
            let bytes: Vec<u8> = list
                .items
                .iter()
                .map(|v| v.as_i64().unwrap_or(0) as u8)
                .collect();
            self.fmt_bytes(&bytes, verb, value, depth);
            return;
        }
        let sharp_v = self.f.sharp_v;
        if sharp_v {
            let _ = write!(self.buf, "[]{}{{", list.elem);
        } else {
            self.buf.push('[');
        }
        for (i, item) in list.items.iter().enumerate() {
            if i > 0 {
                self.buf.push_str(if sharp_v { ", " } else { " " });
            }
            if self.over_limit() {
                return;
            }
            self.print_element(item, &list.elem, verb, depth + 1);
        }
        self.buf.push(if sharp_v { '}' } else { ']' });
    }

    /// An element of a container: a nil in an interface slot prints as `<nil>` whatever the
    /// verb (`interface {}(nil)` under `%#v`).
    fn print_element(&mut self, item: &Value, elem: &crate::value::Type, verb: char, depth: usize) {
        if item.is_nil() {
            self.buf.push_str(if self.f.sharp_v {
                "interface {}(nil)"
            } else {
                "<nil>"
            });
            return;
        }
        let _ = elem;
        self.print_value(item, verb, depth);
    }

    fn print_map(&mut self, map: &Map, verb: char, depth: usize) {
        let sharp_v = self.f.sharp_v;
        if sharp_v {
            let _ = write!(self.buf, "map[string]{}{{", map.elem());
        } else {
            self.buf.push_str("map[");
        }
        for (i, (key, item)) in map.snapshot().iter().enumerate() {
            if i > 0 {
                self.buf.push_str(if sharp_v { ", " } else { " " });
            }
            if self.over_limit() {
                return;
            }
            self.fmt_string(key, verb, None);
            self.buf.push(':');
            self.print_element(item, map.elem(), verb, depth + 1);
        }
        self.buf.push(if sharp_v { '}' } else { ']' });
    }

    fn print_object(&mut self, object: &dyn Object, verb: char, depth: usize) {
        if let Some(c) = (object as &dyn std::any::Any).downcast_ref::<Complex>() {
            return self.fmt_complex(*c, verb);
        }
        if self.handle_methods(object, verb, depth) {
            return;
        }
        if let Some(inner) = object.underlying() {
            self.print_value(&inner, verb, depth);
            return;
        }
        if object.kind() == Kind::Ptr {
            if object.is_nil() {
                self.pad("<nil>");
                return;
            }
            if depth == 0 {
                if !self.addressable_top {
                    self.buf.push('&');
                }
            } else {
                let address = object as *const dyn Object as *const () as usize;
                let _ = write!(self.buf, "{address:#x}");
                return;
            }
        }
        self.buf.push('{');
        for (i, (name, field)) in object.print_fields().iter().enumerate() {
            if i > 0 {
                self.buf.push(' ');
            }
            if self.f.plus_v || self.f.sharp_v {
                self.buf.push_str(name);
                self.buf.push(':');
            }
            self.print_value(field, verb, depth + 1);
        }
        self.buf.push('}');
    }

    /// Go's `fmtComplex`: `(re+imi)`, the imaginary part always signed.
    fn fmt_complex(&mut self, c: Complex, verb: char) {
        if !matches!(
            verb,
            'v' | 'b' | 'g' | 'G' | 'x' | 'X' | 'f' | 'F' | 'e' | 'E'
        ) {
            return self.bad_verb(verb, Some(&Value::object(c)));
        }
        let plus = self.f.plus;
        self.buf.push('(');
        self.fmt_float(c.re, FloatKind::Float64, verb, &Value::float(c.re));
        self.f.plus = true;
        self.fmt_float(c.im, FloatKind::Float64, verb, &Value::float(c.im));
        self.buf.push_str("i)");
        self.f.plus = plus;
    }

    fn fmt_bool(&mut self, b: bool, verb: char, value: &Value) {
        match verb {
            't' | 'v' => self.pad(if b { "true" } else { "false" }),
            _ => self.bad_verb(verb, Some(value)),
        }
    }

    fn fmt_integer(&mut self, v: u64, signed: bool, verb: char, value: &Value) {
        match verb {
            'v' if self.f.sharp_v && !signed => {
                self.f.sharp = true;
                self.integer(v, 16, signed, verb, LDIGITS);
            }
            'v' | 'd' => self.integer(v, 10, signed, verb, LDIGITS),
            'b' => self.integer(v, 2, signed, verb, LDIGITS),
            'o' | 'O' => self.integer(v, 8, signed, verb, LDIGITS),
            'x' => self.integer(v, 16, signed, verb, LDIGITS),
            'X' => self.integer(v, 16, signed, verb, UDIGITS),
            'c' => {
                let r = char_of(v);
                self.pad(r.encode_utf8(&mut [0; 4]));
            }
            'q' => {
                let r = char_of(v);
                let quoted = if self.f.sharp && r != '`' && is_print(r) {
                    format!("`{r}`")
                } else {
                    quote_rune(r, self.f.plus)
                };
                self.pad(&quoted);
            }
            'U' => {
                let mut s = format!("U+{:04X}", v);
                if let Some(prec) = self.f.prec {
                    let digits = s.len() - 2;
                    if prec > digits {
                        s = format!("U+{}{:X}", "0".repeat(prec - digits), v);
                    }
                }
                if self.f.sharp
                    && v <= 0x10FFFF
                    && let Some(r) = char::from_u32(v as u32).filter(|&r| is_print(r))
                {
                    s.push_str(&format!(" '{r}'"));
                }
                let zero = self.f.zero;
                self.f.zero = false;
                self.pad(&s);
                self.f.zero = zero;
            }
            _ => self.bad_verb(verb, Some(value)),
        }
    }

    /// Go's `fmt.fmtInteger`.
    fn integer(&mut self, u: u64, base: u64, signed: bool, verb: char, digits: &[u8; 17]) {
        let negative = signed && (u as i64) < 0;
        let mut u = if negative {
            (u as i64).unsigned_abs()
        } else {
            u
        };
        let mut prec = 0usize;
        if let Some(p) = self.f.prec {
            prec = p;
            if p == 0 && u == 0 {
                let zero = self.f.zero;
                self.f.zero = false;
                self.write_padding(self.f.wid.unwrap_or(0));
                self.f.zero = zero;
                return;
            }
        } else if self.f.zero && !self.f.minus && self.f.wid.is_some() {
            prec = self.f.wid.unwrap_or(0);
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1);
            }
        }
        let mut buf: Vec<u8> = Vec::with_capacity(24 + prec);
        while u >= base {
            buf.push(digits[(u % base) as usize]);
            u /= base;
        }
        buf.push(digits[u as usize]);
        while buf.len() < prec {
            buf.push(b'0');
        }
        if self.f.sharp {
            match base {
                2 => buf.extend_from_slice(b"b0"),
                8 if buf.last() != Some(&b'0') => buf.push(b'0'),
                16 => {
                    buf.push(digits[16]);
                    buf.push(b'0');
                }
                _ => {}
            }
        }
        if verb == 'O' {
            buf.extend_from_slice(b"o0");
        }
        if negative {
            buf.push(b'-');
        } else if self.f.plus {
            buf.push(b'+');
        } else if self.f.space {
            buf.push(b' ');
        }
        buf.reverse();
        let s = String::from_utf8(buf).unwrap_or_default();
        let zero = self.f.zero;
        self.f.zero = false;
        self.pad(&s);
        self.f.zero = zero;
    }

    fn fmt_float(&mut self, v: f64, kind: FloatKind, verb: char, value: &Value) {
        let bits = if kind == FloatKind::Float32 { 32 } else { 64 };
        let (fmt, default_prec) = match verb {
            'v' => ('g', -1),
            'g' | 'G' | 'b' | 'x' | 'X' => (verb, -1),
            'f' | 'F' => ('f', 6),
            'e' | 'E' => (verb, 6),
            _ => return self.bad_verb(verb, Some(value)),
        };
        let prec = self.f.prec.map(|p| p as i32).unwrap_or(default_prec);
        let mut num = format_float(v, fmt, prec, bits);
        // Go formats with a sign always present, then decides whether to show it.
        if !num.starts_with(['-', '+']) {
            num.insert(0, '+');
        }
        if self.f.space && num.starts_with('+') && !self.f.plus {
            num.replace_range(0..1, " ");
        }
        let second = num.as_bytes().get(1).copied();
        if second == Some(b'I') || second == Some(b'N') {
            let zero = self.f.zero;
            self.f.zero = false;
            if second == Some(b'N') && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            self.pad(&num);
            self.f.zero = zero;
            return;
        }
        if self.f.sharp && verb != 'b' {
            num = sharp_float(num, verb, prec, self.f.prec.is_some());
        }
        if self.f.plus || !num.starts_with('+') {
            if self.f.zero
                && !self.f.minus
                && let Some(wid) = self.f.wid.filter(|&w| w > num.len())
            {
                self.buf.push_str(&num[..1]);
                self.write_padding(wid - num.len());
                self.buf.push_str(&num[1..]);
                return;
            }
            self.pad(&num);
            return;
        }
        self.pad(&num[1..]);
    }

    fn fmt_string(&mut self, s: &str, verb: char, value: Option<&Value>) {
        match verb {
            'v' if self.f.sharp_v => self.fmt_q(s),
            'v' | 's' => self.fmt_s(s),
            'x' => self.fmt_sbx(s.as_bytes(), LDIGITS),
            'X' => self.fmt_sbx(s.as_bytes(), UDIGITS),
            'q' => self.fmt_q(s),
            _ => {
                let owned;
                let value = match value {
                    Some(v) => v,
                    None => {
                        owned = Value::string(s);
                        &owned
                    }
                };
                self.bad_verb(verb, Some(value))
            }
        }
    }

    fn truncate<'s>(&self, s: &'s str) -> &'s str {
        match self.f.prec {
            Some(p) => match s.char_indices().nth(p) {
                Some((i, _)) => &s[..i],
                None => s,
            },
            None => s,
        }
    }

    fn fmt_s(&mut self, s: &str) {
        let s = self.truncate(s);
        self.pad(s);
    }

    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s);
        if self.f.sharp && can_backquote(s) {
            let quoted = format!("`{s}`");
            self.pad(&quoted);
            return;
        }
        let quoted = if self.f.plus {
            quote_ascii(s)
        } else {
            quote(s)
        };
        self.pad(&quoted);
    }

    /// Go's `fmtSbx`: hexadecimal encoding of bytes.
    fn fmt_sbx(&mut self, b: &[u8], digits: &[u8; 17]) {
        let mut length = b.len();
        if let Some(p) = self.f.prec {
            length = length.min(p);
        }
        let mut width = 2 * length;
        if width > 0 {
            if self.f.space {
                if self.f.sharp {
                    width *= 2;
                }
                width += length - 1;
            } else if self.f.sharp {
                width += 2;
            }
        } else {
            if let Some(w) = self.f.wid {
                self.write_padding(w);
            }
            return;
        }
        let wid = self.f.wid.unwrap_or(0);
        if wid > width && !self.f.minus {
            self.write_padding(wid - width);
        }
        if self.f.sharp {
            self.buf.push('0');
            self.buf.push(digits[16] as char);
        }
        for (i, &c) in b[..length].iter().enumerate() {
            if self.f.space && i > 0 {
                self.buf.push(' ');
                if self.f.sharp {
                    self.buf.push('0');
                    self.buf.push(digits[16] as char);
                }
            }
            self.buf.push(digits[(c >> 4) as usize] as char);
            self.buf.push(digits[(c & 0xF) as usize] as char);
        }
        if wid > width && self.f.minus {
            self.write_padding(wid - width);
        }
    }

    fn fmt_bytes(&mut self, b: &[u8], verb: char, value: &Value, depth: usize) {
        match verb {
            'v' | 'd' if self.f.sharp_v => {
                self.buf.push_str("[]byte{");
                for (i, &c) in b.iter().enumerate() {
                    if i > 0 {
                        self.buf.push_str(", ");
                    }
                    self.f.sharp = true;
                    self.integer(c as u64, 16, false, 'v', LDIGITS);
                }
                self.buf.push('}');
            }
            'v' | 'd' => {
                self.buf.push('[');
                for (i, &c) in b.iter().enumerate() {
                    if i > 0 {
                        self.buf.push(' ');
                    }
                    self.integer(c as u64, 10, false, verb, LDIGITS);
                }
                self.buf.push(']');
            }
            's' => {
                let s = String::from_utf8_lossy(b);
                self.fmt_s(&s);
            }
            'x' => self.fmt_sbx(b, LDIGITS),
            'X' => self.fmt_sbx(b, UDIGITS),
            'q' => {
                let s = String::from_utf8_lossy(b);
                self.fmt_q(&s);
            }
            _ => {
                self.buf.push('[');
                for (i, &c) in b.iter().enumerate() {
                    if i > 0 {
                        self.buf.push(' ');
                    }
                    self.fmt_integer(
                        c as u64,
                        false,
                        verb,
                        &Value::Uint(c as u64, UintKind::Uint8),
                    );
                }
                self.buf.push(']');
                let _ = (value, depth);
            }
        }
    }
}

const LDIGITS: &[u8; 17] = b"0123456789abcdefx";
const UDIGITS: &[u8; 17] = b"0123456789ABCDEFX";

fn char_of(v: u64) -> char {
    if v > 0x10FFFF {
        return '\u{FFFD}';
    }
    char::from_u32(v as u32).unwrap_or('\u{FFFD}')
}

/// Go's `parsenum`: digits at `start`, refusing absurd widths (over a million).
fn parse_num(s: &[u8], start: usize, end: usize) -> (usize, bool, usize) {
    if start >= end {
        return (0, false, end);
    }
    let mut num = 0usize;
    let mut present = false;
    let mut i = start;
    while i < end && s[i].is_ascii_digit() {
        if num > 1_000_000 {
            return (0, false, end);
        }
        num = num * 10 + (s[i] - b'0') as usize;
        present = true;
        i += 1;
    }
    (num, present, i)
}

/// Go's `parseArgNumber`: `[n]` → (n-1, bytes used, ok).
fn parse_arg_number(format: &[u8]) -> (i64, usize, bool) {
    if format.len() < 3 {
        return (0, 1, false);
    }
    for i in 1..format.len() {
        if format[i] == b']' {
            let (width, ok, newi) = parse_num(format, 1, i);
            if !ok || newi != i {
                return (0, i + 1, false);
            }
            return (width as i64 - 1, i + 1, true);
        }
    }
    (0, 1, false)
}

/// Go's `intFromArg` for `*` widths and precisions.
fn int_from_arg(args: &[Value], arg_num: usize) -> (i64, bool, usize) {
    let Some(arg) = args.get(arg_num) else {
        return (0, false, arg_num);
    };
    let (num, ok) = match arg {
        Value::Int(n, _) => (*n, true),
        Value::Uint(n, _) if *n <= i64::MAX as u64 => (*n as i64, true),
        _ => (0, false),
    };
    if !(-1_000_000..=1_000_000).contains(&num) {
        return (0, false, arg_num + 1);
    }
    (num, ok, arg_num + 1)
}

/// The `#` flag on floats: keep a decimal point, and for `%g` keep trailing zeros.
fn sharp_float(num: String, verb: char, prec: i32, prec_present: bool) -> String {
    let mut digits: i64 = match verb {
        'v' | 'g' | 'G' | 'x' => {
            if prec_present {
                prec as i64
            } else {
                6
            }
        }
        _ => 0,
    };
    if matches!(verb, 'x' | 'X') && digits == 0 {
        digits = 1;
    }
    let bytes = num.as_bytes();
    let mut tail = String::new();
    let mut saw_nonzero = false;
    let mut body_end = bytes.len();
    let mut has_point = false;
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'.' => has_point = true,
            b'p' | b'P' | b'e' | b'E' => {
                tail = num[i..].to_string();
                body_end = i;
                break;
            }
            b'0' => {
                if saw_nonzero {
                    digits -= 1;
                }
            }
            _ => {
                saw_nonzero = true;
                digits -= 1;
            }
        }
        i += 1;
    }
    let mut out = num[..body_end].to_string();
    if !has_point {
        if body_end == 2 && bytes[1] == b'0' {
            digits -= 1;
        }
        out.push('.');
    }
    while digits > 0 {
        out.push('0');
        digits -= 1;
    }
    out.push_str(&tail);
    out
}

// ---- strconv ----

/// The decimal digits of a float and where the decimal point goes: `0.d1d2... × 10^dp`.
struct Digits {
    digits: Vec<u8>,
    dp: i64,
}

/// Parses Rust's `{:e}` output (`d.ddde±x`) into digits without trailing zeros.
fn digits_of(sci: &str) -> Digits {
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    if digits.is_empty() {
        return Digits { digits, dp: 0 };
    }
    Digits {
        digits,
        dp: exp + 1,
    }
}

/// Go's `strconv.FormatFloat(v, fmt, prec, bits)` for the formats `e`, `E`, `f`, `g`, `G`
/// (`prec` -1 means the shortest representation that reads back as the same number).
pub fn format_float(v: f64, fmt: char, prec: i32, bits: u32) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let neg = v.is_sign_negative();
    if matches!(fmt, 'b' | 'x' | 'X') {
        return format_float_binary(v, fmt, prec, bits);
    }
    let a = v.abs();
    let shortest = prec < 0;
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    let sci = |p: Option<usize>| -> String {
        match (p, bits) {
            (None, 32) => format!("{:e}", a as f32),
            (None, _) => format!("{a:e}"),
            (Some(p), 32) => format!("{:.*e}", p, a as f32),
            (Some(p), _) => format!("{a:.*e}", p),
        }
    };
    match fmt {
        'e' | 'E' => {
            let digs = digits_of(&sci(if shortest { None } else { Some(prec as usize) }));
            let p = if shortest {
                digs.digits.len().saturating_sub(1)
            } else {
                prec as usize
            };
            fmt_e(&mut out, &digs, p, fmt);
        }
        'f' | 'F' => {
            if shortest {
                let digs = digits_of(&sci(None));
                let p = (digs.digits.len() as i64 - digs.dp).max(0) as usize;
                fmt_f(&mut out, &digs, p);
            } else {
                let s = if bits == 32 {
                    format!("{:.*}", prec as usize, a as f32)
                } else {
                    format!("{a:.*}", prec as usize)
                };
                out.push_str(&s);
            }
        }
        _ => {
            let upper = fmt == 'G';
            let (digs, mut p) = if shortest {
                let digs = digits_of(&sci(None));
                let n = digs.digits.len();
                (digs, n as i64)
            } else {
                let p = if prec == 0 { 1 } else { prec as usize };
                (digits_of(&sci(Some(p - 1))), p as i64)
            };
            let nd = digs.digits.len() as i64;
            let mut eprec = p;
            if eprec > nd && nd >= digs.dp {
                eprec = nd;
            }
            if shortest {
                eprec = 6;
            }
            let exp = digs.dp - 1;
            if exp < -4 || exp >= eprec {
                if p > nd {
                    p = nd;
                }
                fmt_e(
                    &mut out,
                    &digs,
                    (p - 1).max(0) as usize,
                    if upper { 'E' } else { 'e' },
                );
            } else {
                if p > digs.dp {
                    p = nd;
                }
                fmt_f(&mut out, &digs, (p - digs.dp).max(0) as usize);
            }
        }
    }
    out
}

/// The mantissa (with its implicit bit) and unbiased exponent of a float, as strconv sees them.
fn float_parts(v: f64, bits: u32) -> (u64, i64, u32) {
    if bits == 32 {
        let b = (v as f32).to_bits();
        let mut exp = ((b >> 23) & 0xFF) as i64;
        let mut mant = (b & ((1 << 23) - 1)) as u64;
        if exp == 0 {
            exp += 1;
        } else {
            mant |= 1 << 23;
        }
        (mant, exp - 127, 23)
    } else {
        let b = v.to_bits();
        let mut exp = ((b >> 52) & 0x7FF) as i64;
        let mut mant = b & ((1 << 52) - 1);
        if exp == 0 {
            exp += 1;
        } else {
            mant |= 1 << 52;
        }
        (mant, exp - 1023, 52)
    }
}

/// strconv's `b` (`-ddddp±ddd`) and `x`/`X` (`-0x1.yyyyp±dd`) formats.
fn format_float_binary(v: f64, fmt: char, prec: i32, bits: u32) -> String {
    let neg = v.is_sign_negative();
    let (mut mant, mut exp, mantbits) = float_parts(v, bits);
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    if fmt == 'b' {
        let _ = write!(out, "{mant}p");
        exp -= mantbits as i64;
        if exp >= 0 {
            out.push('+');
        }
        let _ = write!(out, "{exp}");
        return out;
    }
    if mant == 0 {
        exp = 0;
    }
    mant <<= 60 - mantbits;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if (0..15).contains(&prec) {
        let shift = (prec * 4) as u32;
        let extra = (mant << shift) & ((1 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let hex: &[u8; 16] = if fmt == 'X' {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    out.push('0');
    out.push(fmt);
    out.push((b'0' + ((mant >> 60) & 1) as u8) as char);
    mant <<= 4;
    if prec < 0 && mant != 0 {
        out.push('.');
        while mant != 0 {
            out.push(hex[((mant >> 60) & 15) as usize] as char);
            mant <<= 4;
        }
    } else if prec > 0 {
        out.push('.');
        for _ in 0..prec {
            out.push(hex[((mant >> 60) & 15) as usize] as char);
            mant <<= 4;
        }
    }
    out.push(if fmt == 'X' { 'P' } else { 'p' });
    out.push(if exp < 0 { '-' } else { '+' });
    let exp = exp.abs();
    if exp < 10 {
        out.push('0');
    }
    let _ = write!(out, "{exp}");
    out
}

fn fmt_e(out: &mut String, d: &Digits, prec: usize, e: char) {
    out.push(d.digits.first().map(|&c| c as char).unwrap_or('0'));
    if prec > 0 {
        out.push('.');
        for i in 1..=prec {
            out.push(d.digits.get(i).map(|&c| c as char).unwrap_or('0'));
        }
    }
    out.push(e);
    let exp = if d.digits.is_empty() { 0 } else { d.dp - 1 };
    out.push(if exp < 0 { '-' } else { '+' });
    let exp = exp.abs();
    if exp < 10 {
        out.push('0');
    }
    let _ = write!(out, "{exp}");
}

fn fmt_f(out: &mut String, d: &Digits, prec: usize) {
    if d.dp > 0 {
        let m = (d.dp as usize).min(d.digits.len());
        for &c in &d.digits[..m] {
            out.push(c as char);
        }
        for _ in m..d.dp as usize {
            out.push('0');
        }
    } else {
        out.push('0');
    }
    if prec > 0 {
        out.push('.');
        for i in 1..=prec as i64 {
            let j = d.dp + i - 1;
            let c = if j >= 0 && (j as usize) < d.digits.len() {
                d.digits[j as usize] as char
            } else {
                '0'
            };
            out.push(c);
        }
    }
}

/// Go's `strconv.Quote`: a double-quoted Go string literal, escaping what is not printable.
pub fn quote(s: &str) -> String {
    quote_with(s, '"', false)
}

/// Go's `strconv.QuoteToASCII`.
pub fn quote_ascii(s: &str) -> String {
    quote_with(s, '"', true)
}

/// Go's `strconv.QuoteRune` (or `QuoteRuneToASCII`).
fn quote_rune(r: char, ascii: bool) -> String {
    let mut buf = [0u8; 4];
    quote_with(r.encode_utf8(&mut buf), '\'', ascii)
}

fn quote_with(s: &str, q: char, ascii: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(q);
    for r in s.chars() {
        if r == q || r == '\\' {
            out.push('\\');
            out.push(r);
            continue;
        }
        if ascii {
            if r.is_ascii() && is_print(r) {
                out.push(r);
                continue;
            }
        } else if is_print(r) {
            out.push(r);
            continue;
        }
        match r {
            '\x07' => out.push_str("\\a"),
            '\x08' => out.push_str("\\b"),
            '\x0c' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\x0b' => out.push_str("\\v"),
            _ if (r as u32) < 0x20 || r == '\x7f' => {
                let _ = write!(out, "\\x{:02x}", r as u32);
            }
            _ if (r as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", r as u32);
            }
            _ => {
                let _ = write!(out, "\\U{:08x}", r as u32);
            }
        }
    }
    out.push(q);
    out
}

/// Go's `strconv.CanBackquote`.
fn can_backquote(s: &str) -> bool {
    s.chars()
        .all(|r| r != '`' && r != '\u{FEFF}' && (r == '\t' || !(r < ' ' || r == '\x7f')))
}

/// Go's `unicode.IsPrint`, closely approximated: letters, marks, numbers, punctuation, symbols
/// and the ASCII space; not controls, other spaces, format characters, private use or
/// noncharacters.
pub fn is_print(r: char) -> bool {
    if r == ' ' {
        return true;
    }
    if r.is_control() || r.is_whitespace() {
        return false;
    }
    let c = r as u32;
    !matches!(c,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x890..=0x891 | 0x8E2 | 0x180E
        | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB
        | 0x110BD | 0x110CD | 0x13430..=0x1343F | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
        | 0xE0001 | 0xE0020..=0xE007F
        | 0xD800..=0xDFFF | 0xE000..=0xF8FF | 0xF0000..=0x10FFFF
        | 0xFDD0..=0xFDEF | 0x2FE0..=0x2FEF | 0x2FFC..=0x2FFF)
        && (c & 0xFFFE) != 0xFFFE
}
