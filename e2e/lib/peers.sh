# Test peers: OCI registries and chart repository servers (plain, basic auth, TLS), an S3 server, plus the paths of the
# Helm, crane and GnuPG command-line tools. Requires common.sh, pki.sh and processes.sh.

REGISTRY_BIN="$BIN_CACHE/registry-$REGISTRY_VERSION"
CRANE_BIN="$BIN_CACHE/crane-$CRANE_VERSION"
HELM_BIN="$BIN_CACHE/helm-$HELM_VERSION"
VERSITYGW_BIN="$BIN_CACHE/versitygw-$VERSITYGW_VERSION"
S3_PEER="$E2E_DIR/peers/s3/peer.sh"
CHARTS_SERVER="$E2E_DIR/peers/charts_server.py"
PEER_USER=capstan-e2e
CREDENTIALS="$STATE/peers/credentials"

# One random password per `up`, shared by the authenticated registry and chart server; it lives only in
# the state directory (mode 600) and in the env file, never on a command line.
ensure_credentials() {
	mkdir -p "$STATE/peers"
	[[ -s $CREDENTIALS ]] && return 0
	command -v htpasswd >/dev/null || die "htpasswd is missing; install it (apt-get install apache2-utils)"
	local password
	password=$(openssl rand -hex 16)
	(umask 077 && printf '%s:%s\n' "$PEER_USER" "$password" >"$CREDENTIALS")
	printf '%s' "$password" | htpasswd -iBc "$STATE/peers/htpasswd" "$PEER_USER" 2>/dev/null ||
		die "htpasswd could not write $STATE/peers/htpasswd"
}

peer_password() {
	cut -d: -f2- "$CREDENTIALS"
}

# The S3 server's keys: one access key and one random secret key per `up`, kept like the password.
S3_ACCESS_KEY=capstan-e2e
S3_REGION=us-east-1
# The bucket `up` creates; tests create buckets of their own with the same keys.
S3_BUCKET=capstan-charts
S3_CREDENTIALS="$STATE/peers/s3-secret-key"

ensure_s3_secret_key() {
	mkdir -p "$STATE/peers"
	[[ -s $S3_CREDENTIALS ]] && return 0
	(umask 077 && openssl rand -hex 20 >"$S3_CREDENTIALS")
}

# The S3 server: versitygw (a real S3 server: SigV4, buckets that must exist, conditional writes)
# over a directory. Its root keys reach it through the environment, never a command line.
start_s3() {
	ensure_s3_secret_key
	local secret
	secret=$(cat "$S3_CREDENTIALS")
	mkdir -p "$STATE/peers/s3"
	(
		export ROOT_ACCESS_KEY_ID=$S3_ACCESS_KEY ROOT_SECRET_ACCESS_KEY=$secret
		start_process s3 "$VERSITYGW_BIN/versitygw" --port "$HOST:$S3_PORT" --region "$S3_REGION" \
			--quiet posix "$STATE/peers/s3"
	)
	# An unsigned request is answered 403: any HTTP status shows it serves.
	wait_until 30 s3 curl -s --max-time 2 -o /dev/null "http://$HOST:$S3_PORT/"
	S3_PEER_ACCESS_KEY=$S3_ACCESS_KEY S3_PEER_SECRET_KEY=$secret S3_PEER_REGION=$S3_REGION \
		"$S3_PEER" create-bucket "http://$HOST:$S3_PORT" "$S3_BUCKET" >/dev/null
}

# Arguments: name, port, "auth" or "", "tls" or "".
start_registry() {
	local name=$1 port=$2 auth=$3 tls=$4
	local dir="$STATE/peers/$name"
	mkdir -p "$dir/storage"
	{
		echo "version: 0.1"
		echo "log: {level: warn, accesslog: {disabled: true}}"
		echo "storage:"
		echo "  filesystem: {rootdirectory: $dir/storage}"
		echo "  delete: {enabled: true}"
		echo "  maintenance: {uploadpurging: {enabled: false}}"
		echo "http:"
		echo "  addr: $HOST:$port"
		echo "  secret: $(openssl rand -hex 16)"
		[[ $tls == tls ]] && echo "  tls: {certificate: $PKI/peers.crt, key: $PKI/peers.key}"
		[[ $auth == auth ]] && echo "auth: {htpasswd: {realm: capstan-e2e, path: $STATE/peers/htpasswd}}"
	} >"$dir/config.yml"
	chmod 600 "$dir/config.yml"
	# Tracing export is off: nothing listens for it here.
	OTEL_TRACES_EXPORTER=none OTEL_SDK_DISABLED=true start_process "$name" "$REGISTRY_BIN/registry" \
		serve "$dir/config.yml"
	local scheme=http
	[[ $tls == tls ]] && scheme=https
	# /v2/ answers 200, or 401 when auth is on: either shows the registry is serving.
	wait_until 30 "$name" curl -s --max-time 2 --cacert "$PKI/ca.crt" -o /dev/null \
		-w '%{http_code}' "$scheme://$HOST:$port/v2/"
}

