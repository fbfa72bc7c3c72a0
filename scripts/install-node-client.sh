#!/usr/bin/env bash
# Install the TypeScript client's dependencies (clients/typescript) exactly as its
# package-lock.json pins them: `npm ci`, skipped when node_modules already matches
# the lockfile (a second run takes milliseconds); then build it when its sources changed. Offline-friendly: npm's cache is
# preferred, so a machine that installed once needs no network. Without node/npm it
# says so in one line and does nothing (the Python side does not need them).
set -euo pipefail
cd "$(dirname "$0")/../clients/typescript"
if ! command -v npm >/dev/null 2>&1; then
  echo "install-node-client: npm not found; skipping the TypeScript client (needs Node >= 20)" >&2
  exit 0
fi
stamp=node_modules/.aigw-lock.sha256
want=$( (cat package-lock.json; node --version) | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "install-node-client: npm ci in clients/typescript" >&2
  npm ci --prefer-offline --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi
# The compiled package (dist/), which the lab's and the demo's Node service import:
# built when missing or older than a source file (a second of the pinned tsc).
if [ ! -f dist/index.js ] || [ -n "$(find src tsconfig.json -newer dist/index.js -print -quit)" ]; then
  npm run --silent build
fi
