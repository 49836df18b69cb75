//! A fast reader for the plain block-style YAML that `helm repo index` and other index writers
//! produce, used before the general YAML parser.
//!
//! A general YAML deserializer spends most of a large index's parse time on generality: events,
//! spans, budgets and serde dispatch for every one of the millions of scalars. Index files use a
//! small corner of YAML: block mappings and sequences, plain, quoted and block scalars, comments.
//! This module reads exactly that corner into a borrowed tree and fills the index structs from it.
//!
//! It never decides an error. Whenever the input leaves that corner (anchors, tags, flow
//! collections other than `[]`/`{}`, tabs, several documents, an unknown or duplicate key, a
//! value of the wrong type, a `null` where a string is needed, ...) it gives up and returns
//! `None`, and the caller parses the same bytes with the general parser, which then accepts or
//! rejects them with its usual messages. So for every input this reader accepts, the result must
//! equal the general parser's; the tests compare the two.

use super::{CHART_VERSION_KEYS, ChartVersion, INDEX_KEYS, RawIndex};
use crate::model::{Dependency, Maintainer};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Deeper nesting than this is left to the general parser (an index needs about six levels).
const MAX_DEPTH: usize = 24;

#[derive(Debug)]
enum Node<'a> {
    Scalar { text: Cow<'a, str>, plain: bool },
    Seq(Vec<Node<'a>>),
    Map(Vec<(Cow<'a, str>, Node<'a>)>),
}

impl Node<'_> {
    /// A plain scalar the YAML core schema reads as null: an empty value, `~` or `null`.
    fn is_null(&self) -> bool {
        matches!(self, Node::Scalar { text, plain: true } if matches!(&**text, "" | "~" | "null" | "Null" | "NULL"))
    }
}

/// Gives up on the fast path.
struct Unsupported;

type Fast<T> = Result<T, Unsupported>;

/// Parses `data` as an index if it is within the supported subset; `None` otherwise.
pub(super) fn parse_index(data: &[u8]) -> Option<RawIndex> {
    let text = std::str::from_utf8(data).ok()?;
    if text.contains(['\t', '\r']) || text.starts_with('\u{feff}') {
        return None;
    }
    let mut parser = Parser {
        src: text,
        nodes_left: super::MAX_INDEX_NODES,
        pos: 0,
    };
    let root = parser.document().ok()?;
    raw_index(root).ok()
}

struct Parser<'a> {
    src: &'a str,
    /// Nodes still allowed; the general parser's budget applies to what this one accepts too.
    nodes_left: usize,
    /// Byte offset of the next unread character; at a line start, or just after a `- ` whose
    /// item continues on the same line.
    pos: usize,
}

/// The next line that holds content: its indentation (the column of its first character) and
/// the byte range of its content, without the indentation and the line break.
#[derive(Clone, Copy)]
struct Line {
    indent: usize,
    start: usize,
    end: usize,
}