# Arguments: name, port, "auth" or "", "tls" or "".
start_charts_server() {
	local name=$1 port=$2 auth=$3 tls=$4
	local args=(--root "$STATE/charts" --bind "$HOST" --port "$port")
	[[ $auth == auth ]] && args+=(--credentials-file "$CREDENTIALS")
	[[ $tls == tls ]] && args+=(--tls-cert "$PKI/peers.crt" --tls-key "$PKI/peers.key")
	mkdir -p "$STATE/charts"
	start_process "$name" "$PYTHON" "$CHARTS_SERVER" "${args[@]}"
	local scheme=http
	[[ $tls == tls ]] && scheme=https
	wait_until 30 "$name" curl -s --max-time 2 --cacert "$PKI/ca.crt" -o /dev/null "$scheme://$HOST:$port/"
}

start_peers() {
	command -v python3 >/dev/null || die "python3 is missing; install it (apt-get install python3)"
	# The interpreter itself rather than a version-manager shim that may re-exec it.
	PYTHON=$(python3 -c 'import sys; print(sys.executable)')
	ensure_credentials
	start_registry registry "$REGISTRY_PORT" "" ""
	start_registry registry-auth "$REGISTRY_AUTH_PORT" auth ""
	start_registry registry-tls "$REGISTRY_TLS_PORT" "" tls
	start_charts_server charts "$CHARTS_PORT" "" ""
	start_charts_server charts-auth "$CHARTS_AUTH_PORT" auth ""
	start_charts_server charts-tls "$CHARTS_TLS_PORT" "" tls
	start_s3
}

stop_peers() {
	local name
	for name in s3 charts-tls charts-auth charts registry-tls registry-auth registry; do
		stop_process "$name"
	done
}

# Writes $ENV_FILE: everything tests need to find the cluster and the peers, as shell exports.
write_env_file() {
	local password gpg
	password=$(peer_password)
	gpg=$(command -v gpg || true)
	(
		umask 077
		cat >"$ENV_FILE.tmp" <<ENV
export KUBECONFIG='$KUBECONFIG_ADMIN'
export CAPSTAN_E2E_DIR='$STATE'
export CAPSTAN_E2E_KUBECONFIG='$KUBECONFIG_ADMIN'
export CAPSTAN_E2E_APISERVER='https://$HOST:$APISERVER_PORT'
export CAPSTAN_E2E_ETCD='http://$HOST:$ETCD_PORT'
export CAPSTAN_E2E_K8S_VERSION='$K8S_VERSION'
export CAPSTAN_E2E_AUDIT_LOG='$AUDIT_LOG'
export CAPSTAN_E2E_MEASURED_KUBECONFIG='$KUBECONFIG_MEASURED'
export CAPSTAN_E2E_CA='$PKI/ca.crt'
export CAPSTAN_E2E_KUBECTL='$K8S_BIN/kubectl'
export CAPSTAN_E2E_HELM='$HELM_BIN/helm'
export CAPSTAN_E2E_HELM_VERSION='$HELM_VERSION'
export CAPSTAN_E2E_CRANE='$CRANE_BIN/crane'
export CAPSTAN_E2E_GPG='$gpg'
export CAPSTAN_E2E_REGISTRY='$HOST:$REGISTRY_PORT'
export CAPSTAN_E2E_REGISTRY_AUTH='$HOST:$REGISTRY_AUTH_PORT'
export CAPSTAN_E2E_REGISTRY_TLS='$HOST:$REGISTRY_TLS_PORT'
export CAPSTAN_E2E_CHARTS='http://$HOST:$CHARTS_PORT'
export CAPSTAN_E2E_CHARTS_AUTH='http://$HOST:$CHARTS_AUTH_PORT'
export CAPSTAN_E2E_CHARTS_TLS='https://$HOST:$CHARTS_TLS_PORT'
export CAPSTAN_E2E_CHARTS_DIR='$STATE/charts'
export CAPSTAN_E2E_USERNAME='$PEER_USER'
export CAPSTAN_E2E_PASSWORD='$password'
export CAPSTAN_E2E_S3_ENDPOINT='http://$HOST:$S3_PORT'
export CAPSTAN_E2E_S3_REGION='$S3_REGION'
export CAPSTAN_E2E_S3_BUCKET='$S3_BUCKET'
export CAPSTAN_E2E_S3_ACCESS_KEY='$S3_ACCESS_KEY'
export CAPSTAN_E2E_S3_SECRET_KEY='$(cat "$S3_CREDENTIALS")'
ENV
	)
	mv "$ENV_FILE.tmp" "$ENV_FILE"
}
