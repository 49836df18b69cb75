//! From rendered files to what `helm template` prints: Helm's `SplitManifests` and
//! `SortManifests` (documents split on `---`, hooks set apart by their `helm.sh/hook`
//! annotation, both sorted by kind in install order), and the objects the operator applies.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use crate::kube_object;
use crate::render::manifest::{YamlFailure, parse_yaml_counted};
use crate::render::{Account, HookEvent, Manifest, RenderError};

/// Helm's install order by kind (`releaseutil.InstallOrder`); other kinds come after these,
/// ordered by kind name.
const INSTALL_ORDER: &[&str] = &[
    "PriorityClass",
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
];

const HOOK_ANNOTATION: &str = "helm.sh/hook";
const HOOK_WEIGHT_ANNOTATION: &str = "helm.sh/hook-weight";
const HOOK_DELETE_ANNOTATION: &str = "helm.sh/hook-delete-policy";
const HOOK_OUTPUT_LOG_ANNOTATION: &str = "helm.sh/hook-output-log-policy";

/// One document of a rendered file, as Helm keeps it: the file it came from and its text,
/// trimmed.
#[derive(Debug, Clone)]
pub(crate) struct Document {
    pub(crate) source: String,
    pub(crate) content: String,
    /// `kind`, empty for a document without one (such as one holding only comments).
    pub(crate) kind: String,
    /// The parsed document: `Null` when it holds only comments.
    pub(crate) object: Json,
}

/// The rendered files sorted into what Helm installs and what it runs as hooks.
#[derive(Debug, Default)]
pub(crate) struct Sorted {
    /// Documents that are not hooks, in install order.
    pub(crate) manifests: Vec<Document>,
    /// Hook documents, in install order.
    pub(crate) hooks: Vec<(Document, HookSpec)>,
}

/// What the hook annotations of a document say.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HookSpec {
    pub(crate) events: Vec<HookEvent>,
    pub(crate) weight: i64,
    pub(crate) delete_policies: Vec<String>,
    pub(crate) output_log_policies: Vec<String>,
}

/// Helm's `SortManifests` over rendered files (name → text; NOTES.txt already taken out):
/// files in name order, partials and blank files skipped, each split into documents; a
/// document with a `helm.sh/hook` annotation is a hook (one naming an unknown event is dropped, as
/// Helm does), every other is a manifest.
///
/// Each document takes one object of the render's allowance in `account` before it is parsed, and
/// its YAML nodes count against the render's while it is parsed.
pub(crate) fn sort(
    files: &BTreeMap<String, String>,
    account: &Account,
) -> Result<Sorted, RenderError> {
    let mut sorted = Sorted::default();
    for (path, text) in files {
        if base_name(path).starts_with('_') || text.trim().is_empty() {
            continue;
        }
        for (index, content) in split_manifests(text).into_iter().enumerate() {
            let object = parse_counted(path, index + 1, &content, account)
                .map_err(|e| sort_error(path, e))?;
            let head = Head::read(path, index + 1, &object).map_err(|e| sort_error(path, e))?;
            let document = Document {
                source: path.clone(),
                content,
                kind: head.kind.clone(),
                object,
            };
            match head.hook() {
                None => sorted.manifests.push(document),
                Some(HookOutcome::Unknown) => {}
                Some(HookOutcome::Hook(hook)) => sorted.hooks.push((document, hook)),
            }
        }
    }
    sorted
        .manifests
        .sort_by(|a, b| compare_kinds(&a.kind, &b.kind));
    sorted
        .hooks
        .sort_by(|(a, _), (b, _)| compare_kinds(&a.kind, &b.kind));
    Ok(sorted)
}

fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Helm's `lessByKind` as an ordering (the sort is stable, so equal kinds keep file order).
fn compare_kinds(a: &str, b: &str) -> std::cmp::Ordering {
    let rank = |kind: &str| INSTALL_ORDER.iter().position(|known| *known == kind);
    match (rank(a), rank(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// Helm's `SplitManifests`: the text trimmed, split wherever the regular expression
/// `(?:^|\s*\n)---\s*` matches (so `---` after a newline separates documents even with text
/// after it on the line), empty pieces dropped and each piece trimmed.
pub fn split_manifests(text: &str) -> Vec<String> {
    let text = text.trim();
    let bytes = text.as_bytes();
    let mut documents = Vec::new();
    let mut start = 0;
    let mut position = 0;
    while let Some((match_start, match_end)) = next_separator(bytes, position) {
        documents.push(&text[start..match_start]);
        start = match_end;
        position = match_end;
    }
    documents.push(&text[start..]);
    documents
        .into_iter()
        .filter(|piece| !piece.is_empty())
        .map(|piece| piece.trim().to_string())
        .collect()
}

/// RE2's `\s`: tab, newline, form feed, carriage return and space.
fn is_re2_space(byte: u8) -> bool {
    matches!(byte, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

/// The leftmost match of `(?:^|\s*\n)---\s*` at or after `from`.
fn next_separator(bytes: &[u8], from: usize) -> Option<(usize, usize)> {
    let skip_spaces = |mut at: usize| {
        while at < bytes.len() && is_re2_space(bytes[at]) {
            at += 1;
        }
        at
    };
    if from == 0 && bytes.starts_with(b"---") {
        return Some((0, skip_spaces(3)));
    }
    let newline = (from..bytes.len())
        .find(|&at| bytes[at] == b'\n' && bytes.get(at + 1..at + 4) == Some(b"---".as_slice()))?;
    let mut start = newline;
    while start > from && is_re2_space(bytes[start - 1]) {
        start -= 1;
    }
    Some((start, skip_spaces(newline + 4)))
}

/// Parses a document as YAML the way Helm's decoder reads it (YAML 1.1 scalars, the last of
/// repeated keys): `Null` for one that holds only comments.
pub fn parse(source: &str, document: usize, content: &str) -> Result<Json, RenderError> {
    crate::values::parse_go_yaml(content.as_bytes())
        .map(Option::unwrap_or_default)
        .map_err(|error| yaml_error(source, document, &error))
}

/// [`parse`] within the render's bounds: the document takes one object of the allowance in
/// `account` first, and stops once it holds more YAML nodes than the render has left.
pub(crate) fn parse_counted(
    source: &str,
    document: usize,
    content: &str,
    account: &Account,
) -> Result<Json, RenderError> {
    if !account.take_object() {
        return Err(RenderError::TooManyObjects {
            file: source.to_string(),
            document,
            limit: account.limits.max_objects,
        });
    }
    let parsed = parse_yaml_counted(content, account, |options| {
        crate::values::parse_go_yaml_with(content.as_bytes(), options)
    });
    match parsed {
        Ok(object) => Ok(object.unwrap_or_default()),
        Err(YamlFailure::OverBudget) => Err(RenderError::TooManyYamlNodes {
            file: source.to_string(),
            document,
            line: 1,
            limit: account.limits.max_yaml_nodes,
        }),
        Err(YamlFailure::Invalid(error)) => Err(yaml_error(source, document, &error)),
    }
}

fn yaml_error(source: &str, document: usize, error: &serde_saphyr::Error) -> RenderError {
    RenderError::Yaml {
        file: source.to_string(),
        document,
        line: error.location().map_or(1, |loc| loc.line() as usize),
        problem: crate::values::yaml_error_message(error),
    }
}

/// Helm's wording for a document it cannot sort: `YAML parse error on FILE: ...`.
/// A render limit reached is reported as itself.
fn sort_error(source: &str, error: RenderError) -> RenderError {
    let detail = match &error {
        RenderError::TooManyObjects { .. } | RenderError::TooManyYamlNodes { .. } => return error,
        RenderError::Yaml { line, problem, .. } => {
            format!("error converting YAML to JSON: yaml: line {line}: {problem}")
        }
        RenderError::InvalidObject { problem, .. } => problem.clone(),
        other => other.to_string(),
    };
    RenderError::GoTemplate {
        file: source.to_string(),
        message: format!("YAML parse error on {source}: {detail}"),
    }
}

/// Helm's `SimpleHead`: what it reads of each document to sort it.
struct Head {
    kind: String,
    annotations: BTreeMap<String, String>,
}

enum HookOutcome {
    Hook(HookSpec),
    /// A hook annotation naming an event Helm does not know: Helm skips the document.
    Unknown,
}

impl Head {
    /// Reads `apiVersion`, `kind`, `metadata.name` and `metadata.annotations`, which must have
    /// the types Helm decodes them into (a number as an annotation value fails in Helm too).
    fn read(source: &str, document: usize, object: &Json) -> Result<Head, RenderError> {
        let invalid = |problem: String| RenderError::InvalidObject {
            file: source.to_string(),
            document,
            line: 1,
            problem,
        };
        let map = match object {
            Json::Null => {
                return Ok(Head {
                    kind: String::new(),
                    annotations: BTreeMap::new(),
                });
            }
            Json::Object(map) => map,
            other => {
                return Err(invalid(format!(
                    "a document must be a mapping, found {}",
                    crate::values::kind_of(other)
                )));
            }
        };
        let text = |value: Option<&Json>, field: &str| match value {
            None | Some(Json::Null) => Ok(String::new()),
            Some(Json::String(text)) => Ok(text.clone()),
            Some(other) => Err(invalid(format!(
                "{field} must be a string, found {}",
                crate::values::kind_of(other)
            ))),
        };
        text(map.get("apiVersion"), "apiVersion")?;
        let kind = text(map.get("kind"), "kind")?;
        let metadata = map.get("metadata").and_then(Json::as_object);
        text(metadata.and_then(|m| m.get("name")), "metadata.name")?;
        let mut annotations = BTreeMap::new();
        match metadata.and_then(|m| m.get("annotations")) {
            None | Some(Json::Null) => {}
            Some(Json::Object(entries)) => {
                for (key, value) in entries {
                    let field = format!("metadata.annotations[{key:?}]");
                    annotations.insert(key.clone(), text(Some(value), &field)?);
                }
            }
            Some(other) => {
                return Err(invalid(format!(
                    "metadata.annotations must be a mapping, found {}",
                    crate::values::kind_of(other)
                )));
            }
        }
        Ok(Head { kind, annotations })
    }

    fn hook(&self) -> Option<HookOutcome> {
        let events_text = self.annotations.get(HOOK_ANNOTATION)?;
        let mut events = Vec::new();
        for event in events_text.split(',') {
            match HookEvent::parse(&event.trim().to_lowercase()) {
                Some(event) => events.push(event),
                None => return Some(HookOutcome::Unknown),
            }
        }
        let policies = |annotation: &str| -> Vec<String> {
            self.annotations
                .get(annotation)
                .map(|text| {
                    text.split(',')
                        .map(|policy| policy.trim().to_lowercase())
                        .collect()
                })
                .unwrap_or_default()
        };
        Some(HookOutcome::Hook(HookSpec {
            events,
            weight: go_atoi(
                self.annotations
                    .get(HOOK_WEIGHT_ANNOTATION)
                    .map_or("", String::as_str),
            )
            .unwrap_or(0),
            delete_policies: policies(HOOK_DELETE_ANNOTATION),
            output_log_policies: policies(HOOK_OUTPUT_LOG_ANNOTATION),
        }))
    }
}

/// Go's `strconv.Atoi`: an optional sign and decimal digits fitting 64 bits.
fn go_atoi(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The Kubernetes object of a document, as the operator applies it; `None` for a document that
/// holds only comments (Helm prints it, but there is nothing to apply).
pub(crate) fn manifest_of(
    document: &Document,
    index: usize,
) -> Result<Option<Manifest>, RenderError> {
    if document.object.is_null() {
        return Ok(None);
    }
    let identity =
        kube_object::identify(&document.object).map_err(|problem| RenderError::InvalidObject {
            file: document.source.clone(),
            document: index,
            line: 1,
            problem,
        })?;
    Ok(Some(Manifest {
        source: document.source.clone(),
        api_version: identity.api_version,
        kind: identity.kind,
        name: identity.name,
        namespace: identity.namespace,
        object: document.object.clone(),
        yaml: format!("{}\n", document.content),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_helms_regular_expression() {
        assert_eq!(split_manifests("---\na: 1\n---\nb: 2\n"), ["a: 1", "b: 2"]);
        assert_eq!(
            split_manifests("\n\n  a: 1  \n \n--- \n\n b: 2"),
            ["a: 1", "b: 2"]
        );
        // `---` after a newline separates even with text following it on the line.
        assert_eq!(split_manifests("a: 1\n---# x\nb: 2"), ["a: 1", "# x\nb: 2"]);
        assert_eq!(split_manifests("a: 1\n----\nb"), ["a: 1", "-\nb"]);
        // Not after a newline: part of the text.
        assert_eq!(split_manifests("a: x---y"), ["a: x---y"]);
        // The first `---` eats the newline the second one would need.
        assert_eq!(split_manifests("---\n---\n"), ["---"]);
        assert_eq!(split_manifests("---\n\n---\n"), ["---"]);
        assert_eq!(split_manifests("   "), Vec::<String>::new());
    }

    #[test]
    fn orders_known_kinds_first_then_others_by_name() {
        let mut kinds = vec![
            "Zeta",
            "Deployment",
            "",
            "Alpha",
            "Namespace",
            "PriorityClass",
        ];
        kinds.sort_by(|a, b| compare_kinds(a, b));
        assert_eq!(
            kinds,
            [
                "PriorityClass",
                "Namespace",
                "Deployment",
                "",
                "Alpha",
                "Zeta"
            ]
        );
    }

    #[test]
    fn hooks_are_set_apart_and_unknown_hooks_dropped() {
        let files = BTreeMap::from([
            (
                "c/templates/a.yaml".to_string(),
                "apiVersion: v1\nkind: Pod\nmetadata:\n  name: t\n  annotations:\n    helm.sh/hook: test\n    helm.sh/hook-weight: \"-5\"\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: odd\n  annotations:\n    helm.sh/hook: pre-install,later\n---\n# only a comment\n".to_string(),
            ),
            (
                "c/templates/_partial.tpl".to_string(),
                "ignored: [".to_string(),
            ),
        ]);
        let sorted = sort(
            &files,
            &Account::new(&crate::render::RenderLimits::default()),
        )
        .unwrap();
        assert_eq!(sorted.hooks.len(), 1);
        let hook = &sorted.hooks[0].1;
        assert_eq!(hook.events, [HookEvent::Test]);
        assert_eq!(hook.weight, -5);
        assert_eq!(sorted.manifests.len(), 1);
        assert_eq!(sorted.manifests[0].content, "# only a comment");
        assert!(manifest_of(&sorted.manifests[0], 1).unwrap().is_none());
    }

    #[test]
    fn atoi_is_gos() {
        assert_eq!(go_atoi("-5"), Some(-5));
        assert_eq!(go_atoi("+7"), Some(7));
        assert_eq!(go_atoi(" 7"), None);
        assert_eq!(go_atoi(""), None);
        assert_eq!(go_atoi("99999999999999999999"), None);
    }
}
