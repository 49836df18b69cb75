//! Adding one chart version to an existing `index.yaml` as a text edit.
//!
//! An index is shared by every release that went into it, and often by several tools: rewriting
//! it whole on each release would reorder and reformat what the others wrote (quoting, key order,
//! comments) and turn every release's diff into the whole file. [`splice_entry`] inserts the new
//! entry's lines among the chart's versions (newest first, or as a new chart) and updates the
//! `generated` time, leaving every other byte as it was.
//!
//! It understands the block layout that index writers produce. For any other layout (JSON, flow
//! collections, tabs, CRLF line ends, several documents) it refuses rather than guessing, and every
//! result is read back and compared with the original index plus the entry before it is returned,
//! so a layout it misjudges is an error, never a damaged index.

use super::{ChartVersion, IndexError, IndexFile, sort_keys};
use crate::version::parse_version;

/// Seq items written at their parent key's indentation (`  app:\n  - name: app`), as Helm's
/// writer does, for indexes that give no example of their own.
const DEFAULT_ITEM_OFFSET: usize = 0;

/// Indentation of chart names under `entries:` for indexes that have none yet.
const DEFAULT_CHART_INDENT: usize = 2;

/// Returns `original` with `entry` added under its chart and `generated` (an RFC 3339 time) as
/// the index's generation time, or why the text cannot be edited safely. An existing entry with
/// the same name and version string is replaced when `replace` is set, and is an error otherwise.
/// `entry` must be complete: URLs, digest and `created` as they should appear.
pub fn splice_entry(
    original: &[u8],
    source_name: &str,
    entry: &ChartVersion,
    generated: &str,
    replace: bool,
) -> Result<String, IndexError> {
    let unsupported = |reason: String| IndexError::Splice {
        source_name: source_name.to_string(),
        reason,
    };
    let before = IndexFile::parse(original, source_name)?;
    let text =
        std::str::from_utf8(original).map_err(|_| unsupported("it is not UTF-8 text".into()))?;
    if text.contains(['\t', '\r']) || text.starts_with('\u{feff}') {
        return Err(unsupported(
            "it has tabs, CRLF line ends or a byte-order mark".into(),
        ));
    }
    if before.index.has(&entry.name, &entry.version) && !replace {
        return Err(unsupported(format!(
            "it already has {} {}",
            entry.name, entry.version
        )));
    }
    let layout = Layout::read(text).map_err(|Unsupported(reason)| unsupported(reason))?;
    let edits = layout
        .edits(text, entry, generated)
        .map_err(|Unsupported(reason)| unsupported(reason))?;
    let spliced = apply(text, edits);

    let mut expected = before.index.clone();
    if let Some(versions) = expected.entries.get_mut(&entry.name) {
        versions.retain(|v| v.version != entry.version);
    }
    expected
        .add(entry.clone())
        .map_err(|reason| unsupported(format!("the new entry is invalid: {reason}")))?;
    expected.sort_entries();
    if layout.generated.is_some() {
        expected.generated = generated.to_string();
    }
    let after = IndexFile::parse(spliced.as_bytes(), source_name).map_err(|e| {
        unsupported(format!(
            "the edited index would not read back ({e}); its layout is not one this edit understands"
        ))
    })?;
    if after.index != expected || after.warnings.len() != before.warnings.len() {
        return Err(unsupported(
            "the edited index would not read back as the original plus the new entry; its layout is not one this edit understands".into(),
        ));
    }
    Ok(spliced)
}

/// A new index holding only `entry`, written as `helm repo index` writes one.
pub fn new_index(entry: &ChartVersion, generated: &str) -> Result<String, IndexError> {
    let mut index = IndexFile::new();
    index.generated = generated.to_string();
    index
        .add(entry.clone())
        .map_err(|reason| IndexError::InvalidChart {
            file: format!("{}-{}", entry.name, entry.version),
            reason,
        })?;
    index.to_yaml()
}

/// Why the text cannot be edited: the layout leaves the subset understood here.
#[derive(Debug)]
struct Unsupported(String);

type Edit = (usize, usize, String);

/// One line of the index: byte range without the line break, indentation, and content with
/// any trailing comment and spaces removed (empty for blank and comment-only lines).
#[derive(Clone, Copy)]
struct Line<'a> {
    start: usize,
    /// Just past the line break (or the end of the text).
    next: usize,
    indent: usize,
    content: &'a str,
}