impl<'a> Parser<'a> {
    fn document(&mut self) -> Fast<Node<'a>> {
        let first = self.peek().ok_or(Unsupported)?;
        let content = &self.src[first.start..first.end];
        if first.indent == 0 && (content == "---" || content.starts_with("--- #")) {
            self.pos = first.end;
        }
        let line = self.peek().ok_or(Unsupported)?;
        let node = self.block(line, 0)?;
        match self.peek() {
            None => Ok(node),
            Some(_) => Err(Unsupported),
        }
    }

    fn column(&self, at: usize) -> usize {
        at - self.src[..at].rfind('\n').map_or(0, |newline| newline + 1)
    }

    fn count_node(&mut self) -> Fast<()> {
        self.nodes_left = self.nodes_left.checked_sub(1).ok_or(Unsupported)?;
        Ok(())
    }

    /// Skips blank and comment-only lines and describes the next content line, from `pos`.
    fn peek(&self) -> Option<Line> {
        let mut at = self.pos;
        let bytes = self.src.as_bytes();
        while at < bytes.len() {
            let line_end = self.src[at..].find('\n').map_or(bytes.len(), |n| at + n);
            let mut start = at;
            while start < line_end && bytes[start] == b' ' {
                start += 1;
            }
            let end = trim_end(self.src, start, line_end);
            if start < end && bytes[start] != b'#' {
                return Some(Line {
                    indent: self.column(start),
                    start,
                    end,
                });
            }
            at = line_end + 1;
        }
        None
    }

    /// Moves past the line (or rest of line) that `line` describes.
    fn consume_line(&mut self, line: Line) {
        self.pos = self.src[line.end..]
            .find('\n')
            .map_or(self.src.len(), |n| line.end + n + 1);
    }

    /// A block node starting on `line`: a sequence, a mapping or (only as a sequence item) a
    /// single-line scalar.
    fn block(&mut self, line: Line, depth: usize) -> Fast<Node<'a>> {
        if depth > MAX_DEPTH {
            return Err(Unsupported);
        }
        self.count_node()?;
        let content = &self.src[line.start..line.end];
        if is_seq_item(content) {
            self.sequence(line.indent, depth)
        } else if find_key_end(content).is_some() {
            self.mapping(line.indent, depth)
        } else {
            Err(Unsupported)
        }
    }

    fn sequence(&mut self, indent: usize, depth: usize) -> Fast<Node<'a>> {
        let mut items = Vec::new();
        while let Some(line) = self.peek() {
            if line.indent < indent {
                break;
            }
            let content = &self.src[line.start..line.end];
            if line.indent > indent {
                return Err(Unsupported);
            }
            if !is_seq_item(content) {
                break;
            }
            let after_dash = line.start + 1;
            let rest = self.src[after_dash..line.end].trim_start_matches(' ');
            if rest.is_empty() || rest.starts_with('#') {
                self.consume_line(line);
                items.push(self.value_below(indent, true, depth)?);
                continue;
            }
            let item_start = line.end - rest.len();
            self.pos = item_start;
            let item = Line {
                indent: self.column(item_start),
                start: item_start,
                end: line.end,
            };
            if is_seq_item(rest) || find_key_end(rest).is_some() {
                items.push(self.block(item, depth + 1)?);
            } else {
                items.push(self.inline_value(item, indent)?);
            }
        }
        Ok(Node::Seq(items))
    }

    fn mapping(&mut self, indent: usize, depth: usize) -> Fast<Node<'a>> {
        let mut entries = Vec::new();
        while let Some(line) = self.peek() {
            if line.indent < indent {
                break;
            }
            if line.indent > indent {
                return Err(Unsupported);
            }
            let content = &self.src[line.start..line.end];
            let Some(key_end) = find_key_end(content) else {
                // A `- ` at the mapping's own indentation belongs to an enclosing sequence.
                if is_seq_item(content) {
                    break;
                }
                return Err(Unsupported);
            };
            let key = key_text(&content[..key_end])?;
            let value_start = line.start + key_end + 1;
            let rest = self.src[value_start..line.end].trim_start_matches(' ');
            let value = if rest.is_empty() || rest.starts_with('#') {
                self.consume_line(line);
                self.value_below(indent, false, depth)?
            } else {
                let at = line.end - rest.len();
                self.pos = at;
                self.inline_value(
                    Line {
                        indent: self.column(at),
                        start: at,
                        end: line.end,
                    },
                    indent,
                )?
            };
            entries.push((key, value));
        }
        Ok(Node::Map(entries))
    }

    /// The value of a key or `-` whose line ends after the indicator: a nested block, a
    /// sequence at the key's own indentation (`key:` then `- item`), or null.
    fn value_below(&mut self, indent: usize, in_sequence: bool, depth: usize) -> Fast<Node<'a>> {
        match self.peek() {
            Some(next) if next.indent > indent => self.block(next, depth + 1),
            Some(next)
                if !in_sequence
                    && next.indent == indent
                    && is_seq_item(&self.src[next.start..next.end]) =>
            {
                self.sequence(indent, depth + 1)
            }
            _ => Ok(Node::Scalar {
                text: Cow::Borrowed(""),
                plain: true,
            }),
        }
    }

    /// A value that starts on the current line after `key: ` or `- `; `parent` is the
    /// indentation of the mapping or sequence holding it (continuation lines go deeper).
    fn inline_value(&mut self, line: Line, parent: usize) -> Fast<Node<'a>> {
        self.count_node()?;
        let content = &self.src[line.start..line.end];
        match content.as_bytes()[0] {
            b'"' => self.double_quoted(line.start, parent),
            b'\'' => self.single_quoted(line.start, parent),
            b'|' | b'>' => self.block_scalar(line, parent),
            b'[' | b'{' => {
                let empty = strip_comment(content);
                self.consume_line(line);
                match empty {
                    "[]" => Ok(Node::Seq(Vec::new())),
                    "{}" => Ok(Node::Map(Vec::new())),
                    _ => Err(Unsupported),
                }
            }
            b'&' | b'*' | b'!' | b'%' | b'@' | b'`' | b'?' | b',' | b']' | b'}' | b'#' => {
                Err(Unsupported)
            }
            _ => self.plain(line, parent),
        }
    }

    /// A plain scalar, folded over more-indented continuation lines.
    fn plain(&mut self, line: Line, parent: usize) -> Fast<Node<'a>> {
        let first = strip_comment(&self.src[line.start..line.end]);
        if first.starts_with("- ") || first == "-" || first.contains(": ") || first.ends_with(':') {
            return Err(Unsupported);
        }
        self.consume_line(line);
        let mut text = Cow::Borrowed(first);
        let mut pending_breaks = 0;
        let bytes = self.src.as_bytes();
        while self.pos < bytes.len() {
            let line_end = self.src[self.pos..]
                .find('\n')
                .map_or(bytes.len(), |n| self.pos + n);
            let raw = &self.src[self.pos..line_end];
            let content = raw.trim_matches(' ');
            if content.is_empty() {
                pending_breaks += 1;
                self.pos = (line_end + 1).min(bytes.len());
                continue;
            }
            let indent = raw.len() - raw.trim_start_matches(' ').len();
            if indent <= parent {
                break;
            }
            if content.starts_with('#')
                || content.contains(": ")
                || content.contains(" #")
                || content.ends_with(':')
            {
                return Err(Unsupported);
            }
            let owned = text.to_mut();
            if pending_breaks == 0 {
                owned.push(' ');
            } else {
                owned.extend(std::iter::repeat_n('\n', pending_breaks));
            }
            owned.push_str(content);
            pending_breaks = 0;
            self.pos = (line_end + 1).min(bytes.len());
        }
        Ok(Node::Scalar { text, plain: true })
    }

    /// A `"..."` scalar with escapes, possibly over several lines.
    fn double_quoted(&mut self, open: usize, parent: usize) -> Fast<Node<'a>> {
        let bytes = self.src.as_bytes();
        let mut at = open + 1;
        let mut out = String::new();
        let mut segment_start = at;
        loop {
            let Some(&byte) = bytes.get(at) else {
                return Err(Unsupported);
            };
            match byte {
                b'"' => {
                    out.push_str(&self.src[segment_start..at]);
                    at += 1;
                    break;
                }
                b'\\' => {
                    out.push_str(&self.src[segment_start..at]);
                    let escape = *bytes.get(at + 1).ok_or(Unsupported)?;
                    at += 2;
                    match escape {
                        b'\n' => {
                            // An escaped line break joins the lines with nothing between.
                            at = skip_continuation_indent(self.src, at, parent)?;
                        }
                        b'0' => out.push('\0'),
                        b'a' => out.push('\u{7}'),
                        b'b' => out.push('\u{8}'),
                        b't' => out.push('\t'),
                        b'n' => out.push('\n'),
                        b'v' => out.push('\u{b}'),
                        b'f' => out.push('\u{c}'),
                        b'r' => out.push('\r'),
                        b'e' => out.push('\u{1b}'),
                        b' ' => out.push(' '),
                        b'"' => out.push('"'),
                        b'/' => out.push('/'),
                        b'\\' => out.push('\\'),
                        b'N' => out.push('\u{85}'),
                        b'_' => out.push('\u{a0}'),
                        b'L' => out.push('\u{2028}'),
                        b'P' => out.push('\u{2029}'),
                        b'x' | b'u' | b'U' => {
                            let width = match escape {
                                b'x' => 2,
                                b'u' => 4,
                                _ => 8,
                            };
                            let digits = self.src.get(at..at + width).ok_or(Unsupported)?;
                            let code = u32::from_str_radix(digits, 16).map_err(|_| Unsupported)?;
                            out.push(char::from_u32(code).ok_or(Unsupported)?);
                            at += width;
                        }
                        _ => return Err(Unsupported),
                    }
                    segment_start = at;
                }
                b'\n' => {
                    // Folding: trailing spaces go, one break becomes a space, n+1 breaks n newlines.
                    out.push_str(self.src[segment_start..at].trim_end_matches(' '));
                    let (next, breaks) = fold_breaks(self.src, at, parent)?;
                    if breaks == 0 {
                        out.push(' ');
                    } else {
                        out.extend(std::iter::repeat_n('\n', breaks));
                    }
                    at = next;
                    segment_start = at;
                }
                _ => at += 1,
            }
        }
        self.finish_scalar(at)?;
        Ok(Node::Scalar {
            text: Cow::Owned(out),
            plain: false,
        })
    }

    /// A `'...'` scalar (`''` is a quote), possibly over several lines.
    fn single_quoted(&mut self, open: usize, parent: usize) -> Fast<Node<'a>> {
        let bytes = self.src.as_bytes();
        let mut at = open + 1;
        let mut out = String::new();
        let mut segment_start = at;
        loop {
            let Some(&byte) = bytes.get(at) else {
                return Err(Unsupported);
            };
            match byte {
                b'\'' if bytes.get(at + 1) == Some(&b'\'') => {
                    out.push_str(&self.src[segment_start..=at]);
                    at += 2;
                    segment_start = at;
                }
                b'\'' => {
                    out.push_str(&self.src[segment_start..at]);
                    at += 1;
                    break;
                }
                b'\n' => {
                    out.push_str(self.src[segment_start..at].trim_end_matches(' '));
                    let (next, breaks) = fold_breaks(self.src, at, parent)?;
                    if breaks == 0 {
                        out.push(' ');
                    } else {
                        out.extend(std::iter::repeat_n('\n', breaks));
                    }
                    at = next;
                    segment_start = at;
                }
                _ => at += 1,
            }
        }
        self.finish_scalar(at)?;
        Ok(Node::Scalar {
            text: Cow::Owned(out),
            plain: false,
        })
    }

    /// After a quoted scalar only spaces and a comment may follow on its line.
    fn finish_scalar(&mut self, at: usize) -> Fast<()> {
        let line_end = self.src[at..].find('\n').map_or(self.src.len(), |n| at + n);
        let rest = self.src[at..line_end].trim_start_matches(' ');
        let comment_after_space = rest.starts_with('#') && rest.len() < line_end - at;
        if !(rest.is_empty() || comment_after_space) {
            return Err(Unsupported);
        }
        self.pos = (line_end + 1).min(self.src.len());
        Ok(())
    }

    /// `|` and `>` scalars with optional `-`/`+` chomping (no explicit indentation).
    fn block_scalar(&mut self, line: Line, parent: usize) -> Fast<Node<'a>> {
        let header = strip_comment(&self.src[line.start..line.end]);
        let (literal, chomp) = match header {
            "|" => (true, Chomp::Clip),
            "|-" => (true, Chomp::Strip),
            "|+" => (true, Chomp::Keep),
            ">" => (false, Chomp::Clip),
            ">-" => (false, Chomp::Strip),
            ">+" => (false, Chomp::Keep),
            _ => return Err(Unsupported),
        };
        self.consume_line(line);
        let bytes = self.src.as_bytes();
        let mut lines: Vec<&str> = Vec::new();
        let mut content_indent = None;
        while self.pos < bytes.len() {
            let line_end = self.src[self.pos..]
                .find('\n')
                .map_or(bytes.len(), |n| self.pos + n);
            let raw = &self.src[self.pos..line_end];
            let indent = raw.len() - raw.trim_start_matches(' ').len();
            if raw.trim_start_matches(' ').is_empty() {
                // Blank lines (possibly with spaces) inside the scalar; spaces beyond the content
                // indentation would be content, which only the general parser handles.
                // Leading blank lines, and spaces beyond the content indentation (which would be
                // content), are left to the general parser.
                if content_indent.is_none_or(|wanted| indent > wanted) {
                    return Err(Unsupported);
                }
                lines.push("");
                self.pos = (line_end + 1).min(bytes.len());
                continue;
            }
            let wanted = *content_indent.get_or_insert(indent);
            if indent < wanted {
                if indent > parent {
                    return Err(Unsupported);
                }
                break;
            }
            if wanted <= parent {
                return Err(Unsupported);
            }
            let text = &raw[wanted..];
            if !literal && text.starts_with(' ') {
                // More-indented lines keep their breaks in folded scalars; left to the general parser.
                return Err(Unsupported);
            }
            lines.push(text);
            self.pos = (line_end + 1).min(bytes.len());
        }
        // Trailing blank lines were consumed; they matter only for chomping.
        let trailing_blank = lines.iter().rev().take_while(|l| l.is_empty()).count();
        let body = &lines[..lines.len() - trailing_blank];
        let mut out = String::new();
        if literal {
            for (i, text) in body.iter().enumerate() {
                if i > 0 {
                    out.push('\n');
                }
                out.push_str(text);
            }
        } else {
            let mut breaks = 0;
            for (i, text) in body.iter().enumerate() {
                if text.is_empty() {
                    breaks += 1;
                    continue;
                }
                if i > 0 {
                    if breaks == 0 {
                        out.push(' ');
                    } else {
                        out.extend(std::iter::repeat_n('\n', breaks));
                    }
                }
                breaks = 0;
                out.push_str(text);
            }
            if body.first().is_some_and(|first| first.is_empty()) {
                // Leading blank lines in a folded scalar are kept as newlines; rare, leave them
                // to the general parser.
                return Err(Unsupported);
            }
        }
        if !body.is_empty() {
            match chomp {
                Chomp::Strip => {}
                Chomp::Clip => out.push('\n'),
                Chomp::Keep => out.extend(std::iter::repeat_n('\n', 1 + trailing_blank)),
            }
        } else if chomp == Chomp::Keep {
            out.extend(std::iter::repeat_n('\n', trailing_blank));
        }
        Ok(Node::Scalar {
            text: Cow::Owned(out),
            plain: false,
        })
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Chomp {
    Strip,
    Clip,
    Keep,
}

