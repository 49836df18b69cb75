# Starts etcd, the Kubernetes control plane and KWOK with one fake node, all on 127.0.0.1.
# Requires common.sh, pki.sh and processes.sh.

K8S_BIN="$BIN_CACHE/kubernetes-$K8S_VERSION"
ETCD_BIN="$BIN_CACHE/etcd-$ETCD_VERSION"
KWOK_BIN="$BIN_CACHE/kwok-$KWOK_VERSION"
KUBECONFIG_ADMIN="$STATE/kubeconfig"
# A client whose every request the audit log records (see audit_policy), for measuring one process.
KUBECONFIG_MEASURED="$STATE/measured.kubeconfig"
AUDIT_LOG="$STATE/apiserver/audit.log"

# The API server's audit log records, at Metadata level (who, what, when: never bodies), every write
# to capstan.dev, core, apps and event objects by anyone but the control plane's own components, so
# tests can show that a reconcile that changes nothing sends no write request; and reads of single
# ConfigMaps, so they can show that a deployment reading its values from one was not reconciled.
# Every request of the measured client (KUBECONFIG_MEASURED), reads and watches included, so a
# benchmark can count a process's requests by verb; no test or component uses that identity.
audit_policy() {
	cat <<'YAML'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    users: [capstan-e2e-measured]
  - level: None
    users: [system:kube-controller-manager, system:kube-scheduler, capstan-e2e-kwok]
  - level: None
    userGroups: [system:serviceaccounts:kube-system, system:nodes]
  - level: Metadata
    verbs: [create, update, patch, delete, deletecollection]
    resources:
      - group: capstan.dev
      - group: ""
      - group: apps
      - group: events.k8s.io
      - group: apiextensions.k8s.io
      - group: rbac.authorization.k8s.io
  - level: Metadata
    verbs: [get]
    resources:
      - group: ""
        resources: [configmaps]
  - level: None
YAML
}

# The controllers the tests rely on: workloads, ServiceAccounts and their tokens, garbage collection,
# namespace deletion, RBAC aggregation, and node lifecycle, which lifts the not-ready taint the API
# server puts on every new node once KWOK reports it Ready. Taint-based eviction stays off.
CONTROLLERS=(
	serviceaccount-controller serviceaccount-token-controller root-ca-certificate-publisher-controller
	legacy-serviceaccount-token-cleaner-controller garbage-collector-controller namespace-controller
	clusterrole-aggregation-controller deployment-controller replicaset-controller statefulset-controller
	daemonset-controller job-controller cronjob-controller ttl-after-finished-controller
	endpoints-controller endpointslice-controller endpointslice-mirroring-controller
	resourcequota-controller disruption-controller pod-garbage-collector-controller
	replicationcontroller-controller node-lifecycle-controller
)

kubectl_admin() {
	"$K8S_BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"
}

curl_admin() {
	curl -sf --max-time 5 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$@"
}

start_etcd() {
	mkdir -p "$STATE/etcd"
	chmod 700 "$STATE/etcd"
	start_process etcd "$ETCD_BIN/etcd" \
		--name=capstan-e2e --data-dir="$STATE/etcd" \
		--listen-client-urls="http://$HOST:$ETCD_PORT" --advertise-client-urls="http://$HOST:$ETCD_PORT" \
		--listen-peer-urls="http://$HOST:$ETCD_PEER_PORT" \
		--initial-advertise-peer-urls="http://$HOST:$ETCD_PEER_PORT" \
		--initial-cluster="capstan-e2e=http://$HOST:$ETCD_PEER_PORT" \
		--unsafe-no-fsync=true --quota-backend-bytes=2147483648 --log-level=warn
	wait_until 60 etcd curl -sf --max-time 2 "http://$HOST:$ETCD_PORT/health"
}