/// A chart's key under `entries:` and its versions.
struct Chart<'a> {
    name: String,
    key: Line<'a>,
    /// `[]` after the key: an empty list written inline.
    inline_empty: bool,
    /// Indentation of the `- ` of its items.
    item_indent: Option<usize>,
    /// Each item's first line and the end (exclusive) of its last content line.
    items: Vec<(Line<'a>, usize)>,
}

/// The parts of an index the edit needs to find.
struct Layout<'a> {
    top_keys: Vec<(String, Line<'a>)>,
    entries: Option<Line<'a>>,
    charts: Vec<Chart<'a>>,
    chart_indent: usize,
    generated: Option<Line<'a>>,
}

impl<'a> Layout<'a> {
    fn read(text: &'a str) -> Result<Self, Unsupported> {
        let lines = content_lines(text)?;
        let mut top_keys = Vec::new();
        let mut entries_at = None;
        for (position, line) in lines.iter().enumerate() {
            if line.indent > 0 {
                continue;
            }
            let is_item = line.content == "-" || line.content.starts_with("- ");
            if (line.content == "---" && position == 0) || is_item {
                // A document start, or an item of a top-level list written at indentation 0.
                continue;
            }
            let (key, _) = split_key(line.content).ok_or_else(|| {
                Unsupported(format!(
                    "line {:?} is not a `key: value` line at the top level",
                    line.content
                ))
            })?;
            if key == "entries" {
                entries_at = Some(position);
            }
            top_keys.push((key, *line));
        }
        let generated = top_keys
            .iter()
            .find(|(key, _)| key == "generated")
            .map(|(_, line)| *line);
        let mut layout = Layout {
            top_keys,
            entries: entries_at.map(|at| lines[at]),
            charts: Vec::new(),
            chart_indent: DEFAULT_CHART_INDENT,
            generated,
        };
        if let Some(at) = entries_at {
            let block: Vec<Line<'a>> = lines[at + 1..]
                .iter()
                .take_while(|line| line.indent > 0)
                .copied()
                .collect();
            layout.read_charts(&block)?;
        }
        Ok(layout)
    }

