//! Go's `strconv.Unquote` and `strconv.UnquoteChar`, for string, raw string and character
//! literals in templates.

/// Go's `strconv.ErrSyntax`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid syntax")]
pub(crate) struct SyntaxError;

/// Go's `strconv.Unquote` for `"..."`, `` `...` `` and `'...'`. Escapes that produce bytes which
/// are not UTF-8 (`"\xff"`) become U+FFFD, since a Rust string cannot hold them.
pub(crate) fn unquote(s: &str) -> Result<String, SyntaxError> {
    let bytes = s.as_bytes();
    let n = bytes.len();
    if n < 2 || bytes[0] != bytes[n - 1] {
        return Err(SyntaxError);
    }
    let quote = bytes[0] as char;
    let body = &s[1..n - 1];
    if quote == '`' {
        if body.contains('`') {
            return Err(SyntaxError);
        }
        return Ok(body.replace('\r', ""));
    }
    if quote != '"' && quote != '\'' {
        return Err(SyntaxError);
    }
    if body.contains('\n') {
        return Err(SyntaxError);
    }
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let mut rest = body;
    while !rest.is_empty() {
        let (value, tail) = unquote_value(rest, quote)?;
        match value {
            Unquoted::Byte(b) => out.push(b),
            Unquoted::Char(c) => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
        rest = tail;
        if quote == '\'' && !rest.is_empty() {
            return Err(SyntaxError);
        }
    }
    if quote == '\'' && out.is_empty() {
        return Err(SyntaxError);
    }
    Ok(match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

enum Unquoted {
    /// A single byte from `\x` or an octal escape.
    Byte(u8),
    Char(char),
}

/// Go's `strconv.UnquoteChar`: the first character of `s` (after the opening quote) and the
/// rest. `\x` and octal escapes give their byte value as a character.
pub(crate) fn unquote_char(s: &str, quote: char) -> Result<(char, &str), SyntaxError> {
    let (value, tail) = unquote_value(s, quote)?;
    Ok(match value {
        Unquoted::Byte(b) => (b as char, tail),
        Unquoted::Char(c) => (c, tail),
    })
}

fn unquote_value(s: &str, quote: char) -> Result<(Unquoted, &str), SyntaxError> {
    let mut chars = s.chars();
    let c = chars.next().ok_or(SyntaxError)?;
    if c == quote && (quote == '\'' || quote == '"') {
        return Err(SyntaxError);
    }
    if c != '\\' {
        return Ok((Unquoted::Char(c), chars.as_str()));
    }
    let esc = chars.next().ok_or(SyntaxError)?;
    let rest = chars.as_str();
    let simple = |c: char| Ok((Unquoted::Char(c), rest));
    match esc {
        'a' => simple('\x07'),
        'b' => simple('\x08'),
        'f' => simple('\x0c'),
        'n' => simple('\n'),
        'r' => simple('\r'),
        't' => simple('\t'),
        'v' => simple('\x0b'),
        '\\' => simple('\\'),
        '\'' | '"' if esc == quote => simple(esc),
        'x' | 'u' | 'U' => {
            let n = match esc {
                'x' => 2,
                'u' => 4,
                _ => 8,
            };
            let digits = rest.get(..n).ok_or(SyntaxError)?;
            if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(SyntaxError);
            }
            let v = u32::from_str_radix(digits, 16).map_err(|_| SyntaxError)?;
            let tail = &rest[n..];
            if esc == 'x' {
                return Ok((Unquoted::Byte(v as u8), tail));
            }
            let c = char::from_u32(v).ok_or(SyntaxError)?;
            Ok((Unquoted::Char(c), tail))
        }
        '0'..='7' => {
            let digits = rest.get(..2).ok_or(SyntaxError)?;
            let mut v = esc as u32 - '0' as u32;
            for b in digits.bytes() {
                if !(b'0'..=b'7').contains(&b) {
                    return Err(SyntaxError);
                }
                v = (v << 3) | (b - b'0') as u32;
            }
            if v > 255 {
                return Err(SyntaxError);
            }
            Ok((Unquoted::Byte(v as u8), &rest[2..]))
        }
        _ => Err(SyntaxError),
    }
}
