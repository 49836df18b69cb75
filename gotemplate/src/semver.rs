//! Chart versions and version constraints, with the syntax and meaning Helm gives them.
//!
//! Helm resolves `dependencies[].version`, `kubeVersion` and `--version` flags with the rules of
//! the Go library Masterminds/semver v3, which differ from Cargo's (`semver` crate) and npm's in
//! many small ways: partial versions are wildcards (`<=1.4` admits `1.4.9`), `~1` spans a whole
//! major, a leading `v` is accepted, and prereleases are admitted by a whole AND group as soon as
//! one of its comparators carries a prerelease. Charts written for Helm must resolve the same way
//! here, so this module implements those rules itself rather than adapting another crate's.

use std::cmp::Ordering;
use std::fmt;

/// Longest constraint or version string accepted. Real ones are a few dozen bytes; the limit keeps
/// a hostile index or Chart.yaml from making parsing expensive.
const MAX_INPUT_LEN: usize = 1024;

/// Why a version or a constraint could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error(
        "invalid version {input:?}: {reason}; expected MAJOR[.MINOR[.PATCH]][-PRERELEASE][+BUILD], e.g. 1.2.3"
    )]
    InvalidVersion { input: String, reason: &'static str },
    #[error(
        "invalid version constraint {input:?}: {reason}; expected comparators such as \">=1.2 <2\", \"^1.2\", \"~1.2.3\", \"1.2.x\" or \"1.0 - 1.4\", OR-ed with \"||\""
    )]
    InvalidConstraint { input: String, reason: String },
}

/// A semantic version as Masterminds' `NewVersion` reads it: missing minor and patch default to 0
/// and a leading `v` is dropped. Build metadata is kept for display but ignored when comparing,
/// so `1.0.0+a == 1.0.0+b`.
#[derive(Debug, Clone)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    /// Dot-separated prerelease identifiers, empty for a release.
    pub prerelease: String,
    /// Build metadata after `+`, empty when absent.
    pub build: String,
}

impl Version {
    pub const fn new(major: u64, minor: u64, patch: u64) -> Self {
        Version {
            major,
            minor,
            patch,
            prerelease: String::new(),
            build: String::new(),
        }
    }

    pub fn is_prerelease(&self) -> bool {
        !self.prerelease.is_empty()
    }

    fn core(&self) -> (u64, u64, u64) {
        (self.major, self.minor, self.patch)
    }
}

