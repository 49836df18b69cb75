//! Sprig's `semver` and `semverCompare`, on Masterminds/semver v3.5.0's rules (those of
//! [`crate::semver`], which chart dependency resolution uses too).
//!
//! `semver` returns a `*semver.Version` object with the methods templates call:
//! `.Major`, `.Minor`, `.Patch` (`uint64`), `.Prerelease`, `.Metadata`, `.Original`, `.String`,
//! `.Compare`, `.LessThan`, `.LessThanEqual`, `.GreaterThan`, `.GreaterThanEqual`, `.Equal`,
//! `.IncMajor`, `.IncMinor`, `.IncPatch`, `.SetPrerelease` and `.SetMetadata`.

use super::types::string;
use super::{define, str_arg};
use crate::funcs::{CallContext, FuncError, Funcs, Signature};
use crate::semver::{Constraint, Version, VersionError, parse_version};
use crate::value::{Kind, Object, Type, UintKind, Value};
use std::any::Any;
use std::borrow::Cow;
use std::cmp::Ordering;

/// Masterminds' `MaxVersionLen`.
const MAX_VERSION_LEN: usize = 256;

pub(super) fn register(funcs: &mut Funcs) {
    define(funcs, &["semver"], Signature::new([string()]), |_, args| {
        let text = str_arg(args, 0);
        let version = new_version(text)?;
        Ok(Value::object(SemVersion {
            version,
            original: text.to_string(),
            pointer: true,
        }))
    });
    define(
        funcs,
        &["semverCompare"],
        Signature::new([string(), string()]),
        |_, args| {
            let constraint = Constraint::parse(str_arg(args, 0)).map_err(go_error)?;
            let version = new_version(str_arg(args, 1))?;
            Ok(Value::Bool(constraint.matches(&version)))
        },
    );
}

/// Masterminds' `NewVersion` with its error texts.
fn new_version(text: &str) -> Result<Version, FuncError> {
    if text.len() > MAX_VERSION_LEN {
        return Err(FuncError::new(format!(
            "version string is too long (max {MAX_VERSION_LEN} bytes)"
        )));
    }
    parse_version(text).map_err(go_error)
}

/// Masterminds' wording of a version or constraint error.
fn go_error(error: VersionError) -> FuncError {
    FuncError::new(match error {
        VersionError::InvalidConstraint { input, .. } => {
            format!("improper constraint: {}", crate::fmt::quote(&input))
        }
        // Masterminds matches a loose pattern first (anything else is "invalid semantic
        // version"), then rejects a numeric prerelease identifier with a leading zero.
        VersionError::InvalidVersion { reason, .. } if reason.contains("leading zero") => {
            "version segment starts with 0".to_string()
        }
        VersionError::InvalidVersion { .. } => "invalid semantic version".to_string(),
    })
}

/// A Masterminds `Version`: `*semver.Version` from `semver`, `semver.Version` from the `Inc…`
/// and `Set…` methods.
#[derive(Debug, Clone)]
pub(crate) struct SemVersion {
    version: Version,
    original: String,
    pointer: bool,
}

impl SemVersion {
    fn derived(&self, version: Version) -> Value {
        let prefix = if self.original.starts_with('v') {
            "v"
        } else {
            ""
        };
        Value::object(SemVersion {
            original: format!("{prefix}{version}"),
            version,
            pointer: false,
        })
    }

    fn other(args: &[Value]) -> Option<&SemVersion> {
        match args.first() {
            Some(Value::Object(object)) => (&**object as &dyn Any).downcast_ref::<SemVersion>(),
            _ => None,
        }
    }

    fn compare(&self, other: &SemVersion) -> Ordering {
        self.version.cmp(&other.version)
    }
}

const POINTER_TYPE: &str = "*semver.Version";

