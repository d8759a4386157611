#!/usr/bin/env bash
# `make bench`: every performance figure in one run, written to bench/results.json,
# bench/REPORT.md and bench/chart.png (per-run parts and logs under bench/out/, git-ignored).
#  1. x86_64 release build of every function (timed) and of the bench tool;
#  2. arm64 Lambda packages: scripts/build.sh (cargo lambda build --release --arm64, timed), the
#     size of each bootstrap and of its zip;
#  3. on a fresh in-memory DynamoDB Local (stopped by PID at the end): partner-bench (bench/src):
#     per-operation latency, DynamoDB split and round trips through the local server, cold starts
#     of every function and the Python peer baseline (bench/peer) under one Runtime API emulator;
#  4. the expiry sweep benchmark (ppsweep bench, as `make bench-sweep`);
#  5. when a goal is missed, a callgrind profile of the slowest Lambda path (link-customer's twin
#     with symbols, bench/src/bin; valgrind, since perf has no hardware counters here);
#  6. bench/report.py: goals met / not met, tables, the chart (matplotlib, pinned in .venv).
# Knobs (environment): BENCH_QUICK=1 (a few minutes), BENCH_REQUESTS (per operation at
# concurrency 16, default 800; a quarter of it at concurrency 1), BENCH_STARTS (cold starts per
# function, 20), BENCH_WARM (warm invocations per side, 300), BENCH_BATCH (batch requests, 10),
# BENCH_SWEEP_SIZES (10000,100000), BENCH_SWEEP_REPS (3), BENCH_ARM64=0 (skip the arm64 build),
# BENCH_PROFILE=0 (no profile), BENCH_COLD_BUILD=1 (time the arm64 build from scratch: +30 min here).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
started=$(date +%s)
loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)
# The code measured: the commit at the start, and whether the work tree differed from it.
commit=$(git rev-parse HEAD)
dirty=false
if [ -n "$(git status --porcelain --untracked-files=no -- . ':!bench/REPORT.md' ':!bench/results.json' ':!bench/chart.png')" ]; then dirty=true; fi

if [ "${BENCH_QUICK:-0}" = 1 ]; then
  : "${BENCH_REQUESTS:=160}" "${BENCH_STARTS:=5}" "${BENCH_WARM:=100}" "${BENCH_BATCH:=4}"
  : "${BENCH_SWEEP_SIZES:=10000}" "${BENCH_SWEEP_REPS:=1}"
fi
requests="${BENCH_REQUESTS:-800}"
starts="${BENCH_STARTS:-20}"
warm="${BENCH_WARM:-300}"
batch="${BENCH_BATCH:-10}"
sweep_sizes="${BENCH_SWEEP_SIZES:-10000,100000}"
sweep_reps="${BENCH_SWEEP_REPS:-3}"

out="$root/bench/out"
rm -rf "$out"
mkdir -p "$out"
# Wall time of each phase, for the report.
phases=()
phase_start=$(date +%s)
phase_done() {
  local now
  now=$(date +%s)
  phases+=("\"$1\": $((now - phase_start))")
  phase_start=$now
}

scripts/ensure-tools.sh
scripts/ensure-venv.sh bench
scripts/ensure-venv.sh peer
py="$root/.venv/bin/python"
if ! command -v valgrind >/dev/null 2>&1 && [ "${BENCH_PROFILE:-1}" != 0 ]; then
  echo "installing valgrind (the profile of a missed goal)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq valgrind >/dev/null
fi

mapfile -t bins < <(sed -n 's/^ *Binary: *//p' template.yaml | sort -u)
bin_args=()
for bin in "${bins[@]}"; do bin_args+=(--bin "$bin"); done
target="${CARGO_TARGET_DIR:-$root/target}"

# 1. x86_64 release binaries: the functions as `cargo lambda build` resolves them (default
#    members), then the bench tool and ppsweep.
echo "== x86_64 release build"
x86_cold=false
[ -d "$target/release/deps" ] || x86_cold=true
t0=$(date +%s%N)
cargo build --release --locked "${bin_args[@]}"
x86_seconds=$(( ($(date +%s%N) - t0) / 1000000 ))e-3
cargo build --release --locked -p partner-devtools --bin ppsweep
cargo build --release --locked -p partner-bench
phase_done "setup_and_x86_64_build"

