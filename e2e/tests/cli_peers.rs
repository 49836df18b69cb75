//! The `capstan` CLI binary against the real peers that `e2e/cluster up` starts: Helm, the OCI
//! registries (plain, basic auth, TLS with the local CA), the chart servers, the S3 server (a
//! bucket per test) and GnuPG. What capstan publishes Helm reads, and what Helm publishes
//! capstan reads.
//!
//! These tests fail, with the command to run, when the cluster is not up: start it with
//! `e2e/cluster up` (or run `make test`).

use base64::Engine;
use capstan_e2e::gnupg::GnuPg;
use capstan_e2e::s3_peer::S3Peer;
use capstan_e2e::{Cluster, CommandOutput, ToolCommand};
use capstan_sources::s3::S3Error;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;
type TestResult = Fallible<()>;

const SIGNER: &str = "Capstan Registry Interop <registry-interop@example.com>";

/// The CLI binary: `CAPSTAN_BIN`, else the workspace's debug build (`cargo build -p capstan-cli`,
/// which `make test` runs first).
fn capstan_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CAPSTAN_BIN") {
        return path.into();
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("debug/capstan")
}

/// A repository path or folder no other test run uses, so reruns against the same peers never clash.
fn unique(label: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos())
        .unwrap_or_default();
    format!("capstan-cli-{label}-{}-{nanos}", std::process::id())
}

/// A test's scratch directory, with Helm and capstan confined to it.
struct Work {
    cluster: &'static Cluster,
    dir: TempDir,
}

