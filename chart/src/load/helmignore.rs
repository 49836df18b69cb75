//! `.helmignore` rules, matched exactly as Helm matches them so that a chart directory loads (and
//! packages) to the same set of files under Helm and Capstan.
//!
//! Helm's rules are not `.gitignore` rules:
//! - a pattern is a Go `filepath.Match` glob (`*`, `?`, `[a-z]`, `[^a]`, `\` escapes); `**` is refused;
//! - a pattern without `/` is matched against the last path element only, one with `/` against the
//!   whole chart-relative path, one starting with `/` against the whole path from the chart root;
//! - a trailing `/` restricts the pattern to directories (an ignored directory is skipped whole);
//! - `!pattern` does not re-include files: Helm ignores every path that does NOT match it, and
//!   lets matching paths fall through to later rules. Capstan keeps that behaviour for fidelity.
//!
//! Helm always adds `templates/.?*` (hidden files in `templates/` are never templates).

use std::fmt;

/// Why a `.helmignore` line could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(".helmignore line {line}: {reason} in pattern {pattern:?}; fix or remove the line")]
pub struct IgnoreError {
    /// 1-based line number in the `.helmignore` text.
    pub line: usize,
    pub pattern: String,
    pub reason: &'static str,
}

/// The ignore rules of one chart directory, in file order.
#[derive(Clone, Default)]
pub struct IgnoreRules {
    rules: Vec<Rule>,
}

#[derive(Clone)]
struct Rule {
    raw: String,
    negate: bool,
    dir_only: bool,
    scope: Scope,
    glob: Glob,
}

/// What part of a path a rule looks at.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// Pattern had no `/`: only the last path element.
    BaseName,
    /// Pattern had a `/` (possibly leading): the whole chart-relative path.
    WholePath,
}

impl fmt::Debug for IgnoreRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.rules.iter().map(|r| &r.raw))
            .finish()
    }
}

/// Helm's built-in rule: hidden files directly or deeper under `templates/` are never loaded.
const DEFAULT_RULE: &str = "templates/.?*";

impl IgnoreRules {
    /// Parses `.helmignore` text and adds Helm's default rule. Blank lines and `#` comments are
    /// skipped; surrounding whitespace is trimmed from every line, as Helm does.
    pub fn parse(text: &str) -> Result<Self, IgnoreError> {
        let mut rules = Self::default();
        for (index, line) in text.lines().enumerate() {
            rules.add(line, index + 1)?;
        }
        rules.add(DEFAULT_RULE, 0)?;
        Ok(rules)
    }

    /// Only Helm's default rule: what applies to a chart directory without `.helmignore`.
    pub fn defaults() -> Self {
        Self::parse("").expect("the built-in rule is a valid pattern")
    }

    fn add(&mut self, line: &str, line_number: usize) -> Result<(), IgnoreError> {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            return Ok(());
        }
        let error = |reason| IgnoreError {
            line: line_number,
            pattern: trimmed.to_string(),
            reason,
        };
        if trimmed.contains("**") {
            return Err(error("double-star (**) is not supported by Helm"));
        }
        let mut body = trimmed;
        let negate = body.starts_with('!');
        if negate {
            body = &body[1..];
        }
        let dir_only = body.ends_with('/');
        if dir_only {
            body = &body[..body.len() - 1];
        }
        let scope = if body.contains('/') {
            Scope::WholePath
        } else {
            Scope::BaseName
        };
        let body = body.strip_prefix('/').unwrap_or(body);
        let glob = Glob::compile(body).map_err(error)?;
        self.rules.push(Rule {
            raw: trimmed.to_string(),
            negate,
            dir_only,
            scope,
            glob,
        });
        Ok(())
    }

    /// Whether a chart-relative, `/`-separated path is ignored. `is_dir` tells directory-only rules
    /// (`name/`) whether they apply; callers skip the whole content of an ignored directory.
    pub fn is_ignored(&self, path: &str, is_dir: bool) -> bool {
        if path.is_empty() || path == "." || path == "./" {
            return false;
        }
        for rule in &self.rules {
            let subject = match rule.scope {
                Scope::BaseName => path.rsplit('/').next().unwrap_or(path),
                Scope::WholePath => path,
            };
            if rule.negate {
                if rule.dir_only && !is_dir {
                    return true;
                }
                if !rule.glob.matches(subject) {
                    return true;
                }
                continue;
            }
            if rule.dir_only && !is_dir {
                continue;
            }
            if rule.glob.matches(subject) {
                return true;
            }
        }
        false
    }
}

/// A compiled Go `filepath.Match` pattern (with `/` as the separator).
#[derive(Clone, Debug)]
struct Glob {
    tokens: Vec<Token>,
}

