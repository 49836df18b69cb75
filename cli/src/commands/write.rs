//! `capstan write repository|deployment`: print Capstan resources as YAML for `kubectl apply` or
//! a GitOps repository. Nothing is sent to a cluster.
//!
//! The objects are the API's Rust types serialized, never hand-written text, and every object is
//! checked with the same offline rules as `capstan lint` before it is printed.

use super::values_args::ValuesArgs;
use anyhow::{Context, bail};
use capstan_api::deployment::{LocalReference, OciChart, RepositoryReference};
use capstan_api::{
    ChartDeployment, ChartDeploymentSpec, ChartRepository, ChartRepositorySpec, ChartSource,
    Connection, Duration, PackageSource, RepositoryChart, S3Settings, SecretReference,
    VerificationMode, VerificationPolicy,
};
use capstan_chart::values::combine_user_layers;
use clap::{Args, Subcommand, ValueEnum};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The most a ConfigMap or Secret may hold: the apiserver refuses objects whose data add up to
/// more than 1 MiB.
pub const MAX_PACKAGE_OBJECT_BYTES: u64 = 1024 * 1024;

/// Print a ChartRepository or ChartDeployment (and the ConfigMap or Secret of a package) as YAML
/// that `kubectl apply -f -` accepts. Never changes a cluster.
#[derive(Debug, Args)]
pub struct WriteArgs {
    #[command(subcommand)]
    pub what: WriteCommand,
}

#[derive(Debug, Subcommand)]
pub enum WriteCommand {
    Repository(RepositoryArgs),
    Deployment(DeploymentArgs),
}

/// Print a ChartRepository: a Helm chart repository the operator fetches charts from.
#[derive(Debug, Args)]
pub struct RepositoryArgs {
    /// Name of the ChartRepository.
    pub name: String,
    /// URL of the repository: `https://` or `http://` (the operator reads `<url>/index.yaml`),
    /// `s3://BUCKET[/PREFIX]` for a private S3-compatible bucket (see --s3-endpoint), or
    /// `oci://REGISTRY/PATH`.
    #[arg(long, value_name = "URL")]
    pub url: String,
    #[command(flatten)]
    pub common: CommonArgs,
    /// Secret with `username` and `password` (basic auth) or `token` for the repository; for
    /// `s3://`, with `accessKeyID` and `secretAccessKey`.
    #[arg(long, value_name = "SECRET")]
    pub secret_ref: Option<String>,
    #[command(flatten)]
    pub s3: S3Args,
    /// Secret with a `ca.crt` to trust for the repository's TLS certificate.
    #[arg(long, value_name = "SECRET")]
    pub cert_secret_ref: Option<String>,
    #[command(flatten)]
    pub verify: VerifyArgs,
}

