//! The operator image, built by `image/build` without a container engine for linux/amd64 and
//! linux/arm64 and pushed to the local plain-HTTP registry as an OCI image index: crane reads the
//! index, each platform's manifest, config and files back; each binary in it is static, built for
//! its platform's CPU, holds no path of this machine, and runs (arm64 under qemu's user-mode
//! emulator); a second build gives the same digest.
//!
//! The binaries are built with the `image-check` profile (Cargo.toml): the same script, flags and
//! assembly as `make image`, unoptimized, so that a cold build (a second and third build of the
//! operator's dependency tree, one per target) takes minutes rather than the half hour of a
//! static release build on two cores. The result is kept in `CARGO_TARGET_DIR`, so later builds
//! only assemble and push.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use capstan_e2e::{Cluster, ToolCommand, workspace_binary};

type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// A cold build of the operator for both targets on two busy cores.
const BUILD_TIMEOUT: Duration = Duration::from_secs(45 * 60);
/// The Cargo profile the test builds with (`make image` uses `release`).
const PROFILE: &str = "image-check";
/// Each platform the image is built for, with its Rust target and ELF `e_machine`.
const PLATFORMS: [Platform; 2] = [
    Platform {
        architecture: "amd64",
        rust_target: "x86_64-unknown-linux-musl",
        elf_machine: 0x3e,
    },
    Platform {
        architecture: "arm64",
        rust_target: "aarch64-unknown-linux-musl",
        elf_machine: 0xb7,
    },
];
/// Runs an aarch64 Linux binary on this machine (Debian: qemu-user-static).
const ARM64_EMULATOR: &str = "qemu-aarch64-static";

struct Platform {
    architecture: &'static str,
    rust_target: &'static str,
    elf_machine: u16,
}

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
        .args(["--profile", PROFILE])
        .args(["--platform", "linux/amd64,linux/arm64"])
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
async fn the_image_is_built_without_an_engine_for_two_platforms_pushed_and_reproducible()
-> TestResult {
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
    let repository = format!("{registry}/capstan-operator");

    let first = build_image(&registry, "first", &[]).await?;
    assert!(
        first.starts_with(&format!("{repository}:first@sha256:")),
        "{first}"
    );

    // The binaries' own times change nothing: only the sources' (SOURCE_DATE_EPOCH) counts.
    for platform in &PLATFORMS {
        let binary = target_dir()
            .join(platform.rust_target)
            .join(PROFILE)
            .join("capstan-operator");
        std::fs::File::options()
            .write(true)
            .open(&binary)?
            .set_modified(std::time::SystemTime::now())?;
    }
    let second = build_image(&registry, "second", &[]).await?;
    assert_eq!(digest_of(&second), digest_of(&first), "{first} vs {second}");

    // Another SOURCE_DATE_EPOCH is another image.
    let commit_time: i64 = git(&["log", "-1", "--format=%ct"]).await?.parse()?;
    let later = (commit_time + 1).to_string();
    let redated = build_image(&registry, "redated", &[("SOURCE_DATE_EPOCH", &later)]).await?;
    assert_ne!(digest_of(&redated), digest_of(&first));

    // The tag names an OCI image index of one image per platform, annotated with its source.
    let index = cluster
        .crane(work.path())
        .args(["manifest", "--insecure", &first])
        .run()
        .await?;
    let index: serde_json::Value = serde_json::from_str(&index.stdout)?;
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let head = git(&["rev-parse", "HEAD"]).await?;
    let revision = index["annotations"]["org.opencontainers.image.revision"]
        .as_str()
        .ok_or("no revision annotation on the index")?
        .to_string();
    assert!(
        revision == head || revision == format!("{head}-dirty"),
        "{revision} vs {head}"
    );
    let manifests = index["manifests"].as_array().ok_or("no manifests")?;
    assert_eq!(manifests.len(), PLATFORMS.len(), "{index}");
    let built = Provenance {
        revision,
        commit_time,
    };
    for (entry, platform) in manifests.iter().zip(&PLATFORMS) {
        assert_eq!(
            entry["mediaType"],
            "application/vnd.oci.image.manifest.v1+json"
        );
        assert_eq!(
            entry["platform"],
            serde_json::json!({"os": "linux", "architecture": platform.architecture}),
            "{index}"
        );
        let digest = entry["digest"].as_str().ok_or("an entry without digest")?;
        let image = format!("{repository}@{digest}");
        check_platform_image(cluster, work.path(), &image, platform, &built).await?;
    }
    Ok(())
}