impl Work {
    fn new() -> Fallible<Self> {
        let binary = capstan_binary();
        if !binary.is_file() {
            return Err(format!(
                "{} is missing: build it with `cargo build -p capstan-cli` or set CAPSTAN_BIN",
                binary.display()
            )
            .into());
        }
        Ok(Self {
            cluster: Cluster::shared()?,
            dir: TempDir::new()?,
        })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn helm(&self) -> ToolCommand {
        self.cluster.helm(&self.path().join("helm"))
    }

    /// `capstan` with a HOME and Docker config of its own, so the user's logins never leak in.
    fn capstan(&self) -> ToolCommand {
        ToolCommand::new(capstan_binary())
            .env("HOME", self.path())
            .env("DOCKER_CONFIG", self.path().join("docker"))
    }

    /// Writes a small chart (a Jinja ConfigMap that Helm can package too) and returns its folder.
    fn chart(&self, name: &str, version: &str) -> Fallible<PathBuf> {
        let dir = self.path().join("src").join(format!("{name}-{version}"));
        let chart = dir.join(name);
        std::fs::create_dir_all(chart.join("templates"))?;
        std::fs::write(
            chart.join("Chart.yaml"),
            format!(
                "apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: \"2.{version}\"\n\
                 description: The {name} chart at {version}\nhome: https://example.com/{name}\n\
                 sources:\n  - https://example.com/{name}/src\nmaintainers:\n  - name: Ops\n    \
                 email: ops@example.com\nkeywords: [demo]\n\
                 annotations:\n  capstan.dev/engine: jinja\n"
            ),
        )?;
        std::fs::write(chart.join("values.yaml"), "greeting: hello\n")?;
        std::fs::write(
            chart.join("templates/configmap.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ release.name }}-greeting\n\
             data:\n  greeting: {{ values.greeting | quote }}\n",
        )?;
        Ok(chart)
    }

    /// `capstan package` into `dest`, signed by `signer` when given; returns the archive.
    async fn package(
        &self,
        name: &str,
        version: &str,
        dest: &Path,
        signer: Option<&Signer>,
    ) -> Fallible<PathBuf> {
        let chart = self.chart(name, version)?;
        let mut command = self
            .capstan()
            .arg("package")
            .arg(&chart)
            .arg("-d")
            .arg(dest);
        if let Some(gpg) = signer {
            command = command
                .args(["--sign", "--key", SIGNER, "--keyring"])
                .arg(&gpg.secret_ring);
        }
        command.run().await?;
        Ok(dest.join(format!("{name}-{version}.tgz")))
    }
}

/// The signing key of these tests in a throw-away GnuPG home, exported as a public and a secret
/// keyring for the tools that take keyring files.
struct Signer {
    _gnupg: GnuPg,
    public_ring: PathBuf,
    secret_ring: PathBuf,
}

impl Signer {
    async fn new(cluster: &Cluster) -> Fallible<Self> {
        let gpg = cluster
            .env()
            .gpg
            .clone()
            .ok_or("CAPSTAN_E2E_GPG is empty: install gnupg and re-run `e2e/cluster up`")?;
        let gnupg = GnuPg::new(&gpg, SIGNER)?;
        let (public_ring, secret_ring) = gnupg.export_keyrings()?;
        Ok(Signer {
            _gnupg: gnupg,
            public_ring,
            secret_ring,
        })
    }
}

/// A folder inside the directory the chart servers serve, removed again when dropped.
struct Served {
    dir: PathBuf,
    name: String,
}

impl Served {
    fn new(cluster: &Cluster) -> Fallible<Self> {
        let name = unique("repo");
        let dir = cluster.env().charts_dir.join(&name);
        std::fs::create_dir_all(&dir)?;
        Ok(Self { dir, name })
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The `Pushed:` and `Digest:` lines of `capstan push` or `helm push`.
fn pushed_lines(output: &CommandOutput) -> Fallible<(String, String)> {
    let find = |prefix: &str| {
        output
            .stdout
            .lines()
            .chain(output.stderr.lines())
            .find_map(|line| line.strip_prefix(prefix))
            .map(|value| value.trim().to_string())
            .ok_or_else(|| format!("no `{prefix}` line in {output:?}"))
    };
    Ok((find("Pushed: ")?, find("Digest: ")?))
}

fn read(path: &Path) -> Fallible<Vec<u8>> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()).into())
}

#[tokio::test]
async fn helm_pulls_verifies_and_shows_what_capstan_pushes() -> TestResult {
    let work = Work::new()?;
    let env = work.cluster.env();
    let gpg = Signer::new(work.cluster).await?;
    let dist = work.path().join("dist");
    let archive = work
        .package("pushed", "1.4.0+build.7", &dist, Some(&gpg))
        .await?;
    let prov_path = PathBuf::from(format!("{}.prov", archive.display()));
    assert!(prov_path.exists(), "capstan package --sign wrote no .prov");

    let base = format!("oci://{}/{}", env.registry, unique("push"));
    let output = work
        .capstan()
        .arg("push")
        .arg(&archive)
        .args([&base, "--plain-http"])
        .run()
        .await?;
    let (reference, digest) = pushed_lines(&output)?;
    let repository = base.trim_start_matches("oci://");
    // `+` cannot be in a tag: Helm's convention writes it as `_`.
    assert_eq!(reference, format!("{repository}/pushed:1.4.0_build.7"));
    assert!(digest.starts_with("sha256:"), "{digest}");

    // A second client agrees on the manifest and finds Helm's media types in it.
    let manifest = work
        .cluster
        .crane(work.path())
        .args(["manifest", "--insecure", &reference])
        .run()
        .await?;
    let manifest: serde_json::Value = serde_json::from_str(&manifest.stdout)?;
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.cncf.helm.config.v1+json"
    );
    let layer_types: Vec<&str> = manifest["layers"]
        .as_array()
        .ok_or("manifest without layers")?
        .iter()
        .filter_map(|layer| layer["mediaType"].as_str())
        .collect();
    assert_eq!(
        layer_types,
        [
            "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
            "application/vnd.cncf.helm.chart.provenance.v1.prov"
        ]
    );
    let annotations = &manifest["annotations"];
    assert_eq!(annotations["org.opencontainers.image.title"], "pushed");
    assert_eq!(
        annotations["org.opencontainers.image.version"],
        "1.4.0+build.7"
    );
    let crane_digest = work
        .cluster
        .crane(work.path())
        .args(["digest", "--insecure", &reference])
        .run()
        .await?;
    assert_eq!(crane_digest.stdout.trim(), digest);

    // helm pull --verify checks the provenance layer with the public key; the bytes are ours.
    let pulled = work.path().join("helm-pulled");
    std::fs::create_dir_all(&pulled)?;
    let verified = work
        .helm()
        .arg("pull")
        .arg(format!("{base}/pushed"))
        .args(["--version", "1.4.0+build.7", "--plain-http", "--verify"])
        .arg("--keyring")
        .arg(&gpg.public_ring)
        .arg("--destination")
        .arg(&pulled)
        .run()
        .await?;
    let report = format!("{}{}", verified.stdout, verified.stderr);
    assert!(report.contains(&format!("Signed by: {SIGNER}")), "{report}");
    assert_eq!(
        read(&pulled.join("pushed-1.4.0+build.7.tgz"))?,
        read(&archive)?
    );
    assert_eq!(
        read(&pulled.join("pushed-1.4.0+build.7.tgz.prov"))?,
        read(&prov_path)?
    );