impl PartialEq for Version {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version {}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Version {
    /// SemVer precedence: numbers first, then a release sorts after its prereleases, then
    /// prerelease identifiers one by one. Build metadata never counts.
    fn cmp(&self, other: &Self) -> Ordering {
        self.core().cmp(&other.core()).then_with(|| {
            match (self.is_prerelease(), other.is_prerelease()) {
                (false, false) => Ordering::Equal,
                (false, true) => Ordering::Greater,
                (true, false) => Ordering::Less,
                (true, true) => compare_prerelease(&self.prerelease, &other.prerelease),
            }
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if self.is_prerelease() {
            write!(f, "-{}", self.prerelease)?;
        }
        if !self.build.is_empty() {
            write!(f, "+{}", self.build)?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Version {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_version(s)
    }
}

/// Compares prerelease strings identifier by identifier: numeric identifiers numerically and
/// below alphanumeric ones, alphanumerics in ASCII order, and a shorter list first when all shared
/// identifiers are equal.
fn compare_prerelease(left: &str, right: &str) -> Ordering {
    let mut left_ids = left.split('.');
    let mut right_ids = right.split('.');
    loop {
        match (left_ids.next(), right_ids.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(l), Some(r)) => {
                let ordering = match (l.parse::<u64>(), r.parse::<u64>()) {
                    (Ok(ln), Ok(rn)) => ln.cmp(&rn),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => l.cmp(r),
                };
                if ordering != Ordering::Equal {
                    return ordering;
                }
            }
        }
    }
}

/// Parses a version leniently, like Masterminds' `NewVersion`: `v1.2`, `1.2` and `1` are accepted
/// and completed with zeros; prerelease and build identifiers are validated as SemVer 2 requires.
pub fn parse_version(input: &str) -> Result<Version, VersionError> {
    let invalid = |reason: &'static str| VersionError::InvalidVersion {
        input: truncate_for_message(input),
        reason,
    };
    if input.is_empty() {
        return Err(invalid("it is empty"));
    }
    if input.len() > MAX_INPUT_LEN {
        return Err(invalid("it is longer than 1024 bytes"));
    }
    let body = input.strip_prefix('v').unwrap_or(input);
    let (body, build) = match body.split_once('+') {
        Some((body, build)) => (body, build),
        None => (body, ""),
    };
    let (numbers, prerelease) = match body.split_once('-') {
        Some((numbers, pre)) => (numbers, pre),
        None => (body, ""),
    };
    let mut parts = [0u64; 3];
    for (index, segment) in numbers.split('.').enumerate() {
        let Some(slot) = parts.get_mut(index) else {
            return Err(invalid("it has more than three numeric parts"));
        };
        *slot = parse_number(segment).map_err(invalid)?;
    }
    if body.contains('-') {
        validate_identifiers(prerelease, true).map_err(invalid)?;
    }
    if input.contains('+') {
        validate_identifiers(build, false).map_err(invalid)?;
    }
    Ok(Version {
        major: parts[0],
        minor: parts[1],
        patch: parts[2],
        prerelease: prerelease.to_string(),
        build: build.to_string(),
    })
}

fn parse_number(segment: &str) -> Result<u64, &'static str> {
    if segment.is_empty() {
        return Err("a numeric part is empty");
    }
    if !segment.bytes().all(|b| b.is_ascii_digit()) {
        return Err("a numeric part contains something other than digits");
    }
    segment
        .parse()
        .map_err(|_| "a numeric part does not fit in 64 bits")
}

/// Checks dot-separated identifiers: non-empty, `[0-9A-Za-z-]` only, and (for prereleases) no
/// leading zero on a purely numeric identifier.
fn validate_identifiers(identifiers: &str, is_prerelease: bool) -> Result<(), &'static str> {
    for identifier in identifiers.split('.') {
        if identifier.is_empty() {
            return Err("a prerelease or build identifier is empty");
        }
        if !identifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(
                "a prerelease or build identifier contains characters other than [0-9A-Za-z-]",
            );
        }
        let numeric = identifier.bytes().all(|b| b.is_ascii_digit());
        if is_prerelease && numeric && identifier.len() > 1 && identifier.starts_with('0') {
            return Err("a numeric prerelease identifier has a leading zero");
        }
    }
    Ok(())
}

fn truncate_for_message(input: &str) -> String {
    const SHOWN: usize = 80;
    if input.len() <= SHOWN {
        return input.to_string();
    }
    let mut end = SHOWN;
    while !input.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &input[..end])
}

/// The comparison operators of Masterminds' syntax (`=>`, `=<` and `~>` are aliases).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    /// No operator or `=`: equality, or a tilde range when the version has wildcards.
    Equal,
    NotEqual,
    Greater,
    GreaterOrEqual,
    Less,
    LessOrEqual,
    Tilde,
    Caret,
}

/// One comparator such as `>=1.2`. Missing or wildcard parts (`1`, `1.x`, `*`) are recorded as
/// "dirty" flags, because each operator gives them its own meaning.
#[derive(Debug, Clone)]
struct Comparator {
    operator: Operator,
    version: Version,
    /// Some part is a wildcard or missing.
    dirty: bool,
    /// The minor part (and so the patch) is a wildcard or missing: `1`, `1.x`.
    minor_dirty: bool,
    /// Only the patch part is a wildcard or missing: `1.2`, `1.2.x`.
    patch_dirty: bool,
}

/// A parsed constraint: alternatives separated by `||`, each a list of comparators that must all
/// hold. Parse once with [`Constraint::parse`] and test many versions with [`Constraint::matches`].
#[derive(Debug, Clone)]
pub struct Constraint {
    source: String,
    alternatives: Vec<AndGroup>,
}

