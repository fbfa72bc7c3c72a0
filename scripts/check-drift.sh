#!/usr/bin/env bash
# The drift check: build the wheel and install `aigw[cli]` at the newest versions
# pyproject.toml allows (not the lock), then run the install smoke test (tests/test_install.py,
# marker `drift`). A failure names the break before a user reports it; fix the code or
# the declared range, then refresh the lock (scripts/lock.sh --upgrade).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
set +e
.venv/bin/python -m pytest -m drift tests/test_install.py "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "check-drift: no drift test was collected; that is a failure" >&2
  exit 1
fi
exit "$rc"