fn trim_end(src: &str, start: usize, end: usize) -> usize {
    start + src[start..end].trim_end_matches(' ').len()
}

fn is_seq_item(content: &str) -> bool {
    content == "-" || content.starts_with("- ") || content.starts_with("-#")
}

/// Where the `:` of a simple `key: value` line is, if the line is one.
fn find_key_end(content: &str) -> Option<usize> {
    let bytes = content.as_bytes();
    match bytes.first()? {
        b'"' | b'\'' => {
            let quote = bytes[0];
            let close = content[1..].find(quote as char)? + 1;
            let after = close + 1;
            (bytes.get(after) == Some(&b':') && matches!(bytes.get(after + 1), None | Some(b' ')))
                .then_some(after)
        }
        b'-' | b'?' | b':' | b',' | b'[' | b']' | b'{' | b'}' | b'#' | b'&' | b'*' | b'!'
        | b'|' | b'>' | b'%' | b'@' | b'`' => None,
        _ => {
            let mut search = 0;
            loop {
                let colon = search + content[search..].find(':')?;
                if matches!(bytes.get(colon + 1), None | Some(b' ')) {
                    let key = &content[..colon];
                    return (!key.contains(" #")).then_some(colon);
                }
                search = colon + 1;
            }
        }
    }
}

