//! The CustomResourceDefinitions of the Capstan resources, as the YAML kept in `crds/`.

use kube::CustomResourceExt;

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
    for crd in [ChartRepository::crd(), ChartDeployment::crd()] {
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