    fn read_charts(&mut self, block: &[Line<'a>]) -> Result<(), Unsupported> {
        let Some(first) = block.first() else {
            return Ok(());
        };
        let chart_indent = first.indent;
        self.chart_indent = chart_indent;
        for line in block {
            if line.indent < chart_indent {
                return Err(Unsupported(
                    "the chart names under `entries:` are not evenly indented".into(),
                ));
            }
            let is_item = line.content == "-" || line.content.starts_with("- ");
            if line.indent == chart_indent && !is_item {
                let (name, value) = split_key(line.content).ok_or_else(|| {
                    Unsupported(format!("{:?} is not a chart name key", line.content))
                })?;
                if !value.is_empty() && value != "[]" {
                    return Err(Unsupported(format!(
                        "the versions of chart {name:?} are not a block list"
                    )));
                }
                self.charts.push(Chart {
                    name,
                    key: *line,
                    inline_empty: value == "[]",
                    item_indent: None,
                    items: Vec::new(),
                });
                continue;
            }
            let chart = self
                .charts
                .last_mut()
                .ok_or_else(|| Unsupported("`entries:` does not start with a chart name".into()))?;
            let item_indent = *chart.item_indent.get_or_insert(line.indent);
            if is_item && line.indent == item_indent {
                if line.content == "-" {
                    return Err(Unsupported(
                        "a version entry starts on the line after its `-`".into(),
                    ));
                }
                chart.items.push((*line, line.next));
            } else if line.indent > item_indent
                && let Some(item) = chart.items.last_mut()
            {
                item.1 = line.next;
            } else {
                return Err(Unsupported(format!(
                    "the versions of chart {:?} are not a block list of entries",
                    chart.name
                )));
            }
        }
        if let Some(chart) = self
            .charts
            .iter()
            .find(|c| c.inline_empty && !c.items.is_empty())
        {
            return Err(Unsupported(format!(
                "chart {:?} has both `[]` and entries",
                chart.name
            )));
        }
        Ok(())
    }

    /// The offset of seq items from their chart key in this index, or the default.
    fn item_offset(&self) -> usize {
        self.charts
            .iter()
            .find_map(|chart| chart.item_indent)
            .map_or(DEFAULT_ITEM_OFFSET, |indent| {
                indent.saturating_sub(self.chart_indent)
            })
    }

    /// The replacements that add `entry` and set `generated`.
    fn edits(
        &self,
        text: &str,
        entry: &ChartVersion,
        generated: &str,
    ) -> Result<Vec<Edit>, Unsupported> {
        let mut edits = Vec::new();
        if let Some(line) = self.generated {
            edits.push(replace_value(text, line, generated)?);
        }
        let item_offset = self.item_offset();
        let Some(entries) = self.entries else {
            let block = format!(
                "entries:\n{}",
                chart_block(entry, DEFAULT_CHART_INDENT, item_offset)?
            );
            let at = self
                .top_keys
                .iter()
                .find(|(key, _)| key.as_str() > "entries")
                .map_or(text.len(), |(_, line)| line.start);
            edits.push(insertion(text, at, block));
            return Ok(edits);
        };
        let (_, value) = split_key(entries.content).unwrap_or_default();
        if value == "{}" {
            let block = chart_block(entry, self.chart_indent, item_offset)?;
            edits.push((entries.start, entries.next, format!("entries:\n{block}")));
            return Ok(edits);
        }
        if !value.is_empty() {
            return Err(Unsupported("`entries:` is not a block mapping".into()));
        }
        match self.charts.iter().find(|chart| chart.name == entry.name) {
            Some(chart) => edits.extend(self.chart_edits(text, chart, entry, item_offset)?),
            None => {
                let block = chart_block(entry, self.chart_indent, item_offset)?;
                let at = self
                    .charts
                    .iter()
                    .find(|chart| chart.name > entry.name)
                    .map(|chart| chart.key.start)
                    .or_else(|| self.charts.iter().map(Chart::end).max())
                    .unwrap_or(entries.next);
                edits.push(insertion(text, at, block));
            }
        }
        Ok(edits)
    }

    /// Edits adding `entry` among `chart`'s versions, newest first, in place of an entry with
    /// the same version string if there is one.
    fn chart_edits(
        &self,
        text: &str,
        chart: &Chart<'_>,
        entry: &ChartVersion,
        item_offset: usize,
    ) -> Result<Vec<Edit>, Unsupported> {
        let indent = chart.item_indent.unwrap_or(chart.key.indent + item_offset);
        let item = render_item(entry, indent)?;
        if chart.inline_empty {
            // `NAME: []` becomes `NAME:` followed by the one entry, the key written as it was.
            let raw_key = chart
                .key
                .content
                .strip_suffix("[]")
                .map(str::trim_end)
                .and_then(|key| key.strip_suffix(':'))
                .ok_or_else(|| Unsupported(format!("cannot read the key of {:?}", chart.name)))?;
            let line = format!("{}{raw_key}:\n{item}", " ".repeat(chart.key.indent));
            return Ok(vec![(chart.key.start, chart.key.next, line)]);
        }
        let versions: Vec<Option<String>> = chart
            .items
            .iter()
            .map(|(first, end)| item_version(&text[first.start..*end], indent + 2))
            .collect();
        if let Some(position) = versions
            .iter()
            .position(|v| v.as_deref() == Some(entry.version.as_str()))
        {
            let (first, end) = chart.items[position];
            return Ok(vec![(first.start, end, item)]);
        }
        let new_version = parse_version(&entry.version).ok();
        let newer_than = |version: &Option<String>| match (&new_version, version) {
            (Some(new), Some(old)) => parse_version(old).is_ok_and(|old| *new > old),
            _ => false,
        };
        let at = if versions.iter().all(Option::is_some) {
            versions
                .iter()
                .position(newer_than)
                .map_or(chart.end(), |position| chart.items[position].0.start)
        } else {
            chart
                .items
                .first()
                .map_or(chart.key.next, |item| item.0.start)
        };
        Ok(vec![insertion(text, at, item)])
    }
}

impl Chart<'_> {
    /// Just past the chart's last content line.
    fn end(&self) -> usize {
        self.items.last().map_or(self.key.next, |item| item.1)
    }
}

