//! The string transformations Sprig borrows from Go's `strings` package and from its
//! dependencies `Masterminds/goutils` and `huandu/xstrings`, rewritten rule for rule so that
//! edge cases (a string that starts with a space, digits inside a camel-case word, a width below
//! the minimum) come out as Go's do.

/// Go's `unicode.IsSpace`.
pub fn is_go_space(ch: char) -> bool {
    match ch {
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{85}' | '\u{a0}' => true,
        c if (c as u32) < 0x80 => false,
        c => c.is_whitespace(),
    }
}

/// Go's `unicode.IsUpper` (Rust's `is_uppercase` also counts other "Uppercase" code points, such
/// as the circled letters, which Go does not; close enough outside those symbols).
fn is_upper(ch: char) -> bool {
    ch.is_uppercase() && !is_title(ch)
}

fn is_lower(ch: char) -> bool {
    ch.is_lowercase()
}

/// Go's `unicode.IsTitle`: the few title-case digraphs.
fn is_title(ch: char) -> bool {
    matches!(
        ch,
        '\u{1c5}' | '\u{1c8}' | '\u{1cb}' | '\u{1f2}' | '\u{1f88}'..='\u{1f8f}' | '\u{1f98}'..='\u{1f9f}'
            | '\u{1fa8}'..='\u{1faf}' | '\u{1fbc}' | '\u{1fcc}' | '\u{1ffc}'
    )
}

/// Go's `unicode.ToUpper` for one rune: one rune out (Rust may expand `ß` to `SS`; Go keeps it).
pub fn to_upper_rune(ch: char) -> char {
    let mut upper = ch.to_uppercase();
    match (upper.next(), upper.next()) {
        (Some(single), None) => single,
        _ => ch,
    }
}

/// Go's `unicode.ToLower` for one rune (simple case mapping: `İ` becomes `i`).
pub fn to_lower_rune(ch: char) -> char {
    if ch == '\u{130}' {
        return 'i';
    }
    let mut lower = ch.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(single), None) => single,
        _ => ch,
    }
}

/// Go's `unicode.ToTitle` for one rune: the upper case, except for the digraphs that have a
/// distinct title case.
pub fn to_title_rune(ch: char) -> char {
    match ch {
        '\u{1c4}'..='\u{1c6}' => '\u{1c5}',
        '\u{1c7}'..='\u{1c9}' => '\u{1c8}',
        '\u{1ca}'..='\u{1cc}' => '\u{1cb}',
        '\u{1f1}'..='\u{1f3}' => '\u{1f2}',
        _ => to_upper_rune(ch),
    }
}

/// Go's `strings.ToUpper`.
pub fn go_upper(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_uppercase();
    }
    text.chars().map(to_upper_rune).collect()
}

/// Go's `strings.ToLower`.
pub fn go_lower(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    text.chars().map(to_lower_rune).collect()
}

/// Go's `strings.TrimSpace`.
pub fn go_trim_space(text: &str) -> &str {
    text.trim_matches(is_go_space)
}

/// Go's deprecated `strings.Title`: the first letter of each word in title case, where words are
/// separated by anything that is not a letter, digit, `_` or non-space symbol... as Go's
/// `isSeparator` decides.
pub fn go_title(text: &str) -> String {
    let mut previous = ' ';
    text.chars()
        .map(|ch| {
            let out = if is_title_separator(previous) {
                to_title_rune(ch)
            } else {
                ch
            };
            previous = ch;
            out
        })
        .collect()
}

/// Go's `isSeparator` from `strings.Title`.
fn is_title_separator(ch: char) -> bool {
    if ch.is_ascii() {
        return !(ch.is_ascii_alphanumeric() || ch == '_');
    }
    if ch.is_alphanumeric() {
        return false;
    }
    is_go_space(ch)
}

