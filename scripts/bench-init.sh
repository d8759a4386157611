#!/usr/bin/env bash
# `make bench-init`: the release figures of every Lambda binary in template.yaml.
#  1. size of each arm64 bootstrap (scripts/build.sh: cargo lambda build --release --arm64);
#  2. x86_64 init time under the Runtime API harness: process start to the first
#     /invocation/next poll (config, SDK client and the DynamoDB warm-up read against DynamoDB
#     Local included), p50/min/max over INIT_BENCH_STARTS starts (default 20).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
scripts/build.sh
scripts/ensure-tools.sh
mapfile -t bins < <(sed -n 's/^ *Binary: *//p' template.yaml | sort -u)
args=()
for bin in "${bins[@]}"; do args+=(--bin "$bin"); done
cargo build --release --locked "${args[@]}"

source scripts/dynamodb-local.sh
trap 'kill "$DDB_PID" 2>/dev/null || true' EXIT
LAMBDA_BIN_DIR="$root/target/release" INIT_BENCH_STARTS="${INIT_BENCH_STARTS:-20}" \
  cargo test --locked --test runtime -- --ignored --exact --nocapture bench::init_time 2>&1 \
  | grep -v -E '^(running|test |$)|test result'
