#!/usr/bin/env bash
# What the browser tests and the console benchmark need, installed only where missing: Debian's
# Chromium and its matching ChromeDriver (apt-get), selenium + pytest (pinned, in .venv), and
# axe-core's one script (npm pack of a pinned version, under .local/axe-core).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
  echo "installing Chromium and ChromeDriver (Debian chromium chromium-driver)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null
fi

"$root/scripts/ensure-venv.sh" browser

axe_version=4.14.1
axe_dir="$root/.local/axe-core"
if [ ! -f "$axe_dir/$axe_version/package/axe.min.js" ]; then
  echo "installing axe-core $axe_version (npm)"
  mkdir -p "$axe_dir/$axe_version"
  (cd "$axe_dir/$axe_version" && npm pack --silent "axe-core@$axe_version" >/dev/null \
    && tar xzf "axe-core-$axe_version.tgz" && rm -f "axe-core-$axe_version.tgz")
fi
ln -sfn "$axe_dir/$axe_version/package/axe.min.js" "$axe_dir/axe.min.js"
