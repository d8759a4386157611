#!/usr/bin/env bash
# Supply-chain checks with cargo-deny (policy and reasons in deny.toml), installed when missing.
#   scripts/deny.sh            licenses, bans, sources (offline; part of make test)
#   scripts/deny.sh advisories the RustSec advisory database (needs to fetch it: make audit)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
version=0.20.2
deny="${CARGO_HOME:-$HOME/.cargo}/bin/cargo-deny"
if ! "$deny" --version 2>/dev/null | grep -qx "cargo-deny $version"; then
  echo "installing cargo-deny $version (cargo install, a few minutes)"
  cargo install --quiet --locked "cargo-deny@$version"
fi
if [ "${1:-}" = "advisories" ]; then
  exec "$deny" check advisories
fi
"$deny" check --hide-inclusion-graph licenses bans sources