    let shown = work
        .helm()
        .args(["show", "chart", &format!("{base}/pushed")])
        .args(["--version", "1.4.0+build.7", "--plain-http"])
        .run()
        .await?;
    let chart: serde_json::Value = serde_saphyr::from_str(&shown.stdout)?;
    assert_eq!(chart["name"], "pushed");
    assert_eq!(chart["version"], "1.4.0+build.7");
    assert_eq!(chart["annotations"]["capstan.dev/engine"], "jinja");

    // A key Helm does not know makes its verification fail: the check above meant something.
    let stranger = Signer::new(work.cluster).await?;
    let refused = work
        .helm()
        .arg("pull")
        .arg(format!("{base}/pushed"))
        .args(["--version", "1.4.0+build.7", "--plain-http", "--verify"])
        .arg("--keyring")
        .arg(&stranger.public_ring)
        .arg("--destination")
        .arg(work.path().join("refused"))
        .output()
        .await?;
    assert!(
        !refused.status.success(),
        "helm verified with a foreign key"
    );
    Ok(())
}

#[tokio::test]
async fn capstan_pulls_what_helm_pushes_by_version_constraint_and_digest() -> TestResult {
    let work = Work::new()?;
    let env = work.cluster.env();
    let gpg = Signer::new(work.cluster).await?;
    let base = format!("oci://{}/{}", env.registry, unique("helm"));
    let packaged = work.path().join("helm-packaged");
    let mut digests = BTreeMap::new();
    for version in ["1.0.0", "1.1.0+build.2", "1.2.0-rc.1", "2.0.0"] {
        let chart = work.chart("sprocket", version)?;
        work.helm()
            .arg("package")
            .arg(&chart)
            .arg("--destination")
            .arg(&packaged)
            .args(["--sign", "--key", SIGNER, "--keyring"])
            .arg(&gpg.secret_ring)
            .run()
            .await?;
        let archive = packaged.join(format!("sprocket-{version}.tgz"));
        let pushed = work
            .helm()
            .arg("push")
            .arg(&archive)
            .args([&base, "--plain-http"])
            .run()
            .await?;
        let (_, digest) = pushed_lines(&pushed)?;
        digests.insert(version, digest);
    }
    let chart = format!("{base}/sprocket");
    let pull = |version: Option<&str>, dest: &Path| {
        let mut command = work
            .capstan()
            .args(["pull", &chart, "--plain-http", "-d"])
            .arg(dest);
        if let Some(version) = version {
            command = command.args(["--version", version]);
        }
        command
    };

    // (constraint, the version it must choose): `_` in tags reads back as `+`, prereleases
    // only when asked for, the newest match wins.
    let cases = [
        (Some("1.0.0"), "1.0.0"),
        (Some("1.1.0+build.2"), "1.1.0+build.2"),
        (Some("^1.0"), "1.1.0+build.2"),
        (Some(">=1.2.0-0 <2"), "1.2.0-rc.1"),
        (Some("~1.0"), "1.0.0"),
        (None, "2.0.0"),
    ];
    for (index, (constraint, expected)) in cases.into_iter().enumerate() {
        let dest = work.path().join(format!("pulled-{index}"));
        let output = pull(constraint, &dest).run().await?;
        let file = format!("sprocket-{expected}.tgz");
        assert_eq!(
            read(&dest.join(&file))?,
            read(&packaged.join(&file))?,
            "--version {constraint:?}: {output:?}"
        );
        assert!(
            output.stdout.contains(&digests[expected]),
            "--version {constraint:?} should report the digest Helm pushed: {output:?}"
        );
    }

    // By digest, in the reference and as --version; with Helm's provenance verified.
    let digest = &digests["1.0.0"];
    let dest = work.path().join("by-digest");
    let by_digest = work
        .capstan()
        .args([
            "pull",
            &format!("{chart}@{digest}"),
            "--plain-http",
            "--verify",
        ])
        .arg("--keyring")
        .arg(&gpg.public_ring)
        .arg("-d")
        .arg(&dest)
        .run()
        .await?;
    assert!(
        by_digest.stdout.contains(&format!("Signed by: {SIGNER}")),
        "{by_digest:?}"
    );
    assert_eq!(
        read(&dest.join("sprocket-1.0.0.tgz"))?,
        read(&packaged.join("sprocket-1.0.0.tgz"))?
    );
    assert_eq!(
        read(&dest.join("sprocket-1.0.0.tgz.prov"))?,
        read(&packaged.join("sprocket-1.0.0.tgz.prov"))?
    );
    let dest = work.path().join("by-digest-flag");
    pull(Some(digest), &dest).run().await?;
    assert!(dest.join("sprocket-1.0.0.tgz").exists());

    let none = pull(Some(">=3"), &work.path().join("none"))
        .output()
        .await?;
    assert!(!none.status.success());
    assert!(
        none.stderr.contains("no chart version matching") && none.stderr.contains("2.0.0"),
        "{none:?}"
    );
    Ok(())
}

