# Starts etcd, the Kubernetes control plane and KWOK with one fake node, all on 127.0.0.1.
# Requires common.sh, pki.sh and processes.sh.

K8S_BIN="$BIN_CACHE/kubernetes-$K8S_VERSION"
ETCD_BIN="$BIN_CACHE/etcd-$ETCD_VERSION"
KWOK_BIN="$BIN_CACHE/kwok-$KWOK_VERSION"
KUBECONFIG_ADMIN="$STATE/kubeconfig"
SERVICE_CIDR=10.0.0.0/24
AUDIT_LOG="$STATE/apiserver/audit.log"

# The API server's audit log records, at Metadata level (who, what, when: never bodies), every write
# to capstan.dev, core, apps and event objects by anyone but the control plane's own components, so
# tests can show that a reconcile that changes nothing sends no write request; and reads of single
# ConfigMaps, so they can show that a deployment reading its values from one was not reconciled.
audit_policy() {
	cat <<'YAML'
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
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
		--allow-privileged=true --profiling=false \
		--audit-policy-file="$STATE/apiserver/audit-policy.yaml" --audit-log-path="$AUDIT_LOG" \
		--audit-log-format=json --audit-log-maxsize=100 --audit-log-maxbackup=1
	wait_until 120 kube-apiserver curl_admin "https://$HOST:$APISERVER_PORT/readyz"
}

start_controller_manager() {
	local kubeconfig="$STATE/controller-manager.kubeconfig"
	write_kubeconfig "$kubeconfig" controller-manager
	local IFS=,
	start_process kube-controller-manager "$K8S_BIN/kube-controller-manager" \
		--kubeconfig="$kubeconfig" --authentication-kubeconfig="$kubeconfig" \
		--authorization-kubeconfig="$kubeconfig" \
		--bind-address="$HOST" --secure-port="$CONTROLLER_MANAGER_PORT" --cert-dir="$STATE/controller-manager" \
		--leader-elect=false --use-service-account-credentials=true \
		--root-ca-file="$PKI/ca.crt" --service-account-private-key-file="$PKI/serviceaccount.key" \
		--controllers="${CONTROLLERS[*]}" --concurrent-gc-syncs=5
	unset IFS
	wait_until 60 kube-controller-manager curl -skf --max-time 2 "https://$HOST:$CONTROLLER_MANAGER_PORT/healthz"
}

start_scheduler() {
	local kubeconfig="$STATE/scheduler.kubeconfig"
	write_kubeconfig "$kubeconfig" scheduler
	start_process kube-scheduler "$K8S_BIN/kube-scheduler" \
		--kubeconfig="$kubeconfig" --authentication-kubeconfig="$kubeconfig" \
		--authorization-kubeconfig="$kubeconfig" \
		--bind-address="$HOST" --secure-port="$SCHEDULER_PORT" --cert-dir="$STATE/scheduler" \
		--leader-elect=false
	wait_until 60 kube-scheduler curl -skf --max-time 2 "https://$HOST:$SCHEDULER_PORT/healthz"
}

# One fake node, shaped like the KWOK documentation's example but without its NoSchedule taint so
# ordinary workloads land on it.
FAKE_NODE=kwok-node-0
fake_node_manifest() {
	cat <<YAML
apiVersion: v1
kind: Node
metadata:
  name: $FAKE_NODE
  annotations:
    node.alpha.kubernetes.io/ttl: "0"
    kwok.x-k8s.io/node: fake
  labels:
    beta.kubernetes.io/arch: amd64
    beta.kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: $FAKE_NODE
    kubernetes.io/os: linux
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: ""
    type: kwok
status:
  allocatable:
    cpu: "32"
    memory: 256Gi
    pods: "110"
  capacity:
    cpu: "32"
    memory: 256Gi
    pods: "110"
  nodeInfo:
    architecture: amd64
    kubeletVersion: fake
    kubeProxyVersion: fake
    operatingSystem: linux
YAML
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
	fake_node_manifest | kubectl_admin apply --server-side --field-manager=capstan-e2e -f - >/dev/null ||
		die "could not create the fake node $FAKE_NODE"
	wait_until 60 kwok kubectl_admin wait --for=condition=Ready "node/$FAKE_NODE" --timeout=2s
	wait_until 60 kube-controller-manager fake_node_untainted
}

fake_node_untainted() {
	[[ -z "$(kubectl_admin get node "$FAKE_NODE" -o 'jsonpath={.spec.taints}')" ]]
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