/// What the test knows of the sources the image was built from.
struct Provenance {
    /// The commit, `-dirty` when the work tree had changes.
    revision: String,
    /// Its time, the image's only time.
    commit_time: i64,
}

/// Reads one platform's image (`repository@digest`) back and checks its manifest, config,
/// files and binary.
async fn check_platform_image(
    cluster: &Cluster,
    work: &Path,
    image: &str,
    platform: &Platform,
    built: &Provenance,
) -> TestResult {
    let crane = |args: &[&str]| cluster.crane(work).args(args);
    // The manifest: an OCI image of one gzip layer, its annotations saying where it comes from.
    let manifest = crane(&["manifest", "--insecure", image]).run().await?;
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
    assert_eq!(
        manifest["annotations"]["org.opencontainers.image.revision"],
        built.revision.as_str()
    );

    // The config: its platform, non-root, the operator as entrypoint, the CA bundle named,
    // labels, and the commit's time as the only time.
    let config = crane(&["config", "--insecure", image]).run().await?;
    let config: serde_json::Value = serde_json::from_str(&config.stdout)?;
    assert_eq!(config["os"], "linux");
    assert_eq!(config["architecture"], platform.architecture);
    let created = k8s_openapi::jiff::Timestamp::from_second(built.commit_time)?.to_string();
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
    assert_eq!(
        labels["org.opencontainers.image.revision"],
        built.revision.as_str()
    );
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
    let layout = work.join(format!("layout-{}", platform.architecture));
    crane(&["pull", "--insecure", "--format=oci", image])
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

    let operator = check_files(&tar, built)?;
    check_binary(&operator, work, platform).await
}

/// The files: exactly these, owned by root, dated from the commit; no shell. Returns the
/// operator binary.
fn check_files(tar: &[u8], built: &Provenance) -> TestResult<Vec<u8>> {
    let (listing, files) = read_tar(tar)?;
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
    let commit_mtime = u64::try_from(built.commit_time)?;
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
    Ok(file("usr/local/bin/capstan-operator"))
}

/// The binary: static, for the platform's CPU, with no path of this machine in it (so a build
/// elsewhere gives the same bytes), and it runs: natively on amd64, under qemu on arm64.
async fn check_binary(operator: &[u8], work: &Path, platform: &Platform) -> TestResult {
    let elf = capstan_image::elf::inspect(operator)?;
    assert_eq!(elf.interpreter, None);
    assert_eq!(elf.architecture, platform.architecture);
    // e_machine, read here rather than through the crate under test.
    let machine = operator
        .get(0x12..0x14)
        .map(|bytes| u16::from_le_bytes([bytes[0], bytes[1]]));
    assert_eq!(machine, Some(platform.elf_machine));
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
    let extracted = work.join(format!("capstan-operator-{}", platform.architecture));
    std::fs::write(&extracted, operator)?;
    std::fs::set_permissions(
        &extracted,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    let run = |arg: &str| match platform.architecture {
        "amd64" => ToolCommand::new(&extracted).arg(arg),
        _ => ToolCommand::new(ARM64_EMULATOR).arg(&extracted).arg(arg),
    };
    let version = run("--version").run().await?;
    assert_eq!(
        version.stdout.trim(),
        format!("capstan-operator {}", env!("CARGO_PKG_VERSION"))
    );
    let crds = run("crds").run().await?;
    let committed = std::fs::read_to_string(repo_root().join("crds/capstan.dev.yaml"))?;
    assert!(
        crds.stdout == committed,
        "`crds` of the {} binary differs from crds/",
        platform.architecture
    );
    Ok(())
}