# 2. arm64 packages.
arm_json='null'
if [ "${BENCH_ARM64:-1}" != 0 ]; then
  echo "== arm64 Lambda packages (scripts/build.sh)"
  if [ "${BENCH_COLD_BUILD:-0}" = 1 ]; then
    # Time the arm64 build as a fresh clone (or `sam build`) pays for it.
    rm -rf "$target/aarch64-unknown-linux-gnu" "$target/lambda"
  fi
  arm_cold=false
  [ -d "$target/aarch64-unknown-linux-gnu/release/deps" ] || arm_cold=true
  t0=$(date +%s%N)
  scripts/build.sh
  arm_seconds=$(( ($(date +%s%N) - t0) / 1000000 ))e-3
  arm_json=$("$py" - "$arm_seconds" "$arm_cold" "${bins[@]}" <<'EOF'
import io, json, os, sys, zipfile
seconds, cold, bins = float(sys.argv[1]), sys.argv[2] == "true", sys.argv[3:]
out = {}
for b in bins:
    path = os.path.join("target", "lambda", b, "bootstrap")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(path, "rb") as f:
            z.writestr(info, f.read())
    out[b] = {"bytes": os.path.getsize(path), "zip_bytes": len(buf.getvalue())}
print(json.dumps({"seconds": seconds, "cold": cold, "bootstraps": out}))
EOF
)
fi
phase_done "arm64_build"
cat >"$out/build.json" <<EOF
{"x86_64": {"seconds": $x86_seconds, "cold": $x86_cold}, "arm64": $arm_json}
EOF

# 3. + 4. against a fresh in-memory DynamoDB Local.
set --   # a sourced script sees the positional arguments: in-memory DynamoDB Local takes none
source scripts/dynamodb-local.sh
trap 'kill "$DDB_PID" 2>/dev/null || true' EXIT
echo "== measurements (DynamoDB Local on $AWS_ENDPOINT_URL_DYNAMODB, pid $DDB_PID)"
"$target/release/partner-bench" --out "$out/rust.json" --requests "$requests" --starts "$starts" \
  --warm "$warm" --batch-requests "$batch" --bin-dir "$target/release" --python "$root/.venv/peer/bin/python"

phase_done "measurements"

echo "== expiry sweep (ppsweep bench --sizes $sweep_sizes --reps $sweep_reps)"
TABLE_NAME=pp-bench "$target/release/ppsweep" bench --sizes "$sweep_sizes" --reps "$sweep_reps" --json "$out/sweep.json"
phase_done "sweep"

# 5. A profile when some goal is missed.
missed=$("$py" bench/report.py --out-dir "$out" --goals-only)
if [ -n "$missed" ] && [ "${BENCH_PROFILE:-1}" != 0 ]; then
  echo "== goals not met:"
  echo "$missed" | sed 's/^/   /'
  echo "== callgrind profile of link-customer (init + warm invocations)"
  # link-customer-with-symbols: link-customer's main, built by the bench package with symbols.
  "$target/release/partner-bench" profile --binary "$target/release/link-customer-with-symbols" \
    --out "$out/profile.json" --callgrind-out "$out/callgrind.out"
fi

phase_done "profile"
kill "$DDB_PID" 2>/dev/null || true
trap - EXIT
cat >"$out/run.json" <<EOF
{"seconds": $(( $(date +%s) - started )), "loadavg_start": "$loadavg_start", "loadavg_end": "$(cut -d' ' -f1-3 /proc/loadavg)",
 "commit": "$commit", "dirty": $dirty, "started_at": "$(date -u -d "@$started" +%Y-%m-%dT%H:%M:%SZ)",
 "phases": {$(IFS=,; echo "${phases[*]}")}}
EOF
"$py" bench/report.py --out-dir "$out"
echo "bench: $(( ($(date +%s) - started) / 60 )) min $(( ($(date +%s) - started) % 60 )) s"