#[derive(Clone, Debug)]
enum Token {
    Literal(char),
    /// `?`: one character other than `/`.
    AnyChar,
    /// `*`: any run of characters other than `/`.
    AnyRun,
    /// `[...]` or `[^...]`; like Go, a class may match `/`.
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Glob {
    /// Compiles a pattern, refusing every form Go's `filepath.Match` calls malformed.
    fn compile(pattern: &str) -> Result<Self, &'static str> {
        let mut tokens = Vec::new();
        let mut chars = pattern.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' => {
                    if !matches!(tokens.last(), Some(Token::AnyRun)) {
                        tokens.push(Token::AnyRun);
                    }
                }
                '?' => tokens.push(Token::AnyChar),
                '\\' => match chars.next() {
                    Some(escaped) => tokens.push(Token::Literal(escaped)),
                    None => return Err("a trailing backslash escapes nothing"),
                },
                '[' => {
                    let negated = chars.next_if_eq(&'^').is_some();
                    let mut ranges = Vec::new();
                    loop {
                        if !ranges.is_empty() && chars.next_if_eq(&']').is_some() {
                            break;
                        }
                        let lo = class_char(&mut chars)?;
                        let hi = if chars.next_if_eq(&'-').is_some() {
                            class_char(&mut chars)?
                        } else {
                            lo
                        };
                        if hi < lo {
                            return Err("a character range runs backwards");
                        }
                        ranges.push((lo, hi));
                    }
                    tokens.push(Token::Class { negated, ranges });
                }
                other => tokens.push(Token::Literal(other)),
            }
        }
        Ok(Self { tokens })
    }

    /// Whole-string match. Runs in O(pattern × text) time and O(text) memory whatever the input,
    /// by tracking the set of text positions reachable after each token.
    fn matches(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        let mut reachable = vec![false; chars.len() + 1];
        reachable[0] = true;
        for token in &self.tokens {
            let mut next = vec![false; chars.len() + 1];
            match token {
                Token::AnyRun => {
                    let mut open = false;
                    for position in 0..=chars.len() {
                        open = reachable[position] || open;
                        next[position] = open;
                        if position < chars.len() && chars[position] == '/' {
                            open = false;
                        }
                    }
                }
                single => {
                    for position in 0..chars.len() {
                        if reachable[position] && single_matches(single, chars[position]) {
                            next[position + 1] = true;
                        }
                    }
                }
            }
            reachable = next;
            if !reachable.contains(&true) {
                return false;
            }
        }
        reachable[chars.len()]
    }
}

fn single_matches(token: &Token, c: char) -> bool {
    match token {
        Token::Literal(literal) => *literal == c,
        Token::AnyChar => c != '/',
        Token::Class { negated, ranges } => {
            let inside = ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c));
            inside != *negated
        }
        Token::AnyRun => false,
    }
}

/// One character of a `[...]` class: `\x` escapes, a bare `-` or `]` is malformed, as in Go.
fn class_char(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<char, &'static str> {
    match chars.next() {
        None => Err("a character class is not closed with ]"),
        Some('-') | Some(']') => Err("a character class has a bare - or ]"),
        Some('\\') => chars.next().ok_or("a trailing backslash escapes nothing"),
        Some(c) => Ok(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> IgnoreRules {
        IgnoreRules::parse(text).unwrap()
    }

    #[test]
    fn pattern_without_slash_matches_the_last_element_anywhere() {
        let r = rules("*.txt\n");
        assert!(r.is_ignored("a.txt", false));
        assert!(r.is_ignored("docs/deep/a.txt", false));
        assert!(!r.is_ignored("a.txt.bak", false));
    }

    #[test]
    fn pattern_with_slash_matches_the_whole_path_and_star_stops_at_slash() {
        let r = rules("docs/*.md\n");
        assert!(r.is_ignored("docs/README.md", false));
        assert!(!r.is_ignored("docs/sub/README.md", false));
        assert!(!r.is_ignored("README.md", false));
    }

    #[test]
    fn leading_slash_anchors_at_the_chart_root() {
        let r = rules("/secret.yaml\n");
        assert!(r.is_ignored("secret.yaml", false));
        assert!(!r.is_ignored("templates/secret.yaml", false));
    }

    #[test]
    fn trailing_slash_applies_to_directories_only() {
        let r = rules("ignore/\n");
        assert!(r.is_ignored("ignore", true));
        assert!(r.is_ignored("sub/ignore", true));
        assert!(!r.is_ignored("ignore", false));
    }

    #[test]
    fn comments_blank_lines_and_whitespace_are_skipped() {
        let r = rules("# a comment\n\n   *.bak   \n");
        assert!(r.is_ignored("x.bak", false));
        assert!(!r.is_ignored("# a comment", false));
    }

    #[test]
    fn default_rule_hides_dotfiles_in_templates() {
        let r = IgnoreRules::defaults();
        assert!(r.is_ignored("templates/.swp", false));
        assert!(!r.is_ignored("templates/a.yaml", false));
        assert!(!r.is_ignored(".helmignore", false));
        assert!(!r.is_ignored("", true));
    }

    #[test]
    fn negation_ignores_everything_that_does_not_match_as_helm_does() {
        let r = rules("!*.yaml\n");
        assert!(r.is_ignored("README.md", false));
        assert!(!r.is_ignored("values.yaml", false));
    }

    #[test]
    fn classes_question_marks_and_escapes_follow_go() {
        let r = rules("file[0-9].txt\nv?.yaml\n\\*literal\n[^a]b\n");
        assert!(r.is_ignored("file7.txt", false));
        assert!(!r.is_ignored("fileX.txt", false));
        assert!(r.is_ignored("v1.yaml", false));
        assert!(!r.is_ignored("v12.yaml", false));
        assert!(r.is_ignored("*literal", false));
        assert!(!r.is_ignored("xliteral", false));
        assert!(r.is_ignored("cb", false));
        assert!(!r.is_ignored("ab", false));
    }

    #[test]
    fn malformed_patterns_are_refused_with_their_line() {
        for (text, line) in [
            ("ok\n**/x\n", 2),
            ("[a-\n", 1),
            ("[]\n", 1),
            ("a\\", 1),
            ("[z-a]", 1),
        ] {
            let err = IgnoreRules::parse(text).unwrap_err();
            assert_eq!(err.line, line, "{text:?}");
            assert!(err.to_string().contains(".helmignore line"), "{err}");
        }
    }

    #[test]
    fn matching_many_stars_stays_fast() {
        let r = rules(&format!("{}b\n", "*a".repeat(50)));
        let text = "a".repeat(4000);
        assert!(!r.is_ignored(&text, false));
    }
}
