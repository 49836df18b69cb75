//! The provenance message block: the text that gets signed.

use super::ProvenanceError;
use super::goyaml::mapping_to_yaml;
use crate::model::ChartMetadata;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The YAML document-end marker that separates the metadata from the file sums. Helm uses it
/// because `---` cannot start a line of a clear-signed text without being dash-escaped.
const SEPARATOR: &str = "\n...\n";

/// A parsed message block.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageBlock {
    /// The chart metadata as signed (kept generic: old charts lack fields the model requires).
    pub metadata: Map<String, Value>,
    /// Archive file name → `sha256:<hex>`.
    pub files: BTreeMap<String, String>,
}

/// `sha256:<hex>` of an archive, the form used in `files:` and in `helm verify` output.
pub fn archive_digest(archive_bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(archive_bytes)))
}

/// Builds the message block exactly as Helm does for an archive: the metadata YAML as Helm's
/// Go marshaller writes it (sorted keys, empty fields left out), `...`, then the file sum.
pub fn message_block(metadata: &ChartMetadata, archive_name: &str, archive_bytes: &[u8]) -> String {
    let Ok(Value::Object(mut fields)) = serde_json::to_value(metadata) else {
        unreachable!("ChartMetadata serialises to a JSON object: every map key in it is a string")
    };
    omit_empty(&mut fields);
    for list in ["maintainers", "dependencies"] {
        if let Some(Value::Array(entries)) = fields.get_mut(list) {
            for entry in entries.iter_mut() {
                if let Value::Object(entry) = entry {
                    omit_empty(entry);
                }
            }
        }
    }
    let mut sums = Map::new();
    sums.insert(
        archive_name.to_string(),
        Value::String(archive_digest(archive_bytes)),
    );
    let mut files = Map::new();
    files.insert("files".to_string(), Value::Object(sums));
    format!(
        "{}{SEPARATOR}{}",
        mapping_to_yaml(&fields),
        mapping_to_yaml(&files)
    )
}

/// Helm's structs mark every metadata field `omitempty`, so empty strings, `false` and empty
/// lists or maps never reach the YAML.
fn omit_empty(fields: &mut Map<String, Value>) {
    fields.retain(|_, value| match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::String(text) => !text.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
        Value::Number(_) => true,
    });
}

#[derive(Deserialize)]
struct Sums {
    #[serde(default)]
    files: BTreeMap<String, String>,
}

/// Splits a signed message block into its metadata and its file sums.
pub fn parse_message_block(text: &str) -> Result<MessageBlock, ProvenanceError> {
    let malformed = |reason: String| ProvenanceError::MalformedMessage { reason };
    let Some((metadata_yaml, rest)) = text.split_once(SEPARATOR) else {
        return Err(malformed(
            "no `...` line separating the chart metadata from the file sums".to_string(),
        ));
    };
    // Helm reads only the part up to a further separator, if any.
    let sums_yaml = rest.split_once(SEPARATOR).map_or(rest, |(sums, _)| sums);
    let metadata: Value = if metadata_yaml.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_saphyr::from_str(metadata_yaml)
            .map_err(|e| malformed(format!("chart metadata: {e}")))?
    };
    let Value::Object(metadata) = metadata else {
        return Err(malformed(
            "chart metadata is not a YAML mapping".to_string(),
        ));
    };
    let sums: Sums = serde_saphyr::from_str(sums_yaml)
        .map_err(|e| malformed(format!("`files:` section: {e}")))?;
    Ok(MessageBlock {
        metadata,
        files: sums.files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hashtest_metadata(vectors: &capstan_testdata::Vectors) -> ChartMetadata {
        let chart_yaml = vectors.read_string("provenance/hashtest/Chart.yaml");
        serde_saphyr::from_str(&chart_yaml).unwrap()
    }

    capstan_testdata::vector_tests! {
        fn digest_matches_shasum_output(vectors) {
            assert_eq!(
                archive_digest(&vectors.read("provenance/hashtest-1.2.3.tgz")),
                vectors.hashtest_digest()
            );
        }

        fn message_block_equals_helms(vectors) {
            let block = message_block(
                &hashtest_metadata(vectors),
                "hashtest-1.2.3.tgz",
                &vectors.read("provenance/hashtest-1.2.3.tgz"),
            );
            assert_eq!(block, vectors.read_string("provenance/msgblock.yaml"));
        }

        fn parses_helms_message_block(vectors) {
            let text = vectors.read_string("provenance/msgblock.yaml");
            let block = parse_message_block(&text).unwrap();
            assert_eq!(block.metadata["name"], "hashtest");
            assert_eq!(block.files.len(), 1);
            assert_eq!(block.files["hashtest-1.2.3.tgz"], vectors.hashtest_digest());
        }
    }

    #[test]
    fn empty_fields_are_left_out_and_keys_sorted() {
        let metadata = ChartMetadata {
            api_version: "v2".into(),
            name: "demo".into(),
            version: "0.1.0+build.1".into(),
            app_version: Some("1.16".into()),
            keywords: vec!["web".into()],
            maintainers: vec![crate::model::Maintainer {
                name: "Ops".into(),
                email: Some(String::new()),
                url: None,
            }],
            ..ChartMetadata::default()
        };
        let block = message_block(&metadata, "demo-0.1.0+build.1.tgz", b"x");
        let expected_head = "apiVersion: v2\nappVersion: \"1.16\"\nkeywords:\n- web\nmaintainers:\n- name: Ops\nname: demo\nversion: 0.1.0+build.1\n\n...\nfiles:\n  demo-0.1.0+build.1.tgz: sha256:";
        assert!(block.starts_with(expected_head), "{block}");
    }

    #[test]
    fn malformed_blocks_are_errors() {
        assert!(matches!(
            parse_message_block("name: x\nfiles: {}\n"),
            Err(ProvenanceError::MalformedMessage { .. })
        ));
        assert!(matches!(
            parse_message_block("- a\n...\nfiles: {}\n"),
            Err(ProvenanceError::MalformedMessage { .. })
        ));
        assert!(matches!(
            parse_message_block("name: x\n...\nfiles: [1, 2]\n"),
            Err(ProvenanceError::MalformedMessage { .. })
        ));
    }
}