fn key_text(raw: &str) -> Fast<Cow<'_, str>> {
    match raw.as_bytes().first() {
        Some(b'"') | Some(b'\'') => {
            let inner = &raw[1..raw.len() - 1];
            if inner.contains(['\\', '"', '\'']) {
                return Err(Unsupported);
            }
            Ok(Cow::Borrowed(inner))
        }
        _ => {
            let key = raw.trim_end_matches(' ');
            if matches!(key, "" | "~" | "null" | "Null" | "NULL" | "<<") {
                return Err(Unsupported);
            }
            Ok(Cow::Borrowed(key))
        }
    }
}

/// A plain value's text without a trailing ` # comment`.
fn strip_comment(content: &str) -> &str {
    match content.find(" #") {
        Some(at) => content[..at].trim_end_matches(' '),
        None => content,
    }
}

/// From a line break inside a quoted scalar: skips further blank lines and the next line's
/// indentation, returning where the text resumes and how many blank lines were skipped.
fn fold_breaks(src: &str, newline: usize, parent: usize) -> Fast<(usize, usize)> {
    let bytes = src.as_bytes();
    let mut at = newline + 1;
    let mut blank = 0;
    loop {
        let line_start = at;
        while bytes.get(at) == Some(&b' ') {
            at += 1;
        }
        match bytes.get(at) {
            None => return Err(Unsupported),
            Some(b'\n') => {
                blank += 1;
                at += 1;
            }
            Some(_) => {
                if at - line_start <= parent {
                    return Err(Unsupported);
                }
                return Ok((at, blank));
            }
        }
    }
}

