//! The CustomResourceDefinitions of the Capstan resources, as the YAML kept in `crds/`.

use kube::CustomResourceExt;

use crate::labels::KEEP_ANNOTATION;
use crate::{ChartDeployment, ChartRepository};

/// Name of the file in `crds/` that holds [`crds_yaml`].
pub const CRDS_FILE: &str = "capstan.dev.yaml";

/// Both CRDs as one multi-document YAML stream, with a header saying how to regenerate it.
///
/// The header matters: `crds/` is committed so that `kubectl apply -k config/` works from a
/// checkout, and a reader of the file should know it is generated, not edited.
pub fn crds_yaml() -> Result<String, serde_saphyr::ser_error::Error> {
    let mut out = String::from(
        "# Generated from the Rust types in api/ by `cargo run -p capstan-operator -- crds`. Do not edit.\n",
    );
    for mut crd in [ChartRepository::crd(), ChartDeployment::crd()] {
        // Deleting a CRD deletes every object of its kind. When a ChartDeployment of the
        // operator's own chart (charts/capstan, whose crds/ is this file) is deleted, its CRDs
        // must stay, or every ChartDeployment in the cluster would go with them.
        crd.metadata
            .annotations
            .get_or_insert_default()
            .insert(KEEP_ANNOTATION.to_string(), "true".to_string());
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(&crd)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../crds/capstan.dev.yaml");

    #[test]
    fn committed_crds_match_the_rust_types() {
        let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
        let generated = crds_yaml().expect("CRDs serialize");
        assert!(
            committed == generated,
            "crds/{CRDS_FILE} is stale; regenerate it with \
             `cargo run -p capstan-operator -- crds > crds/{CRDS_FILE}`"
        );
    }

    #[test]
    fn the_operator_chart_carries_the_same_crds() {
        const CHART_CRDS: &str = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../charts/capstan/crds/capstan.dev.yaml"
        );
        let in_chart = std::fs::read_to_string(CHART_CRDS).unwrap_or_default();
        assert!(
            in_chart == crds_yaml().expect("CRDs serialize"),
            "charts/capstan/crds/{CRDS_FILE} differs from the Rust types; regenerate it with \
             `cargo run -p capstan-operator -- crds > charts/capstan/crds/{CRDS_FILE}`"
        );
    }

    #[test]
    fn crds_are_kept_when_their_deployment_goes() {
        let yaml = crds_yaml().unwrap();
        assert_eq!(yaml.matches("capstan.dev/keep").count(), 2, "{yaml}");
    }

    #[test]
    fn crds_carry_names_columns_and_rules() {
        let deployment = serde_json::to_value(ChartDeployment::crd()).unwrap();
        let names = &deployment["spec"]["names"];
        assert_eq!(names["shortNames"][0], "cdep");
        assert_eq!(names["categories"][0], "capstan");
        let version = &deployment["spec"]["versions"][0];
        let columns: Vec<&str> = version["additionalPrinterColumns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(columns, ["Chart", "Version", "Ready", "Status", "Age"]);
        let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"];
        let rule = &spec["properties"]["chart"]["x-kubernetes-validations"][0]["rule"];
        assert!(rule.as_str().unwrap().contains("has(self.package)"));
        assert_eq!(
            spec["properties"]["values"]["x-kubernetes-preserve-unknown-fields"],
            true
        );
        let repository = serde_json::to_value(ChartRepository::crd()).unwrap();
        assert_eq!(repository["spec"]["names"]["shortNames"][0], "crepo");
    }
}