/// Print a ChartDeployment of a chart from a ChartRepository or an OCI registry, or of a chart
/// archive stored in the cluster with it (`--from-package`).
#[derive(Debug, Args)]
pub struct DeploymentArgs {
    /// Name of the ChartDeployment (also the release name unless --release-name is given).
    pub name: String,
    /// `REPOSITORY/CHART` (a ChartRepository in the same namespace and a chart in its index), or
    /// `oci://REGISTRY/PATH/CHART`.
    #[arg(
        long,
        value_name = "REPO/CHART",
        required_unless_present = "from_package"
    )]
    pub chart: Option<String>,
    /// Version constraint in Helm's syntax (`1.2.3`, `^1.2`, `>=1.0.0 <2.0.0`).
    #[arg(long, value_name = "CONSTRAINT", conflicts_with = "from_package")]
    pub version: Option<String>,
    /// A packaged chart (`.tgz`) to store in a ConfigMap next to the ChartDeployment; its `.prov`
    /// (ARCHIVE.prov) goes with it when present.
    #[arg(long, value_name = "ARCHIVE", conflicts_with = "chart")]
    pub from_package: Option<PathBuf>,
    /// With --from-package: store the package in a Secret instead of a ConfigMap.
    #[arg(long, requires = "from_package")]
    pub as_secret: bool,
    /// With --from-package: verify the package's provenance (needs --keyring-secret unless
    /// Ignore). Repository charts are verified as their ChartRepository says.
    #[arg(long, value_enum, value_name = "MODE", requires = "from_package")]
    pub verify: Option<Mode>,
    /// Secret holding the public keys (`keyring.gpg`) for --verify.
    #[arg(long, value_name = "SECRET", requires = "verify")]
    pub keyring_secret: Option<String>,
    #[command(flatten)]
    pub values: ValuesArgs,
    #[command(flatten)]
    pub common: CommonArgs,
    /// Namespace for the chart's objects (default: the ChartDeployment's namespace).
    #[arg(long, value_name = "NAMESPACE")]
    pub target_namespace: Option<String>,
    /// Release name the chart sees as `release.name` (default: the ChartDeployment's name).
    #[arg(long, value_name = "NAME")]
    pub release_name: Option<String>,
    /// ServiceAccount (in the ChartDeployment's namespace) whose rights the operator uses to
    /// apply, prune and delete the chart's objects.
    #[arg(long, value_name = "NAME")]
    pub service_account: Option<String>,
    /// Take over objects the chart renders that exist without belonging to any ChartDeployment.
    #[arg(long)]
    pub adopt: bool,
}

/// Flags both resources have.
#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Namespace of the written objects (default: none, so `kubectl apply -n` chooses).
    #[arg(short = 'n', long, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// How often the operator re-checks, as a Go duration (`10m`, `1h`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub interval: Option<Duration>,
    /// How long one fetch (repository) or reconcile (deployment) may take, as a Go duration.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
}

/// Where an `s3://` repository's bucket is served. Without any of these: AWS S3 in us-east-1.
#[derive(Debug, Args)]
pub struct S3Args {
    /// Base URL of the S3 API (`https://s3.eu-west-1.amazonaws.com`, `http://minio.storage:9000`).
    #[arg(long, value_name = "URL")]
    pub s3_endpoint: Option<String>,
    /// Region the requests are signed for (default us-east-1).
    #[arg(long, value_name = "REGION")]
    pub s3_region: Option<String>,
    /// Path-style object URLs (`ENDPOINT/BUCKET/KEY`), as MinIO needs. Default: true for IP
    /// address and localhost endpoints, false otherwise.
    #[arg(long, value_name = "BOOL")]
    pub s3_path_style: Option<bool>,
}

impl S3Args {
    /// `spec.s3`, when any flag is given.
    fn settings(&self) -> Option<S3Settings> {
        (self.s3_endpoint.is_some() || self.s3_region.is_some() || self.s3_path_style.is_some())
            .then(|| S3Settings {
                endpoint: self.s3_endpoint.clone(),
                region: self.s3_region.clone(),
                path_style: self.s3_path_style,
            })
    }
}

/// Provenance verification of a repository's charts.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Whether chart archives need a valid `.prov` (Required), must verify when they have one
    /// (IfPresent) or are not checked (Ignore).
    #[arg(long, value_enum, value_name = "MODE")]
    pub verify: Option<Mode>,
    /// Secret holding the trusted public keys (`keyring.gpg`); needed unless --verify Ignore.
    #[arg(long, value_name = "SECRET", requires = "verify")]
    pub keyring_secret: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "verbatim")]
pub enum Mode {
    Required,
    IfPresent,
    Ignore,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    text.parse::<Duration>()
        .map_err(|error| format!("{error}; write a Go duration such as 90s, 10m or 1h30m"))
}

pub fn run(args: WriteArgs) -> anyhow::Result<ExitCode> {
    let yaml = match args.what {
        WriteCommand::Repository(args) => repository_yaml(&args)?,
        WriteCommand::Deployment(args) => deployment_yaml(&args)?,
    };
    print!("{yaml}");
    Ok(ExitCode::SUCCESS)
}