fn skip_continuation_indent(src: &str, mut at: usize, parent: usize) -> Fast<usize> {
    let bytes = src.as_bytes();
    let line_start = at;
    while bytes.get(at) == Some(&b' ') {
        at += 1;
    }
    if bytes.get(at) == Some(&b'\n') || at - line_start <= parent {
        return Err(Unsupported);
    }
    Ok(at)
}

// ---- From the tree to the index structs, with serde's rules for each field type. ----

fn raw_index(root: Node<'_>) -> Fast<RawIndex> {
    let mut raw = RawIndex {
        server_info: None,
        api_version: String::new(),
        generated: String::new(),
        entries: None,
        public_keys: None,
        annotations: None,
    };
    let mut seen = 0;
    for (key, value) in into_map(root)? {
        unique(&mut seen, INDEX_KEYS, &key)?;
        match &*key {
            "apiVersion" => raw.api_version = string(value)?,
            "generated" => raw.generated = string(value)?,
            "entries" => {
                raw.entries = if value.is_null() {
                    None
                } else {
                    let mut entries = BTreeMap::new();
                    for (name, versions) in into_map(value)? {
                        let versions = if versions.is_null() {
                            None
                        } else {
                            Some(
                                into_seq(versions)?
                                    .into_iter()
                                    .map(|entry| {
                                        if entry.is_null() {
                                            Ok(None)
                                        } else {
                                            chart_version(entry).map(Some)
                                        }
                                    })
                                    .collect::<Fast<Vec<_>>>()?,
                            )
                        };
                        if entries.insert(name.into_owned(), versions).is_some() {
                            return Err(Unsupported);
                        }
                    }
                    Some(entries)
                }
            }
            "publicKeys" => {
                raw.public_keys = if value.is_null() {
                    None
                } else {
                    Some(strings(value)?)
                }
            }
            "annotations" => {
                raw.annotations = if value.is_null() {
                    None
                } else {
                    Some(string_map(value)?)
                }
            }
            // `serverInfo` holds arbitrary YAML; the general parser reads it.
            _ => return Err(Unsupported),
        }
    }
    Ok(raw)
}

