# Local certificate authority and the certificates the control plane and peers use, made with openssl.
# Everything is written under $STATE/pki and regenerated only when missing. Requires common.sh.

PKI="$STATE/pki"

# Writes an EC P-256 key.
new_key() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
	chmod 600 "$1"
}

ensure_ca() {
	[[ -s $PKI/ca.crt && -s $PKI/ca.key ]] && return 0
	mkdir -p "$PKI"
	new_key "$PKI/ca.key"
	openssl req -x509 -new -key "$PKI/ca.key" -sha256 -days 30 -subj "/CN=capstan-e2e-ca" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
		-out "$PKI/ca.crt" 2>/dev/null || die "openssl could not create the local CA in $PKI"
}

# Issues a certificate signed by the local CA.
# Arguments: file stem, subject (e.g. /O=system:masters/CN=admin), extended key usage, optional SAN list.
issue_cert() {
	local stem=$1 subject=$2 usage=$3 san=${4:-}
	[[ -s $PKI/$stem.crt && -s $PKI/$stem.key ]] && return 0
	local ext="$PKI/$stem.ext"
	{
		echo "basicConstraints=critical,CA:FALSE"
		echo "keyUsage=critical,digitalSignature,keyEncipherment"
		echo "extendedKeyUsage=$usage"
		[[ -n $san ]] && echo "subjectAltName=$san"
	} >"$ext"
	new_key "$PKI/$stem.key"
	openssl req -new -key "$PKI/$stem.key" -subj "$subject" -out "$PKI/$stem.csr" 2>/dev/null &&
		openssl x509 -req -in "$PKI/$stem.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
			-sha256 -days 30 -extfile "$ext" -out "$PKI/$stem.crt" 2>/dev/null ||
		die "openssl could not issue the certificate $PKI/$stem.crt"
	rm -f "$PKI/$stem.csr" "$ext"
}

# Generates the CA, serving and client certificates and the ServiceAccount signing key.
ensure_pki() {
	command -v openssl >/dev/null || die "openssl is missing; install it (apt-get install openssl)"
	ensure_ca
	# 10.0.0.1 is the first address of the service range the API server is started with.
	issue_cert apiserver "/CN=kube-apiserver" serverAuth \
		"IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
	issue_cert peers "/CN=localhost" serverAuth "IP:127.0.0.1,DNS:localhost"
	issue_cert admin "/O=system:masters/CN=capstan-e2e-admin" clientAuth
	issue_cert measured "/O=system:masters/CN=capstan-e2e-measured" clientAuth
	issue_cert controller-manager "/CN=system:kube-controller-manager" clientAuth
	issue_cert scheduler "/CN=system:kube-scheduler" clientAuth
	# KWOK plays every kubelet; giving it cluster-admin keeps the fake node free of node-authorizer setup.
	issue_cert kwok "/O=system:masters/CN=capstan-e2e-kwok" clientAuth
	if [[ ! -s $PKI/serviceaccount.key ]]; then
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/serviceaccount.key" 2>/dev/null
		chmod 600 "$PKI/serviceaccount.key"
		openssl pkey -in "$PKI/serviceaccount.key" -pubout -out "$PKI/serviceaccount.pub" 2>/dev/null
	fi
}

# Writes a kubeconfig that authenticates with one of the client certificates above.
# Arguments: output path, certificate stem.
write_kubeconfig() {
	local path=$1 stem=$2
	cat >"$path" <<YAML
apiVersion: v1
kind: Config
clusters:
  - name: capstan-e2e
    cluster:
      server: https://$HOST:$APISERVER_PORT
      certificate-authority: $PKI/ca.crt
users:
  - name: $stem
    user:
      client-certificate: $PKI/$stem.crt
      client-key: $PKI/$stem.key
contexts:
  - name: capstan-e2e
    context:
      cluster: capstan-e2e
      user: $stem
current-context: capstan-e2e
YAML
	chmod 600 "$path"
}