/// The lines of `text` that hold content, with comments removed.
fn content_lines(text: &str) -> Result<Vec<Line<'_>>, Unsupported> {
    let mut lines = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let end = text[start..].find('\n').map_or(text.len(), |n| start + n);
        let next = (end + 1).min(text.len());
        let raw = &text[start..end];
        let body = raw.trim_start_matches(' ');
        let content = strip_comment(body).trim_end_matches(' ');
        if !content.is_empty() {
            if content == "..." || (content == "---" && !lines.is_empty()) {
                return Err(Unsupported("it holds several YAML documents".into()));
            }
            lines.push(Line {
                start,
                next,
                indent: raw.len() - body.len(),
                content,
            });
        }
        start = if end == text.len() { end } else { end + 1 };
    }
    if lines
        .first()
        .is_some_and(|line| line.content.starts_with(['{', '[']))
    {
        return Err(Unsupported(
            "it is written in JSON or YAML flow style".into(),
        ));
    }
    Ok(lines)
}

/// `content` without a trailing `# comment` (a `#` at the start or after a space, outside
/// quotes).
fn strip_comment(content: &str) -> &str {
    let mut quote = None;
    let mut previous = ' ';
    for (at, c) in content.char_indices() {
        match (quote, c) {
            (None, '#') if previous == ' ' => return &content[..at],
            (None, '"' | '\'') if previous == ' ' || at == 0 || previous == ':' => quote = Some(c),
            (Some(open), c) if c == open => quote = None,
            _ => {}
        }
        previous = c;
    }
    content
}

/// Splits `key: value` (or `key:`) into the key's text and the value, for plain keys and
/// quoted keys without escapes.
fn split_key(content: &str) -> Option<(String, &str)> {
    let (key, rest) = if let Some(quoted) = content.strip_prefix('"') {
        let close = quoted.find('"')?;
        let key = &quoted[..close];
        if key.contains('\\') {
            return None;
        }
        (key.to_string(), &quoted[close + 1..])
    } else if let Some(quoted) = content.strip_prefix('\'') {
        let close = quoted.find('\'')?;
        (quoted[..close].to_string(), &quoted[close + 1..])
    } else {
        let colon = content
            .find(": ")
            .or_else(|| content.strip_suffix(':').map(str::len))?;
        let key = &content[..colon];
        if key.is_empty() || key.starts_with(['-', '?', '&', '*', '!', '|', '>', '[', '{']) {
            return None;
        }
        (key.to_string(), &content[colon..])
    };
    let value = rest.strip_prefix(':')?;
    if !value.is_empty() && !value.starts_with(' ') {
        return None;
    }
    Some((key, value.trim()))
}

/// The `version` of an index entry from its text (the item's keys are at `key_indent`), if it is
/// written on one line.
fn item_version(item: &str, key_indent: usize) -> Option<String> {
    let mut found = None;
    for (number, raw) in item.lines().enumerate() {
        let body = raw.trim_start_matches(' ');
        let mut indent = raw.len() - body.len();
        let mut content = body;
        if number == 0 {
            content = body.strip_prefix("- ")?.trim_start_matches(' ');
            indent = raw.len() - content.len();
        }
        if indent != key_indent {
            continue;
        }
        if let Some((key, value)) = split_key(strip_comment(content).trim_end())
            && key == "version"
        {
            if found.is_some() {
                return None;
            }
            found = Some(unquote(value)?);
        }
    }
    found
}

/// A one-line scalar's text: plain, or quoted without escapes.
fn unquote(value: &str) -> Option<String> {
    if value.is_empty() {
        return None;
    }
    for quote in ['"', '\''] {
        if let Some(inner) = value.strip_prefix(quote) {
            let inner = inner.strip_suffix(quote)?;
            return (!inner.contains(['\\', quote])).then(|| inner.to_string());
        }
    }
    Some(value.to_string())
}

/// Replaces the value of a top-level `key: value` line, keeping its quoting style.
fn replace_value(text: &str, line: Line<'_>, value: &str) -> Result<Edit, Unsupported> {
    let content_start = line.start + line.indent;
    let colon = content_start
        + line
            .content
            .find(':')
            .ok_or_else(|| Unsupported("`generated` has no value".into()))?;
    let old = text[colon + 1..line.start + line.indent + line.content.len()].trim();
    let quoted = match old.chars().next() {
        Some('\'') => format!("'{value}'"),
        Some('"') | None => format!("\"{value}\""),
        Some(_) => value.to_string(),
    };
    let value_end = line.start + line.indent + line.content.len();
    Ok((colon + 1, value_end, format!(" {quoted}")))
}

