# Entry points for humans and CI. Build output is cached outside the clone so repeated runs are warm.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/capstan/target

.PHONY: test lint fmt cluster-up cluster-down image

## test: everything the project checks: unit, golden, interoperability and end-to-end tests, against a
## local control plane and test peers that are brought up first and always brought down afterwards.
test:
	e2e/run-tests

## lint: formatting and clippy, as CI runs them.
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

## cluster-up / cluster-down: keep the local control plane running between `cargo test` runs.
cluster-up:
	e2e/cluster up

cluster-down:
	e2e/cluster down

## image: build the operator's container image without a container engine and push it:
##   make image REGISTRY=registry.example/team [TAG=0.1.0] [PLAIN_HTTP=1] [PLATFORMS=linux/amd64,linux/arm64]
## pushes REGISTRY/capstan-operator:TAG (TAG defaults to the operator's version; with several
## PLATFORMS, an image index of one image each); see image/build.
image:
	@test -n "$(REGISTRY)" || { echo "make image: set REGISTRY, e.g. make image REGISTRY=ghcr.io/you" >&2; exit 2; }
	image/build --registry "$(REGISTRY)" $(if $(TAG),--tag "$(TAG)") $(if $(PLAIN_HTTP),--plain-http) $(if $(PLATFORMS),--platform "$(PLATFORMS)")
