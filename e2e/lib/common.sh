# Shared settings for the local control plane and test peers: versions, cache and state paths, ports.
# Sourced by e2e/cluster and testdata/helm/generate; every value can be overridden from the environment.

# Versions. Binaries are cached per tool and version, so changing one rebuilds only that tool.
K8S_VERSION="${CAPSTAN_K8S_VERSION:-v1.36.3}"
ETCD_VERSION="${CAPSTAN_ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${CAPSTAN_KWOK_VERSION:-v0.8.0}"
HELM_MODULE="${CAPSTAN_HELM_MODULE:-helm.sh/helm/v3}"
HELM_VERSION="${CAPSTAN_HELM_VERSION:-v3.22.0}"
REGISTRY_MODULE="${CAPSTAN_REGISTRY_MODULE:-github.com/distribution/distribution/v3}"
REGISTRY_VERSION="${CAPSTAN_REGISTRY_VERSION:-v3.1.2}"
CRANE_VERSION="${CAPSTAN_CRANE_VERSION:-v0.22.1}"
# The S3 peer: Versity's S3 gateway, a real S3 server with conditional writes (Apache-2.0).
VERSITYGW_VERSION="${CAPSTAN_VERSITYGW_VERSION:-v1.8.0}"

# Caches live outside the clone so a fresh clone on the same machine starts warm.
CAPSTAN_CACHE="${CAPSTAN_CACHE:-$HOME/.cache/capstan}"
BIN_CACHE="${CAPSTAN_BIN_CACHE:-$CAPSTAN_CACHE/bin}"
BUILD_CACHE="${CAPSTAN_BUILD_CACHE:-$CAPSTAN_CACHE/build}"

# Runtime state (certificates, data, logs, pids, env file); `down` removes it entirely.
STATE="${CAPSTAN_E2E_DIR:-/tmp/capstan-e2e}"
ENV_FILE="$STATE/env"

# Fixed loopback ports, chosen away from common defaults so they do not collide with other local services.
HOST=127.0.0.1
ETCD_PORT="${CAPSTAN_E2E_ETCD_PORT:-23790}"
ETCD_PEER_PORT="${CAPSTAN_E2E_ETCD_PEER_PORT:-23800}"
APISERVER_PORT="${CAPSTAN_E2E_APISERVER_PORT:-26443}"
CONTROLLER_MANAGER_PORT="${CAPSTAN_E2E_CONTROLLER_MANAGER_PORT:-26257}"
SCHEDULER_PORT="${CAPSTAN_E2E_SCHEDULER_PORT:-26259}"
KWOK_PORT="${CAPSTAN_E2E_KWOK_PORT:-26280}"
REGISTRY_PORT="${CAPSTAN_E2E_REGISTRY_PORT:-25000}"
REGISTRY_AUTH_PORT="${CAPSTAN_E2E_REGISTRY_AUTH_PORT:-25001}"
REGISTRY_TLS_PORT="${CAPSTAN_E2E_REGISTRY_TLS_PORT:-25002}"
CHARTS_PORT="${CAPSTAN_E2E_CHARTS_PORT:-25080}"
CHARTS_AUTH_PORT="${CAPSTAN_E2E_CHARTS_AUTH_PORT:-25081}"
CHARTS_TLS_PORT="${CAPSTAN_E2E_CHARTS_TLS_PORT:-25443}"
S3_PORT="${CAPSTAN_E2E_S3_PORT:-25090}"

# Room for workloads. The defaults suit the tests (one fake node of 110 pods, 254 Services); a
# benchmark of thousands of deployments raises them at `up`, or adds room to a running cluster
# (e2e/bench does: more fake nodes and a second Service range). The range must keep 10.0.0.1 as its
# first address (the API server's certificate names it), e.g. 10.0.0.0/16.
SERVICE_CIDR="${CAPSTAN_E2E_SERVICE_CIDR:-10.0.0.0/24}"
FAKE_NODES="${CAPSTAN_E2E_FAKE_NODES:-1}"
NODE_PODS="${CAPSTAN_E2E_NODE_PODS:-110}"
# The request rate of the cluster's own controllers (see controllers_rate_flags); empty: theirs.
CONTROLLERS_QPS="${CAPSTAN_E2E_CONTROLLERS_QPS:-}"

# Go: build with the toolchain on the machine unless a module needs a newer one (set per build).
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

log() { printf '[cluster] %s\n' "$*" >&2; }
die() {
	printf '[cluster] error: %s\n' "$*" >&2
	exit 1
}