fn policy(
    mode: Option<Mode>,
    keyring: Option<&String>,
) -> anyhow::Result<Option<VerificationPolicy>> {
    let Some(mode) = mode else { return Ok(None) };
    let mode = match mode {
        Mode::Required => VerificationMode::Required,
        Mode::IfPresent => VerificationMode::IfPresent,
        Mode::Ignore => VerificationMode::Ignore,
    };
    if mode != VerificationMode::Ignore && keyring.is_none() {
        bail!(
            "--verify {mode:?} needs --keyring-secret SECRET naming the Secret with the trusted public keys"
        );
    }
    Ok(Some(VerificationPolicy {
        mode,
        keyring_secret_ref: keyring.map(|name| SecretReference { name: name.clone() }),
    }))
}

fn secret_ref(name: Option<&String>) -> Option<SecretReference> {
    name.map(|name| SecretReference { name: name.clone() })
}

fn meta(name: &str, namespace: Option<&String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.cloned(),
        ..ObjectMeta::default()
    }
}

/// The ChartRepository `args` describe, as YAML.
pub fn repository_yaml(args: &RepositoryArgs) -> anyhow::Result<String> {
    let spec = ChartRepositorySpec {
        url: args.url.clone(),
        s3: args.s3.settings(),
        interval: args.common.interval.clone(),
        timeout: args.common.timeout.clone(),
        connection: Connection {
            secret_ref: secret_ref(args.secret_ref.as_ref()),
            cert_secret_ref: secret_ref(args.cert_secret_ref.as_ref()),
            verify: policy(args.verify.verify, args.verify.keyring_secret.as_ref())?,
            ..Connection::default()
        },
        suspend: false,
        pass_credentials: false,
    };
    let mut repository = ChartRepository::new(&args.name, spec);
    repository.metadata = meta(&args.name, args.common.namespace.as_ref());
    checked_stream(&[to_yaml(&repository)?])
}

/// The ChartDeployment `args` describe (and the package's ConfigMap or Secret), as YAML.
pub fn deployment_yaml(args: &DeploymentArgs) -> anyhow::Result<String> {
    let mut documents = Vec::new();
    let chart = match (&args.chart, &args.from_package) {
        (Some(chart), None) => chart_source(
            chart,
            args.version.as_ref(),
            policy(args.verify, args.keyring_secret.as_ref())?,
        )?,
        (None, Some(archive)) => {
            let holder = format!("{}-chart", args.name);
            let (document, reference) = package_object(
                archive,
                &holder,
                args.common.namespace.as_ref(),
                args.as_secret,
            )?;
            documents.push(document);
            ChartSource {
                package: Some(PackageSource {
                    config_map_ref: (!args.as_secret).then(|| reference.clone()),
                    secret_ref: args.as_secret.then_some(reference),
                    verify: policy(args.verify, args.keyring_secret.as_ref())?,
                    ..PackageSource::default()
                }),
                ..ChartSource::default()
            }
        }
        _ => bail!("give exactly one of --chart or --from-package"),
    };
    let values = combine_user_layers(&args.values.layers()?);
    let spec = ChartDeploymentSpec {
        chart,
        release_name: args.release_name.clone(),
        target_namespace: args.target_namespace.clone(),
        values: (!values.is_empty()).then_some(values),
        values_from: Vec::new(),
        interval: args.common.interval.clone(),
        timeout: args.common.timeout.clone(),
        service_account_name: args.service_account.clone(),
        adopt: args.adopt,
        depends_on: Vec::new(),
        approval: None,
        install: None,
        upgrade: None,
        uninstall: None,
        approved_plan: None,
        drift_detection: None,
        max_history: None,
        suspend: false,
    };
    let mut deployment = ChartDeployment::new(&args.name, spec);
    deployment.metadata = meta(&args.name, args.common.namespace.as_ref());
    documents.push(to_yaml(&deployment)?);
    checked_stream(&documents)
}

