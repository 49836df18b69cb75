//! Client-side checks of ChartRepository and ChartDeployment manifests, for `capstan lint`.
//!
//! The apiserver enforces the CRD schema and its CEL rules; this catches the same mistakes before
//! anything reaches a cluster (typed fields, required fields, and the one-of rules).

use serde::Deserialize;

use crate::{ChartDeployment, ChartRepository, GROUP};

/// Why a manifest is not a valid Capstan resource.
#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    #[error("document {document}: not valid YAML: {source}")]
    Yaml {
        document: usize,
        #[source]
        source: serde_saphyr::Error,
    },
    #[error("document {document} ({kind} {name}): {message}")]
    Invalid {
        document: usize,
        kind: String,
        name: String,
        message: String,
    },
}

/// The header every Kubernetes object has; used to pick the type to check a document against.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TypeHeader {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
}

/// Checks every ChartRepository and ChartDeployment in a (multi-document) YAML stream and
/// returns how many were checked. Other objects are ignored, so a whole GitOps directory can be
/// passed. Documents are numbered from 1 in errors.
pub fn validate(yaml: &str) -> Result<usize, ValidationError> {
    let documents: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(yaml).map_err(|source| ValidationError::Yaml {
            document: 1,
            source,
        })?;
    let mut checked = 0;
    for (index, document) in documents.into_iter().enumerate() {
        if document.is_null() {
            continue;
        }
        let number = index + 1;
        let Ok(header) = TypeHeader::deserialize(&document) else {
            continue;
        };
        let name = document["metadata"]["name"]
            .as_str()
            .unwrap_or("<unnamed>")
            .to_string();
        let invalid = |message: String| ValidationError::Invalid {
            document: number,
            kind: header.kind.clone(),
            name: name.clone(),
            message,
        };
        let Some(version) = header.api_version.strip_prefix(&format!("{GROUP}/")) else {
            continue;
        };
        if version != crate::VERSION {
            return Err(invalid(format!(
                "apiVersion {GROUP}/{version} is not served; use {GROUP}/{}",
                crate::VERSION
            )));
        }
        if name == "<unnamed>" {
            return Err(invalid("metadata.name is required".into()));
        }
        match header.kind.as_str() {
            "ChartRepository" => {
                let repository: ChartRepository = serde_json::from_value(document)
                    .map_err(|error| invalid(format!("{error}")))?;
                check_repository(&repository).map_err(invalid)?;
            }
            "ChartDeployment" => {
                let deployment: ChartDeployment = serde_json::from_value(document)
                    .map_err(|error| invalid(format!("{error}")))?;
                check_deployment(&deployment).map_err(invalid)?;
            }
            other => {
                return Err(invalid(format!(
                    "unknown kind {other:?}; {GROUP} has ChartRepository and ChartDeployment"
                )));
            }
        }
        checked += 1;
    }
    Ok(checked)
}

/// The CEL rules of ChartRepository, in Rust.
fn check_repository(repository: &ChartRepository) -> Result<(), String> {
    let url = &repository.spec.url;
    if !["https://", "http://", "oci://"]
        .iter()
        .any(|scheme| url.starts_with(scheme))
    {
        return Err(format!(
            "spec.url {url:?} must start with https://, http:// or oci://"
        ));
    }
    check_policy(repository.spec.verify.as_ref(), "spec.verify")
}

fn check_policy(policy: Option<&crate::VerificationPolicy>, field: &str) -> Result<(), String> {
    match policy {
        Some(policy)
            if policy.mode != crate::VerificationMode::Ignore
                && policy.keyring_secret_ref.is_none() =>
        {
            Err(format!(
                "{field}.keyringSecretRef is required unless {field}.mode is Ignore"
            ))
        }
        _ => Ok(()),
    }
}

/// The CEL rules of ChartDeployment, in Rust.
fn check_deployment(deployment: &ChartDeployment) -> Result<(), String> {
    let chart = &deployment.spec.chart;
    let sources = [
        chart.repository.is_some(),
        chart.package.is_some(),
        chart.oci.is_some(),
    ];
    if sources.iter().filter(|set| **set).count() != 1 {
        return Err("spec.chart: set exactly one of repository, package or oci".into());
    }
    if let Some(package) = &chart.package {
        if package.config_map_ref.is_some() == package.secret_ref.is_some() {
            return Err("spec.chart.package: set exactly one of configMapRef or secretRef".into());
        }
        check_policy(package.verify.as_ref(), "spec.chart.package.verify")?;
    }
    if let Some(oci) = &chart.oci
        && !oci.reference.starts_with("oci://")
    {
        return Err("spec.chart.oci.reference must start with oci://".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const REPOSITORY: &str = "apiVersion: capstan.dev/v1alpha1
kind: ChartRepository
metadata: {name: charts}
spec: {url: 'https://charts.example.com', interval: 5m}
";

    #[test]
    fn accepts_valid_resources_and_ignores_other_kinds() {
        let yaml = format!(
            "{REPOSITORY}---
apiVersion: v1
kind: ConfigMap
metadata: {{name: x}}
---
apiVersion: capstan.dev/v1alpha1
kind: ChartDeployment
metadata: {{name: web}}
spec:
  chart: {{repository: {{repositoryRef: {{name: charts}}, name: web, version: ^1}}}}
  values: {{replicas: 2, nested: {{any: [1, 2]}}}}
"
        );
        assert_eq!(validate(&yaml).unwrap(), 2);
    }

    #[test]
    fn rejects_two_chart_sources_naming_the_document() {
        let yaml = format!(
            "{REPOSITORY}---
apiVersion: capstan.dev/v1alpha1
kind: ChartDeployment
metadata: {{name: web}}
spec:
  chart:
    repository: {{repositoryRef: {{name: charts}}, name: web}}
    package: {{configMapRef: {{name: web-package}}}}
"
        );
        let message = validate(&yaml).unwrap_err().to_string();
        assert!(
            message.starts_with("document 2 (ChartDeployment web)"),
            "{message}"
        );
        assert!(message.contains("exactly one of repository, package or oci"));
    }

    #[test]
    fn rejects_bad_urls_durations_and_missing_keyrings() {
        let bad_url = REPOSITORY.replace("https://", "ftp://");
        assert!(
            validate(&bad_url)
                .unwrap_err()
                .to_string()
                .contains("spec.url")
        );
        let bad_interval = REPOSITORY.replace("5m", "soon");
        assert!(validate(&bad_interval).is_err());
        let no_keyring = REPOSITORY.replace("interval: 5m", "verify: {mode: Required}");
        assert!(
            validate(&no_keyring)
                .unwrap_err()
                .to_string()
                .contains("keyringSecretRef is required")
        );
    }

    #[test]
    fn rejects_unknown_versions() {
        let yaml = REPOSITORY.replace("v1alpha1", "v9");
        assert!(
            validate(&yaml)
                .unwrap_err()
                .to_string()
                .contains("not served")
        );
    }
}
