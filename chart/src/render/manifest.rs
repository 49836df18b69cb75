//! Turning a rendered file into Kubernetes objects: split into YAML documents, drop empty ones,
//! parse each, and check it is an object the API server could address.

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

fn split_documents(rendered: &str) -> Vec<Document> {
    let mut documents = Vec::new();
    let mut current = String::new();
    let mut first_line = 1;
    for (index, line) in rendered.lines().enumerate() {
        if is_separator(line) {
            documents.push(Document {
                text: std::mem::take(&mut current),
                first_line,
            });
            first_line = index + 2;
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    documents.push(Document {
        text: current,
        first_line,
    });
    documents.retain(|doc| !is_empty_document(&doc.text));
    documents
}

/// Parses the rendered output of template `source` into checked manifests, in file order.
pub(crate) fn parse_manifests(source: &str, rendered: &str) -> Result<Vec<Manifest>, RenderError> {
    split_documents(rendered)
        .into_iter()
        .enumerate()
        .map(|(index, doc)| parse_document(source, index + 1, &doc))
        .collect()
}

fn parse_document(source: &str, document: usize, doc: &Document) -> Result<Manifest, RenderError> {
    let object: serde_json::Value =
        serde_saphyr::from_str(&doc.text).map_err(|err| RenderError::Yaml {
            file: source.to_string(),
            document,
            line: doc.first_line
                + err
                    .location()
                    .map_or(0, |loc| (loc.line() as usize).saturating_sub(1)),
            problem: first_line_of(&err.to_string()),
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

    #[test]
    fn splits_and_drops_empty_documents() {
        let rendered = "---\n# only a comment\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n--- # next\n\napiVersion: v1\nkind: Secret\nmetadata:\n  name: b\n---\n";
        let manifests = parse_manifests("c/templates/x.yaml", rendered).unwrap();
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
        let err = parse_manifests("c/templates/x.yaml", rendered).unwrap_err();
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
        let err = parse_manifests(
            "c/templates/x.yaml",
            "apiVersion: v1\nmetadata:\n  name: a\n",
        )
        .unwrap_err();
        assert!(err.to_string().contains("kind is missing"), "{err}");
    }
}
