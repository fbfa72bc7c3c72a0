#!/usr/bin/env bash
# Refresh requirements/dev.lock: the exact versions (with hashes) that scripts/setup.sh
# and .ci/run install. pyproject.toml keeps the ranges users may install; this lock is
# what CI proves. Run it after changing a dependency, or to take newer releases
# (`scripts/lock.sh --upgrade`), then run the tests and commit the lock.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/uv ] || bash scripts/setup.sh
exec .venv/bin/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
  --generate-hashes --no-header -q -o requirements/dev.lock "$@"
