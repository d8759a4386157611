#!/usr/bin/env bash
# `make check`: formatting and lints, before any test runs. Fails on the first problem.
#   cargo fmt --all --check        (rustfmt.toml)
#   cargo clippy --workspace --all-targets -- -D warnings   ([workspace.lints] in Cargo.toml)
set -euo pipefail
cd "$(dirname "$0")/.."
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
echo "== cargo fmt --all --check"
cargo fmt --all --check
echo "== cargo clippy --workspace --all-targets --locked -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "make check: formatting and lints clean"
