#!/usr/bin/env bash
# Runs Lantern's whole test suite. The integration tests start real peers (Debian's
# Prometheus, Alertmanager and Chromium; jq for the docs' examples), so this installs
# them first when they are missing, and the UI's npm packages (from ui/package-lock.json)
# for the browser tests.
set -euo pipefail
cd "$(dirname "$0")"

need_apt=()
command -v prometheus >/dev/null 2>&1 || need_apt+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || need_apt+=(prometheus-alertmanager)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v jq >/dev/null 2>&1 || need_apt+=(jq)   # the docs/ examples use it
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test.sh: installing ${need_apt[*]} from Debian's packages" >&2
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# The browser tests drive Chromium with playwright-core from ui/node_modules.
if [ ! -f ui/node_modules/.package-lock.json ] || ! cmp -s ui/package-lock.json ui/node_modules/.lantern-lock; then
  echo "test.sh: installing the UI's npm packages (npm ci)" >&2
  (cd ui && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.lantern-lock)
fi

cargo test --workspace --locked "$@"
