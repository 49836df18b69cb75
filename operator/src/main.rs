//! `capstan-operator`: the command line over the `capstan_operator` library, which holds the
//! controllers and the reconcile pipeline.

use capstan_operator::leader::LeaseSettings;
use capstan_operator::logging::JsonLines;
use capstan_operator::settings::{
    DEFAULT_MAX_CONCURRENT_RECONCILES, DEFAULT_MAX_INDEX_BYTES, DEFAULT_RENDER_WORKERS, Settings,
};

use clap::{Parser, Subcommand};

/// Reconciles ChartRepository and ChartDeployment resources (capstan.dev/v1alpha1).
///
/// Runs in a cluster with its ServiceAccount, or outside one with the kubeconfig named by
/// `KUBECONFIG` (or `~/.kube/config`).
#[derive(Debug, Parser)]
#[command(name = "capstan-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the controllers (the default).
    Run {
        /// Watch only this namespace instead of the whole cluster (for namespace-scoped installs
        /// and tests that run one operator per namespace).
        #[arg(long, env = "CAPSTAN_WATCH_NAMESPACE")]
        namespace: Option<String>,
        /// Watch only the ChartDeployments and ChartRepositories whose labels match this
        /// selector, so several operators can share a cluster's resources (sharding). Flux's
        /// convention: shards select `sharding.fluxcd.io/key=<shard>` and one operator takes
        /// the unlabelled ones with `!sharding.fluxcd.io/key`. A deployment and the repository
        /// it names must be in the same shard.
        #[arg(long, env = "CAPSTAN_WATCH_LABEL_SELECTOR", value_name = "SELECTOR")]
        watch_label_selector: Option<String>,
        /// Log as plain text lines or as JSON objects, one a line, with the reconciled
        /// object's namespace, name and kind as fields of their own.
        #[arg(long, env = "CAPSTAN_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
        /// Largest repository index (index.yaml) downloaded, in bytes. A larger one is refused
        /// with the condition reason IndexTooLarge and nothing of it is used.
        #[arg(long, env = "CAPSTAN_MAX_INDEX_BYTES", default_value_t = DEFAULT_MAX_INDEX_BYTES)]
        max_index_bytes: u64,
        /// Serve /metrics (Prometheus), /healthz and /readyz on this address, e.g.
        /// `0.0.0.0:8080` (config/ does). Not served when unset.
        #[arg(long, env = "CAPSTAN_METRICS_BIND_ADDRESS")]
        metrics_bind_address: Option<std::net::SocketAddr>,
        /// Reconciles that may run at once, per controller (ChartDeployments, ChartRepositories).
        #[arg(long, env = "CAPSTAN_MAX_CONCURRENT_RECONCILES", default_value_t = DEFAULT_MAX_CONCURRENT_RECONCILES, value_parser = clap::value_parser!(u16).range(1..=1000))]
        max_concurrent_reconciles: u16,
        /// Charts rendered at once, on threads apart from the ones that talk to the cluster;
        /// more renders wait their turn.
        #[arg(long, env = "CAPSTAN_RENDER_WORKERS", default_value_t = DEFAULT_RENDER_WORKERS, value_parser = clap::value_parser!(u16).range(1..=256))]
        render_workers: u16,
        /// Lockdown: the ServiceAccount (in each deployment's namespace) that deployments
        /// without `serviceAccountName` act as. With it set, nothing is ever applied with the
        /// operator's own identity.
        #[arg(long, env = "CAPSTAN_DEFAULT_SERVICE_ACCOUNT", value_name = "NAME")]
        default_service_account: Option<String>,
        /// Refuse a `targetNamespace` other than the ChartDeployment's own namespace.
        #[arg(long, env = "CAPSTAN_NO_CROSS_NAMESPACE_REFS")]
        no_cross_namespace_refs: bool,
        /// The shortest `spec.interval` honoured (a Go duration); shorter ones are raised to
        /// it, so no resource can keep the operator busy in a tight loop.
        #[arg(long, env = "CAPSTAN_MIN_INTERVAL", default_value = "10s", value_parser = parse_duration)]
        min_interval: std::time::Duration,
        #[command(flatten)]
        election: Election,
    },
    /// Print the CustomResourceDefinitions as YAML (this is how `crds/` is generated).
    Crds,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line, for log collectors.
    Json,
}

