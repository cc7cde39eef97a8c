#!/usr/bin/env bash
# Installs the pinned @dcspark/cardano-multiplatform-lib-nodejs used by the
# op-cert interop test into internal/interop/cml/node_modules (from
# package-lock.json, exactly).
set -euo pipefail
cd "$(dirname "$0")"
command -v npm >/dev/null || { echo "setup.sh: npm not found (install nodejs and npm)" >&2; exit 1; }
npm ci --no-audit --no-fund