/// `REPO/CHART` or `oci://REGISTRY/PATH/CHART` as a chart source.
fn chart_source(
    chart: &str,
    version: Option<&String>,
    verify: Option<VerificationPolicy>,
) -> anyhow::Result<ChartSource> {
    if chart.starts_with("oci://") {
        let last = chart.rsplit('/').next().unwrap_or_default();
        if chart.len() <= "oci://".len() || last.is_empty() || last.contains([':', '@']) {
            bail!(
                "--chart {chart}: give an OCI reference without tag or digest, such as oci://registry.example.com/charts/web, and the version with --version"
            );
        }
        return Ok(ChartSource {
            oci: Some(OciChart {
                reference: chart.to_string(),
                version: version.cloned(),
                connection: Connection {
                    verify,
                    ..Connection::default()
                },
            }),
            ..ChartSource::default()
        });
    }
    let Some((repository, name)) = chart.split_once('/').filter(|(repository, name)| {
        !repository.is_empty() && !name.is_empty() && !name.contains('/')
    }) else {
        bail!(
            "--chart {chart}: expected REPOSITORY/CHART (a ChartRepository in the same namespace and a chart in its index) or oci://REGISTRY/PATH/CHART"
        );
    };
    capstan_api::validate::check_dns_subdomain(repository)
        .map_err(|reason| anyhow::anyhow!("--chart {chart}: the ChartRepository name {reason}"))?;
    Ok(ChartSource {
        repository: Some(RepositoryChart {
            repository_ref: RepositoryReference {
                name: repository.to_string(),
            },
            name: name.to_string(),
            version: version.cloned(),
            verify,
        }),
        ..ChartSource::default()
    })
}

/// Reads at most `limit` bytes of `path`, failing with `too_large` when it holds more.
fn read_bounded(path: &Path, limit: u64) -> anyhow::Result<Option<Vec<u8>>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

fn too_large(archive: &Path, what: &str, holder_kind: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{} is too large to store in the cluster: {what} more than {MAX_PACKAGE_OBJECT_BYTES} bytes (1 MiB), the most a {holder_kind} holds; publish the chart in a chart repository instead (capstan repo index, capstan write repository)",
        archive.display()
    )
}

/// The ConfigMap (binaryData) or Secret holding `archive` and its `.prov`, as YAML, and the
/// reference to it. The archive must load as a chart, and both files must fit in one object.
fn package_object(
    archive: &Path,
    name: &str,
    namespace: Option<&String>,
    as_secret: bool,
) -> anyhow::Result<(String, LocalReference)> {
    let holder_kind = if as_secret { "Secret" } else { "ConfigMap" };
    if archive.is_dir() {
        bail!(
            "{} is a chart directory; package it first (capstan package {0}) and give the .tgz",
            archive.display()
        );
    }
    let bytes = read_bounded(archive, MAX_PACKAGE_OBJECT_BYTES)?
        .ok_or_else(|| too_large(archive, "the archive has", holder_kind))?;
    let chart = capstan_chart::load::load_archive(&bytes)
        .with_context(|| format!("{} is not a chart archive that loads", archive.display()))?;
    let mut provenance_path = archive.as_os_str().to_owned();
    provenance_path.push(".prov");
    let provenance_path = PathBuf::from(provenance_path);
    let provenance = if provenance_path.is_file() {
        let remaining = MAX_PACKAGE_OBJECT_BYTES - bytes.len() as u64;
        Some(
            read_bounded(&provenance_path, remaining)?
                .ok_or_else(|| too_large(archive, "the archive and its .prov have", holder_kind))?,
        )
    } else {
        None
    };
    let mut data = BTreeMap::from([(
        PackageSource::DEFAULT_ARCHIVE_KEY.to_string(),
        ByteString(bytes),
    )]);
    if let Some(provenance) = provenance {
        data.insert(
            PackageSource::DEFAULT_PROVENANCE_KEY.to_string(),
            ByteString(provenance),
        );
    }
    let mut metadata = meta(name, namespace);
    metadata.annotations = Some(BTreeMap::from([(
        "capstan.dev/chart".to_string(),
        format!("{}-{}", chart.name(), chart.metadata.version),
    )]));
    let document = if as_secret {
        to_yaml(&Secret {
            metadata,
            data: Some(data),
            type_: Some("Opaque".into()),
            ..Secret::default()
        })?
    } else {
        to_yaml(&ConfigMap {
            metadata,
            binary_data: Some(data),
            ..ConfigMap::default()
        })?
    };
    Ok((
        document,
        LocalReference {
            name: name.to_string(),
        },
    ))
}