/// Leader election: of several operators with the same Lease, one reconciles.
#[derive(Debug, clap::Args)]
struct Election {
    /// Reconcile only while holding a Lease, so that replicas (and the old and new pod of a
    /// rolling update) never reconcile at once; the others wait as standbys.
    #[arg(long, env = "CAPSTAN_LEADER_ELECT")]
    leader_elect: bool,
    /// Namespace of the Lease. Defaults to the operator's own namespace (`POD_NAMESPACE`), else
    /// the one given by `--namespace`.
    #[arg(long, env = "POD_NAMESPACE")]
    lease_namespace: Option<String>,
    /// Name of the Lease; operators that share it elect one leader.
    #[arg(long, env = "CAPSTAN_LEASE_NAME", default_value = "capstan-operator")]
    lease_name: String,
    /// Seconds a leader keeps the Lease without renewing it; a standby takes over this long
    /// after the leader vanished (at once when it shut down cleanly).
    #[arg(long, env = "CAPSTAN_LEASE_DURATION_SECONDS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=3600))]
    lease_duration_seconds: u64,
}

impl Election {
    /// The Lease settings when leader election is on; an error when no namespace is known.
    fn settings(&self, watch_namespace: Option<&str>) -> anyhow::Result<Option<LeaseSettings>> {
        if !self.leader_elect {
            return Ok(None);
        }
        let namespace = self
            .lease_namespace
            .clone()
            .or_else(|| watch_namespace.map(str::to_string))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "--leader-elect needs a namespace for its Lease: set --lease-namespace (or \
                     POD_NAMESPACE, which the Deployment in config/ sets)"
                )
            })?;
        Ok(Some(LeaseSettings {
            namespace,
            name: self.lease_name.clone(),
            identity: identity(),
            lease_duration: std::time::Duration::from_secs(self.lease_duration_seconds),
        }))
    }
}

/// This process in the Lease: the pod's name in a cluster, else host and process id.
fn identity() -> String {
    if let Ok(pod) = std::env::var("POD_NAME")
        && !pod.is_empty()
    {
        return pod;
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|host| host.trim().to_string())
        .unwrap_or_else(|_| "capstan-operator".into());
    format!("{host}_{}", std::process::id())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or_else(|| {
        // `capstan-operator` alone runs with the defaults (and the environment variables).
        Cli::parse_from(["capstan-operator", "run"])
            .command
            .expect("run is a command")
    });
    match command {
        Command::Crds => {
            print!("{}", capstan_api::crd::crds_yaml()?);
            Ok(())
        }
        Command::Run {
            namespace,
            watch_label_selector,
            log_format,
            max_index_bytes,
            metrics_bind_address,
            max_concurrent_reconciles,
            render_workers,
            min_interval,
            default_service_account,
            no_cross_namespace_refs,
            election,
        } => {
            let lease = election.settings(namespace.as_deref())?;
            init_logging(log_format);
            run(Settings {
                watch_namespace: namespace,
                watch_label_selector: watch_label_selector.filter(|selector| !selector.is_empty()),
                max_index_bytes,
                metrics_bind_address,
                lease,
                max_concurrent_reconciles,
                render_workers,
                min_interval,
                default_service_account,
                no_cross_namespace_refs,
            })
        }
    }
}

/// A Go duration flag (`10s`, `1m`).
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    text.parse::<capstan_api::Duration>()
        .map(|duration| duration.get())
        .map_err(|error| format!("{text:?} is not a duration: {error}"))
}

/// Logs to standard output, filtered by `RUST_LOG` (default `info`).
fn init_logging(format: LogFormat) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    match format {
        LogFormat::Text => tracing_subscriber::fmt()
            .with_env_filter(filter)
            // Colours only on a terminal: `kubectl logs` and log files get plain text.
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .init(),
        LogFormat::Json => tracing_subscriber::registry()
            .with(filter)
            .with(JsonLines::new(std::io::stdout))
            .init(),
    }
}

/// Caps glibc's malloc at two arenas. By default it gives threads up to eight per core, and
/// each keeps the memory freed in it: the runtime's workers and the blocking threads that render
/// charts came to hold a third of the operator's resident memory at a thousand deployments
/// (e2e/bench: peak RSS 63.8 MiB against 47.0 MiB with two arenas, in a no-op resync). The
/// static image links musl, whose allocator has no arenas. `MALLOC_ARENA_MAX` still wins.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; it is called before any thread
        // other than main exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

fn run(settings: Settings) -> anyhow::Result<()> {
    limit_malloc_arenas();
    // kube uses rustls with ring; install it as the process default so no other TLS user in
    // the process can pick a different provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let config = kube::Config::infer().await?;
        capstan_operator::operate(config, settings).await
    })
}