/// Go's `strings.Trim(text, cutset)`: removes leading and trailing characters found in `cutset`.
pub fn go_trim_cutset<'t>(text: &'t str, cutset: &str) -> &'t str {
    if text.is_empty() || cutset.is_empty() {
        return text;
    }
    text.trim_matches(|c: char| cutset.contains(c))
}

/// goutils' `Abbreviate(str, maxWidth)` as Sprig's `abbrev` calls it (widths below 4 leave the
/// text alone). Byte-based like Go: a cut inside a multi-byte character is moved back to the
/// character's start.
pub fn abbreviate(text: &str, max_width: i64) -> String {
    abbreviate_full(text, 0, max_width).unwrap_or_default()
}

/// goutils' `AbbreviateFull(str, offset, maxWidth)`; `None` where goutils returns an error (Sprig
/// then prints the empty string).
pub fn abbreviate_full(text: &str, offset: i64, max_width: i64) -> Option<String> {
    if text.is_empty() {
        return Some(String::new());
    }
    if max_width < 4 {
        return None;
    }
    let len = text.len() as i64;
    if len <= max_width {
        return Some(text.to_string());
    }
    let mut offset = offset.min(len);
    if len - offset < max_width - 3 {
        offset = len - (max_width - 3);
    }
    const MARKER: &str = "...";
    if offset <= 4 {
        return Some(format!("{}{MARKER}", lossy_slice(text, 0, max_width - 3)));
    }
    if max_width < 7 {
        return None;
    }
    if offset + max_width - 3 < len {
        let inner = abbreviate(&lossy_slice(text, offset, len), max_width - 3);
        return Some(format!("{MARKER}{inner}"));
    }
    Some(format!(
        "{MARKER}{}",
        lossy_slice(text, len - (max_width - 3), len)
    ))
}

/// `text[start..end]` by bytes as Go slices strings; a cut inside a character leaves bytes that
/// are not UTF-8, which become U+FFFD here (as they would in any later encoding).
pub fn lossy_slice(text: &str, start: i64, end: i64) -> String {
    let clamp = |at: i64| at.clamp(0, text.len() as i64) as usize;
    let (start, end) = (clamp(start), clamp(end));
    if start >= end {
        return String::new();
    }
    String::from_utf8_lossy(&text.as_bytes()[start..end]).into_owned()
}

/// goutils' `DeleteWhiteSpace` (Sprig's `nospace`). goutils walks bytes, not characters: each
/// byte is taken as the character of the same number, spaces among those are dropped, and the
/// rest written back as characters, so when anything was dropped, multi-byte characters come
/// out as their bytes' Latin-1 characters (`"日 本"` gives `"æ\u{97}¥æ\u{9c}¬"`), exactly as Go.
pub fn delete_white_space(text: &str) -> String {
    let kept: String = text
        .bytes()
        .map(char::from)
        .filter(|&c| !is_go_space(c))
        .collect();
    if kept.chars().count() == text.len() {
        return text.to_string();
    }
    kept
}

/// goutils' `Initials` with whitespace delimiters: the first byte of each word, taken as the
/// character of the same number (so `"über"` gives `"Ã"`, as in Go).
pub fn initials(text: &str) -> String {
    let mut out = String::new();
    let mut after_gap = true;
    for ch in text.bytes().map(char::from) {
        if is_go_space(ch) {
            after_gap = true;
        } else if after_gap {
            out.push(ch);
            after_gap = false;
        }
    }
    out
}

/// goutils' `Uncapitalize` (Sprig's `untitle`): lower-cases the first letter of each
/// whitespace-separated word.
pub fn uncapitalize(text: &str) -> String {
    let mut next = true;
    text.chars()
        .map(|ch| {
            if is_go_space(ch) {
                next = true;
                ch
            } else if next {
                next = false;
                to_lower_rune(ch)
            } else {
                ch
            }
        })
        .collect()
}

