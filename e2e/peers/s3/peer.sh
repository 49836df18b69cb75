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
#   peer.sh public-read ENDPOINT BUCKET       let anyone read the bucket's objects unsigned
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

# Builds versitygw unless cached, one build at a time: tests running in parallel each start a peer,
# and on a cold cache they would otherwise all build into the same staging directory.
build_once() {
	mkdir -p "$BIN_CACHE"
	(
		flock -w 900 8 || die "timed out waiting for another build of versitygw ($BIN_CACHE/versitygw.lock)"
		build_versitygw
	) 8>"$BIN_CACHE/versitygw.lock"
}

require_keys() {
	[[ -n ${S3_PEER_ACCESS_KEY:-} && -n ${S3_PEER_SECRET_KEY:-} ]] ||
		die "set S3_PEER_ACCESS_KEY and S3_PEER_SECRET_KEY"
}

# A SigV4-signed PUT of BODY (may be empty) to URL; prints the answer's body, a newline and its
# status. The keys go to curl on standard input, never on a command line.
signed_put() {
	local url=$1 body=$2
	require_keys
	local tls=()
	if [[ $url == https://* ]]; then
		[[ -n ${S3_PEER_TLS_CA:-} ]] || die "set S3_PEER_TLS_CA to talk to the peer over HTTPS"
		tls=(--cacert "$S3_PEER_TLS_CA")
	fi
	local sha
	sha=$(printf '%s' "$body" | sha256sum | cut -d' ' -f1)
	printf 'user = "%s:%s"\n' "$S3_PEER_ACCESS_KEY" "$S3_PEER_SECRET_KEY" |
		curl -sS -K - "${tls[@]}" --max-time 10 --aws-sigv4 "aws:amz:$region:s3" -X PUT \
			-H "x-amz-content-sha256: $sha" -H "Content-Type: application/json" \
			--data-binary "$body" -w '\n%{http_code}' "$url"
}

# Creates BUCKET at ENDPOINT. An existing bucket of ours is fine.
create_bucket() {
	local endpoint=$1 bucket=$2
	local answer
	answer=$(signed_put "$endpoint/$bucket" "") || die "creating bucket $bucket at $endpoint failed"
	local status=${answer##*$'\n'}
	case $status in
	200) ;;
	409) [[ $answer == *BucketAlreadyOwnedByYou* ]] || die "bucket $bucket: ${answer%$'\n'*}" ;;
	*) die "creating bucket $bucket at $endpoint: HTTP $status ${answer%$'\n'*}" ;;
	esac
}

# Lets anyone read BUCKET's objects without signing (a bucket policy granting s3:GetObject to "*"),
# as a repository published over plain HTTP(S) is read by Helm. Listing and writing stay signed.
allow_anonymous_reads() {
	local endpoint=$1 bucket=$2
	local policy answer
	policy=$(printf '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::%s/*"]}]}' "$bucket")
	# `policy=` rather than `policy`: the form curl and the server canonicalise alike when signing.
	answer=$(signed_put "$endpoint/$bucket?policy=" "$policy") ||
		die "setting the policy of bucket $bucket at $endpoint failed"
	local status=${answer##*$'\n'}
	[[ $status == 20[04] ]] || die "setting the policy of bucket $bucket at $endpoint: HTTP $status ${answer%$'\n'*}"
}

start() {
	local port=$1 pidfile=$2 log=$3
	require_keys
	build_once
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
	build_once
	echo "$VERSITYGW_BIN/versitygw"
	;;
start)
	port="${2:?usage: peer.sh start PORT PIDFILE [LOG]}"
	pidfile="${3:?usage: peer.sh start PORT PIDFILE [LOG]}"
	start "$port" "$pidfile" "${4:-${pidfile%.pid}.log}"
	;;
create-bucket) create_bucket "${2:?usage: peer.sh create-bucket ENDPOINT BUCKET}" "${3:?usage: peer.sh create-bucket ENDPOINT BUCKET}" ;;
public-read) allow_anonymous_reads "${2:?usage: peer.sh public-read ENDPOINT BUCKET}" "${3:?usage: peer.sh public-read ENDPOINT BUCKET}" ;;
stop)
	pidfile="${2:?usage: peer.sh stop PIDFILE}"
	[[ -f "$pidfile" ]] && kill "$(cat "$pidfile")" 2>/dev/null || true
	rm -f "$pidfile"
	;;
*)
	sed -n '2,19p' "$0" >&2
	exit 2
	;;
esac
