//! YAML documents as JSON values that remember the line of every field, so that problems found
//! in the value (by the schema or the cross-field rules) can be reported where the user wrote them.

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use serde_saphyr::Spanned;
use std::collections::HashMap;
use std::fmt;

/// One document of a YAML stream: its value, the line it starts on and the line of every node,
/// keyed by JSON pointer (`/spec/chart/repository/name`, `/spec/valuesFrom/0/key`).
#[derive(Debug, Clone)]
pub struct LocatedDocument {
    pub value: Value,
    /// 1-based line of the document's first node.
    pub line: u64,
    lines: HashMap<String, u64>,
}

impl LocatedDocument {
    /// The line of the node at `pointer`, or of its nearest ancestor that has one (a missing field
    /// is reported at the object that lacks it).
    pub fn line_of(&self, pointer: &str) -> u64 {
        let mut pointer = pointer;
        loop {
            if let Some(line) = self.lines.get(pointer) {
                return *line;
            }
            match pointer.rfind('/') {
                Some(index) => pointer = &pointer[..index],
                None => return self.line,
            }
        }
    }
}

/// Parses every document of a YAML stream. Empty documents are left out; a document's `line`
/// tells where it is (see [`crate::validate`] for its number as a reader counts).
pub fn parse_documents(yaml: &str) -> Result<Vec<Option<LocatedDocument>>, serde_saphyr::Error> {
    let documents: Vec<Option<Spanned<Node>>> = serde_saphyr::from_multiple(yaml)?;
    Ok(documents
        .into_iter()
        .map(|document| {
            let document = document?;
            let line = document.referenced.line();
            let mut lines = HashMap::new();
            let value = flatten(document, String::new(), None, &mut lines);
            if value.is_null() {
                return None;
            }
            Some(LocatedDocument { value, line, lines })
        })
        .collect())
}

/// A YAML node whose children keep their locations.
enum Node {
    Scalar(Value),
    Sequence(Vec<Spanned<Node>>),
    /// Key, line of the key, value.
    Mapping(Vec<(String, u64, Spanned<Node>)>),
}

/// The value of `node`, recording its line (or `key_line`, the line of the key that names it,
/// which is where a reader looks for a field) under `pointer`.
fn flatten(
    node: Spanned<Node>,
    pointer: String,
    key_line: Option<u64>,
    lines: &mut HashMap<String, u64>,
) -> Value {
    let line = key_line.unwrap_or(node.referenced.line());
    if line > 0 {
        lines.insert(pointer.clone(), line);
    }
    match node.value {
        Node::Scalar(value) => value,
        Node::Sequence(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(index, item)| flatten(item, format!("{pointer}/{index}"), None, lines))
                .collect(),
        ),
        Node::Mapping(entries) => {
            let mut map = Map::new();
            for (key, key_line, item) in entries {
                let child = format!("{pointer}/{}", escape_pointer(&key));
                let value = flatten(item, child, Some(key_line), lines);
                map.insert(key, value);
            }
            Value::Object(map)
        }
    }
}

/// A JSON pointer segment (RFC 6901): `~` and `/` escaped.
pub fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Number(v.into())))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Number(v.into())))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Number::from_f64(v)
            .map(|n| Node::Scalar(Value::Number(n)))
            .ok_or_else(|| E::custom(format!("{v} cannot be represented in JSON")))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Scalar(Value::String(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Scalar(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Null))
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Null))
    }
    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        Node::deserialize(deserializer)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Node>>()? {
            items.push(item);
        }
        Ok(Node::Sequence(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries: Vec<(String, u64, Spanned<Node>)> = Vec::new();
        while let Some(key) = map.next_key::<Spanned<Key>>()? {
            let value = map.next_value::<Spanned<Node>>()?;
            let Key(name) = key.value;
            // A repeated key: the last one wins, as in the apiserver's YAML decoder.
            entries.retain(|(existing, _, _)| *existing != name);
            entries.push((name, key.referenced.line(), value));
        }
        Ok(Node::Mapping(entries))
    }
}

/// A mapping key as text: JSON objects only have string keys.
struct Key(String);

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_str<E>(self, v: &str) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Key, E> {
                Ok(Key(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<Key, E> {
                Ok(Key("null".into()))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_knows_its_line() {
        let yaml = "# comment\na: 1\nb:\n  c: [x, z]\n  d:\n  - e: true\n---\n---\nf: {g: 2.5}\n";
        let documents = parse_documents(yaml).unwrap();
        assert_eq!(documents.len(), 2);
        let first = documents[0].as_ref().unwrap();
        assert_eq!(
            first.value,
            serde_json::json!({"a": 1, "b": {"c": ["x", "z"], "d": [{"e": true}]}})
        );
        assert_eq!(first.line, 2);
        assert_eq!(first.line_of("/a"), 2);
        assert_eq!(first.line_of("/b"), 3);
        assert_eq!(first.line_of("/b/c/1"), 4);
        assert_eq!(first.line_of("/b/d"), 5);
        assert_eq!(first.line_of("/b/d/0/e"), 6);
        assert_eq!(first.line_of("/b/d/0/missing"), 6);
        let last = documents[1].as_ref().unwrap();
        assert_eq!(last.line, 9);
        assert_eq!(last.line_of("/f/g"), 9);
    }

    #[test]
    fn keys_with_slashes_are_escaped() {
        let yaml = "metadata:\n  annotations:\n    capstan.dev/keep: 'true'\n";
        let document = parse_documents(yaml).unwrap().remove(0).unwrap();
        assert_eq!(
            document.line_of("/metadata/annotations/capstan.dev~1keep"),
            3
        );
    }
}