fn chart_version(node: Node<'_>) -> Fast<ChartVersion> {
    let mut entry = ChartVersion::default();
    let mut seen = 0;
    for (key, value) in into_map(node)? {
        unique(&mut seen, CHART_VERSION_KEYS, &key)?;
        match &*key {
            "apiVersion" => entry.api_version = string(value)?,
            "name" => entry.name = string(value)?,
            "version" => entry.version = string(value)?,
            "kubeVersion" => entry.kube_version = optional_string(value)?,
            "description" => entry.description = optional_string(value)?,
            "type" => entry.chart_type = optional_string(value)?,
            "keywords" => entry.keywords = strings(value)?,
            "home" => entry.home = optional_string(value)?,
            "sources" => entry.sources = strings(value)?,
            "dependencies" => {
                entry.dependencies = into_seq(value)?
                    .into_iter()
                    .map(dependency)
                    .collect::<Fast<_>>()?
            }
            "maintainers" => {
                entry.maintainers = into_seq(value)?
                    .into_iter()
                    .map(maintainer)
                    .collect::<Fast<_>>()?
            }
            "icon" => entry.icon = optional_string(value)?,
            "appVersion" => entry.app_version = optional_string(value)?,
            "deprecated" => entry.deprecated = boolean(value)?,
            "annotations" => entry.annotations = string_map(value)?,
            "condition" => entry.condition = optional_string(value)?,
            "tags" => entry.tags = optional_string(value)?,
            "urls" => entry.urls = strings(value)?,
            "created" => entry.created = string(value)?,
            "removed" => entry.removed = boolean(value)?,
            "digest" => entry.digest = string(value)?,
            "checksum" => entry.checksum = optional_string(value)?,
            "engine" => entry.engine = optional_string(value)?,
            "tillerVersion" => entry.tiller_version = optional_string(value)?,
            "url" => entry.url = optional_string(value)?,
            _ => return Err(Unsupported),
        }
    }
    Ok(entry)
}