/// Inserting `block` at the line start `at` (above the comment lines right over it, which
/// belong to what follows), after a line break if the text lacks its last one.
fn insertion(text: &str, mut at: usize, block: String) -> Edit {
    while at > 0 && at < text.len() {
        let previous_start = text[..at - 1].rfind('\n').map_or(0, |n| n + 1);
        if !text[previous_start..at]
            .trim_start_matches(' ')
            .starts_with('#')
        {
            break;
        }
        at = previous_start;
    }
    if at == text.len() && !text.is_empty() && !text.ends_with('\n') {
        (at, at, format!("\n{block}"))
    } else {
        (at, at, block)
    }
}

/// A chart's key and its one entry, as lines indented under `entries:`.
fn chart_block(
    entry: &ChartVersion,
    chart_indent: usize,
    item_offset: usize,
) -> Result<String, Unsupported> {
    Ok(format!(
        "{}{}:\n{}",
        " ".repeat(chart_indent),
        yaml_key(&entry.name),
        render_item(entry, chart_indent + item_offset)?
    ))
}

/// The entry as a seq item whose `- ` is at `indent`, keys sorted as Helm writes them.
fn render_item(entry: &ChartVersion, indent: usize) -> Result<String, Unsupported> {
    let value = serde_json::to_value(entry)
        .map_err(|e| Unsupported(format!("cannot write the entry: {e}")))?;
    let yaml = serde_saphyr::to_string(&sort_keys(value))
        .map_err(|e| Unsupported(format!("cannot write the entry: {e}")))?;
    let mut item = String::new();
    for (number, line) in yaml.lines().enumerate() {
        if line.is_empty() {
            item.push('\n');
            continue;
        }
        let marker = if number == 0 { "- " } else { "  " };
        item.push_str(&" ".repeat(indent));
        item.push_str(marker);
        item.push_str(line);
        item.push('\n');
    }
    Ok(item)
}

/// A chart name as a mapping key: plain when YAML reads it back as the same string.
fn yaml_key(name: &str) -> String {
    let plain = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !matches!(
            name.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n"
        );
    if plain {
        name.to_string()
    } else {
        serde_json::to_string(name).unwrap_or_else(|_| format!("{name:?}"))
    }
}