#[tokio::test]
async fn auth_registry_takes_flags_and_docker_config_and_refuses_a_wrong_password() -> TestResult {
    let work = Work::new()?;
    let env = work.cluster.env();
    let credentials = &env.credentials;
    let archive = work
        .package("guarded", "0.3.0", &work.path().join("dist"), None)
        .await?;
    let base = format!("oci://{}/{}", env.registry_auth, unique("auth"));
    let push = || {
        work.capstan()
            .arg("push")
            .arg(&archive)
            .args([&base, "--plain-http"])
    };

    let anonymous = push().output().await?;
    assert!(!anonymous.status.success(), "anonymous push accepted");
    assert!(
        anonymous
            .stderr
            .contains(&format!("registry {} refused access", env.registry_auth))
            && anonymous.stderr.contains("needs credentials"),
        "{anonymous:?}"
    );

    let wrong_password = format!("{}-wrong", credentials.password);
    let wrong = push()
        .args(["--username", &credentials.username, "--password-stdin"])
        .stdin(wrong_password.clone())
        .output()
        .await?;
    assert!(!wrong.status.success(), "a wrong password was accepted");
    assert!(
        wrong.stderr.contains(&format!(
            "the credentials of user {:?} were rejected",
            credentials.username
        )),
        "{}",
        wrong.stderr
    );
    for stream in [&wrong.stdout, &wrong.stderr] {
        assert!(!stream.contains(&wrong_password), "the password was echoed");
    }

    push()
        .args(["--username", &credentials.username, "--password-stdin"])
        .stdin(credentials.password.clone())
        .run()
        .await?;

    // Docker's config.json: the default location (through DOCKER_CONFIG) and --registry-config.
    let auth = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:{}", credentials.username, credentials.password));
    let config = format!(
        r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#,
        env.registry_auth
    );
    let docker = work.path().join("docker");
    std::fs::create_dir_all(&docker)?;
    std::fs::write(docker.join("config.json"), &config)?;
    let dest = work.path().join("pulled-default-config");
    work.capstan()
        .args(["pull", &format!("{base}/guarded"), "--version", "0.3.0"])
        .args(["--plain-http", "-d"])
        .arg(&dest)
        .run()
        .await?;
    assert_eq!(read(&dest.join("guarded-0.3.0.tgz"))?, read(&archive)?);
    std::fs::remove_file(docker.join("config.json"))?;

    let explicit = work.path().join("registry-config.json");
    std::fs::write(&explicit, &config)?;
    let dest = work.path().join("pulled-explicit-config");
    work.capstan()
        .args(["pull", &format!("{base}/guarded"), "--version", "^0.3"])
        .args(["--plain-http", "--registry-config"])
        .arg(&explicit)
        .arg("-d")
        .arg(&dest)
        .run()
        .await?;
    assert_eq!(read(&dest.join("guarded-0.3.0.tgz"))?, read(&archive)?);

    // Helm, logged in, reads what capstan pushed behind auth.
    work.helm()
        .args(["registry", "login", &env.registry_auth, "--plain-http"])
        .args(["--username", &credentials.username, "--password-stdin"])
        .stdin(credentials.password.clone())
        .run()
        .await?;
    let helm_dest = work.path().join("helm-pulled");
    std::fs::create_dir_all(&helm_dest)?;
    work.helm()
        .args(["pull", &format!("{base}/guarded"), "--version", "0.3.0"])
        .args(["--plain-http", "--destination"])
        .arg(&helm_dest)
        .run()
        .await?;
    assert_eq!(read(&helm_dest.join("guarded-0.3.0.tgz"))?, read(&archive)?);
    Ok(())
}

