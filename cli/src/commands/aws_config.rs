//! S3 credentials and settings from where AWS tools keep them: the standard environment
//! variables and the shared `credentials` and `config` files, so a pipeline already set up for
//! the AWS CLI needs nothing more.
//!
//! Precedence follows the AWS CLI: an explicitly named profile wins over keys in the environment;
//! otherwise `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (with `AWS_SESSION_TOKEN`) win over the
//! files, where the profile is `AWS_PROFILE` or `default`. Keys may be in either file; the
//! credentials file wins. Only static keys are read: profiles that obtain keys another way (SSO,
//! assumed roles, a credential process) are refused with a way out, not ignored.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// Largest shared config or credentials file read.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Region used when nothing names one, as the AWS tools do for S3.
pub const DEFAULT_REGION: &str = "us-east-1";

/// Keys that mean a profile gets its credentials from somewhere this reader does not go.
const INDIRECT_CREDENTIAL_KEYS: &[&str] = &[
    "credential_process",
    "sso_session",
    "sso_start_url",
    "role_arn",
    "web_identity_token_file",
    "credential_source",
];

/// Static credentials. `Debug` never shows the secret or the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Keys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys")
            .field("access_key_id", &"<redacted>")
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// What the environment and the profile say about reaching S3; flags override each field.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Settings {
    pub keys: Option<Keys>,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    /// From the profile's `s3 = addressing_style = path|virtual`.
    pub path_style: Option<bool>,
    /// Where the keys came from, for messages (never the keys themselves).
    pub keys_source: String,
}

/// Why the AWS settings could not be read.
#[derive(Debug, thiserror::Error)]
pub enum AwsConfigError {
    #[error("cannot read {}: {cause}", path.display())]
    Read { path: PathBuf, cause: String },
    #[error("{}:{line}: {reason}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error(
        "{variable} is set but {missing} is not; set both, or neither to use the shared credentials file"
    )]
    HalfKeys {
        variable: &'static str,
        missing: &'static str,
    },
    #[error(
        "the profile {profile:?} is not in {credentials} or {config}; create it (`aws configure --profile {profile}`) or name another with --s3-profile or AWS_PROFILE"
    )]
    NoProfile {
        profile: String,
        credentials: String,
        config: String,
    },
    #[error(
        "the profile {profile:?} in {} gets its keys through {key}, which capstan does not run; export static keys instead (`aws configure export-credentials --profile {profile} --format env` prints AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN)",
        path.display()
    )]
    IndirectCredentials {
        profile: String,
        path: PathBuf,
        key: String,
    },
    #[error(
        "the profile {profile:?} in {} has {present} but not {missing}",
        path.display()
    )]
    HalfProfileKeys {
        profile: String,
        path: PathBuf,
        present: &'static str,
        missing: &'static str,
    },
}

/// Where to look: the process environment and home directory, replaceable in tests.
pub struct Sources<'a> {
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub home: Option<PathBuf>,
}

impl Sources<'_> {
    fn var(&self, name: &str) -> Option<String> {
        (self.env)(name).filter(|value| !value.is_empty())
    }

    fn file(&self, variable: &str, default: &str) -> Option<PathBuf> {
        self.var(variable)
            .map(PathBuf::from)
            .or_else(|| self.home.as_ref().map(|home| home.join(default)))
    }
}

