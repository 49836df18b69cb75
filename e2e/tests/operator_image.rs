//! The operator image, built by `image/build` without a container engine and pushed to the local
//! plain-HTTP registry: crane reads its manifest, config and files back; the binary in it is
//! static, holds no path of this machine, and runs; a second build gives the same digest.
//!
//! The first run compiles the operator for musl (a second full build of its dependency tree,
//! minutes on a small machine); the result is kept in `CARGO_TARGET_DIR`, so later runs only
//! assemble and push.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use capstan_e2e::{Cluster, ToolCommand, workspace_binary};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A cold musl build of the operator on two busy cores.
const BUILD_TIMEOUT: Duration = Duration::from_secs(90 * 60);
const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("e2e/ is inside the repository")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

/// Runs `image/build` and returns the pushed `reference@digest` it prints last.
async fn build_image(registry: &str, tag: &str, env: &[(&str, &str)]) -> Result<String, String> {
    // The image tool is the workspace's debug build (`cargo build --workspace --bins`): the
    // script would otherwise build it in the debug directory this `cargo test` holds.
    let tool = workspace_binary("CAPSTAN_IMAGE_BIN", "capstan-image");
    let mut command = ToolCommand::new(repo_root().join("image/build"))
        .args(["--registry", registry, "--tag", tag, "--plain-http"])
        .env("CAPSTAN_IMAGE_TOOL", tool)
        .timeout(BUILD_TIMEOUT);
    for (name, value) in env {
        command = command.env(name, value);
    }
    let output = command.run().await.map_err(|e| e.to_string())?;
    let pushed = output.stdout.lines().last().unwrap_or_default().to_string();
    if !pushed.contains("@sha256:") {
        return Err(format!(
            "image/build printed no reference with a digest:\n{}",
            output.stdout
        ));
    }
    Ok(pushed)
}

fn digest_of(pushed: &str) -> &str {
    pushed.split_once('@').map_or("", |(_, digest)| digest)
}

async fn git(args: &[&str]) -> Result<String, Box<dyn std::error::Error>> {
    let output = ToolCommand::new("git")
        .arg("-C")
        .arg(repo_root())
        .args(args)
        .run()
        .await?;
    Ok(output.stdout.trim().to_string())
}

/// Path, type (`d` or `f`), mode, uid, gid and mtime of each entry of a tar, and the files' contents.
type Listing = Vec<(String, char, u32, u64, u64, u64)>;

/// Each regular file's path and contents.
type Files = Vec<(String, Vec<u8>)>;

fn read_tar(bytes: &[u8]) -> Result<(Listing, Files), std::io::Error> {
    let mut listing = Vec::new();
    let mut files = Vec::new();
    let mut archive = tar::Archive::new(bytes);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        let header = entry.header();
        let kind = if header.entry_type().is_dir() {
            'd'
        } else {
            'f'
        };
        listing.push((
            path.clone(),
            kind,
            header.mode()?,
            header.uid()?,
            header.gid()?,
            header.mtime()?,
        ));
        if kind == 'f' {
            let mut contents = Vec::new();
            entry.read_to_end(&mut contents)?;
            files.push((path, contents));
        }
    }
    Ok((listing, files))
}

#[tokio::test]
#[ignore = "compiles a static musl release build of the operator (about 30 minutes cold on 2 cores); \
            run it alone: cargo test -p capstan-e2e --test operator_image -- --ignored"]
