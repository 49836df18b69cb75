#!/usr/bin/env bash
# The S3 test peer: Versity's S3 gateway (versitygw, a real S3 server, Apache-2.0) over a POSIX
# directory, built from its Go module. It checks SigV4 signatures (header and presigned) against
# one root account, refuses buckets that were not created, and enforces conditional writes
# (If-Match / If-None-Match: * on PUT, atomically per key).
#
#   peer.sh build                             build once into ~/.cache/capstan/bin/versitygw-VERSION/
#   peer.sh start PORT PIDFILE [LOG]          start on 127.0.0.1:PORT with data beside PIDFILE,
#                                             create the buckets, wait until it answers
#   peer.sh create-bucket ENDPOINT BUCKET     create a bucket with the peer's keys (signed PUT)
#   peer.sh stop PIDFILE                      stop the peer started with that pid file
#
# Keys come from S3_PEER_ACCESS_KEY / S3_PEER_SECRET_KEY (required for start and create-bucket),
# the region from S3_PEER_REGION (default us-east-1), the buckets `start` creates from
# S3_PEER_BUCKETS (default capstan-charts). With S3_PEER_TLS_CERT and S3_PEER_TLS_KEY (PEM files)
# the peer serves HTTPS only; S3_PEER_TLS_CA is then the CA to check it with when creating buckets.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
E2E_DIR="$(cd "$here/../.." && pwd)"
source "$E2E_DIR/lib/common.sh"
source "$E2E_DIR/lib/build.sh"

region="${S3_PEER_REGION:-us-east-1}"
# SHA-256 of an empty body, which S3 wants named on a signed request without one.
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
VERSITYGW_BIN="$BIN_CACHE/versitygw-$VERSITYGW_VERSION"

require_keys() {
	[[ -n ${S3_PEER_ACCESS_KEY:-} && -n ${S3_PEER_SECRET_KEY:-} ]] ||
		die "set S3_PEER_ACCESS_KEY and S3_PEER_SECRET_KEY"
}

# Creates BUCKET at ENDPOINT with a SigV4-signed PUT; the keys go to curl on standard input, never
# on a command line. An existing bucket of ours is fine.
create_bucket() {
	local endpoint=$1 bucket=$2
	require_keys
	local tls=()
	if [[ $endpoint == https://* ]]; then
		[[ -n ${S3_PEER_TLS_CA:-} ]] || die "set S3_PEER_TLS_CA to create buckets over HTTPS"
		tls=(--cacert "$S3_PEER_TLS_CA")
	fi
	local answer
	answer=$(printf 'user = "%s:%s"\n' "$S3_PEER_ACCESS_KEY" "$S3_PEER_SECRET_KEY" |
		curl -sS -K - "${tls[@]}" --max-time 10 --aws-sigv4 "aws:amz:$region:s3" -X PUT \
			-H "x-amz-content-sha256: $EMPTY_SHA256" \
			-w '\n%{http_code}' "$endpoint/$bucket") || die "creating bucket $bucket at $endpoint failed"
	local status=${answer##*$'\n'}
	case $status in
	200) ;;
	409) [[ $answer == *BucketAlreadyOwnedByYou* ]] || die "bucket $bucket: ${answer%$'\n'*}" ;;
	*) die "creating bucket $bucket at $endpoint: HTTP $status ${answer%$'\n'*}" ;;
	esac
}

start() {
	local port=$1 pidfile=$2 log=$3
	require_keys
	build_versitygw
	local binary="$VERSITYGW_BIN/versitygw"
	local data="${pidfile%.pid}.data"
	mkdir -p "$data"
	local scheme=http tls=()
	if [[ -n "${S3_PEER_TLS_CERT:-}${S3_PEER_TLS_KEY:-}" ]]; then
		scheme=https
		tls=(--cert "${S3_PEER_TLS_CERT:-}" --key "${S3_PEER_TLS_KEY:-}")
	fi
	ROOT_ACCESS_KEY_ID="$S3_PEER_ACCESS_KEY" ROOT_SECRET_ACCESS_KEY="$S3_PEER_SECRET_KEY" \
		"$binary" --port "127.0.0.1:$port" --region "$region" --quiet "${tls[@]}" posix "$data" \
		>"$log" 2>&1 </dev/null &
	echo $! >"$pidfile"
	local curl_tls=()
	[[ $scheme == https ]] && curl_tls=(--insecure)
	local tries=0
	# Any HTTP answer (403 for an unsigned request) shows it serves.
	until [[ "$(curl -s "${curl_tls[@]}" --max-time 2 -o /dev/null -w '%{http_code}' \
		"$scheme://127.0.0.1:$port/" 2>/dev/null)" =~ ^[1-5][0-9][0-9]$ ]]; do
		kill -0 "$(cat "$pidfile")" 2>/dev/null || { cat "$log" >&2; die "the S3 peer exited; see $log"; }
		((++tries < 150)) || { kill "$(cat "$pidfile")" 2>/dev/null || true; die "the S3 peer did not answer within 15 s; see $log"; }
		sleep 0.1
	done
	local bucket
	for bucket in ${S3_PEER_BUCKETS-capstan-charts}; do
		create_bucket "$scheme://127.0.0.1:$port" "$bucket"
	done
	echo "listening on 127.0.0.1:$port ($scheme)"
}

case "${1:-}" in
build)
	build_versitygw
	echo "$VERSITYGW_BIN/versitygw"
	;;
start)
	port="${2:?usage: peer.sh start PORT PIDFILE [LOG]}"
	pidfile="${3:?usage: peer.sh start PORT PIDFILE [LOG]}"
	start "$port" "$pidfile" "${4:-${pidfile%.pid}.log}"
	;;
create-bucket) create_bucket "${2:?usage: peer.sh create-bucket ENDPOINT BUCKET}" "${3:?usage: peer.sh create-bucket ENDPOINT BUCKET}" ;;
stop)
	pidfile="${2:?usage: peer.sh stop PIDFILE}"
	[[ -f "$pidfile" ]] && kill "$(cat "$pidfile")" 2>/dev/null || true
	rm -f "$pidfile"
	;;
*)
	sed -n '2,18p' "$0" >&2
	exit 2
	;;
esac