start_apiserver() {
	mkdir -p "$STATE/apiserver"
	audit_policy >"$STATE/apiserver/audit-policy.yaml"
	# CAPSTAN_E2E_APISERVER_PROFILING=true serves Go's CPU profile at /debug/pprof/profile
	# (`kubectl get --raw '/debug/pprof/profile?seconds=30'`), to see where its time goes.
	start_process kube-apiserver "$K8S_BIN/kube-apiserver" \
		--etcd-servers="http://$HOST:$ETCD_PORT" \
		--bind-address="$HOST" --advertise-address="$HOST" --secure-port="$APISERVER_PORT" \
		--cert-dir="$STATE/apiserver" \
		--tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
		--client-ca-file="$PKI/ca.crt" \
		--authorization-mode=RBAC \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-account-key-file="$PKI/serviceaccount.pub" \
		--service-account-signing-key-file="$PKI/serviceaccount.key" \
		--service-cluster-ip-range="$SERVICE_CIDR" \
		--endpoint-reconciler-type=none \
		--allow-privileged=true --profiling="${CAPSTAN_E2E_APISERVER_PROFILING:-false}" \
		--audit-policy-file="$STATE/apiserver/audit-policy.yaml" --audit-log-path="$AUDIT_LOG" \
		--audit-log-format=json --audit-log-maxsize=1024 --audit-log-maxbackup=1
	wait_until 120 kube-apiserver curl_admin "https://$HOST:$APISERVER_PORT/readyz"
}

# The request rate kube-controller-manager and kube-scheduler allow themselves, kept in the state
# directory (so a restart keeps it, and a benchmark can report it): CAPSTAN_E2E_CONTROLLERS_QPS at
# `up`, or `e2e/cluster pace QPS` later; else their own defaults (20 and 50 requests per second). At the defaults the controller-manager makes
# about 4 Deployments Available per second, whoever applied them; a benchmark raises it so that
# the rate measured is the tool's, not the controller-manager's. Prints the flags, one per line.
controllers_rate_flags() {
	[[ -s $STATE/controllers-qps ]] || return 0
	local qps
	qps=$(<"$STATE/controllers-qps")
	printf '%s\n' "--kube-api-qps=$qps" "--kube-api-burst=$((qps * 2))"
}

start_controller_manager() {
	local kubeconfig="$STATE/controller-manager.kubeconfig" rate
	mapfile -t rate < <(controllers_rate_flags)
	write_kubeconfig "$kubeconfig" controller-manager
	local IFS=,
	start_process kube-controller-manager "$K8S_BIN/kube-controller-manager" \
		--kubeconfig="$kubeconfig" --authentication-kubeconfig="$kubeconfig" \
		--authorization-kubeconfig="$kubeconfig" \
		--bind-address="$HOST" --secure-port="$CONTROLLER_MANAGER_PORT" --cert-dir="$STATE/controller-manager" \
		--leader-elect=false --use-service-account-credentials=true \
		--root-ca-file="$PKI/ca.crt" --service-account-private-key-file="$PKI/serviceaccount.key" \
		--controllers="${CONTROLLERS[*]}" --concurrent-gc-syncs=5 "${rate[@]}"
	unset IFS
	wait_until 60 kube-controller-manager curl -skf --max-time 2 "https://$HOST:$CONTROLLER_MANAGER_PORT/healthz"
}

start_scheduler() {
	local kubeconfig="$STATE/scheduler.kubeconfig" rate
	mapfile -t rate < <(controllers_rate_flags)
	write_kubeconfig "$kubeconfig" scheduler
	start_process kube-scheduler "$K8S_BIN/kube-scheduler" \
		--kubeconfig="$kubeconfig" --authentication-kubeconfig="$kubeconfig" \
		--authorization-kubeconfig="$kubeconfig" \
		--bind-address="$HOST" --secure-port="$SCHEDULER_PORT" --cert-dir="$STATE/scheduler" \
		--leader-elect=false "${rate[@]}"
	wait_until 60 kube-scheduler curl -skf --max-time 2 "https://$HOST:$SCHEDULER_PORT/healthz"
}

# Fake nodes (FAKE_NODES of them, NODE_PODS pods each), shaped like the KWOK documentation's
# example but without its NoSchedule taint so ordinary workloads land on them.
# Arguments: node name, pod capacity, pod CIDR (or "" for KWOK's own range, --cidr below).
fake_node_manifest() {
	local name=$1 pods=$2 pod_cidr=$3
	cat <<YAML
apiVersion: v1
kind: Node
metadata:
  name: $name
  annotations:
    node.alpha.kubernetes.io/ttl: "0"
    kwok.x-k8s.io/node: fake
  labels:
    beta.kubernetes.io/arch: amd64
    beta.kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: $name
    kubernetes.io/os: linux
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
    type: kwok
$([[ -n $pod_cidr ]] && printf 'spec:\n  podCIDR: %s\n' "$pod_cidr")
status:
  allocatable:
    cpu: "32"
    memory: 256Gi
    pods: "$pods"
  capacity:
    cpu: "32"
    memory: 256Gi
    pods: "$pods"
  nodeInfo:
    architecture: amd64
    kubeletVersion: fake
    kubeProxyVersion: fake
    operatingSystem: linux
YAML
}

