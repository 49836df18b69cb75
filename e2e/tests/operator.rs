//! The operator against the real control plane: each test gets its own namespace, its own chart
//! repository directory on the HTTP test peer and its own operator process watching only that
//! namespace (killed when the test ends, pass or fail).

use std::path::PathBuf;
use std::time::Duration;

use capstan_api::{ChartDeployment, ChartRepository};
use capstan_chart::index::index_directory;
use capstan_chart::package::{PackageOptions, package_dir};
use capstan_e2e::operator::{OperatorProcess, applied, install_crds, ready_is};
use capstan_e2e::wait::{wait_for, wait_for_deletion};
use capstan_e2e::{Cluster, TestNamespace};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::wait::Condition;
use serde_json::json;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const WAIT: Duration = Duration::from_secs(90);

/// One test's world: namespace, repository directory and operator process.
struct Setup {
    namespace: TestNamespace,
    repo_dir: PathBuf,
    repo_url: String,
    charts: tempfile::TempDir,
    _operator: OperatorProcess,
}

impl Setup {
    async fn new(prefix: &str) -> Result<Self, Box<dyn std::error::Error>> {
        let cluster = Cluster::shared()?;
        install_crds(cluster).await?;
        let namespace = TestNamespace::create(cluster, prefix).await?;
        let repo_dir = cluster.env().charts_dir.join(namespace.name());
        std::fs::create_dir_all(&repo_dir)?;
        let repo_url = format!("{}/{}", cluster.env().charts, namespace.name());
        let operator = OperatorProcess::start(cluster, namespace.name(), None)?;
        Ok(Setup {
            namespace,
            repo_dir,
            repo_url,
            charts: tempfile::tempdir()?,
            _operator: operator,
        })
    }

    /// Writes a chart (`files` relative to its directory), packages it into the repository and
    /// re-indexes the repository.
    fn publish(&self, name: &str, version: &str, files: &[(&str, &str)]) -> TestResult {
        let dir = self.charts.path().join(version).join(name);
        std::fs::create_dir_all(dir.join("templates"))?;
        std::fs::write(
            dir.join("Chart.yaml"),
            format!("apiVersion: v2\nname: {name}\nversion: {version}\n"),
        )?;
        for (path, content) in files {
            std::fs::write(dir.join(path), content)?;
        }
        let (file_name, bytes) = package_dir(&dir, &PackageOptions::default())?;
        std::fs::write(self.repo_dir.join(file_name), bytes)?;
        self.reindex()
    }

    fn reindex(&self) -> TestResult {
        let index = index_directory(&self.repo_dir, &self.repo_url)?;
        std::fs::write(self.repo_dir.join("index.yaml"), index.index.to_yaml()?)?;
        Ok(())
    }

    async fn apply_repository(&self) -> TestResult {
        let repository: ChartRepository = serde_json::from_value(json!({
            "apiVersion": "capstan.dev/v1alpha1", "kind": "ChartRepository",
            "metadata": {"name": "charts"},
            "spec": {"url": self.repo_url, "interval": "5s"},
        }))?;
        self.namespace
            .api::<ChartRepository>()
            .create(&PostParams::default(), &repository)
            .await?;
        Ok(())
    }

    async fn apply_deployment(
        &self,
        name: &str,
        chart: &str,
        version: &str,
        values: serde_json::Value,
    ) -> TestResult {
        let deployment: ChartDeployment = serde_json::from_value(json!({
            "apiVersion": "capstan.dev/v1alpha1", "kind": "ChartDeployment",
            "metadata": {"name": name},
            "spec": {"chart": {"repository": {
                "repositoryRef": {"name": "charts"}, "name": chart, "version": version}},
                "values": values},
        }))?;
        self.namespace
            .api::<ChartDeployment>()
            .create(&PostParams::default(), &deployment)
            .await?;
        Ok(())
    }

    async fn patch_spec(&self, name: &str, spec: serde_json::Value) -> TestResult {
        self.namespace
            .api::<ChartDeployment>()
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({ "spec": spec })),
            )
            .await?;
        Ok(())
    }

    async fn wait_deployment(
        &self,
        name: &str,
        condition: impl Condition<ChartDeployment>,
    ) -> Result<ChartDeployment, Box<dyn std::error::Error>> {
        let api = self.namespace.api::<ChartDeployment>();
        Ok(wait_for(&api, name, "ChartDeployment", WAIT, condition)
            .await?
            .ok_or("the ChartDeployment disappeared")?)
    }

    async fn finish(self) -> TestResult {
        std::fs::remove_dir_all(&self.repo_dir).ok();
        self.namespace.delete().await?;
        Ok(())
    }
}

const CONFIG_MAP: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ release.name }}-{{ name }}
data:
  greeting: {{ values.greeting }}
";

fn config_map(name: &str) -> String {
    CONFIG_MAP.replace("{{ name }}", name)
}