#[tokio::test]
async fn tls_registry_works_with_the_ca_and_refuses_without_it() -> TestResult {
    let work = Work::new()?;
    let env = work.cluster.env();
    let archive = work
        .package("secured", "0.2.0", &work.path().join("dist"), None)
        .await?;
    let base = format!("oci://{}/{}", env.registry_tls, unique("tls"));

    let untrusted = work
        .capstan()
        .arg("push")
        .arg(&archive)
        .arg(&base)
        .output()
        .await?;
    assert!(
        !untrusted.status.success(),
        "pushed without trusting the CA"
    );
    assert!(
        untrusted.stderr.to_lowercase().contains("certificate"),
        "the error should say the certificate is not trusted: {}",
        untrusted.stderr
    );

    let pushed = work
        .capstan()
        .arg("push")
        .arg(&archive)
        .arg(&base)
        .arg("--ca-file")
        .arg(&env.ca)
        .run()
        .await?;
    let (_, digest) = pushed_lines(&pushed)?;

    let dest = work.path().join("pulled");
    let pulled = work
        .capstan()
        .args(["pull", &format!("{base}/secured"), "--version", "0.2.0"])
        .arg("--ca-file")
        .arg(&env.ca)
        .arg("-d")
        .arg(&dest)
        .run()
        .await?;
    assert!(pulled.stdout.contains(&digest), "{pulled:?}");
    assert_eq!(read(&dest.join("secured-0.2.0.tgz"))?, read(&archive)?);

    let helm_dest = work.path().join("helm-pulled");
    std::fs::create_dir_all(&helm_dest)?;
    work.helm()
        .args(["pull", &format!("{base}/secured"), "--version", "0.2.0"])
        .arg("--ca-file")
        .arg(&env.ca)
        .arg("--destination")
        .arg(&helm_dest)
        .run()
        .await?;
    assert_eq!(read(&helm_dest.join("secured-0.2.0.tgz"))?, read(&archive)?);
    Ok(())
}

/// The fields of one index entry that must agree, as JSON values.
fn entry_fields(entry: &serde_json::Value) -> BTreeMap<&'static str, serde_json::Value> {
    [
        "name",
        "version",
        "digest",
        "urls",
        "apiVersion",
        "appVersion",
        "description",
        "home",
        "sources",
        "keywords",
        "maintainers",
        "annotations",
    ]
    .into_iter()
    .map(|field| (field, entry[field].clone()))
    .collect()
}

/// `name -> [fields of each version, in the index's order]`.
fn index_entries(
    path: &Path,
) -> Fallible<BTreeMap<String, Vec<BTreeMap<&'static str, serde_json::Value>>>> {
    let index: serde_json::Value = serde_saphyr::from_str(&std::fs::read_to_string(path)?)?;
    assert_eq!(index["apiVersion"], "v1", "{}", path.display());
    let entries = index["entries"]
        .as_object()
        .ok_or_else(|| format!("{} has no entries", path.display()))?;
    Ok(entries
        .iter()
        .map(|(name, versions)| {
            let versions = versions.as_array().cloned().unwrap_or_default();
            (name.clone(), versions.iter().map(entry_fields).collect())
        })
        .collect())
}

#[tokio::test]
async fn helm_and_capstan_repo_index_agree_entry_for_entry() -> TestResult {
    let work = Work::new()?;
    let folder = work.path().join("repository");
    for (name, version) in [
        ("alpha", "0.1.0"),
        ("alpha", "0.10.0"),
        ("alpha", "0.2.0-beta.1"),
        ("alpha", "1.0.0+meta.3"),
        ("beta", "3.2.1"),
    ] {
        work.package(name, version, &folder, None).await?;
    }
    // Helm indexes one level of subfolders too.
    work.package("gamma", "0.0.1", &folder.join("nested"), None)
        .await?;
    // Archives not made by `helm package`: GNU tar's with directory entries, and Helm's own.
    let fixtures = capstan_testdata::Vectors::generated();
    for file in [
        "frobnitz-1.2.3.tgz",
        "sprocket-1.1.0.tgz",
        "sprocket-1.2.0.tgz",
    ] {
        std::fs::copy(
            fixtures.path("repo/repository").join(file),
            folder.join(file),
        )?;
    }

    for url in [None, Some("https://charts.example.com/stable")] {
        let with_url = |mut command: ToolCommand| {
            if let Some(url) = url {
                command = command.args(["--url", url]);
            }
            command
        };
        with_url(work.helm().args(["repo", "index"]).arg(&folder))
            .run()
            .await?;
        let helm_index = work.path().join("helm-index.yaml");
        std::fs::rename(folder.join("index.yaml"), &helm_index)?;
        with_url(work.capstan().args(["repo", "index"]).arg(&folder))
            .run()
            .await?;
        let ours = index_entries(&folder.join("index.yaml"))?;
        let helms = index_entries(&helm_index)?;
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            ["alpha", "beta", "frobnitz", "gamma", "sprocket"]
        );
        assert_eq!(ours, helms, "--url {url:?}");
        std::fs::remove_file(folder.join("index.yaml"))?;
    }
    Ok(())
}