#[derive(Debug, Clone)]
struct AndGroup {
    comparators: Vec<Comparator>,
    /// A comparator of this group names a prerelease, so prerelease versions may match it.
    admits_prereleases: bool,
}

impl Constraint {
    /// Parses a constraint in Helm's syntax. An empty string is an error; callers that treat "no
    /// constraint" as "any version" should pass `*`.
    pub fn parse(input: &str) -> Result<Constraint, VersionError> {
        let invalid = |reason: String| VersionError::InvalidConstraint {
            input: truncate_for_message(input),
            reason,
        };
        if input.trim().is_empty() {
            return Err(invalid("it is empty".into()));
        }
        if input.len() > MAX_INPUT_LEN {
            return Err(invalid("it is longer than 1024 bytes".into()));
        }
        let mut alternatives = Vec::new();
        for group in input.split("||") {
            let comparators = parse_and_group(group).map_err(invalid)?;
            let admits_prereleases = comparators.iter().any(|c| c.version.is_prerelease());
            alternatives.push(AndGroup {
                comparators,
                admits_prereleases,
            });
        }
        Ok(Constraint {
            source: input.to_string(),
            alternatives,
        })
    }

    /// The constraint as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `version` satisfies some alternative of this constraint.
    pub fn matches(&self, version: &Version) -> bool {
        self.alternatives.iter().any(|group| {
            if version.is_prerelease() && !group.admits_prereleases {
                return false;
            }
            group.comparators.iter().all(|c| c.matches(version))
        })
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl std::str::FromStr for Constraint {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Constraint::parse(s)
    }
}

/// Parses `constraint` and tests `version` against it in one go. Both are parsed on each call; use
/// [`Constraint`] when testing many versions.
pub fn constraint_matches(constraint: &str, version: &str) -> Result<bool, VersionError> {
    let constraint = Constraint::parse(constraint)?;
    let version = parse_version(version)?;
    Ok(constraint.matches(&version))
}

/// Picks the newest version that satisfies `constraint`, as Helm does when it resolves a chart in
/// a repository index: a version string that equals the constraint text exactly wins outright
/// (so `1.0.0+build.1` can be pinned), and strings that do not parse as versions are skipped.
pub fn select_latest<'a, I>(constraint: &Constraint, versions: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let mut best: Option<(Version, &'a str)> = None;
    for candidate in versions {
        if candidate == constraint.as_str() {
            return Some(candidate);
        }
        let Ok(parsed) = parse_version(candidate) else {
            continue;
        };
        if !constraint.matches(&parsed) {
            continue;
        }
        if best.as_ref().is_none_or(|(current, _)| parsed > *current) {
            best = Some((parsed, candidate));
        }
    }
    best.map(|(_, text)| text)
}

/// Parses one AND group: comparators separated by whitespace or a comma, where a bare
/// `A - B` pair (spaces around the hyphen required) is an inclusive range.
fn parse_and_group(group: &str) -> Result<Vec<Comparator>, String> {
    let mut cursor = Cursor {
        rest: group.trim_start(),
    };
    let mut comparators = Vec::new();
    if cursor.rest.trim_end().is_empty() {
        return Err("an alternative between \"||\" is empty".into());
    }
    loop {
        let operator = cursor.operator();
        cursor.skip_spaces();
        let lower = cursor.version_term()?;
        if operator.is_none() && cursor.hyphen_follows() {
            cursor.skip_spaces();
            cursor.rest = &cursor.rest[1..];
            cursor.skip_spaces();
            let upper = cursor.version_term()?;
            comparators.push(lower.into_comparator(Operator::GreaterOrEqual));
            comparators.push(upper.into_comparator(Operator::LessOrEqual));
        } else {
            comparators.push(lower.into_comparator(operator.unwrap_or(Operator::Equal)));
        }
        // Separator: whitespace, or a comma with optional whitespace around it.
        let before = cursor.rest.len();
        cursor.skip_spaces();
        if let Some(after_comma) = cursor.rest.strip_prefix(',') {
            cursor.rest = after_comma;
            cursor.skip_spaces();
            if cursor.rest.is_empty() {
                return Err("it ends with a comma".into());
            }
        } else if cursor.rest.is_empty() {
            return Ok(comparators);
        } else if cursor.rest.len() == before {
            return Err(format!(
                "expected a space or comma before {:?}",
                truncate_for_message(cursor.rest)
            ));
        }
    }
}

