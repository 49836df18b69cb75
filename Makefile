# Entry points for humans and CI. Build output is cached outside the clone so repeated runs are warm.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/capstan/target

.PHONY: test lint fmt cluster-up cluster-down

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