#[tokio::test]
async fn capstan_searches_and_pulls_from_chart_servers_with_a_helm_index() -> TestResult {
    let work = Work::new()?;
    let env = work.cluster.env();
    let gpg = Signer::new(work.cluster).await?;
    let served = Served::new(work.cluster)?;
    for version in ["1.0.0", "1.1.0", "2.0.0-rc.1"] {
        work.package("served", version, &served.dir, Some(&gpg))
            .await?;
    }
    work.package("other", "0.5.0", &served.dir, None).await?;
    work.helm()
        .args(["repo", "index"])
        .arg(&served.dir)
        .run()
        .await?;

    let plain = format!("{}/{}", env.charts, served.name);
    let found = work
        .capstan()
        .args(["search", &plain, "served", "--versions", "--output", "json"])
        .run()
        .await?;
    let hits: Vec<serde_json::Value> = serde_json::from_str(&found.stdout)?;
    let versions: Vec<&str> = hits
        .iter()
        .filter_map(|hit| hit["version"].as_str())
        .collect();
    assert_eq!(versions, ["1.1.0", "1.0.0"], "{}", found.stdout);
    assert_eq!(hits[0]["app_version"], "2.1.1.0");
    assert_eq!(hits[0]["description"], "The served chart at 1.1.0");

    let table = work
        .capstan()
        .args(["search", &plain, "--version", ">=2.0.0-0"])
        .run()
        .await?;
    assert!(table.stdout.contains("2.0.0-rc.1"), "{}", table.stdout);
    assert!(!table.stdout.contains("other"), "{}", table.stdout);

    let ca = env.ca.to_string_lossy().into_owned();
    let password = env.credentials.password.clone();
    let servers: [(&str, &String, Vec<&str>); 3] = [
        ("plain", &env.charts, vec![]),
        (
            "auth",
            &env.charts_auth,
            vec!["--username", &env.credentials.username, "--password-stdin"],
        ),
        ("tls", &env.charts_tls, vec!["--ca-file", &ca]),
    ];
    for (label, base, flags) in servers {
        let dest = work.path().join(format!("pulled-{label}"));
        let mut pull = work
            .capstan()
            .args(["pull", &format!("{base}/{}/served", served.name)])
            .args(["--version", "^1", "--verify", "--keyring"])
            .arg(&gpg.public_ring)
            .arg("-d")
            .arg(&dest)
            .args(&flags);
        if label == "auth" {
            pull = pull.stdin(password.clone());
        }
        let output = pull.run().await?;
        assert!(
            output.stdout.contains(&format!("Signed by: {SIGNER}")),
            "{label}: {output:?}"
        );
        assert_eq!(
            read(&dest.join("served-1.1.0.tgz"))?,
            read(&served.dir.join("served-1.1.0.tgz"))?,
            "{label}"
        );
        assert!(dest.join("served-1.1.0.tgz.prov").exists(), "{label}");
    }

    let anonymous = work
        .capstan()
        .args([
            "pull",
            &format!("{}/{}/served", env.charts_auth, served.name),
        ])
        .arg("-d")
        .arg(work.path().join("anonymous"))
        .output()
        .await?;
    assert!(
        !anonymous.status.success(),
        "the auth server served anonymously"
    );
    Ok(())
}

/// `capstan` set up for the S3 server the way a user sets up the AWS CLI: keys, endpoint and
/// region from the environment (HOME holds no `~/.aws`).
fn capstan_for_bucket(work: &Work, peer: &S3Peer, secret_key: &str) -> ToolCommand {
    work.capstan()
        .env("AWS_ACCESS_KEY_ID", &peer.access_key)
        .env("AWS_SECRET_ACCESS_KEY", secret_key)
        .env("AWS_ENDPOINT_URL_S3", &peer.endpoint)
        .env("AWS_REGION", &peer.region)
}