/// A version as written in a constraint, before the operator decides what its wildcards mean.
struct VersionTerm {
    major: Option<u64>,
    minor: Option<u64>,
    patch: Option<u64>,
    prerelease: String,
}

impl VersionTerm {
    /// Applies Masterminds' reading of partial versions: the first missing or wildcard part makes
    /// the comparator dirty at that level, and every part from there on becomes zero.
    fn into_comparator(self, operator: Operator) -> Comparator {
        let (major, minor, patch, dirty, minor_dirty, patch_dirty) =
            match (self.major, self.minor, self.patch) {
                (None, _, _) => (0, 0, 0, true, false, false),
                (Some(major), None, _) => (major, 0, 0, true, true, false),
                (Some(major), Some(minor), None) => (major, minor, 0, true, false, true),
                (Some(major), Some(minor), Some(patch)) => {
                    (major, minor, patch, false, false, false)
                }
            };
        Comparator {
            operator,
            version: Version {
                major,
                minor,
                patch,
                prerelease: self.prerelease,
                build: String::new(),
            },
            dirty,
            minor_dirty,
            patch_dirty,
        }
    }
}

struct Cursor<'a> {
    rest: &'a str,
}

impl<'a> Cursor<'a> {
    fn skip_spaces(&mut self) {
        self.rest = self.rest.trim_start();
    }

    fn operator(&mut self) -> Option<Operator> {
        // Longest spellings first so that `>=` is not read as `>`.
        const OPERATORS: [(&str, Operator); 12] = [
            ("!=", Operator::NotEqual),
            (">=", Operator::GreaterOrEqual),
            ("=>", Operator::GreaterOrEqual),
            ("<=", Operator::LessOrEqual),
            ("=<", Operator::LessOrEqual),
            ("~>", Operator::Tilde),
            (">", Operator::Greater),
            ("<", Operator::Less),
            ("~", Operator::Tilde),
            ("^", Operator::Caret),
            ("=", Operator::Equal),
            ("", Operator::Equal),
        ];
        for (spelling, operator) in OPERATORS {
            if spelling.is_empty() {
                return None;
            }
            if let Some(rest) = self.rest.strip_prefix(spelling) {
                self.rest = rest;
                return Some(operator);
            }
        }
        None
    }

    /// Whether the next tokens are ` - ` (a hyphen range). The hyphen must have whitespace on
    /// both sides; `1.1-3` is version 1.1 with prerelease `3`, not a range.
    fn hyphen_follows(&self) -> bool {
        let trimmed = self.rest.trim_start();
        trimmed.len() < self.rest.len()
            && trimmed
                .strip_prefix('-')
                .is_some_and(|after| after.starts_with(char::is_whitespace))
    }