# Creates (or resizes) the fake nodes kwok-node-0 .. kwok-node-<count - 1> and waits until each is
# Ready and untainted. KWOK manages every node, so nodes added to a running cluster work at once.
# KWOK gives pods addresses from their node's pod CIDR, else from its own /24 (kwok-node-0's): every
# further node gets a /24 of its own in 10.128.0.0/9, so at most 254 pods each.
# Arguments: count, pod capacity of each.
ensure_fake_nodes() {
	local count=$1 pods=$2 index name pod_cidr
	((count >= 1 && count <= 32768)) || die "the fake node count must be within 1..32768, not $count"
	((pods >= 1 && pods <= 254)) || die "the pods per fake node must be within 1..254 (one /24 each), not $pods"
	for ((index = 0; index < count; index++)); do
		name="kwok-node-$index"
		pod_cidr=""
		((index > 0)) && pod_cidr="10.$((128 + index / 256)).$((index % 256)).0/24"
		fake_node_manifest "$name" "$pods" "$pod_cidr" |
			kubectl_admin apply --server-side --force-conflicts --field-manager=capstan-e2e -f - >/dev/null ||
			die "could not create the fake node $name"
		# KWOK owns the status once the node exists: a new capacity goes through the status too.
		kubectl_admin patch node "$name" --subresource=status --type=merge \
			-p "{\"status\":{\"capacity\":{\"pods\":\"$pods\"},\"allocatable\":{\"pods\":\"$pods\"}}}" >/dev/null ||
			die "could not set the pod capacity of $name"
	done
	for ((index = 0; index < count; index++)); do
		name="kwok-node-$index"
		wait_until 60 kwok kubectl_admin wait --for=condition=Ready "node/$name" --timeout=2s
		wait_until 60 kube-controller-manager fake_node_untainted "$name"
	done
}

# Adds a Service range beside the one the API server started with (a ServiceCIDR object), so more
# Services fit without restarting it; the API server allocates from it as soon as it sees it (the
# controller that would report its Ready condition is not among CONTROLLERS). Arguments: CIDR,
# e.g. 10.1.0.0/16.
ensure_service_range() {
	local cidr=$1 name
	name="capstan-e2e-${cidr//[.\/]/-}"
	kubectl_admin apply --server-side --field-manager=capstan-e2e -f - >/dev/null <<YAML ||
apiVersion: networking.k8s.io/v1
kind: ServiceCIDR
metadata:
  name: $name
spec:
  cidrs: ["$cidr"]
YAML
		die "could not add the Service range $cidr"
}

start_kwok() {
	local kubeconfig="$STATE/kwok.kubeconfig"
	write_kubeconfig "$kubeconfig" kwok
	# HOME points into the state directory so KWOK neither reads nor writes the user's ~/.kwok.
	mkdir -p "$STATE/kwok-home"
	HOME="$STATE/kwok-home" start_process kwok "$KWOK_BIN/kwok" \
		--config="$KWOK_BIN/stages.yaml" --kubeconfig="$kubeconfig" \
		--manage-all-nodes=true --server-address="$HOST:$KWOK_PORT" \
		--node-ip=10.0.1.1 --cidr=10.0.2.0/24
	ensure_fake_nodes "$FAKE_NODES" "$NODE_PODS"
}

# Arguments: node name.
fake_node_untainted() {
	[[ -z "$(kubectl_admin get node "$1" -o 'jsonpath={.spec.taints}')" ]]
}

# The ServiceAccount controller creates `default` in every namespace; seeing it proves that controller
# and the token machinery work before any test depends on them.
wait_for_service_accounts() {
	wait_until 60 kube-controller-manager kubectl_admin get serviceaccount default --namespace default
}

start_control_plane() {
	start_etcd
	start_apiserver
	write_kubeconfig "$KUBECONFIG_ADMIN" admin
	write_kubeconfig "$KUBECONFIG_MEASURED" measured
	start_controller_manager
	start_scheduler
	start_kwok
	wait_for_service_accounts
}

stop_control_plane() {
	local name
	for name in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
		stop_process "$name"
	done
}
