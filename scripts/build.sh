#!/usr/bin/env bash
# `make build`: every Lambda binary named in template.yaml as an arm64 `bootstrap`
# (target/lambda/<bin>/bootstrap), the way `sam build` builds them: `cargo lambda build --release
# --arm64`, cross-linked with zig. Installs cargo-lambda and zig (PyPI, into .venv) and the Rust
# aarch64 target when missing, then prints each bootstrap's size.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/ensure-venv.sh build
if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
  rustup target add aarch64-unknown-linux-gnu
fi

mapfile -t bins < <(sed -n 's/^ *Binary: *//p' template.yaml | sort -u)
args=()
for bin in "${bins[@]}"; do args+=(--bin "$bin"); done
# The release profile in Cargo.toml sets panic, lto, codegen-units and strip, so cargo-lambda
# adds none of its own (it would otherwise switch to panic = "abort").
PATH="$root/.venv/bin:$PATH" cargo lambda build --release --arm64 --locked "${args[@]}"

echo
echo "arm64 bootstrap sizes (goal: each <= 8 MB = 8,000,000 bytes):"
over=0
for bin in "${bins[@]}"; do
  file="target/lambda/$bin/bootstrap"
  bytes=$(stat -c %s "$file")
  awk -v b="$bin" -v n="$bytes" 'BEGIN { printf "  %-34s %6.2f MB  (%d bytes)\n", b, n / 1000000, n }'
  if [ "$bytes" -gt 8000000 ]; then over=1; fi
done
if [ "$over" = 1 ]; then echo "some bootstrap is over 8 MB"; fi
