#!/usr/bin/env bash
# Installs the pinned Python-distributed tools into .venv (git-ignored), only when missing or when
# the pins changed, so reruns cost nothing.
#   scripts/ensure-venv.sh lint    cfn-lint + aws-sam-cli (template lint in `make test`)
#   scripts/ensure-venv.sh build   cargo-lambda (+ ziglang, the arm64 cross linker) for `make build`
#   scripts/ensure-venv.sh fuzz    schemathesis (schema fuzzing of openapi.yaml in `make test`)
#   scripts/ensure-venv.sh bench   matplotlib for `make bench`'s chart
#   scripts/ensure-venv.sh browser selenium + pytest (the console's browser tests and benchmark)
#   scripts/ensure-venv.sh moto    moto's server mode, the S3 and SQS emulator of the partner-file
#                                  tests and `make import` (scripts/moto.sh; docs/tooling.md#moto)
#   scripts/ensure-venv.sh peer    .venv/peer, a venv of its own for the peer baseline (bench/peer):
#                                  only awslambdaric and boto3, as a Lambda Python runtime has them
#                                  (aws-sam-cli's boto3[crt] would load awscrt into the peer)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"

case "${1:-}" in
  lint) pins=(aws-sam-cli==1.170.0 cfn-lint==1.58.0) ;;
  build) pins=(cargo-lambda==1.9.2) ;;
  fuzz) pins=(schemathesis==4.32.5) ;;
  bench) pins=(matplotlib==3.10.8 numpy==2.4.6) ;;
  browser) pins=(selenium==4.50.0 pytest==9.2.0) ;;
  moto) pins=("moto[server]==5.2.5") ;;
  peer) pins=(awslambdaric==4.2.2 boto3==1.43.108 botocore==1.43.127); venv="$root/.venv/peer" ;;
  *) echo "usage: $0 lint|build|fuzz|bench|browser|moto|peer" >&2; exit 2 ;;
esac

stamp="$venv/.pins-$1"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "${pins[*]}" ]; then
  exit 0
fi
if [ ! -x "$venv/bin/pip" ]; then
  echo "creating $venv"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    # Debian ships venv support separately.
    rm -rf "$venv"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$venv"
  fi
fi
echo "installing ${pins[*]} into ${venv#"$root"/}"
"$venv/bin/pip" install --quiet --disable-pip-version-check "${pins[@]}"
echo "${pins[*]}" >"$stamp"
