//! The glob patterns of `.Files.Glob`, as Helm compiles them (github.com/gobwas/glob with `/` as
//! the separator).
//!
//! `*` matches any run of characters but `/`, `**` any run including `/`, `?` one character but
//! `/`, `[abc]`/`[a-z]` one character of the list or range and `[!...]` one character outside it
//! (these two may match `/`), `{a,b}` either alternative (which may hold patterns themselves), and
//! `\` makes the next character literal. Helm falls back to `**` (every file) when a pattern does
//! not compile, so [`Glob::compile`] does too.
//!
//! Patterns come from templates, so matching is bounded: alternatives are expanded into at most
//! [`MAX_ALTERNATIVES`] plain patterns, and each is matched in time proportional to the pattern
//! length times the name length.

/// The most plain patterns a pattern's `{a,b}` alternatives may expand into.
pub(crate) const MAX_ALTERNATIVES: usize = 4096;

/// One element of a pattern without alternatives.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Literal(char),
    /// `*`
    Any,
    /// `**`
    Super,
    /// `?`
    Single,
    /// `[abc]`, `[!abc]`.
    List {
        chars: Vec<char>,
        negated: bool,
    },
    /// `[a-z]`, `[!a-z]`.
    Range {
        low: char,
        high: char,
        negated: bool,
    },
}

/// A pattern before alternatives are expanded: a sequence of tokens and `{...}` groups.
#[derive(Debug, Clone)]
enum Node {
    Token(Token),
    Alternatives(Vec<Vec<Node>>),
}

/// A compiled pattern: the plain patterns its alternatives expand into.
#[derive(Debug, Clone)]
pub(crate) struct Glob {
    patterns: Vec<Vec<Token>>,
}

/// Why a pattern was refused although Helm would accept it: it has too many alternatives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TooManyAlternatives;

impl Glob {
    /// Compiles `pattern`; one that gobwas/glob rejects becomes `**`, as in Helm.
    pub(crate) fn compile(pattern: &str) -> Result<Glob, TooManyAlternatives> {
        let nodes = match Parser::new(pattern).sequence(0) {
            Some(nodes) => nodes,
            None => vec![Node::Token(Token::Super)],
        };
        let mut patterns = Vec::new();
        expand(&nodes, Vec::new(), &mut patterns)?;
        Ok(Glob { patterns })
    }

    /// Whether `name` matches.
    pub(crate) fn matches(&self, name: &str) -> bool {
        let name: Vec<char> = name.chars().collect();
        self.patterns
            .iter()
            .any(|tokens| matches_plain(tokens, &name))
    }
}

/// Expands alternatives into plain token sequences, appending each completed one to `out`.
fn expand(
    nodes: &[Node],
    prefix: Vec<Token>,
    out: &mut Vec<Vec<Token>>,
) -> Result<(), TooManyAlternatives> {
    let Some(split) = nodes
        .iter()
        .position(|node| matches!(node, Node::Alternatives(_)))
    else {
        if out.len() >= MAX_ALTERNATIVES {
            return Err(TooManyAlternatives);
        }
        let mut done = prefix;
        done.extend(nodes.iter().filter_map(|node| match node {
            Node::Token(token) => Some(token.clone()),
            Node::Alternatives(_) => None,
        }));
        out.push(done);
        return Ok(());
    };
    let mut head = prefix;
    head.extend(nodes[..split].iter().filter_map(|node| match node {
        Node::Token(token) => Some(token.clone()),
        Node::Alternatives(_) => None,
    }));
    let Node::Alternatives(choices) = &nodes[split] else {
        return Ok(());
    };
    for choice in choices {
        let mut rest = choice.clone();
        rest.extend_from_slice(&nodes[split + 1..]);
        expand(&rest, head.clone(), out)?;
    }
    Ok(())
}

/// Matches a plain pattern by dynamic programming over (token, position).
fn matches_plain(tokens: &[Token], name: &[char]) -> bool {
    // reachable[j]: the tokens so far can match exactly name[..j].
    let mut reachable = vec![false; name.len() + 1];
    reachable[0] = true;
    for token in tokens {
        let mut next = vec![false; name.len() + 1];
        match token {
            Token::Any | Token::Super => {
                let crosses_separators = *token == Token::Super;
                let mut open = false;
                for j in 0..=name.len() {
                    if reachable[j] {
                        open = true;
                    }
                    next[j] = open;
                    if j < name.len() && name[j] == '/' && !crosses_separators {
                        open = false;
                    }
                }
            }
            single => {
                for j in 0..name.len() {
                    if reachable[j] && matches_one(single, name[j]) {
                        next[j + 1] = true;
                    }
                }
            }
        }
        reachable = next;
    }
    reachable[name.len()]
}

fn matches_one(token: &Token, c: char) -> bool {
    match token {
        Token::Literal(literal) => *literal == c,
        Token::Single => c != '/',
        Token::List { chars, negated } => chars.contains(&c) != *negated,
        Token::Range { low, high, negated } => (*low <= c && c <= *high) != *negated,
        Token::Any | Token::Super => false,
    }
}

/// gobwas/glob's lexer and parser, returning `None` where they report an error.
struct Parser {
    chars: Vec<char>,
    position: usize,
}