    /// Reads `v?PART(.PART(.PART)?)?(-PRE)?(+BUILD)?` where PART is digits or one of `x X *`.
    fn version_term(&mut self) -> Result<VersionTerm, String> {
        let start = self.rest;
        let end = start
            .find(|c: char| c.is_whitespace() || c == ',')
            .unwrap_or(start.len());
        let text = &start[..end];
        self.rest = &start[end..];
        if text.is_empty() {
            return Err("an operator is not followed by a version".into());
        }
        let body = text.strip_prefix('v').unwrap_or(text);
        let (body, build) = match body.split_once('+') {
            Some((body, build)) => (body, Some(build)),
            None => (body, None),
        };
        let (numbers, prerelease) = match body.split_once('-') {
            Some((numbers, pre)) => (numbers, Some(pre)),
            None => (body, None),
        };
        let bad = |reason: &str| format!("{reason} in {:?}", truncate_for_message(text));
        let mut parts: [Option<u64>; 3] = [None; 3];
        let mut wildcard_seen = false;
        for (index, segment) in numbers.split('.').enumerate() {
            if index == 3 {
                return Err(bad("more than three numeric parts"));
            }
            if matches!(segment, "x" | "X" | "*") {
                wildcard_seen = true;
                continue;
            }
            let number = parse_number(segment).map_err(bad)?;
            if !wildcard_seen {
                parts[index] = Some(number);
            }
        }
        if let Some(pre) = prerelease {
            validate_identifiers(pre, true).map_err(bad)?;
        }
        if let Some(build) = build {
            validate_identifiers(build, false).map_err(bad)?;
        }
        Ok(VersionTerm {
            major: parts[0],
            minor: parts[1],
            patch: parts[2],
            prerelease: prerelease.unwrap_or_default().to_string(),
        })
    }
}

impl Comparator {
    /// Masterminds' per-operator rules. The prerelease gate has already been applied by the group.
    fn matches(&self, v: &Version) -> bool {
        let con = &self.version;
        match self.operator {
            Operator::Equal if self.dirty => self.tilde(v),
            Operator::Equal => v == con,
            Operator::NotEqual => self.not_equal(v),
            Operator::Greater => self.greater(v),
            Operator::Less => v < con,
            Operator::GreaterOrEqual => v >= con,
            Operator::LessOrEqual => self.less_or_equal(v),
            Operator::Tilde => self.tilde(v),
            Operator::Caret => self.caret(v),
        }
    }

    fn not_equal(&self, v: &Version) -> bool {
        let con = &self.version;
        if self.dirty {
            if v.major != con.major {
                return true;
            }
            if self.minor_dirty {
                return false;
            }
            if v.minor != con.minor {
                return true;
            }
            if self.patch_dirty {
                return (v.is_prerelease() || con.is_prerelease())
                    && compare_prerelease(&v.prerelease, &con.prerelease) != Ordering::Equal;
            }
            if v.patch != con.patch {
                return true;
            }
        }
        v != con
    }

    /// `>1` means 2.0.0 or later and `>1.2` means 1.3.0 or later: a wildcard level must be exceeded.
    fn greater(&self, v: &Version) -> bool {
        let con = &self.version;
        if !self.dirty {
            return v > con;
        }
        match v.major.cmp(&con.major) {
            Ordering::Greater => true,
            Ordering::Less => false,
            Ordering::Equal if self.minor_dirty => false,
            Ordering::Equal if self.patch_dirty => v.minor > con.minor,
            Ordering::Equal => v > con,
        }
    }

    /// `<=1.4` admits every 1.4.x, `<=1` every 1.x.
    fn less_or_equal(&self, v: &Version) -> bool {
        let con = &self.version;
        if !self.dirty {
            return v <= con;
        }
        if v.major > con.major {
            return false;
        }
        !(v.major == con.major && v.minor > con.minor && !self.minor_dirty)
    }

    /// `~1.2.3` and `~1.2` stay within 1.2; `~1` within 1; `~*`, `~0` … `~0.0.0` admit anything.
    fn tilde(&self, v: &Version) -> bool {
        let con = &self.version;
        if v < con {
            return false;
        }
        if con.core() == (0, 0, 0) && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        v.major == con.major && (self.minor_dirty || v.minor == con.minor)
    }

