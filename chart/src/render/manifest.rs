//! Turning a rendered file into Kubernetes objects: split into YAML documents, drop empty ones,
//! parse each, and check it is an object the API server could address.

use std::cell::Cell;
use std::rc::Rc;

use super::limits::Account;
use super::{Manifest, RenderError};
use crate::kube_object;

/// One YAML document of a rendered file, with the 1-based line it starts on.
struct Document {
    text: String,
    first_line: usize,
}

/// Whether `line` separates documents: `---`, optionally followed by spaces or a comment.
fn is_separator(line: &str) -> bool {
    line.strip_prefix("---").is_some_and(|rest| {
        let rest = rest.trim();
        rest.is_empty() || rest.starts_with('#')
    })
}

/// Whether a document holds nothing but blank lines and comments.
fn is_empty_document(text: &str) -> bool {
    text.lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#') || line == "..."
    })
}

/// The non-empty documents of `rendered`, in order, split lazily so that a caller can stop
/// before splitting (let alone parsing) more than it will accept.
fn documents(rendered: &str) -> impl Iterator<Item = Document> + '_ {
    let mut lines = rendered.lines().enumerate().peekable();
    std::iter::from_fn(move || {
        lines.peek()?;
        let mut text = String::new();
        let mut first_line = None;
        for (index, line) in lines.by_ref() {
            if is_separator(line) {
                break;
            }
            first_line.get_or_insert(index + 1);
            text.push_str(line);
            text.push('\n');
        }
        Some(Document {
            first_line: first_line.unwrap_or(1),
            text,
        })
    })
    .filter(|doc| !is_empty_document(&doc.text))
}

/// Parses the rendered output of template `source` into checked manifests, in file order. Each
/// document takes one object from the render's allowance before it is parsed, and its YAML nodes
/// are counted against the allowance while it is parsed.
pub(crate) fn parse_manifests(
    source: &str,
    rendered: &str,
    account: &Account,
) -> Result<Vec<Manifest>, RenderError> {
    let mut manifests = Vec::new();
    for (index, doc) in documents(rendered).enumerate() {
        let document = index + 1;
        if !account.take_object() {
            return Err(RenderError::TooManyObjects {
                file: source.to_string(),
                document,
                limit: account.limits.max_objects,
            });
        }
        manifests.push(parse_document(source, document, &doc, account)?);
    }
    Ok(manifests)
}

/// Parses one document, stopping once it holds more YAML nodes than the render has left.
fn parse_document(
    source: &str,
    document: usize,
    doc: &Document,
    account: &Account,
) -> Result<Manifest, RenderError> {
    let nodes_left = account.yaml_nodes_left();
    let nodes_seen = Rc::new(Cell::new(0usize));
    // Without anchors and aliases a document holds fewer events than bytes; with them, a short
    // text can replay a large part of itself many times. A generous multiple of the text's length
    // lets real uses of aliases through and stops such replays early.
    let max_events = doc.text.len().saturating_mul(8).saturating_add(1024);
    let options = super::charge::counted_yaml_options(nodes_left, max_events, &nodes_seen);
    let parsed = serde_saphyr::from_str_with_options::<serde_json::Value>(&doc.text, options);
    account.spend_yaml_nodes(nodes_seen.get());
    let object = parsed.map_err(|err| {
        let line = doc.first_line
            + err
                .location()
                .map_or(0, |loc| (loc.line() as usize).saturating_sub(1));
        if crate::values::yaml_budget_breached(&err) || nodes_seen.get() >= nodes_left {
            return RenderError::TooManyYamlNodes {
                file: source.to_string(),
                document,
                line: doc.first_line,
                limit: account.limits.max_yaml_nodes,
            };
        }
        RenderError::Yaml {
            file: source.to_string(),
            document,
            line,
            // The output may hold values from Secrets: the place and kind of problem only.
            problem: first_line_of(&crate::values::redacted_yaml_error(
                &err,
                doc.text.as_bytes(),
            )),
        }
    })?;
    let identity =
        kube_object::identify(&object).map_err(|problem| RenderError::InvalidObject {
            file: source.to_string(),
            document,
            line: doc.first_line,
            problem,
        })?;
    let body: Vec<&str> = doc
        .text
        .lines()
        .skip_while(|line| line.trim().is_empty())
        .collect();
    let yaml = format!("{}\n", body.join("\n").trim_end());
    Ok(Manifest {
        source: source.to_string(),
        api_version: identity.api_version,
        kind: identity.kind,
        name: identity.name,
        namespace: identity.namespace,
        object,
        yaml,
    })
}

fn first_line_of(message: &str) -> String {
    message.lines().next().unwrap_or(message).trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::RenderLimits;

    fn parse(source: &str, rendered: &str) -> Result<Vec<Manifest>, RenderError> {
        parse_manifests(source, rendered, &Account::new(&RenderLimits::default()))
    }

    #[test]
    fn splits_and_drops_empty_documents() {
        let rendered = "---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n--- # next\n\napiVersion: v1\nkind: Secret\nmetadata:\n  name: b\n---\n";
        let manifests = parse("c/templates/x.yaml", rendered).unwrap();
        let kinds: Vec<&str> = manifests.iter().map(|m| m.kind.as_str()).collect();
        assert_eq!(kinds, ["ConfigMap", "Secret"]);
        assert_eq!(
            manifests[0].yaml,
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"
        );
        assert!(manifests[1].yaml.starts_with("apiVersion"));
    }

    #[test]
    fn reports_bad_yaml_with_document_and_line() {
        let rendered = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: [unclosed\n";
        let err = parse("c/templates/x.yaml", rendered).unwrap_err();
        match &err {
            RenderError::Yaml { document, line, .. } => {
                assert_eq!(*document, 2);
                assert!(*line >= 6, "line {line}");
            }
            other => panic!("expected a YAML error, got {other}"),
        }
        assert!(err.to_string().contains("c/templates/x.yaml"));
    }

    #[test]
    fn reports_objects_without_identity() {
        let err = parse(
            "c/templates/x.yaml",
            "apiVersion: v1\nmetadata:\n  name: a\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("kind is missing"), "{err}");
    }
}

#[cfg(test)]
mod limit_tests {
    use super::*;
    use crate::render::RenderLimits;

    #[test]
    fn objects_are_counted_before_they_are_parsed() {
        let account = Account::new(&RenderLimits {
            max_objects: 2,
            ..RenderLimits::default()
        });
        let one = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\n";
        assert_eq!(parse_manifests("c/a.yaml", one, &account).unwrap().len(), 1);
        // The third document is refused before its (invalid) text is looked at.
        let two = format!("{one}{one}kind: [unclosed\n");
        let err = parse_manifests("c/b.yaml", &two, &account).unwrap_err();
        assert!(
            matches!(
                err,
                RenderError::TooManyObjects {
                    document: 2,
                    limit: 2,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("max_objects"), "{err}");
    }

    #[test]
    fn yaml_nodes_are_counted_across_documents() {
        let account = Account::new(&RenderLimits {
            max_yaml_nodes: 40,
            ..RenderLimits::default()
        });
        let object =
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  a: b\n  c: d\n";
        assert!(parse_manifests("c/a.yaml", object, &account).is_ok());
        let many = format!("{object}---\n{object}---\n{object}---\n{object}");
        let err = parse_manifests("c/b.yaml", &many, &account).unwrap_err();
        assert!(matches!(err, RenderError::TooManyYamlNodes { .. }), "{err}");
        assert!(err.to_string().contains("max_yaml_nodes"), "{err}");
    }
}