/// A secret key no server knows, unique per run, so finding it anywhere means it leaked.
fn unique_secret() -> String {
    unique("secret").replace('-', "")
}

#[tokio::test]
async fn helm_pulls_and_verifies_what_capstan_pushes_to_a_bucket() -> TestResult {
    let work = Work::new()?;
    let peer = S3Peer::shared("cli-push")?;
    let secret_key = peer.secret_key.clone();
    peer.allow_anonymous_reads()?;
    let gpg = Signer::new(work.cluster).await?;
    let dist = work.path().join("dist");
    let archive = work.package("bucketed", "1.2.0", &dist, Some(&gpg)).await?;
    let prov_path = PathBuf::from(format!("{}.prov", archive.display()));
    let prefix = unique("bucket");
    let location = peer.location(&prefix);

    let pushed = capstan_for_bucket(&work, &peer, &secret_key)
        .arg("push")
        .arg(&archive)
        .arg(&location)
        .run()
        .await?;
    let report = format!("{}{}", pushed.stdout, pushed.stderr);
    for line in [
        format!("Pushed: {location}/bucketed-1.2.0.tgz (uploaded)"),
        format!("Provenance: {location}/bucketed-1.2.0.tgz.prov (uploaded)"),
        format!("Index: {location}/index.yaml (created with bucketed 1.2.0)"),
    ] {
        assert!(report.contains(&line), "no {line:?} in {report}");
    }
    assert!(!report.contains(&secret_key), "{report}");

    // Helm reads the bucket as any chart repository, over the peer's plain (unsigned) HTTP.
    let repository_url = peer.http_url(&prefix);
    work.helm()
        .args(["repo", "add", "bucket", &repository_url])
        .run()
        .await?;
    let pulled = work.path().join("helm-pulled");
    std::fs::create_dir_all(&pulled)?;
    let verified = work
        .helm()
        .args(["pull", "bucket/bucketed", "--version", "1.2.0", "--verify"])
        .arg("--keyring")
        .arg(&gpg.public_ring)
        .arg("--destination")
        .arg(&pulled)
        .run()
        .await?;
    let verification = format!("{}{}", verified.stdout, verified.stderr);
    assert!(
        verification.contains(&format!("Signed by: {SIGNER}")),
        "{verification}"
    );
    assert_eq!(read(&pulled.join("bucketed-1.2.0.tgz"))?, read(&archive)?);
    assert_eq!(
        read(&pulled.join("bucketed-1.2.0.tgz.prov"))?,
        read(&prov_path)?
    );

    // The same release again changes nothing; a changed archive of the same version is refused.
    let again = capstan_for_bucket(&work, &peer, &secret_key)
        .arg("push")
        .arg(&archive)
        .arg(&location)
        .run()
        .await?;
    assert!(
        again.stdout.contains("already lists bucketed 1.2.0"),
        "{again:?}"
    );
    // Other bytes, the same chart: the gzip header's MTIME field (bytes 4..8) differs.
    let tampered = work.path().join("tampered").join("bucketed-1.2.0.tgz");
    std::fs::create_dir_all(tampered.parent().ok_or("no parent")?)?;
    let mut bytes = read(&archive)?;
    bytes[4] ^= 0x01;
    std::fs::write(&tampered, &bytes)?;
    let refused = capstan_for_bucket(&work, &peer, &secret_key)
        .arg("push")
        .arg(&tampered)
        .arg(&location)
        .output()
        .await?;
    assert!(!refused.status.success(), "{refused:?}");
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    Ok(())
}