impl Parser {
    fn new(pattern: &str) -> Parser {
        Parser {
            chars: pattern.chars().collect(),
            position: 0,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.position).copied()
    }

    /// Reads tokens until the end, or inside `{...}` (`depth > 0`) until `,` or `}`, which are
    /// left for the caller.
    fn sequence(&mut self, depth: usize) -> Option<Vec<Node>> {
        let mut nodes = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                ',' | '}' if depth > 0 => return Some(nodes),
                '{' => {
                    self.position += 1;
                    nodes.push(self.alternatives(depth + 1)?);
                }
                '[' => {
                    self.position += 1;
                    nodes.push(Node::Token(self.range()?));
                }
                '?' => {
                    self.position += 1;
                    nodes.push(Node::Token(Token::Single));
                }
                '*' => {
                    self.position += 1;
                    if self.peek() == Some('*') {
                        self.position += 1;
                        nodes.push(Node::Token(Token::Super));
                    } else {
                        nodes.push(Node::Token(Token::Any));
                    }
                }
                _ => {
                    let breakers: &[char] = if depth > 0 {
                        &['?', '*', '[', '{', '}', ',']
                    } else {
                        &['?', '*', '[', '{']
                    };
                    for literal in self.text(breakers) {
                        nodes.push(Node::Token(Token::Literal(literal)));
                    }
                }
            }
        }
        if depth > 0 {
            // `{` without its `}`.
            return None;
        }
        Some(nodes)
    }

    fn alternatives(&mut self, depth: usize) -> Option<Node> {
        let mut choices = Vec::new();
        loop {
            choices.push(self.sequence(depth)?);
            match self.peek() {
                Some(',') => self.position += 1,
                Some('}') => {
                    self.position += 1;
                    return Some(Node::Alternatives(choices));
                }
                _ => return None,
            }
        }
    }

    /// After `[`: `!` once, then `lo-hi` or a list of characters, then `]`.
    fn range(&mut self) -> Option<Token> {
        let mut negated = false;
        loop {
            let c = self.peek()?;
            if !negated && c == '!' {
                negated = true;
                self.position += 1;
                continue;
            }
            if self.chars.get(self.position + 1) == Some(&'-') {
                let low = c;
                let high = *self.chars.get(self.position + 2)?;
                self.position += 3;
                self.close_range()?;
                return Some(Token::Range { low, high, negated });
            }
            let chars = self.text(&[']']);
            self.close_range()?;
            return Some(Token::List { chars, negated });
        }
    }

    fn close_range(&mut self) -> Option<()> {
        (self.peek()? == ']').then(|| self.position += 1)
    }

    /// Literal text up to a breaker, with `\` escaping the next character.
    fn text(&mut self, breakers: &[char]) -> Vec<char> {
        let mut text = Vec::new();
        let mut escaped = false;
        while let Some(c) = self.peek() {
            if !escaped {
                if c == '\\' {
                    escaped = true;
                    self.position += 1;
                    continue;
                }
                if breakers.contains(&c) {
                    break;
                }
            }
            escaped = false;
            text.push(c);
            self.position += 1;
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, name: &str) -> bool {
        Glob::compile(pattern).unwrap().matches(name)
    }

    #[test]
    fn stars_stop_at_slashes_but_double_stars_do_not() {
        assert!(matches("files/*", "files/a.conf"));
        assert!(!matches("files/*", "files/sub/a.conf"));
        assert!(matches("files/**", "files/sub/a.conf"));
        assert!(matches("**.conf", "files/sub/a.conf"));
        assert!(!matches("*.conf", "files/a.conf"));
        assert!(matches("*", "README.md"));
        assert!(matches("files/a?conf", "files/a.conf"));
        assert!(!matches("files?a.conf", "files/a.conf"));
    }

    #[test]
    fn ranges_lists_and_alternatives() {
        assert!(matches("files/[ab].conf", "files/b.conf"));
        assert!(!matches("files/[!ab].conf", "files/b.conf"));
        assert!(matches("files/[a-c].conf", "files/c.conf"));
        assert!(!matches("files/[!a-c].conf", "files/c.conf"));
        assert!(matches("files/*.{yaml,json}", "files/x.json"));
        assert!(matches("{files,conf}/**", "conf/x/y"));
        assert!(matches("files/{a,b{c,d}}.txt", "files/bd.txt"));
        assert!(!matches("files/{a,b{c,d}}.txt", "files/b.txt"));
        assert!(matches(r"files/\*.txt", "files/*.txt"));
        assert!(!matches(r"files/\*.txt", "files/a.txt"));
    }

    #[test]
    fn patterns_gobwas_rejects_match_everything_as_in_helm() {
        assert!(matches("files/[a", "anything/at/all"));
        assert!(matches("files/{a,b", "x"));
        assert!(matches("[a-zA-Z]", "deep/path"));
    }

    #[test]
    fn alternatives_are_bounded() {
        let hostile = "{a,b}".repeat(13);
        assert_eq!(Glob::compile(&hostile).unwrap_err(), TooManyAlternatives);
        let fine = "{a,b}".repeat(12);
        assert!(Glob::compile(&fine).unwrap().matches(&"ab".repeat(6)));
    }
}