/// goutils' `SwapCase`: upper and title case become lower; lower case becomes title case after
/// whitespace (or at the start) and upper case elsewhere.
pub fn swap_case(text: &str) -> String {
    let mut after_space = true;
    text.chars()
        .map(|ch| {
            if is_upper(ch) || is_title(ch) {
                after_space = false;
                to_lower_rune(ch)
            } else if is_lower(ch) {
                if after_space {
                    after_space = false;
                    to_title_rune(ch)
                } else {
                    to_upper_rune(ch)
                }
            } else {
                after_space = is_go_space(ch);
                ch
            }
        })
        .collect()
}

/// goutils' `WrapCustom(str, wrapLength, newLine, wrapLongWords)`: greedy wrapping at spaces,
/// counting bytes like Go.
pub fn wrap_custom(text: &str, wrap_length: i64, new_line: &str, wrap_long_words: bool) -> String {
    if text.is_empty() {
        return String::new();
    }
    let new_line = if new_line.is_empty() { "\n" } else { new_line };
    let wrap_length = wrap_length.max(1) as usize;
    let bytes = text.as_bytes();
    let length = bytes.len();
    let mut offset = 0usize;
    let mut out = String::with_capacity(length + length / wrap_length * new_line.len());
    let piece = |from: usize, to: usize| lossy_slice(text, from as i64, to as i64);
    while length - offset > wrap_length {
        if bytes[offset] == b' ' {
            offset += 1;
            continue;
        }
        let end = (wrap_length + offset + 1).min(length);
        let space = bytes[offset..end].iter().rposition(|&b| b == b' ');
        match space {
            Some(at) => {
                out.push_str(&piece(offset, offset + at));
                out.push_str(new_line);
                offset += at + 1;
            }
            None if wrap_long_words => {
                out.push_str(&piece(offset, wrap_length + offset));
                out.push_str(new_line);
                offset += wrap_length;
            }
            None => {
                let end = wrap_length + offset;
                match bytes[end..].iter().position(|&b| b == b' ') {
                    None => {
                        out.push_str(&piece(offset, length));
                        offset = length;
                    }
                    Some(index) => {
                        out.push_str(&piece(offset, index + end));
                        out.push_str(new_line);
                        offset = index + end + 1;
                    }
                }
            }
        }
    }
    out.push_str(&piece(offset, length));
    out
}

/// xstrings' `isConnector`.
fn is_connector(ch: char) -> bool {
    ch == '-' || ch == '_' || is_go_space(ch)
}

/// xstrings' `isAlphabet`: letters other than the common CJK ideographs.
fn is_alphabet(ch: char) -> bool {
    if !ch.is_alphabetic() {
        return false;
    }
    let code = ch as u32;
    if code < 0x3400 {
        return true;
    }
    !((0x4E00..=0x9FCC).contains(&code)
        || (0x3400..=0x4D85).contains(&code)
        || (0x20000..=0x2B81D).contains(&code))
}

/// Go's `unicode.IsPunct` (Unicode category P).
fn is_punct(ch: char) -> bool {
    if ch.is_ascii() {
        return ch.is_ascii_punctuation()
            && !matches!(ch, '$' | '+' | '<' | '=' | '>' | '^' | '`' | '|' | '~');
    }
    // Outside ASCII, general punctuation blocks cover what charts contain.
    matches!(ch as u32, 0x2010..=0x2027 | 0x2030..=0x205E | 0x3001..=0x3003 | 0x3008..=0x3011 | 0xFF01..=0xFF0F)
}

fn is_number(ch: char) -> bool {
    ch.is_numeric()
}

