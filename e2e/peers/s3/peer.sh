#!/usr/bin/env bash
# The S3 test peer: gofakes3 (in memory) behind a SigV4 check, on a loopback port.
#
#   peer.sh build                      build once into ~/.cache/capstan/bin/gofakes3-v1.2.0/, print the path
#   peer.sh start PORT PIDFILE [LOG]   build if needed, start on 127.0.0.1:PORT, wait until it listens
#   peer.sh stop PIDFILE               stop the peer started with that pid file
#
# Keys come from S3_PEER_ACCESS_KEY / S3_PEER_SECRET_KEY (test defaults below); the region
# from S3_PEER_REGION (default us-east-1). With S3_PEER_TLS_CERT and S3_PEER_TLS_KEY (PEM files)
# the peer serves HTTPS instead of HTTP.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin_dir="${HOME}/.cache/capstan/bin/gofakes3-v1.2.0"
binary="${bin_dir}/capstan-s3-peer"

build() {
  if [[ ! -x "$binary" || "$here/main.go" -nt "$binary" || "$here/go.mod" -nt "$binary" ]]; then
    mkdir -p "$bin_dir"
    (cd "$here" && go build -trimpath -o "$binary.tmp" . && mv "$binary.tmp" "$binary") >&2
  fi
  echo "$binary"
}

case "${1:-}" in
  build) build ;;
  start)
    port="${2:?usage: peer.sh start PORT PIDFILE [LOG]}"
    pidfile="${3:?usage: peer.sh start PORT PIDFILE [LOG]}"
    log="${4:-${pidfile%.pid}.log}"
    build >/dev/null
    export S3_PEER_ACCESS_KEY="${S3_PEER_ACCESS_KEY:-capstan-test}"
    export S3_PEER_SECRET_KEY="${S3_PEER_SECRET_KEY:-capstan-test-secret}"
    tls=()
    if [[ -n "${S3_PEER_TLS_CERT:-}${S3_PEER_TLS_KEY:-}" ]]; then
      tls=(-tls-cert "${S3_PEER_TLS_CERT:-}" -tls-key "${S3_PEER_TLS_KEY:-}")
    fi
    "$binary" -addr "127.0.0.1:${port}" -region "${S3_PEER_REGION:-us-east-1}" "${tls[@]}" >"$log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 100); do
      grep -q '^listening on' "$log" 2>/dev/null && exit 0
      kill -0 "$(cat "$pidfile")" 2>/dev/null || { cat "$log" >&2; exit 1; }
      sleep 0.1
    done
    echo "S3 peer did not start listening within 10 s; see $log" >&2
    kill "$(cat "$pidfile")" 2>/dev/null || true
    exit 1
    ;;
  stop)
    pidfile="${2:?usage: peer.sh stop PIDFILE}"
    [[ -f "$pidfile" ]] && kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
    ;;
  *) sed -n '2,10p' "$0" >&2; exit 2 ;;
esac
