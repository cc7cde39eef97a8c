#!/usr/bin/env bash
# Installs the pinned @ngraveio/bc-ur used by transfer/ur's interop test into
# internal/interop/bcur/node_modules (from package-lock.json).
set -euo pipefail
cd "$(dirname "$0")"
command -v npm >/dev/null || { echo "setup.sh: npm not found (install nodejs and npm)" >&2; exit 1; }
npm ci --no-audit --no-fund