#[tokio::test]
async fn ten_concurrent_pushes_to_a_bucket_all_end_up_in_the_index() -> TestResult {
    let work = Work::new()?;
    let peer = S3Peer::shared("cli-race")?;
    let secret_key = peer.secret_key.clone();
    peer.allow_anonymous_reads()?;
    let dist = work.path().join("dist");
    let names = [
        "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    ];
    let mut archives = Vec::new();
    for name in names {
        archives.push(work.package(name, "0.1.0", &dist, None).await?);
    }
    let prefix = unique("race");
    let location = peer.location(&prefix);
    let pushes: Vec<_> = archives
        .iter()
        .map(|archive| {
            capstan_for_bucket(&work, &peer, &secret_key)
                .arg("push")
                .arg(archive)
                .arg(&location)
        })
        .collect();
    let outputs = futures::future::join_all(pushes.iter().map(ToolCommand::run)).await;
    for output in outputs {
        let output = output?;
        assert!(output.stdout.contains("Index: "), "{output:?}");
    }

    let repository_url = peer.http_url(&prefix);
    work.helm()
        .args(["repo", "add", "race", &repository_url])
        .run()
        .await?;
    let search = work
        .helm()
        .args(["search", "repo", "race/", "--output", "json"])
        .run()
        .await?;
    let found: Vec<serde_json::Value> = serde_json::from_str(&search.stdout)?;
    let mut listed: Vec<&str> = found
        .iter()
        .filter_map(|chart| chart["name"].as_str())
        .collect();
    listed.sort_unstable();
    let mut expected: Vec<String> = names.iter().map(|name| format!("race/{name}")).collect();
    expected.sort_unstable();
    assert_eq!(listed, expected, "{}", search.stdout);
    let pulled = work.path().join("race-pulled");
    std::fs::create_dir_all(&pulled)?;
    for name in names {
        work.helm()
            .args(["pull", &format!("race/{name}"), "--version", "0.1.0"])
            .arg("--destination")
            .arg(&pulled)
            .run()
            .await?;
        assert_eq!(
            read(&pulled.join(format!("{name}-0.1.0.tgz")))?,
            read(&dist.join(format!("{name}-0.1.0.tgz")))?
        );
    }
    Ok(())
}

#[tokio::test]
async fn pushes_with_wrong_keys_or_to_a_missing_bucket_say_why_without_the_keys() -> TestResult {
    let work = Work::new()?;
    let peer = S3Peer::shared("cli-refused")?;
    let archive = work
        .package("refused", "0.1.0", &work.path().join("dist"), None)
        .await?;
    let location = peer.location("charts");
    let shown = |output: &CommandOutput| format!("{}{}", output.stdout, output.stderr);
    let leaks = |text: &str, keys: &[&str]| {
        keys.iter()
            .chain(["X-Amz-Signature", "X-Amz-Credential"].iter())
            .find(|key| text.contains(**key))
            .map(|key| key.to_string())
    };

    // The right access key with a wrong secret key, then a key the server does not know.
    let wrong = unique_secret();
    let denied = capstan_for_bucket(&work, &peer, &wrong)
        .arg("push")
        .arg(&archive)
        .arg(&location)
        .output()
        .await?;
    assert!(!denied.status.success(), "{denied:?}");
    let text = shown(&denied);
    assert!(text.contains("SignatureDoesNotMatch"), "{text}");
    assert!(text.contains("HTTP 403"), "{text}");
    assert_eq!(leaks(&text, &[&wrong, &peer.secret_key]), None, "{text}");

    let stranger = capstan_for_bucket(&work, &peer, &wrong)
        .env("AWS_ACCESS_KEY_ID", "capstan-unknown-key")
        .arg("push")
        .arg(&archive)
        .arg(&location)
        .output()
        .await?;
    assert!(!stranger.status.success(), "{stranger:?}");
    let text = shown(&stranger);
    // AWS answers InvalidAccessKeyId; versitygw its own XAdminUserNotFound.
    assert!(
        ["InvalidAccessKeyId", "AccessDenied", "XAdminUserNotFound"]
            .iter()
            .any(|code| text.contains(code)),
        "{text}"
    );
    assert_eq!(leaks(&text, &[&wrong, &peer.secret_key]), None, "{text}");

    // A bucket that does not exist: the server's NoSuchBucket, naming the bucket.
    let missing = capstan_for_bucket(&work, &peer, &peer.secret_key)
        .arg("push")
        .arg(&archive)
        .arg("s3://capstan-no-such-bucket/charts")
        .output()
        .await?;
    assert!(!missing.status.success(), "{missing:?}");
    let text = shown(&missing);
    assert!(text.contains("NoSuchBucket"), "{text}");
    assert!(text.contains("capstan-no-such-bucket"), "{text}");
    assert_eq!(leaks(&text, &[&peer.secret_key]), None, "{text}");

    // None of the refused pushes wrote anything.
    let bucket = peer.client(&location, None)?;
    for object in ["index.yaml", "refused-0.1.0.tgz"] {
        let answer = bucket.get(object).await;
        assert!(
            matches!(answer, Err(S3Error::NotFound { .. })),
            "{object} after refused pushes: {answer:?}"
        );
    }
    Ok(())
}