async fn the_image_is_built_without_an_engine_pushed_and_reproducible() -> TestResult {
    let cluster = Cluster::shared()?;
    let work = tempfile::tempdir()?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .subsec_nanos();
    let registry = format!(
        "{}/capstan-e2e-image-{}-{nanos}",
        cluster.env().registry,
        std::process::id()
    );

    let first = build_image(&registry, "first", &[]).await?;
    assert!(
        first.starts_with(&format!("{registry}/capstan-operator:first@sha256:")),
        "{first}"
    );

    // The binary's own time changes nothing: only the sources' (SOURCE_DATE_EPOCH) counts.
    let binary = target_dir()
        .join(MUSL_TARGET)
        .join("release/capstan-operator");
    std::fs::File::options()
        .write(true)
        .open(&binary)?
        .set_modified(std::time::SystemTime::now())?;
    let second = build_image(&registry, "second", &[]).await?;
    assert_eq!(digest_of(&second), digest_of(&first), "{first} vs {second}");

    // Another SOURCE_DATE_EPOCH is another image.
    let commit_time: i64 = git(&["log", "-1", "--format=%ct"]).await?.parse()?;
    let later = (commit_time + 1).to_string();
    let redated = build_image(&registry, "redated", &[("SOURCE_DATE_EPOCH", &later)]).await?;
    assert_ne!(digest_of(&redated), digest_of(&first));

    let crane = |args: &[&str]| cluster.crane(work.path()).args(args);
    // The manifest: an OCI image of one gzip layer, its annotations saying where it comes from.
    let manifest = crane(&["manifest", "--insecure", &first]).run().await?;
    let manifest: serde_json::Value = serde_json::from_str(&manifest.stdout)?;
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.oci.image.config.v1+json"
    );
    let layers = manifest["layers"].as_array().ok_or("no layers")?;
    assert_eq!(layers.len(), 1, "{manifest}");
    assert_eq!(
        layers[0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    let head = git(&["rev-parse", "HEAD"]).await?;
    let revision = manifest["annotations"]["org.opencontainers.image.revision"]
        .as_str()
        .ok_or("no revision annotation")?;
    assert!(
        revision == head || revision == format!("{head}-dirty"),
        "{revision} vs {head}"
    );

    // The config: non-root, the operator as entrypoint, the CA bundle named, labels, and the
    // commit's time as the only time.
    let config = crane(&["config", "--insecure", &first]).run().await?;
    let config: serde_json::Value = serde_json::from_str(&config.stdout)?;
    assert_eq!(config["os"], "linux");
    assert_eq!(config["architecture"], "amd64");
    let created = k8s_openapi::jiff::Timestamp::from_second(commit_time)?.to_string();
    assert_eq!(config["created"], created.as_str());
    assert_eq!(config["history"][0]["created"], created.as_str());
    let runtime = &config["config"];
    assert_eq!(runtime["User"], "65532:65532");
    assert_eq!(
        runtime["Entrypoint"],
        serde_json::json!(["/usr/local/bin/capstan-operator"])
    );
    assert_eq!(runtime["Cmd"], serde_json::json!(["run"]));
    assert_eq!(
        runtime["Env"],
        serde_json::json!(["SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"])
    );
    let labels = &runtime["Labels"];
    assert_eq!(labels["org.opencontainers.image.revision"], revision);
    assert_eq!(
        labels["org.opencontainers.image.source"],
        "https://github.com/capstan-dev/capstan"
    );
    assert_eq!(
        labels["org.opencontainers.image.version"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(labels["org.opencontainers.image.created"], created.as_str());
    let diff_id = config["rootfs"]["diff_ids"][0].as_str().unwrap_or_default();

    // The layer as pushed (crane writes the image as an OCI layout): its digest is the one the
    // manifest names, and unpacked it is the tar the config's diff_id names.
    let layout = work.path().join("layout");
    crane(&["pull", "--insecure", "--format=oci", &first])
        .arg(&layout)
        .run()
        .await?;
    let layer_digest = layers[0]["digest"].as_str().unwrap_or_default();
    let blob = layout
        .join("blobs/sha256")
        .join(layer_digest.trim_start_matches("sha256:"));
    let gzip = std::fs::read(&blob)?;
    assert_eq!(capstan_image::layer::sha256(&gzip), layer_digest);
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(gzip.as_slice()).read_to_end(&mut tar)?;
    assert_eq!(capstan_image::layer::sha256(&tar), diff_id);

    // The files: exactly these, owned by root, dated from the commit; no shell.
    let (listing, files) = read_tar(&tar)?;
    let expected = [
        ("etc/", 'd', 0o755),
        ("etc/group", 'f', 0o644),
        ("etc/passwd", 'f', 0o644),
        ("etc/ssl/", 'd', 0o755),
        ("etc/ssl/certs/", 'd', 0o755),
        ("etc/ssl/certs/ca-certificates.crt", 'f', 0o644),
        ("usr/", 'd', 0o755),
        ("usr/local/", 'd', 0o755),
        ("usr/local/bin/", 'd', 0o755),
        ("usr/local/bin/capstan-operator", 'f', 0o755),
    ];
    let found: Vec<(&str, char, u32)> = listing
        .iter()
        .map(|(path, kind, mode, ..)| (path.as_str(), *kind, *mode))
        .collect();
    assert_eq!(found, expected);
    let commit_mtime = u64::try_from(commit_time)?;
    assert!(
        listing
            .iter()
            .all(|(_, _, _, uid, gid, mtime)| (*uid, *gid, *mtime) == (0, 0, commit_mtime)),
        "{listing:?}"
    );
    let paths: BTreeSet<&str> = found.iter().map(|(path, ..)| *path).collect();
    assert!(!paths.contains("bin/sh") && !paths.contains("bin/"));
    let file = |name: &str| {
        files
            .iter()
            .find(|(path, _)| path == name)
            .map(|(_, contents)| contents.clone())
            .unwrap_or_default()
    };
    let bundle = String::from_utf8(file("etc/ssl/certs/ca-certificates.crt"))?;
    assert!(bundle.matches("-----BEGIN CERTIFICATE-----").count() > 100);
    assert!(String::from_utf8(file("etc/passwd"))?.contains("nonroot:x:65532:65532:"));

    // The binary: static, for this machine's CPU, with no path of this machine in it (so a
    // build elsewhere gives the same bytes), and it runs.
    let operator = file("usr/local/bin/capstan-operator");
    let elf = capstan_image::elf::inspect(&operator)?;
    assert_eq!(elf.interpreter, None);
    assert_eq!(elf.architecture, "amd64");
    let contains = |needle: &str| {
        operator
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
    };
    let repo = repo_root().display().to_string();
    assert!(!contains(&repo), "the binary holds the path {repo}");
    let target = target_dir().display().to_string();
    assert!(!contains(&target), "the binary holds the path {target}");
    let cargo_home = std::env::var("CARGO_HOME")
        .unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap_or_default()));
    assert!(!contains(&cargo_home), "the binary holds {cargo_home}");
    let extracted = work.path().join("capstan-operator");
    std::fs::write(&extracted, &operator)?;
    std::fs::set_permissions(
        &extracted,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    let version = ToolCommand::new(&extracted).arg("--version").run().await?;
    assert_eq!(
        version.stdout.trim(),
        format!("capstan-operator {}", env!("CARGO_PKG_VERSION"))
    );
    let crds = ToolCommand::new(&extracted).arg("crds").run().await?;
    let committed = std::fs::read_to_string(repo_root().join("crds/capstan.dev.yaml"))?;
    assert!(crds.stdout == committed, "`crds` differs from crds/");
    Ok(())
}
