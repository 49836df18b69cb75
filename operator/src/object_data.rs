//! Reading one key of a ConfigMap or Secret: the single place that knows where each kind keeps
//! its bytes (a ConfigMap in `data` as text or `binaryData`, a Secret in `data`), so values,
//! packages, credentials, certificates and keyrings are all read the same way.

use k8s_openapi::api::core::v1::{ConfigMap, Secret};

/// A ConfigMap or a Secret, as a holder of keyed bytes.
#[derive(Clone, Copy)]
pub enum DataObject<'a> {
    ConfigMap(&'a ConfigMap),
    Secret(&'a Secret),
}

impl<'a> DataObject<'a> {
    /// The bytes under `key`, if it exists. A ConfigMap's text `data` is read before its
    /// `binaryData` (the API server refuses a key in both).
    pub fn get(self, key: &str) -> Option<&'a [u8]> {
        match self {
            DataObject::ConfigMap(config_map) => config_map
                .data
                .as_ref()
                .and_then(|data| data.get(key))
                .map(|text| text.as_bytes())
                .or_else(|| {
                    config_map
                        .binary_data
                        .as_ref()
                        .and_then(|data| data.get(key))
                        .map(|bytes| bytes.0.as_slice())
                }),
            DataObject::Secret(secret) => secret
                .data
                .as_ref()
                .and_then(|data| data.get(key))
                .map(|bytes| bytes.0.as_slice()),
        }
    }

    /// Every key and its bytes, in key order.
    pub fn entries(self) -> Vec<(&'a str, &'a [u8])> {
        match self {
            DataObject::ConfigMap(config_map) => {
                let text = config_map.data.iter().flatten();
                let binary = config_map.binary_data.iter().flatten();
                let mut all: Vec<_> = text
                    .map(|(key, value)| (key.as_str(), value.as_bytes()))
                    .chain(binary.map(|(key, value)| (key.as_str(), value.0.as_slice())))
                    .collect();
                all.sort_by_key(|(key, _)| *key);
                all
            }
            DataObject::Secret(secret) => secret
                .data
                .iter()
                .flatten()
                .map(|(key, value)| (key.as_str(), value.0.as_slice()))
                .collect(),
        }
    }

    /// `ConfigMap name` or `Secret name`, for messages.
    pub fn describe(self) -> String {
        match self {
            DataObject::ConfigMap(object) => {
                format!(
                    "ConfigMap {}",
                    object.metadata.name.as_deref().unwrap_or("")
                )
            }
            DataObject::Secret(object) => {
                format!("Secret {}", object.metadata.name.as_deref().unwrap_or(""))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;
    use std::collections::BTreeMap;

    #[test]
    fn config_maps_hold_text_and_binary_and_secrets_bytes() {
        let config_map = ConfigMap {
            data: Some(BTreeMap::from([("text".into(), "hello".into())])),
            binary_data: Some(BTreeMap::from([("blob".into(), ByteString(vec![0, 1]))])),
            ..ConfigMap::default()
        };
        let object = DataObject::ConfigMap(&config_map);
        assert_eq!(object.get("text"), Some(&b"hello"[..]));
        assert_eq!(object.get("blob"), Some(&[0u8, 1][..]));
        assert_eq!(object.get("none"), None);
        let keys: Vec<_> = object.entries().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["blob", "text"]);
        let secret = Secret {
            data: Some(BTreeMap::from([("k".into(), ByteString(b"v".to_vec()))])),
            ..Secret::default()
        };
        assert_eq!(DataObject::Secret(&secret).get("k"), Some(&b"v"[..]));
    }
}
