//! Reading a repository index from a URL or a local file, shared by `search` and `pull`.

use anyhow::Context;
use capstan_chart::index::{IndexFile, join_url};
use capstan_sources::http::{Credentials, HttpClient, HttpOptions, redact_url};
use clap::Args;
use std::io::Read;
use std::path::PathBuf;

/// The largest repository index downloaded: public indexes of thousands of charts run to tens of
/// MiB, far more than the chart archives the client's default limit is made for.
const MAX_INDEX_BYTES: u64 = 100 * 1024 * 1024;

/// Connection flags for repositories served over HTTP(S) and for OCI registries.
#[derive(Debug, Args)]
pub struct RepoConnectionArgs {
    /// User name for the repository or registry (the password is read from standard input).
    #[arg(long, value_name = "NAME", requires = "password_stdin")]
    pub username: Option<String>,
    /// Read the password from standard input.
    #[arg(long, requires = "username")]
    pub password_stdin: bool,
    /// Verify the server with this PEM CA bundle (in addition to the system roots).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Skip TLS certificate checks. Only for test servers.
    #[arg(long)]
    pub insecure_skip_tls_verify: bool,
}

impl RepoConnectionArgs {
    pub fn client(&self) -> anyhow::Result<HttpClient> {
        let mut options = HttpOptions {
            insecure_skip_tls_verify: self.insecure_skip_tls_verify,
            ..HttpOptions::default()
        };
        options.ca_pem = self.ca_pem()?;
        if let Some((username, password)) = self.credentials()? {
            options.credentials = Some(Credentials::Basic { username, password });
        }
        Ok(HttpClient::new(options)?)
    }

    /// The user name and the password read from standard input, when `--username` is given.
    pub fn credentials(&self) -> anyhow::Result<Option<(String, String)>> {
        let Some(username) = &self.username else {
            return Ok(None);
        };
        let mut password = String::new();
        std::io::stdin()
            .take(64 * 1024)
            .read_to_string(&mut password)
            .context("cannot read the password from standard input")?;
        Ok(Some((
            username.clone(),
            password.trim_end_matches(['\r', '\n']).to_string(),
        )))
    }

    /// The PEM CA bundle of `--ca-file`, read.
    pub fn ca_pem(&self) -> anyhow::Result<Option<Vec<u8>>> {
        self.ca_file
            .as_ref()
            .map(|ca_file| {
                std::fs::read(ca_file)
                    .with_context(|| format!("cannot read CA file {}", ca_file.display()))
            })
            .transpose()
    }
}

/// Whether `source` names a repository over HTTP rather than a local file.
pub fn is_url(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

/// Loads an index from a repository base URL (fetching `index.yaml` under it), or from a local
/// file or directory (reading `DIR/index.yaml`). Skipped entries are reported on stderr.
pub async fn load_index(source: &str, client: Option<&HttpClient>) -> anyhow::Result<IndexFile> {
    let (bytes, name) = if is_url(source) {
        let client = client.context("no HTTP client for a repository URL")?;
        let url = join_url(source, "index.yaml");
        (
            client.get_limited(&url, MAX_INDEX_BYTES).await?,
            redact_url(&url),
        )
    } else {
        let mut path = PathBuf::from(source);
        if path.is_dir() {
            path.push("index.yaml");
        }
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        (bytes, path.display().to_string())
    };
    let loaded = IndexFile::parse(&bytes, &name)?;
    for warning in &loaded.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(loaded.index)
}

/// A current-thread runtime for one command's downloads.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
