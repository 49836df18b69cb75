# Entry points for humans and CI. Build output is cached outside the clone so repeated runs are warm.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/capstan/target

.PHONY: test lint fmt

## test: everything the project checks: unit, golden, interoperability and end-to-end tests.
test:
	cargo test --workspace --all-targets

## lint: formatting and clippy, as CI runs them.
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