fn dependency(node: Node<'_>) -> Fast<Dependency> {
    let mut dependency = Dependency::default();
    let mut seen = 0;
    for (key, value) in into_map(node)? {
        unique(&mut seen, DEPENDENCY_KEYS, &key)?;
        match &*key {
            "name" => dependency.name = string(value)?,
            "version" => dependency.version = optional_string(value)?,
            "repository" => dependency.repository = optional_string(value)?,
            "condition" => dependency.condition = optional_string(value)?,
            "tags" => dependency.tags = strings(value)?,
            "alias" => dependency.alias = optional_string(value)?,
            "enabled" => {
                dependency.enabled = if value.is_null() {
                    None
                } else {
                    Some(boolean(value)?)
                }
            }
            // `import-values` holds arbitrary YAML, and unknown keys are the general parser's.
            _ => return Err(Unsupported),
        }
    }
    // `name` (bit 0) has no default.
    if seen & 1 == 0 {
        return Err(Unsupported);
    }
    Ok(dependency)
}

fn maintainer(node: Node<'_>) -> Fast<Maintainer> {
    let mut maintainer = Maintainer::default();
    let mut seen = 0;
    for (key, value) in into_map(node)? {
        unique(&mut seen, MAINTAINER_KEYS, &key)?;
        match &*key {
            "name" => maintainer.name = string(value)?,
            "email" => maintainer.email = optional_string(value)?,
            "url" => maintainer.url = optional_string(value)?,
            _ => return Err(Unsupported),
        }
    }
    // `name` (bit 0) has no default.
    if seen & 1 == 0 {
        return Err(Unsupported);
    }
    Ok(maintainer)
}

const DEPENDENCY_KEYS: &[&str] = &[
    "name",
    "version",
    "repository",
    "condition",
    "tags",
    "alias",
    "enabled",
];
const MAINTAINER_KEYS: &[&str] = &["name", "email", "url"];

/// Marks `key` as seen among `fields`; a duplicate or unknown key goes to the general parser.
fn unique(seen: &mut u64, fields: &[&str], key: &str) -> Fast<()> {
    let bit = 1u64
        << fields
            .iter()
            .position(|field| *field == key)
            .ok_or(Unsupported)?;
    if *seen & bit != 0 {
        return Err(Unsupported);
    }
    *seen |= bit;
    Ok(())
}

fn into_map(node: Node<'_>) -> Fast<Vec<(Cow<'_, str>, Node<'_>)>> {
    match node {
        Node::Map(entries) => Ok(entries),
        _ => Err(Unsupported),
    }
}

fn into_seq(node: Node<'_>) -> Fast<Vec<Node<'_>>> {
    match node {
        Node::Seq(items) => Ok(items),
        _ => Err(Unsupported),
    }
}

/// A string field: any scalar except a plain null (an error for the general parser).
fn string(node: Node<'_>) -> Fast<String> {
    if node.is_null() {
        return Err(Unsupported);
    }
    match node {
        Node::Scalar { text, .. } => Ok(text.into_owned()),
        _ => Err(Unsupported),
    }
}

fn optional_string(node: Node<'_>) -> Fast<Option<String>> {
    if node.is_null() {
        return Ok(None);
    }
    string(node).map(Some)
}

fn strings(node: Node<'_>) -> Fast<Vec<String>> {
    into_seq(node)?.into_iter().map(string).collect()
}

fn string_map(node: Node<'_>) -> Fast<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    for (key, value) in into_map(node)? {
        if map.insert(key.into_owned(), string(value)?).is_some() {
            return Err(Unsupported);
        }
    }
    Ok(map)
}

/// Only the two spellings every YAML schema agrees on; the rest is the general parser's call.
fn boolean(node: Node<'_>) -> Fast<bool> {
    match node {
        Node::Scalar { text, plain: true } if text == "true" => Ok(true),
        Node::Scalar { text, plain: true } if text == "false" => Ok(false),
        _ => Err(Unsupported),
    }
}

#[cfg(test)]
mod tests {
    use super::super::index_yaml_options;
    use super::*;