/// xstrings' `ToPascalCase` (Sprig's `camelcase`): connectors (`-`, `_`, spaces) removed and the
/// letter after each one upper-cased; a run of upper case after a word start is lowered.
pub fn to_pascal_case(text: &str) -> String {
    let mut chars = text.chars();
    let mut out = String::with_capacity(text.len());
    let mut first_upper = false;
    let mut r0 = '\0';
    let mut got_rune = false;
    for ch in chars.by_ref() {
        got_rune = true;
        if !is_connector(ch) {
            first_upper = is_upper(ch);
            r0 = to_upper_rune(ch);
            break;
        }
        out.push(ch);
        got_rune = false;
    }
    let rest: Vec<char> = chars.collect();
    if rest.is_empty() {
        if got_rune {
            out.push(r0);
        }
        return out;
    }
    for ch in rest {
        let r1 = r0;
        r0 = ch;
        if is_connector(r0) && is_connector(r1) {
            out.push(r1);
            continue;
        }
        if is_connector(r1) {
            first_upper = is_upper(r0);
            r0 = to_upper_rune(r0);
        } else {
            if first_upper {
                if is_upper(r0) {
                    r0 = to_lower_rune(r0);
                } else {
                    first_upper = false;
                }
            }
            out.push(r1);
        }
    }
    out.push(r0);
    out
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum WordType {
    Invalid,
    Number,
    UpperCase,
    Alphabet,
    Connector,
    Punct,
    Other,
}

/// xstrings' `nextWord`: the type of the word at the start of `text`, the word, and the rest.
fn next_word(text: &str) -> (WordType, &str, &str) {
    let Some(first) = text.chars().next() else {
        return (WordType::Invalid, "", "");
    };
    let mut offset = first.len_utf8();
    let mut chars = text[offset..].chars().peekable();
    let mut take_while = |offset: &mut usize, keep: &dyn Fn(char) -> bool| {
        while let Some(&c) = chars.peek() {
            if !keep(c) {
                break;
            }
            *offset += c.len_utf8();
            chars.next();
        }
    };
    let kind = if is_connector(first) {
        take_while(&mut offset, &is_connector);
        WordType::Connector
    } else if is_punct(first) {
        take_while(&mut offset, &is_punct);
        WordType::Punct
    } else if is_upper(first) {
        let rest = &text[offset..];
        match rest.chars().next() {
            Some(second) if is_upper(second) => {
                // A run of capitals; the last one starts the next word if a lower-case letter
                // follows it ("HTTPServer" -> "HTTP", "Server").
                let mut previous_len = second.len_utf8();
                offset += previous_len;
                let mut next_is_alphabet = false;
                for c in text[offset..].chars() {
                    if !is_upper(c) {
                        next_is_alphabet = is_alphabet(c);
                        break;
                    }
                    previous_len = c.len_utf8();
                    offset += previous_len;
                }
                if offset < text.len() && next_is_alphabet {
                    offset -= previous_len;
                }
            }
            Some(second) if is_alphabet(second) => {
                offset += second.len_utf8();
                for c in text[offset..].chars() {
                    if !is_alphabet(c) || is_upper(c) {
                        break;
                    }
                    offset += c.len_utf8();
                }
            }
            _ => {}
        }
        WordType::UpperCase
    } else if is_alphabet(first) {
        take_while(&mut offset, &|c| is_alphabet(c) && !is_upper(c));
        WordType::Alphabet
    } else if is_number(first) {
        take_while(&mut offset, &is_number);
        WordType::Number
    } else {
        take_while(&mut offset, &|c| {
            !(is_connector(c) || is_alphabet(c) || is_number(c) || is_punct(c))
        });
        WordType::Other
    };
    (kind, &text[..offset], &text[offset..])
}

/// xstrings' `toLower` for one word.
fn push_lower_word(out: &mut String, kind: WordType, word: &str, connector: char) {
    if kind != WordType::UpperCase && kind != WordType::Connector {
        out.push_str(word);
        return;
    }
    for ch in word.chars() {
        if is_connector(ch) {
            out.push(connector);
        } else if is_upper(ch) {
            out.push(to_lower_rune(ch));
        } else {
            out.push(ch);
        }
    }
}

/// xstrings' `camelCaseToLowerCase` (Sprig's `snakecase` with `_`, `kebabcase` with `-`).
pub fn camel_to_lower(text: &str, connector: char) -> String {
    if text.is_empty() {
        return String::new();
    }
    let mut out = String::with_capacity(text.len() + 4);
    let (mut kind, mut word, mut remaining) = next_word(text);
    while !remaining.is_empty() {
        if kind != WordType::Connector {
            push_lower_word(&mut out, kind, word, connector);
        }
        let previous = kind;
        let last = word;
        (kind, word, remaining) = next_word(remaining);
        match previous {
            WordType::Number => {
                while kind == WordType::Alphabet || kind == WordType::Number {
                    push_lower_word(&mut out, kind, word, connector);
                    (kind, word, remaining) = next_word(remaining);
                }
                if !matches!(
                    kind,
                    WordType::Invalid | WordType::Punct | WordType::Connector
                ) {
                    out.push(connector);
                }
            }
            WordType::Connector => push_lower_word(&mut out, previous, last, connector),
            WordType::Punct => {}
            _ => {
                if kind != WordType::Number {
                    if kind != WordType::Connector && kind != WordType::Punct {
                        out.push(connector);
                    }
                    continue;
                }
                if remaining.is_empty() {
                    continue;
                }
                let number = word;
                (kind, word, remaining) = next_word(remaining);
                if kind != WordType::Alphabet {
                    push_lower_word(&mut out, WordType::Number, number, connector);
                    if kind != WordType::Connector && kind != WordType::Punct {
                        out.push(connector);
                    }
                    continue;
                }
                out.push(connector);
                push_lower_word(&mut out, WordType::Number, number, connector);
                while kind == WordType::Alphabet || kind == WordType::Number {
                    push_lower_word(&mut out, kind, word, connector);
                    (kind, word, remaining) = next_word(remaining);
                }
                if !matches!(
                    kind,
                    WordType::Invalid | WordType::Connector | WordType::Punct
                ) {
                    out.push(connector);
                }
            }
        }
    }
    push_lower_word(&mut out, kind, word, connector);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values were printed by Go 1.26 with goutils v1.1.1 and xstrings v1.5.0 (the
    // versions Helm v3.22.0 builds Sprig v3.3.0 with).

    #[test]
    fn case_conversions_match_xstrings() {
        let cases = [
            ("FirstName", "first_name", "first-name", "FirstName"),
            ("HTTPServer", "http_server", "http-server", "Httpserver"),
            ("foo_bar baz", "foo_bar_baz", "foo-bar-baz", "FooBarBaz"),
            ("ID2Name", "id2_name", "id2-name", "Id2Name"),
            (
                "version 1.2.3",
                "version_1.2.3",
                "version-1.2.3",
                "Version1.2.3",
            ),
            ("__init__", "__init__", "--init--", "__Init__"),
            ("a", "a", "a", "A"),
        ];
        for (input, snake, kebab, pascal) in cases {
            assert_eq!(camel_to_lower(input, '_'), snake, "snakecase {input}");
            assert_eq!(camel_to_lower(input, '-'), kebab, "kebabcase {input}");
            assert_eq!(to_pascal_case(input), pascal, "camelcase {input}");
        }
    }

    #[test]
    fn goutils_helpers() {
        assert_eq!(abbreviate("hello world", 5), "he...");
        assert_eq!(abbreviate("hello", 3), "");
        assert_eq!(
            abbreviate_full("1234567890abcdef", 5, 10).as_deref(),
            Some("...6789...")
        );
        assert_eq!(
            wrap_custom("hello world again", 5, "", false),
            "hello\nworld\nagain"
        );
        assert_eq!(
            wrap_custom("abcdefghij klm", 4, "<br>", true),
            "abcd<br>efgh<br>ij<br>klm"
        );
        assert_eq!(swap_case("Hello wORLD x"), "hELLO World X");
        assert_eq!(initials("hello big  world"), "hbw");
        assert_eq!(uncapitalize("Hello World"), "hello world");
        assert_eq!(delete_white_space(" a b\tc\n"), "abc");
        assert_eq!(go_title("hello wORLD-x_y 3d"), "Hello WORLD-X_y 3d");
    }
}