/// Applies non-overlapping edits (start, end, replacement) to `text`.
fn apply(text: &str, mut edits: Vec<Edit>) -> String {
    edits.sort_by_key(|(start, end, _)| (*start, *end));
    let mut out = String::with_capacity(text.len() + 4096);
    let mut at = 0;
    for (start, end, replacement) in edits {
        out.push_str(&text[at..start]);
        out.push_str(&replacement);
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `helm repo index` (Helm v3.22.0) over alpha 0.1.0, alpha 0.2.0 and zeta 0.1.0.
    const HELM_INDEX: &str =
        include_str!("../../tests/fixtures/index/helm-v3.22.0-repo-index.yaml");
    const NOW: &str = "2030-01-02T03:04:05.000000006Z";

    fn entry(name: &str, version: &str) -> ChartVersion {
        ChartVersion {
            api_version: "v2".into(),
            name: name.into(),
            version: version.into(),
            description: Some("Added by a test".into()),
            urls: vec![format!("{name}-{version}.tgz")],
            digest: "ab".repeat(32),
            created: "2030-01-02T03:04:05Z".into(),
            ..Default::default()
        }
    }

    fn splice(original: &str, entry: &ChartVersion) -> Result<String, IndexError> {
        splice_entry(original.as_bytes(), "index.yaml", entry, NOW, false)
    }

    /// `spliced` less `inserted` (once) equals `original` with its `generated` time replaced.
    fn assert_only_inserted(original: &str, spliced: &str, inserted: &str) {
        assert_eq!(
            spliced.matches(inserted).count(),
            1,
            "the new entry is not in:\n{spliced}"
        );
        let without = spliced.replacen(inserted, "", 1);
        let generated = original
            .lines()
            .find(|line| line.starts_with("generated:"))
            .map(|line| (line.to_string(), format!("generated: \"{NOW}\"")));
        let expected = match generated {
            Some((old, new)) => original.replace(&old, &new),
            None => original.to_string(),
        };
        assert_eq!(without, expected);
    }

    #[test]
    fn a_newer_version_goes_first_among_its_chart_and_nothing_else_changes() {
        let spliced = splice(HELM_INDEX, &entry("alpha", "0.3.0")).unwrap();
        let item = render_item(&entry("alpha", "0.3.0"), 2).unwrap();
        assert!(
            item.starts_with("  - apiVersion: v2\n    created:"),
            "{item}"
        );
        assert_only_inserted(HELM_INDEX, &spliced, &item);
        assert!(
            spliced.find("alpha-0.3.0.tgz").unwrap() < spliced.find("alpha-0.2.0.tgz").unwrap()
        );
        let index = IndexFile::parse(spliced.as_bytes(), "spliced")
            .unwrap()
            .index;
        assert_eq!(index.entries["alpha"][0].version, "0.3.0");
        assert_eq!(index.generated, NOW);
    }

    #[test]
    fn an_older_version_goes_between_and_a_new_chart_in_name_order() {
        let spliced = splice(HELM_INDEX, &entry("alpha", "0.1.5")).unwrap();
        assert_only_inserted(
            HELM_INDEX,
            &spliced,
            &render_item(&entry("alpha", "0.1.5"), 2).unwrap(),
        );
        let (newer, middle, older) = (
            spliced.find("alpha-0.2.0.tgz").unwrap(),
            spliced.find("alpha-0.1.5.tgz").unwrap(),
            spliced.find("alpha-0.1.0.tgz").unwrap(),
        );
        assert!(newer < middle && middle < older, "{spliced}");

        let spliced = splice(HELM_INDEX, &entry("mid", "1.0.0")).unwrap();
        let block = format!(
            "  mid:\n{}",
            render_item(&entry("mid", "1.0.0"), 2).unwrap()
        );
        assert_only_inserted(HELM_INDEX, &spliced, &block);
        assert!(spliced.find("  mid:\n").unwrap() < spliced.find("  zeta:\n").unwrap());

        let spliced = splice(HELM_INDEX, &entry("zz-last", "1.0.0")).unwrap();
        assert!(
            spliced.find("  zz-last:\n").unwrap() < spliced.find("generated:").unwrap(),
            "{spliced}"
        );
    }

    #[test]
    fn the_indexes_own_indentation_and_comments_are_kept() {
        let original = "# Published by the release pipeline.\napiVersion: v1\nentries:\n    # the web server\n    nginx:\n        -   name: nginx\n            version: \"1.0.0\" # first\n            apiVersion: v2\n            urls: [nginx-1.0.0.tgz]\n\n    redis:\n        - {name: redis, version: 2.0.0, apiVersion: v2}\n";
        let spliced = splice(original, &entry("nginx", "1.1.0")).unwrap();
        let item = render_item(&entry("nginx", "1.1.0"), 8).unwrap();
        assert_only_inserted(original, &spliced, &item);
        assert!(spliced.find("1.1.0").unwrap() < spliced.find("\"1.0.0\"").unwrap());
        // No `generated` line: none is added.
        assert!(!spliced.contains("generated"));

        let spliced = splice(original, &entry("kafka", "3.0.0")).unwrap();
        let block = format!(
            "    kafka:\n{}",
            render_item(&entry("kafka", "3.0.0"), 8).unwrap()
        );
        assert_only_inserted(original, &spliced, &block);
        assert!(spliced.find("kafka:").unwrap() < spliced.find("# the web server").unwrap());
    }

    #[test]
    fn empty_and_missing_entries_get_a_block() {
        for (original, expected_start) in [
            (
                "apiVersion: v1\nentries: {}\ngenerated: '2020-01-01T00:00:00Z'\n",
                "apiVersion: v1\nentries:\n  app:\n  - apiVersion: v2\n",
            ),
            (
                "apiVersion: v1\nentries:\ngenerated: 2020-01-01T00:00:00Z\n",
                "apiVersion: v1\nentries:\n  app:\n  - apiVersion: v2\n",
            ),
            (
                "apiVersion: v1\ngenerated: \"2020-01-01T00:00:00Z\"",
                "apiVersion: v1\nentries:\n  app:\n  - apiVersion: v2\n",
            ),
            (
                "apiVersion: v1\nentries:\n  app: []\n",
                "apiVersion: v1\nentries:\n  app:\n  - apiVersion: v2\n",
            ),
        ] {
            let spliced = splice(original, &entry("app", "1.0.0")).unwrap();
            assert!(
                spliced.starts_with(expected_start),
                "{original:?} became:\n{spliced}"
            );
            let index = IndexFile::parse(spliced.as_bytes(), "spliced")
                .unwrap()
                .index;
            assert_eq!(index.entries["app"][0].version, "1.0.0");
        }
        let spliced = splice(
            "apiVersion: v1\nentries: {}\ngenerated: '2020-01-01T00:00:00Z'\n",
            &entry("app", "1.0.0"),
        )
        .unwrap();
        assert!(
            spliced.ends_with(&format!("generated: '{NOW}'\n")),
            "{spliced}"
        );
    }

    #[test]
    fn an_existing_version_is_refused_or_replaced_in_place() {
        let error = splice(HELM_INDEX, &entry("alpha", "0.2.0")).unwrap_err();
        assert!(
            error.to_string().contains("already has alpha 0.2.0"),
            "{error}"
        );
        let replacement = entry("alpha", "0.2.0");
        let spliced =
            splice_entry(HELM_INDEX.as_bytes(), "index.yaml", &replacement, NOW, true).unwrap();
        let index = IndexFile::parse(spliced.as_bytes(), "spliced")
            .unwrap()
            .index;
        let versions: Vec<_> = index.entries["alpha"]
            .iter()
            .map(|v| (v.version.as_str(), v.digest.as_str()))
            .collect();
        assert_eq!(
            versions,
            [
                ("0.2.0", "ab".repeat(32).as_str()),
                (
                    "0.1.0",
                    "3ef7ba8c99fbb60135bcf22d99ec0776d547548579e6ca3ffe72cde2e92642bc"
                )
            ]
        );
        assert!(spliced.contains("zeta-0.1.0.tgz") && !spliced.contains("6b103164ecb3"));
    }

    #[test]
    fn layouts_it_cannot_edit_safely_are_refused() {
        for (original, why) in [
            ("{\"apiVersion\": \"v1\", \"entries\": {}}", "JSON"),
            (
                "apiVersion: v1\nentries: {app: [{name: app, version: 1.0.0}]}\n",
                "block mapping",
            ),
            ("apiVersion: v1\r\nentries: {}\r\n", "CRLF"),
            (
                "apiVersion: v1\nentries:\n  app: &a\n  - {name: app, version: 1.0.0}\n",
                "block list",
            ),
        ] {
            let error = splice(original, &entry("app", "2.0.0")).unwrap_err();
            let message = error.to_string();
            assert!(matches!(error, IndexError::Splice { .. }), "{message}");
            assert!(message.contains(why), "{original:?}: {message}");
        }
    }

    #[test]
    fn a_new_index_is_written_as_helm_writes_one() {
        let text = new_index(&entry("app", "1.0.0"), NOW).unwrap();
        let index = IndexFile::parse(text.as_bytes(), "new").unwrap().index;
        assert_eq!(index.generated, NOW);
        assert_eq!(index.entries["app"][0].urls, ["app-1.0.0.tgz"]);
        // A second release splices into it.
        let spliced = splice(&text, &entry("app", "1.1.0")).unwrap();
        assert_only_inserted(
            &text,
            &spliced,
            &render_item(&entry("app", "1.1.0"), layout_item_indent(&text)).unwrap(),
        );
    }

    #[test]
    #[ignore = "needs ../shared/testdata/helm/repo"]
    fn helms_own_test_indexes_take_entries_without_other_changes() {
        for name in [
            "local-index.yaml",
            "local-index-unordered.yaml",
            "chartmuseum-index.yaml",
            "local-index-annotations.yaml",
        ] {
            let path = format!(
                "{}/../../shared/testdata/helm/repo/{name}",
                env!("CARGO_MANIFEST_DIR")
            );
            let original = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            for (chart, version) in [
                ("nginx", "0.3.0"),
                ("nginx", "0.1.5"),
                ("aaa-first", "1.0.0"),
            ] {
                let new = entry(chart, version);
                let spliced = splice(&original, &new)
                    .unwrap_or_else(|e| panic!("{name}: {chart} {version}: {e}"));
                let index = IndexFile::parse(spliced.as_bytes(), name).unwrap().index;
                assert!(index.has(chart, version), "{name}");
                // Every original line is still there, in the same order.
                let mut rest = spliced.as_str();
                for line in original.lines().filter(|l| !l.starts_with("generated:")) {
                    let at = rest
                        .find(&format!("{line}\n"))
                        .or_else(|| rest.find(line))
                        .unwrap_or_else(|| panic!("{name}: lost or moved {line:?}"));
                    rest = &rest[at + line.len()..];
                }
            }
        }
    }

    fn layout_item_indent(text: &str) -> usize {
        Layout::read(text).ok().unwrap().charts[0]
            .item_indent
            .unwrap()
    }
}