#[tokio::test]
async fn install_upgrade_prune_and_delete() -> TestResult {
    let setup = Setup::new("op-lifecycle").await?;
    let (main, extra) = (config_map("main"), config_map("extra"));
    setup.publish(
        "greet",
        "1.0.0",
        &[
            ("values.yaml", "greeting: hello\n"),
            ("templates/main.yaml", &main),
            ("templates/extra.yaml", &extra),
        ],
    )?;
    setup.publish(
        "greet",
        "2.0.0",
        &[
            ("values.yaml", "greeting: bonjour\n"),
            ("templates/main.yaml", &main),
        ],
    )?;
    setup.apply_repository().await?;
    setup
        .apply_deployment("web", "greet", "1.0.0", json!({}))
        .await?;
    let installed = setup.wait_deployment("web", applied("1.0.0")).await?;
    assert_eq!(installed.status.unwrap().inventory.len(), 2);
    let config_maps = setup.namespace.api::<ConfigMap>();
    let extra_uid = config_maps
        .get("web-extra")
        .await?
        .uid()
        .unwrap_or_default();
    let main = config_maps.get("web-main").await?;
    assert_eq!(
        main.labels()
            .get("capstan.dev/deployment")
            .map(String::as_str),
        Some(&*format!("{}.web", setup.namespace.name()))
    );

    // Upgrade by version: the new template data arrives and the dropped template is pruned.
    setup
        .patch_spec(
            "web",
            json!({"chart": {"repository": {"version": "2.0.0"}}}),
        )
        .await?;
    setup.wait_deployment("web", applied("2.0.0")).await?;
    wait_for_deletion(&config_maps, "web-extra", &extra_uid, WAIT).await?;
    let data = |cm: ConfigMap| cm.data.unwrap_or_default().get("greeting").cloned();
    assert_eq!(
        data(config_maps.get("web-main").await?).as_deref(),
        Some("bonjour")
    );

    // Upgrade by values.
    setup
        .patch_spec("web", json!({"values": {"greeting": "hola"}}))
        .await?;
    wait_for(
        &config_maps,
        "web-main",
        "ConfigMap",
        WAIT,
        |cm: Option<&ConfigMap>| {
            cm.and_then(|cm| cm.data.as_ref())
                .and_then(|d| d.get("greeting"))
                .is_some_and(|g| g == "hola")
        },
    )
    .await?;

    // Delete: the finalizer removes what was applied.
    let main_uid = config_maps.get("web-main").await?.uid().unwrap_or_default();
    setup
        .namespace
        .api::<ChartDeployment>()
        .delete("web", &DeleteParams::default())
        .await?;
    wait_for_deletion(&config_maps, "web-main", &main_uid, WAIT).await?;
    setup.finish().await
}

#[tokio::test]
async fn a_digest_mismatch_applies_nothing() -> TestResult {
    let setup = Setup::new("op-digest").await?;
    setup.publish(
        "greet",
        "1.0.0",
        &[
            ("values.yaml", "greeting: hello\n"),
            ("templates/main.yaml", &config_map("main")),
        ],
    )?;
    // Replace the archive after indexing: the index's digest no longer matches.
    setup.publish(
        "other",
        "1.0.0",
        &[
            ("values.yaml", "greeting: x\n"),
            ("templates/main.yaml", &config_map("other")),
        ],
    )?;
    std::fs::copy(
        setup.repo_dir.join("other-1.0.0.tgz"),
        setup.repo_dir.join("greet-1.0.0.tgz"),
    )?;
    setup.apply_repository().await?;
    setup
        .apply_deployment("web", "greet", "1.0.0", json!({}))
        .await?;
    let failed = setup
        .wait_deployment("web", ready_is("False", |r| r == "VerificationFailed"))
        .await?;
    let message = failed.status.unwrap().conditions[0].message.clone();
    assert!(message.contains("digest mismatch"), "{message}");
    let config_maps = setup.namespace.api::<ConfigMap>();
    assert!(config_maps.get_opt("web-main").await?.is_none());
    assert!(config_maps.get_opt("web-other").await?.is_none());
    setup.finish().await
}

#[tokio::test]
async fn a_render_failure_names_the_file_and_line_and_applies_nothing() -> TestResult {
    let setup = Setup::new("op-render").await?;
    let template = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: first\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: second\ndata:\n  text: {{ values.message.text }}\n";
    setup.publish(
        "broken",
        "1.0.0",
        &[
            ("values.yaml", "message:\n  text: hi\n"),
            ("templates/cm.yaml", template),
        ],
    )?;
    setup.apply_repository().await?;
    // A plain string has no `.text`: the render fails only with these values.
    let values = json!({"message": "plain"});
    setup
        .apply_deployment("web", "broken", "1.0.0", values)
        .await?;
    let failed = setup
        .wait_deployment("web", ready_is("False", |r| r == "RenderFailed"))
        .await?;
    let message = failed.status.unwrap().conditions[0].message.clone();
    assert!(message.contains("templates/cm.yaml"), "{message}");
    assert!(message.contains("11"), "the line is named: {message}");
    assert!(
        setup
            .namespace
            .api::<ConfigMap>()
            .get_opt("first")
            .await?
            .is_none()
    );
    setup.finish().await
}