fn to_yaml(object: &impl Serialize) -> anyhow::Result<String> {
    serde_saphyr::to_string(object).context("cannot write the object as YAML")
}

/// Joins documents into one stream and checks the Capstan ones as `capstan lint` would, so that
/// a bad name or URL fails here rather than at `kubectl apply`.
fn checked_stream(documents: &[String]) -> anyhow::Result<String> {
    let stream = documents.join("---\n");
    let report = capstan_api::check(&stream);
    if !report.is_ok() {
        let problems: Vec<String> = report
            .problems
            .iter()
            .map(|problem| match problem.path.as_str() {
                "" => problem.message.clone(),
                path => format!("{path}: {}", problem.message),
            })
            .collect();
        bail!(
            "the resource would not be valid:\n  {}",
            problems.join("\n  ")
        );
    }
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use capstan_chart::package::{PackageOptions, package_dir};
    use clap::Parser;
    use serde_json::{Value, json};

    /// Parses `capstan write ARGS...` as the binary does.
    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        what: WriteCommand,
    }

    fn write(args: &[&str]) -> anyhow::Result<String> {
        let cli = Cli::try_parse_from(std::iter::once("write").chain(args.iter().copied()))?;
        match cli.what {
            WriteCommand::Repository(args) => repository_yaml(&args),
            WriteCommand::Deployment(args) => deployment_yaml(&args),
        }
    }

    fn documents(yaml: &str) -> Vec<Value> {
        serde_saphyr::from_multiple(yaml).unwrap()
    }

    fn hello_package(dir: &Path) -> PathBuf {
        let chart = Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/hello");
        let (file, bytes) = package_dir(&chart, &PackageOptions::default()).unwrap();
        let path = dir.join(file);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn repository_with_every_flag() {
        let yaml = write(&[
            "repository",
            "charts",
            "--url",
            "https://charts.example.com/stable",
            "-n",
            "team-a",
            "--interval",
            "5m",
            "--timeout",
            "30s",
            "--secret-ref",
            "charts-auth",
            "--cert-secret-ref",
            "charts-ca",
            "--verify",
            "IfPresent",
            "--keyring-secret",
            "keys",
        ])
        .unwrap();
        assert_eq!(
            documents(&yaml),
            [json!({
                "apiVersion": "capstan.dev/v1alpha1",
                "kind": "ChartRepository",
                "metadata": {"name": "charts", "namespace": "team-a"},
                "spec": {
                    "url": "https://charts.example.com/stable",
                    // The API's Duration type writes durations in seconds.
                    "interval": "5m",
                    "timeout": "30s",
                    "secretRef": {"name": "charts-auth"},
                    "certSecretRef": {"name": "charts-ca"},
                    "verify": {"mode": "IfPresent", "keyringSecretRef": {"name": "keys"}},
                },
            })]
        );
        let parsed: ChartRepository = serde_saphyr::from_str(&yaml).unwrap();
        assert_eq!(parsed.spec.interval, Some("5m".parse().unwrap()));
    }

    #[test]
    fn s3_repositories_with_their_endpoint() {
        let yaml = write(&[
            "repository",
            "bucket",
            "--url",
            "s3://charts/stable",
            "--secret-ref",
            "s3-keys",
            "--s3-endpoint",
            "http://minio.storage:9000",
            "--s3-path-style",
            "true",
        ])
        .unwrap();
        assert_eq!(
            documents(&yaml)[0]["spec"],
            json!({
                "url": "s3://charts/stable",
                "s3": {"endpoint": "http://minio.storage:9000", "pathStyle": true},
                "secretRef": {"name": "s3-keys"},
            })
        );
        let error = write(&["repository", "bucket", "--url", "s3://charts"]).unwrap_err();
        assert!(
            format!("{error:#}").contains("spec.secretRef: required for an s3:// repository"),
            "{error:#}"
        );
        let error = write(&[
            "repository",
            "bucket",
            "--url",
            "https://charts.example.com",
            "--s3-region",
            "eu-west-1",
        ])
        .unwrap_err();
        assert!(
            format!("{error:#}").contains("spec.s3: only for s3:// URLs"),
            "{error:#}"
        );
    }

    #[test]
    fn repository_mistakes_are_refused_before_printing() {
        let error = write(&["repository", "charts", "--url", "ftp://x"]).unwrap_err();
        assert!(
            format!("{error:#}").contains("spec.url: \"ftp://x\" must start with https://"),
            "{error:#}"
        );
        let error = write(&["repository", "Charts", "--url", "https://x"]).unwrap_err();
        assert!(format!("{error:#}").contains("metadata.name"), "{error:#}");
        let error = write(&[
            "repository",
            "charts",
            "--url",
            "https://x",
            "--verify",
            "Required",
        ])
        .unwrap_err();
        assert!(
            format!("{error:#}").contains("--keyring-secret"),
            "{error:#}"
        );
        let error = write(&[
            "repository",
            "charts",
            "--url",
            "https://x",
            "--interval",
            "soon",
        ])
        .unwrap_err();
        assert!(format!("{error}").contains("Go duration"), "{error}");
    }

    #[test]
    fn deployment_values_combine_like_template() {
        let dir = tempfile::tempdir().unwrap();
        let first = dir.path().join("a.yaml");
        let second = dir.path().join("b.yaml");
        std::fs::write(
            &first,
            "image: {repository: nginx, tag: '1.27'}\nservice: {port: 80}\n",
        )
        .unwrap();
        std::fs::write(&second, "image: {tag: '1.28'}\nservice: {port: null}\n").unwrap();
        let yaml = write(&[
            "deployment",
            "web",
            "--chart",
            "charts/hello",
            "--version",
            "^0.1",
            "-f",
            first.to_str().unwrap(),
            "--values",
            second.to_str().unwrap(),
            "--set",
            "replicaCount=3,greeting=hi",
            "--set-string",
            "image.tag=1.29",
            "-n",
            "apps",
            "--target-namespace",
            "web",
            "--release-name",
            "web-release",
            "--interval",
            "1h",
        ])
        .unwrap();
        assert_eq!(
            documents(&yaml),
            [json!({
                "apiVersion": "capstan.dev/v1alpha1",
                "kind": "ChartDeployment",
                "metadata": {"name": "web", "namespace": "apps"},
                "spec": {
                    "chart": {"repository": {
                        "repositoryRef": {"name": "charts"},
                        "name": "hello",
                        "version": "^0.1",
                    }},
                    "releaseName": "web-release",
                    "targetNamespace": "web",
                    "values": {
                        "image": {"repository": "nginx", "tag": "1.29"},
                        "service": {"port": null},
                        "replicaCount": 3,
                        "greeting": "hi",
                    },
                    "interval": "1h",
                },
            })]
        );
    }

    #[test]
    fn deployment_from_oci_and_bad_chart_references() {
        let yaml = write(&[
            "deployment",
            "web",
            "--chart",
            "oci://registry.example.com/charts/hello",
            "--version",
            "1.x",
        ])
        .unwrap();
        assert_eq!(
            documents(&yaml)[0]["spec"]["chart"],
            json!({"oci": {"reference": "oci://registry.example.com/charts/hello", "version": "1.x"}})
        );
        for bad in [
            "hello",
            "/hello",
            "charts/",
            "a/b/c",
            "oci://r/hello:1.0",
            "oci://",
        ] {
            let error = write(&["deployment", "web", "--chart", bad]).unwrap_err();
            assert!(format!("{error:#}").contains("--chart"), "{bad}: {error:#}");
        }
        assert!(write(&["deployment", "web"]).is_err());
    }

    #[test]
    fn from_package_writes_the_config_map_and_the_deployment() {
        let dir = tempfile::tempdir().unwrap();
        let archive = hello_package(dir.path());
        let bytes = std::fs::read(&archive).unwrap();
        let yaml = write(&[
            "deployment",
            "hello",
            "--from-package",
            archive.to_str().unwrap(),
            "-n",
            "apps",
        ])
        .unwrap();
        let docs = documents(&yaml);
        assert_eq!(docs.len(), 2);
        let config_map: ConfigMap = serde_json::from_value(docs[0].clone()).unwrap();
        assert_eq!(config_map.metadata.name.as_deref(), Some("hello-chart"));
        assert_eq!(config_map.metadata.namespace.as_deref(), Some("apps"));
        let data = config_map.binary_data.unwrap();
        assert_eq!(data["chart.tgz"].0, bytes);
        assert!(!data.contains_key("chart.tgz.prov"));
        assert_eq!(
            docs[1]["spec"]["chart"],
            json!({"package": {"configMapRef": {"name": "hello-chart"}}})
        );

        let mut prov = archive.as_os_str().to_owned();
        prov.push(".prov");
        std::fs::write(&prov, "-----BEGIN PGP SIGNED MESSAGE-----\n").unwrap();
        let yaml = write(&[
            "deployment",
            "hello",
            "--from-package",
            archive.to_str().unwrap(),
            "--as-secret",
            "--verify",
            "Required",
            "--keyring-secret",
            "keys",
        ])
        .unwrap();
        let docs = documents(&yaml);
        let secret: Secret = serde_json::from_value(docs[0].clone()).unwrap();
        let data = secret.data.unwrap();
        assert_eq!(data["chart.tgz"].0, bytes);
        assert_eq!(
            data["chart.tgz.prov"].0,
            b"-----BEGIN PGP SIGNED MESSAGE-----\n"
        );
        assert_eq!(
            docs[1]["spec"]["chart"],
            json!({"package": {
                "secretRef": {"name": "hello-chart"},
                "verify": {"mode": "Required", "keyringSecretRef": {"name": "keys"}},
            }})
        );
    }

    #[test]
    fn from_package_refuses_what_does_not_load_or_fit() {
        let dir = tempfile::tempdir().unwrap();
        let junk = dir.path().join("junk.tgz");
        std::fs::write(&junk, b"not a gzip stream").unwrap();
        let error =
            write(&["deployment", "x", "--from-package", junk.to_str().unwrap()]).unwrap_err();
        assert!(
            format!("{error:#}").contains("junk.tgz is not a chart archive that loads"),
            "{error:#}"
        );

        let big = dir.path().join("big.tgz");
        std::fs::write(&big, vec![0u8; MAX_PACKAGE_OBJECT_BYTES as usize + 1]).unwrap();
        let error =
            write(&["deployment", "x", "--from-package", big.to_str().unwrap()]).unwrap_err();
        assert!(format!("{error:#}").contains("1 MiB"), "{error:#}");

        // The archive fits, but not together with its provenance file.
        let archive = hello_package(dir.path());
        let size = std::fs::metadata(&archive).unwrap().len();
        let mut prov = archive.as_os_str().to_owned();
        prov.push(".prov");
        std::fs::write(
            &prov,
            vec![b'x'; (MAX_PACKAGE_OBJECT_BYTES - size + 1) as usize],
        )
        .unwrap();
        let error = write(&[
            "deployment",
            "x",
            "--from-package",
            archive.to_str().unwrap(),
            "--as-secret",
        ])
        .unwrap_err();
        let message = format!("{error:#}");
        assert!(
            message.contains("the archive and its .prov have more than 1048576 bytes")
                && message.contains("Secret"),
            "{message}"
        );

        let chart_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/hello");
        let error = write(&[
            "deployment",
            "x",
            "--from-package",
            chart_dir.to_str().unwrap(),
        ])
        .unwrap_err();
        assert!(
            format!("{error:#}").contains("package it first"),
            "{error:#}"
        );
    }
}
