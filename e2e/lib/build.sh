# Builds the control plane and peer binaries from Go modules into $BIN_CACHE/<tool>-<version>/.
# Each build writes into a temporary directory and renames it into place only when complete, so an
# interrupted build never leaves a half-filled cache entry that later runs would trust.
# Requires common.sh.

# Moves a finished build directory into its cache slot.
publish_build() {
	local staged=$1 dest=$2
	mkdir -p "$(dirname "$dest")"
	rm -rf "$dest"
	mv "$staged" "$dest"
}

# Prints the path of a module's go.mod as served by the module proxy.
served_go_mod() {
	go mod download -json "$1" | jq -r '.GoMod // empty'
}

# Kubernetes binaries come from k8s.io/kubernetes, whose go.mod points its staging modules at local
# directories. A wrapper module replaces each of them with its published release and builds from there.
build_kubernetes() {
	local dest="$BIN_CACHE/kubernetes-$K8S_VERSION"
	local tools=(kube-apiserver kube-controller-manager kube-scheduler kubectl)
	if all_present "$dest" "${tools[@]}"; then return 0; fi
	log "building Kubernetes $K8S_VERSION (cold build takes 10-25 minutes on 2 cores)"
	local work="$BUILD_CACHE/kubernetes-$K8S_VERSION"
	rm -rf "$work" && mkdir -p "$work"
	local upstream_mod
	upstream_mod=$(cd "$work" && served_go_mod "k8s.io/kubernetes@$K8S_VERSION")
	[[ -f $upstream_mod ]] || die "could not download the go.mod of k8s.io/kubernetes@$K8S_VERSION"
	# v1.36.3 publishes its staging modules as v0.36.3.
	local staging_version="v0.${K8S_VERSION#v1.}"
	(
		cd "$work"
		go mod init capstan.dev/e2e/kubernetes-build >/dev/null 2>&1
		local module
		for module in $(awk '$2 == "=>" && $3 ~ /^\.\/staging\// { print $1 }' "$upstream_mod"); do
			go mod edit -replace="$module=$module@$staging_version"
		done
		# Only the main module's godebug settings count, so the wrapper carries kubernetes' own.
		local setting
		for setting in $(awk '$1 == "godebug" && $2 != "(" { print $2 } /^godebug \(/ { block = 1; next }
			block && /^\)/ { block = 0 } block { print $1 }' "$upstream_mod"); do
			go mod edit -godebug="$setting"
		done
		local packages=()
		local tool
		for tool in "${tools[@]}"; do packages+=("k8s.io/kubernetes/cmd/$tool"); done
		go get "k8s.io/kubernetes@$K8S_VERSION" "${packages[@]/%/@$K8S_VERSION}"
		local minor=${K8S_VERSION#v1.}
		minor=${minor%%.*}
		local ldflags="-s -w"
		local pkg
		for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
			ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
			ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
		done
		mkdir -p out
		CGO_ENABLED=0 nice go build -trimpath -ldflags "$ldflags" -o out/ "${packages[@]}"
	) || die "building Kubernetes $K8S_VERSION failed (see the go output above)"
	publish_build "$work/out" "$dest"
	rm -rf "$work"
}

# True when every named tool is an executable in the directory.
all_present() {
	local dir=$1
	shift
	local tool
	for tool in "$@"; do [[ -x $dir/$tool ]] || return 1; done
}

# etcd's own module carries replace directives, so `go install` refuses it; a one-line wrapper whose main
# is etcd's builds from the published server module instead.
build_etcd() {
	local dest="$BIN_CACHE/etcd-$ETCD_VERSION"
	if all_present "$dest" etcd; then return 0; fi
	log "building etcd $ETCD_VERSION"
	local work="$BUILD_CACHE/etcd-$ETCD_VERSION"
	rm -rf "$work" && mkdir -p "$work"
	(
		cd "$work"
		cat >main.go <<'GO'
// Command etcd runs the etcd server from its published module.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
		go mod init capstan.dev/e2e/etcd-build >/dev/null 2>&1
		go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
		mkdir -p out
		CGO_ENABLED=0 nice go build -trimpath -ldflags "-s -w" -o out/etcd .
	) || die "building etcd $ETCD_VERSION failed (see the go output above)"
	publish_build "$work/out" "$dest"
	rm -rf "$work"
}

# Installs one command of a module without replace directives into its versioned cache slot.
# Arguments: cache name, module path, version, extra linker flags, package path(s) relative to the module.
go_install_tool() {
	local name=$1 module=$2 version=$3 ldflags=$4
	shift 4
	local dest="$BIN_CACHE/$name-$version"
	local binaries=()
	local package
	for package in "$@"; do binaries+=("$(basename "$package")"); done
	if all_present "$dest" "${binaries[@]}"; then return 0; fi
	log "building $name $version"
	local staged="$BUILD_CACHE/$name-$version"
	rm -rf "$staged" && mkdir -p "$staged"
	local targets=()
	for package in "$@"; do targets+=("$module/$package@$version"); done
	CGO_ENABLED=0 GOBIN="$staged" nice go install -trimpath -ldflags "-s -w $ldflags" "${targets[@]}" ||
		die "go install ${targets[*]} failed (see the go output above)"
	publish_build "$staged" "$dest"
}

# KWOK runs fake nodes and pods. Its binary needs stage definitions, which the module ships as YAML;
# they are copied next to the binary so the cache entry is self-contained.
build_kwok() {
	local dest="$BIN_CACHE/kwok-$KWOK_VERSION"
	if all_present "$dest" kwok && [[ -s $dest/stages.yaml ]]; then return 0; fi
	go_install_tool kwok sigs.k8s.io/kwok "$KWOK_VERSION" "" cmd/kwok
	local source
	source=$(cd "$BUILD_CACHE" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | jq -r '.Dir // empty')
	[[ -d $source ]] || die "could not download the sources of sigs.k8s.io/kwok@$KWOK_VERSION for its stages"
	local stage first=1
	{
		for stage in node/fast/node-initialize node/heartbeat/node-heartbeat pod/fast/pod-ready \
			pod/fast/pod-complete pod/fast/pod-delete; do
			((first)) || echo '---'
			first=0
			cat "$source/kustomize/stage/$stage.yaml"
		done
	} >"$dest/stages.yaml.tmp"
	mv "$dest/stages.yaml.tmp" "$dest/stages.yaml"
}

# Helm's release builds stamp the full version; without it `helm version` reports only major.minor.
build_helm() {
	go_install_tool helm "$HELM_MODULE" "$HELM_VERSION" \
		"-X $HELM_MODULE/internal/version.version=$HELM_VERSION" cmd/helm
}

build_crane() {
	go_install_tool crane github.com/google/go-containerregistry "$CRANE_VERSION" "" cmd/crane
}

build_registry() {
	go_install_tool registry "$REGISTRY_MODULE" "$REGISTRY_VERSION" "" cmd/registry
}

# The S3 peer (see e2e/peers/s3/peer.sh); about 4 minutes cold on 2 cores.
build_versitygw() {
	go_install_tool versitygw github.com/versity/versitygw "$VERSITYGW_VERSION" "" cmd/versitygw
}

# Builds everything `up` needs that the cache does not hold yet.
build_all() {
	command -v go >/dev/null || die "Go is needed to build the control plane; install it (e.g. apt-get install golang-go)"
	mkdir -p "$BIN_CACHE" "$BUILD_CACHE"
	build_etcd
	build_kubernetes
	build_kwok
	build_registry
	build_crane
	build_helm
	build_versitygw
}