impl Object for SemVersion {
    fn type_name(&self) -> Cow<'_, str> {
        Cow::Borrowed(if self.pointer {
            POINTER_TYPE
        } else {
            "semver.Version"
        })
    }

    fn kind(&self) -> Kind {
        if self.pointer {
            Kind::Ptr
        } else {
            Kind::Struct
        }
    }

    fn method(&self, name: &str) -> Option<Signature> {
        let version_param = || Signature::new([Type::Named(POINTER_TYPE.into())]);
        match name {
            "Major" | "Minor" | "Patch" | "Prerelease" | "Metadata" | "String" | "IncMajor"
            | "IncMinor" | "IncPatch" => Some(Signature::new([])),
            "Original" if self.pointer => Some(Signature::new([])),
            "SetPrerelease" | "SetMetadata" => Some(Signature::new([Type::String])),
            "Compare" | "LessThan" | "LessThanEqual" | "GreaterThan" | "GreaterThanEqual"
            | "Equal"
                if self.pointer =>
            {
                Some(version_param())
            }
            _ => None,
        }
    }

    fn call_method(
        &self,
        name: &str,
        _ctx: &mut CallContext<'_, '_>,
        args: &[Value],
    ) -> Result<Value, FuncError> {
        let v = &self.version;
        let uint = |n: u64| Value::Uint(n, UintKind::Uint64);
        let compared = || {
            Self::other(args)
                .map(|other| self.compare(other))
                .ok_or_else(|| FuncError::new(super::NIL_DEREFERENCE))
        };
        Ok(match name {
            "Major" => uint(v.major),
            "Minor" => uint(v.minor),
            "Patch" => uint(v.patch),
            "Prerelease" => Value::string(v.prerelease.as_str()),
            "Metadata" => Value::string(v.build.as_str()),
            "Original" => Value::string(self.original.as_str()),
            "String" => Value::string(v.to_string()),
            "IncMajor" => {
                let major = v.major.checked_add(1).ok_or_else(|| {
                    FuncError::new("major version increment would overflow uint64")
                })?;
                self.derived(Version::new(major, 0, 0))
            }
            "IncMinor" => {
                let minor = v.minor.checked_add(1).ok_or_else(|| {
                    FuncError::new("minor version increment would overflow uint64")
                })?;
                self.derived(Version::new(v.major, minor, 0))
            }
            "IncPatch" => {
                let patch = if v.is_prerelease() {
                    v.patch
                } else {
                    v.patch.checked_add(1).ok_or_else(|| {
                        FuncError::new("patch version increment would overflow uint64")
                    })?
                };
                self.derived(Version::new(v.major, v.minor, patch))
            }
            "SetPrerelease" | "SetMetadata" => {
                let text = super::str_arg(args, 0);
                let mut next = v.clone();
                let probe = if name == "SetPrerelease" {
                    next.prerelease = text.to_string();
                    format!("0.0.0-{text}")
                } else {
                    next.build = text.to_string();
                    format!("0.0.0+{text}")
                };
                if !text.is_empty() && parse_version(&probe).is_err() {
                    return Err(FuncError::new(if name == "SetPrerelease" {
                        "invalid prerelease string"
                    } else {
                        "invalid metadata string"
                    }));
                }
                self.derived(next)
            }
            "Compare" => Value::int(match compared()? {
                Ordering::Less => -1,
                Ordering::Equal => 0,
                Ordering::Greater => 1,
            }),
            "LessThan" => Value::Bool(compared()? == Ordering::Less),
            "LessThanEqual" => Value::Bool(compared()? != Ordering::Greater),
            "GreaterThan" => Value::Bool(compared()? == Ordering::Greater),
            "GreaterThanEqual" => Value::Bool(compared()? != Ordering::Less),
            "Equal" => Value::Bool(compared()? == Ordering::Equal),
            _ => {
                return Err(FuncError::new(format!(
                    "{} has no method {name}",
                    self.type_name()
                )));
            }
        })
    }

    fn stringer(&self) -> Option<String> {
        Some(self.version.to_string())
    }

    fn equals(&self, other: &dyn Object) -> bool {
        match (other as &dyn Any).downcast_ref::<SemVersion>() {
            // Pointers compare by identity; values by their fields.
            Some(other) if !self.pointer && !other.pointer => {
                self.original == other.original
                    && self.version.build == other.version.build
                    && self.compare(other) == Ordering::Equal
            }
            _ => std::ptr::addr_eq(self as *const Self, other as *const dyn Object),
        }
    }
}

/// The text `toJson` gives a version (Masterminds' `MarshalJSON`: its string, quoted).
pub(crate) fn json_text(object: &dyn Object) -> Option<String> {
    (object as &dyn Any)
        .downcast_ref::<SemVersion>()
        .map(|v| v.version.to_string())
}