/// The process's own environment and `$HOME`.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Reads the settings, with `profile` from `--s3-profile` if given.
pub fn resolve(profile: Option<&str>, sources: &Sources<'_>) -> Result<Settings, AwsConfigError> {
    let credentials_path = sources.file("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
    let config_path = sources.file("AWS_CONFIG_FILE", ".aws/config");
    let credentials_file = read_ini(credentials_path.as_deref())?;
    let config_file = read_ini(config_path.as_deref())?;
    let explicit = profile.is_some();
    let profile = profile
        .map(str::to_string)
        .or_else(|| sources.var("AWS_PROFILE"))
        .unwrap_or_else(|| "default".into());
    let from_credentials = credentials_file.get(&profile);
    let config_section = if profile == "default" {
        "default".to_string()
    } else {
        format!("profile {profile}")
    };
    let from_config = config_file
        .get(&config_section)
        .or_else(|| config_file.get(&profile));
    if explicit && from_credentials.is_none() && from_config.is_none() {
        return Err(AwsConfigError::NoProfile {
            profile,
            credentials: shown(credentials_path.as_deref()),
            config: shown(config_path.as_deref()),
        });
    }
    let config_value = |key: &str| from_config.and_then(|section| section.get(key)).cloned();

    let env_keys = if explicit { None } else { env_keys(sources)? };
    let (keys, keys_source) = match env_keys {
        Some(keys) => (
            Some(keys),
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY".to_string(),
        ),
        None => {
            let mut found = None;
            for (section, path) in [
                (from_credentials, credentials_path.as_deref()),
                (from_config, config_path.as_deref()),
            ] {
                if let (Some(section), Some(path)) = (section, path)
                    && let Some(keys) = profile_keys(&profile, section, path)?
                {
                    found = Some((
                        Some(keys),
                        format!("the profile {profile:?} in {}", path.display()),
                    ));
                    break;
                }
            }
            found.unwrap_or((None, String::new()))
        }
    };
    let region = sources
        .var("AWS_REGION")
        .or_else(|| sources.var("AWS_DEFAULT_REGION"))
        .or_else(|| config_value("region"));
    let endpoint = sources
        .var("AWS_ENDPOINT_URL_S3")
        .or_else(|| sources.var("AWS_ENDPOINT_URL"))
        .or_else(|| config_value("s3.endpoint_url"))
        .or_else(|| config_value("endpoint_url"));
    let path_style = match config_value("s3.addressing_style").as_deref() {
        Some("path") => Some(true),
        Some("virtual") => Some(false),
        _ => None,
    };
    Ok(Settings {
        keys,
        region,
        endpoint,
        path_style,
        keys_source,
    })
}

fn shown(path: Option<&Path>) -> String {
    path.map_or_else(
        || "~/.aws (no home directory)".into(),
        |p| p.display().to_string(),
    )
}

/// Keys from `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`, when both are set.
fn env_keys(sources: &Sources<'_>) -> Result<Option<Keys>, AwsConfigError> {
    match (
        sources.var("AWS_ACCESS_KEY_ID"),
        sources.var("AWS_SECRET_ACCESS_KEY"),
    ) {
        (Some(access_key_id), Some(secret_access_key)) => Ok(Some(Keys {
            access_key_id,
            secret_access_key,
            session_token: sources.var("AWS_SESSION_TOKEN"),
        })),
        (Some(_), None) => Err(AwsConfigError::HalfKeys {
            variable: "AWS_ACCESS_KEY_ID",
            missing: "AWS_SECRET_ACCESS_KEY",
        }),
        (None, Some(_)) => Err(AwsConfigError::HalfKeys {
            variable: "AWS_SECRET_ACCESS_KEY",
            missing: "AWS_ACCESS_KEY_ID",
        }),
        (None, None) => Ok(None),
    }
}

/// Static keys of a profile section, `None` when it has none.
fn profile_keys(
    profile: &str,
    section: &BTreeMap<String, String>,
    path: &Path,
) -> Result<Option<Keys>, AwsConfigError> {
    let access = section.get("aws_access_key_id").filter(|v| !v.is_empty());
    let secret = section
        .get("aws_secret_access_key")
        .filter(|v| !v.is_empty());
    let half = |present, missing| AwsConfigError::HalfProfileKeys {
        profile: profile.into(),
        path: path.to_path_buf(),
        present,
        missing,
    };
    match (access, secret) {
        (Some(access), Some(secret)) => Ok(Some(Keys {
            access_key_id: access.clone(),
            secret_access_key: secret.clone(),
            session_token: section
                .get("aws_session_token")
                .filter(|v| !v.is_empty())
                .cloned(),
        })),
        (Some(_), None) => Err(half("aws_access_key_id", "aws_secret_access_key")),
        (None, Some(_)) => Err(half("aws_secret_access_key", "aws_access_key_id")),
        (None, None) => match INDIRECT_CREDENTIAL_KEYS
            .iter()
            .find(|key| section.contains_key(**key))
        {
            Some(key) => Err(AwsConfigError::IndirectCredentials {
                profile: profile.into(),
                path: path.to_path_buf(),
                key: (*key).into(),
            }),
            None => Ok(None),
        },
    }
}

type Ini = BTreeMap<String, BTreeMap<String, String>>;

/// Reads an AWS-style INI file (`[section]`, `key = value`, `#`/`;` comments, and indented
/// `sub = value` lines under a `key =` with no value, stored as `key.sub`). A missing file is
/// empty.
fn read_ini(path: Option<&Path>) -> Result<Ini, AwsConfigError> {
    let Some(path) = path else {
        return Ok(Ini::new());
    };
    let read_error = |cause: String| AwsConfigError::Read {
        path: path.to_path_buf(),
        cause,
    };
    let size = match std::fs::metadata(path) {
        Ok(metadata) => metadata.len(),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Ini::new()),
        Err(error) => return Err(read_error(error.to_string())),
    };
    if size > MAX_FILE_BYTES {
        return Err(read_error(format!(
            "{size} bytes is more than the {MAX_FILE_BYTES} a config file may have"
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| read_error(e.to_string()))?;
    parse_ini(&text, path)
}

fn parse_ini(text: &str, path: &Path) -> Result<Ini, AwsConfigError> {
    let mut ini = Ini::new();
    let mut section: Option<String> = None;
    let mut parent: Option<String> = None;
    for (number, raw) in text.lines().enumerate() {
        let syntax = |reason: &str| AwsConfigError::Syntax {
            path: path.to_path_buf(),
            line: number + 1,
            reason: reason.into(),
        };
        let line = raw.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[') {
            let name = name
                .strip_suffix(']')
                .ok_or_else(|| syntax("a section header must end with `]`"))?;
            let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
            ini.entry(name.clone()).or_default();
            section = Some(name);
            parent = None;
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| syntax("expected `key = value`"))?;
        let (key, value) = (key.trim().to_ascii_lowercase(), value.trim().to_string());
        let name = section
            .as_ref()
            .ok_or_else(|| syntax("a setting before the first [section]"))?;
        let indented = raw.starts_with([' ', '\t']);
        let full_key = match (&parent, indented) {
            (Some(parent), true) => format!("{parent}.{key}"),
            _ => {
                parent = value.is_empty().then(|| key.clone());
                key
            }
        };
        ini.entry(name.clone()).or_default().insert(full_key, value);
    }
    Ok(ini)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn resolve_with(
        variables: &[(&str, &str)],
        files: &[(&str, &str)],
        profile: Option<&str>,
    ) -> Result<Settings, AwsConfigError> {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join(".aws")).unwrap();
        for (name, text) in files {
            std::fs::write(home.path().join(".aws").join(name), text).unwrap();
        }
        let variables: HashMap<String, String> = variables
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = move |name: &str| variables.get(name).cloned();
        resolve(
            profile,
            &Sources {
                env: &env,
                home: Some(home.path().to_path_buf()),
            },
        )
    }

    const CREDENTIALS: &str = "[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = default-secret\n\n[ci]\n# the release pipeline\naws_access_key_id=AKCI\naws_secret_access_key=ci-secret\naws_session_token = ci-token\n";
    const CONFIG: &str = "[default]\nregion = eu-west-1\n\n[profile ci]\nregion = eu-central-1\ns3 =\n  addressing_style = path\n  endpoint_url = http://127.0.0.1:9000\n\n[profile sso]\nsso_session = corp\n";

    #[test]
    fn environment_keys_win_over_the_default_profile() {
        let settings = resolve_with(
            &[
                ("AWS_ACCESS_KEY_ID", "AKENV"),
                ("AWS_SECRET_ACCESS_KEY", "env-secret"),
                ("AWS_SESSION_TOKEN", "env-token"),
                ("AWS_DEFAULT_REGION", "ap-south-1"),
                ("AWS_ENDPOINT_URL", "https://storage.googleapis.com"),
            ],
            &[("credentials", CREDENTIALS), ("config", CONFIG)],
            None,
        )
        .unwrap();
        let keys = settings.keys.unwrap();
        assert_eq!(keys.access_key_id, "AKENV");
        assert_eq!(keys.session_token.as_deref(), Some("env-token"));
        assert_eq!(settings.region.as_deref(), Some("ap-south-1"));
        assert_eq!(
            settings.endpoint.as_deref(),
            Some("https://storage.googleapis.com")
        );
        assert!(!format!("{keys:?}").contains("env-secret"));
    }

    #[test]
    fn profiles_come_from_the_flag_or_aws_profile_and_read_both_files() {
        // Named on the command line: the profile wins over keys in the environment.
        let settings = resolve_with(
            &[
                ("AWS_ACCESS_KEY_ID", "AKENV"),
                ("AWS_SECRET_ACCESS_KEY", "env-secret"),
            ],
            &[("credentials", CREDENTIALS), ("config", CONFIG)],
            Some("ci"),
        )
        .unwrap();
        let keys = settings.keys.unwrap();
        assert_eq!(
            (keys.access_key_id.as_str(), keys.session_token.as_deref()),
            ("AKCI", Some("ci-token"))
        );
        assert_eq!(settings.region.as_deref(), Some("eu-central-1"));
        assert_eq!(settings.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(settings.path_style, Some(true));
        assert!(
            settings.keys_source.contains("\"ci\""),
            "{}",
            settings.keys_source
        );

        let settings = resolve_with(
            &[("AWS_PROFILE", "ci"), ("AWS_REGION", "us-west-2")],
            &[("credentials", CREDENTIALS), ("config", CONFIG)],
            None,
        )
        .unwrap();
        assert_eq!(settings.keys.unwrap().access_key_id, "AKCI");
        assert_eq!(settings.region.as_deref(), Some("us-west-2"));

        let settings = resolve_with(
            &[],
            &[("credentials", CREDENTIALS), ("config", CONFIG)],
            None,
        )
        .unwrap();
        assert_eq!(settings.keys.unwrap().access_key_id, "AKDEFAULT");
        assert_eq!(settings.region.as_deref(), Some("eu-west-1"));

        // Keys in the config file alone are read too.
        let settings = resolve_with(
            &[],
            &[(
                "config",
                "[profile only]\naws_access_key_id = AKCONF\naws_secret_access_key = s\n",
            )],
            Some("only"),
        )
        .unwrap();
        assert_eq!(settings.keys.unwrap().access_key_id, "AKCONF");
    }

    #[test]
    fn missing_half_and_indirect_credentials_are_explained() {
        let settings = resolve_with(&[], &[], None).unwrap();
        assert_eq!(settings.keys, None);
        let error = resolve_with(&[], &[("config", CONFIG)], Some("nope")).unwrap_err();
        assert!(error.to_string().contains("--s3-profile"), "{error}");
        let error = resolve_with(&[("AWS_ACCESS_KEY_ID", "AK")], &[], None).unwrap_err();
        assert!(
            error.to_string().contains("AWS_SECRET_ACCESS_KEY"),
            "{error}"
        );
        let error = resolve_with(&[], &[("config", CONFIG)], Some("sso")).unwrap_err();
        assert!(error.to_string().contains("export-credentials"), "{error}");
        let error = resolve_with(
            &[],
            &[("credentials", "[default]\naws_access_key_id = AK\n")],
            None,
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("not aws_secret_access_key"),
            "{error}"
        );
        let error = resolve_with(&[], &[("credentials", "key = value\n")], None).unwrap_err();
        assert!(error.to_string().contains("credentials:1"), "{error}");
    }
}