    /// The fields of a raw index, for comparing the two readers.
    type Compared<'r> = (
        &'r str,
        &'r str,
        &'r Option<BTreeMap<String, Option<Vec<Option<ChartVersion>>>>>,
        &'r Option<Vec<String>>,
        &'r Option<BTreeMap<String, String>>,
    );

    fn compared(raw: &RawIndex) -> Compared<'_> {
        (
            &raw.api_version,
            &raw.generated,
            &raw.entries,
            &raw.public_keys,
            &raw.annotations,
        )
    }

    /// Whatever the fast reader accepts, the general parser reads identically. Returns whether
    /// the fast reader took the input.
    fn agree(text: &str) -> bool {
        let general: Result<RawIndex, _> =
            serde_saphyr::from_slice_with_options(text.as_bytes(), index_yaml_options());
        match parse_index(text.as_bytes()) {
            Some(fast) => {
                let general = general.unwrap_or_else(|e| {
                    panic!("fast reader accepted what the general parser refuses ({e}):\n{text}")
                });
                assert_eq!(compared(&fast), compared(&general), "{text}");
                true
            }
            None => false,
        }
    }

    capstan_testdata::vector_tests! {
        fn index_files_read_the_same(vectors) {
            let read = |name: &str| vectors.read_string(&format!("repo/{name}"));
            for name in [
                "local-index.yaml",
                "local-index-unordered.yaml",
                "local-index-annotations.yaml",
            ] {
                assert!(agree(&read(name)), "{name} should take the fast path");
            }
            // ChartMuseum's `serverInfo` is arbitrary YAML: the general parser's.
            assert!(!agree(&read("chartmuseum-index.yaml")));
        }
    }

    #[test]
    fn scalar_styles_read_the_same() {
        let text = r#"---
# a comment
apiVersion: v1
entries:
  app:
  - apiVersion: v2
    appVersion: 010
    created: "2026-01-02T03:04:05Z"   # trailing comment
    description: A long description folded
      over two lines,

      with a blank line and a "quote" and a#hash
    digest: 'it''s'
    home: "tab\tescape \u00e9 and
      folded \
      joined"
    keywords: []
    annotations:
      images: |
        - name: app
          image: x:1

      notes: |-
        stripped
      kept: |+
        kept

      folded: >-
        one
        two

        three
      "quoted key": value
      number: 1.10
    maintainers:
    - name: Team
      email: team@example.com
    dependencies:
      - name: common
        version: 2.x.x
        tags:
          - a
        enabled: true
    name: app
    urls:
    - https://example.com/app-1.0.0.tgz
    version: 1.0.0
    deprecated: false
  empty:
  other: []
generated: 2026-01-10T00:00:00Z
publicKeys:
- key
annotations: {}
"#;
        assert!(agree(text));
        let fast = parse_index(text.as_bytes()).unwrap();
        let app = fast.entries.as_ref().unwrap()["app"].as_ref().unwrap()[0]
            .clone()
            .unwrap();
        assert_eq!(app.app_version.as_deref(), Some("010"));
        assert_eq!(app.annotations["notes"], "stripped");
    }

    #[test]
    fn anything_else_is_left_to_the_general_parser() {
        for text in [
            "apiVersion: v1\napiVersion: v1\n",
            "apiVersion: v1\nunknown: 1\n",
            "apiVersion: &a v1\ngenerated: *a\n",
            "apiVersion: v1\nentries:\n  a:\n  - name: a\n    version: ~\n",
            "apiVersion: v1\nentries:\n  a:\n  - name: a\n    deprecated: yes\n",
            "apiVersion: v1\nentries: {a: []}\n",
            "apiVersion: v1\n\tgenerated: x\n",
            "apiVersion: v1\n---\napiVersion: v1\n",
            "apiVersion: v1\nentries:\n  a:\n  - name: a\n    maintainers:\n    - email: x\n",
            "apiVersion: v1\nentries:\n  a:\n  - name: a\n    bad: key: here\n",
            "apiVersion: !!str v1\n",
            "apiVersion: \"v1\n",
            "apiVersion: v1\n   generated: x\n",
        ] {
            assert!(!agree(text), "fast reader took:\n{text}");
        }
    }

    #[test]
    fn null_entries_read_the_same() {
        assert!(agree(
            "apiVersion: v1\nentries:\n  a:\n  - null\n  -\n  - name: a\n    version: 1.0.0\n"
        ));
    }
}
