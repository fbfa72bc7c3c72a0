#!/usr/bin/env bash
# The main job end to end on the embedded default: a local OpenBao dev server and a
# local Pulumi file backend under .aigw/ (git-ignored). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "validate the example catalog"
aigw validate examples

step "start the local OpenBao dev server (aigw dev up)"
aigw dev up
eval "$(aigw dev env)"

if aigw apply --help >/dev/null 2>&1; then
  step "converge OpenBao: mount, key slots, per-service policies and AppRoles (aigw apply)"
  aigw apply examples --yes
  step "plan again: nothing left to change"
  aigw plan examples
fi

step "render per-service configs into .aigw/rendered"
aigw render examples --out .aigw/rendered
aigw render examples --out .aigw/rendered --check

step "services under load: every key rotates, a model switches (aigw apply, no restart), then OpenBao and a provider go down"
.venv/bin/python -m testing.demo

step "done"
echo "The dev server keeps running: 'aigw dev status', stop it with 'aigw dev down'."