    /// `^1.2.3` stays within major 1, `^0.2.3` within 0.2, `^0.0.3` is exactly 0.0.3.
    fn caret(&self, v: &Version) -> bool {
        let con = &self.version;
        if v < con {
            return false;
        }
        if con.major > 0 || self.minor_dirty {
            return v.major == con.major;
        }
        if v.major > 0 {
            return false;
        }
        if con.minor > 0 || self.patch_dirty {
            return v.minor == con.minor;
        }
        if v.minor > 0 {
            return false;
        }
        v.patch == con.patch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(constraint: &str, version: &str) -> bool {
        constraint_matches(constraint, version)
            .unwrap_or_else(|e| panic!("{constraint:?} / {version:?}: {e}"))
    }

    /// Masterminds' documented behaviour, one row per rule (constraint, version, expected).
    const TABLE: &[(&str, &str, bool)] = &[
        // Equality, with and without operator, partial versions as wildcards.
        ("=2.0.0", "1.2.3", false),
        ("=2.0.0", "2.0.0", true),
        ("=2.0", "2.0.1", true),
        ("=2.0", "1.2.3", false),
        ("4.1", "4.1.0", true),
        ("2", "2.1.1", true),
        ("2", "3.4.5", false),
        ("2.1", "2.2.1", false),
        ("v1.2.3", "1.2.3", true),
        ("1.2.3", "v1.2.3", true),
        ("1.2.3+build.5", "1.2.3", true),
        ("1.2.3", "1.2.3+other", true),
        ("=0", "1", false),
        // Not equal.
        ("!=4.1.0", "4.1.0", false),
        ("!=4.1.0", "4.1.1", true),
        ("!=4.1", "4.1.0", false),
        ("!=4.1", "4.1.1", false),
        ("!=4.1", "5.1.0", true),
        ("!=4.1", "5.1.0-alpha.1", false),
        ("!=4.1-alpha", "4.1.0", true),
        ("!=4.1-alpha", "4.1.0-alpha", false),
        ("!=4.1-alpha", "4.1.1-alpha", false),
        ("!=4.x", "5.1.0", true),
        ("!=4.x", "4.1.0", false),
        ("!=4.1.x", "4.2.0", true),
        ("!=4.2.x", "4.2.3", false),
        // Less than.
        ("<11", "0.1.0", true),
        ("<11", "11.1.0", false),
        ("<1.1", "1.1.0", false),
        ("<1.1", "1.1.1", false),
        ("<1.x", "1.1.1", false),
        ("<1.x", "0.1.1", true),
        ("<1.1.x", "1.1.500", false),
        ("<1.1.x", "1.0.500", true),
        ("<0", "0.0.0-alpha", false),
        ("<0-z", "0.0.0-alpha", true),
        // Less or equal: partials admit the whole wildcard level.
        ("<=11", "11.2.3", true),
        ("<=11", "12.2.3", false),
        ("<=1.1", "1.1.1", true),
        ("<=1.1", "1.2.3", false),
        ("<=1.1", "0.1.0-alpha", false),
        ("<=1.1-a", "0.1.0-alpha", true),
        ("<=2.x", "3.0.0", false),
        ("<=1.1.x", "1.2.500", false),
        ("<=4.5", "4.6.3", false),
        ("=<1.1", "1.1.0", true),
        // Greater than: a wildcard level must be exceeded.
        (">1.1", "4.1.0", true),
        (">1.1", "1.1.0", false),
        (">11.1", "11.1.1", false),
        (">11.1", "11.2.1", true),
        (">11", "11.1.0", false),
        (">0", "0", false),
        (">0", "1", true),
        (">0", "0.0.1-alpha", false),
        (">0-0", "0.0.1-alpha", false),
        (">0.0.0-0", "0.0.0-alpha", true),
        (">1.2.3-alpha.1", "1.2.3-alpha.2", true),
        (">1.2.3-alpha.1", "1.3.3-alpha.2", true),
        // Greater or equal.
        (">=11.1", "11.1.2", true),
        (">=11.1", "11.0.2", false),
        (">=1.1", "4.1.0-beta", false),
        (">=0", "0.0.1-alpha", false),
        (">=0-0", "0.0.1-alpha", true),
        (">=0.0.0-0", "3.4.5-beta.1", true),
        ("=>1.2", "1.2.0", true),
        // Wildcards.
        ("*", "4.5.6", true),
        ("*", "1.2.3-alpha.1", false),
        ("*-0", "1.2.3-alpha.1", true),
        ("x", "0.0.1", true),
        ("2.*", "2.1.1", true),
        ("2.*", "3.4.5", false),
        ("2.1.*", "2.2.1", false),
        ("1.2.x", "1.2.9", true),
        ("1.2.X", "1.3.0", false),
        ("0.x.x", "1.2.3", false),
        ("0.0.x", "1.2.3", false),
        ("1.x", "1.4", true),
        // Tilde.
        ("~1.2.3", "1.2.4", true),
        ("~1.2.3", "1.2.2", false),
        ("~1.2.3", "1.3.4", false),
        ("~1.2", "1.2.4", true),
        ("~1.2", "1.3.0", false),
        ("~1", "1.9.4", true),
        ("~1", "2.3.4", false),
        ("~1.x", "1.3.5", true),
        ("~>1.2", "1.2.9", true),
        ("~*", "2.1.1", true),
        ("~0.0.0", "1.2.3", true),
        ("~1.1", "1.1.1-alpha", false),
        ("~1.1-alpha", "1.1.1-beta", true),
        ("~1.1.1-beta", "1.1.1-alpha", false),
        ("~1.1.1-beta", "1.1.1", true),
        ("~1.2.3-beta.2", "1.2.4-beta.2", true),
        ("~1.2.3-beta.2", "1.3.4-beta.2", false),
        // Caret.
        ("^1.2.3", "1.8.9", true),
        ("^1.2.3", "2.0.0", false),
        ("^1.2.3", "1.2.1", false),
        ("^1.2", "1.8.9", true),
        ("^1", "2.8.9", false),
        ("^0.2.3", "0.2.5", true),
        ("^0.2.3", "0.3.0", false),
        ("^0.2", "0.2.9", true),
        ("^0.0.3", "0.0.3", true),
        ("^0.0.3", "0.0.4", false),
        ("^0.0", "0.0.3", true),
        ("^0.0", "0.1.4", false),
        ("^0", "0.2.3", true),
        ("^0", "1.1.4", false),
        ("^0.0.0", "1.2.3", false),
        ("^1.x", "1.1.1", true),
        ("^1.x", "2.1.1", false),
        ("^1.x", "1.1.1-beta1", false),
        ("^1.2.0", "1.2.1-alpha.1", false),
        ("^1.2.0-alpha.0", "1.2.1-alpha.1", true),
        ("^1.2.0-alpha.2", "1.2.0-alpha.1", false),
        ("^1.1.2-alpha", "1.2.1-beta1", true),
        ("^0.2.3-beta.2", "0.3.4-beta.2", false),
        // AND by space or comma, OR by ||.
        (">=1.2 <2", "1.9.9", true),
        (">=1.2 <2", "2.0.0", false),
        (">=1.2, <2", "1.1.0", false),
        (">1.1 <2", "1.1.1", false),
        (">1.1, <2", "1.2.1", true),
        ("> 1.1, <     2", "1.1.1", false),
        (">=1.1 <2 !=1.2.3", "1.2.3", false),
        (">=1.1, <2, !=1.2.3 || > 3", "4.1.2", true),
        (">=1.1, <2, !=1.2.3 || > 3", "3.1.2", false),
        (">=1.1, <2, !=1.2.3 || >= 3", "3.0.0", true),
        ("^1 || ^2", "2.5.0", true),
        ("^1||^2", "3.0.0", false),
        // Hyphen ranges: inclusive, partial upper bounds admit the whole level.
        ("1.0 - 1.4", "1.4.7", true),
        ("1.0 - 1.4", "1.5.0", false),
        ("1.0 - 1.4", "0.9.9", false),
        ("1.1 - 2", "1.1.1", true),
        ("1.1 - 2", "2.9.0", true),
        ("1.1 - 2", "3.0.0", false),
        ("1.5.0 - 4.5", "3.7.0", true),
        ("1.2.3 - 2.3.4", "2.3.4", true),
        ("1.2.3 - 2.3.4", "2.3.5", false),
        ("3 - 4 || >= 6", "6.1.0", true),
        ("1.1-3", "4.3.2", false),
    ];

    #[test]
    fn masterminds_semantics_table() {
        let failures: Vec<String> = TABLE
            .iter()
            .filter(|(c, v, expected)| check(c, v) != *expected)
            .map(|(c, v, expected)| format!("{c:?} vs {v:?}: expected {expected}"))
            .collect();
        assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
    }

    #[test]
    fn invalid_constraints_are_errors_naming_the_input() {
        for bad in [
            "",
            "   ",
            ">= bar",
            "BAR >= 1.2.3",
            "12.3.4.1234",
            "12.3.34~ 1.2.3",
            ">=1.2 ||",
            "|| 1.2",
            ">=1.2,",
            ">=",
            "1.2.3-01",
            "1.2.3-",
            "1.2.3+",
            "99999999999999999999999",
            ">=1.0 - 2.0",
        ] {
            let err = Constraint::parse(bad).expect_err(bad);
            assert!(
                err.to_string().contains("invalid version constraint"),
                "{bad:?}: {err}"
            );
        }
        assert!(Constraint::parse(&"1".repeat(2000)).is_err());
    }

    #[test]
    fn valid_constraint_shapes_parse() {
        for good in [
            ">= 1.1",
            ">40.50.60, < 50.70",
            "v2.3.5-20161202202307-sha.e8fc5e5",
            ">= 1.2.3 < 2.0 || => 3.0 < 4",
            "3 - 4 || => 3.0, < 4",
            "12.3.34 ~1.2.3",
            " ^1.2 ",
        ] {
            Constraint::parse(good).unwrap_or_else(|e| panic!("{good:?}: {e}"));
        }
    }

    #[test]
    fn lenient_version_parsing() {
        assert_eq!(parse_version("v1.2").unwrap().to_string(), "1.2.0");
        assert_eq!(parse_version("1").unwrap().to_string(), "1.0.0");
        let full = parse_version("1.2.3-rc.1+build.7").unwrap();
        assert_eq!(
            (full.major, full.minor, full.patch),
            (1, 2, 3),
            "numeric parts"
        );
        assert_eq!(full.prerelease, "rc.1");
        assert_eq!(full.build, "build.7");
        for bad in [
            "",
            "1.2.3.4",
            "a.b.c",
            "1..2",
            "1.2.3-",
            "1.2.3-a..b",
            "1.2.3-01",
            "1.2.3+bad!",
        ] {
            let err = parse_version(bad).expect_err(bad);
            assert!(
                err.to_string().contains("invalid version"),
                "{bad:?}: {err}"
            );
        }
    }

    #[test]
    fn ordering_follows_semver_precedence_and_ignores_build() {
        let ordered = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.10.0",
            "2.0.0",
        ];
        for pair in ordered.windows(2) {
            let (a, b) = (
                parse_version(pair[0]).unwrap(),
                parse_version(pair[1]).unwrap(),
            );
            assert!(a < b, "{} should sort before {}", pair[0], pair[1]);
        }
        assert_eq!(
            parse_version("1.0.0+a").unwrap(),
            parse_version("1.0.0+b").unwrap()
        );
    }

    #[test]
    fn select_latest_prefers_exact_text_then_newest_match() {
        let versions = [
            "1.0.0",
            "1.2.0",
            "1.10.0",
            "2.0.0-beta.1",
            "not-a-version",
            "1.2.0+build",
        ];
        let any = Constraint::parse("*").unwrap();
        assert_eq!(select_latest(&any, versions), Some("1.10.0"));
        let caret = Constraint::parse("^1.1").unwrap();
        assert_eq!(select_latest(&caret, versions), Some("1.10.0"));
        let exact_build = Constraint::parse("1.2.0+build").unwrap();
        assert_eq!(select_latest(&exact_build, versions), Some("1.2.0+build"));
        let pre = Constraint::parse(">=2.0.0-0").unwrap();
        assert_eq!(select_latest(&pre, versions), Some("2.0.0-beta.1"));
        let none = Constraint::parse(">=3").unwrap();
        assert_eq!(select_latest(&none, versions), None);
    }
}
