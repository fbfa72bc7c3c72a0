#!/usr/bin/env bash
# Install what is needed, then run the whole test suite (unit and integration).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Each run gets its own pytest base folder: pytest prunes older numbered runs in the
# shared /tmp/pytest-of-$USER, which deletes the folders of a run still going beside
# it (a second checkout, a helper's targeted tests). Kept when tests fail, to look at.
basetemp="$(mktemp -d "${TMPDIR:-/tmp}/aigw-tests.XXXXXX")"
# Every conformance runner (Python sync and async, TypeScript, Go) writes its results
# file here; tests/spec/test_results_agree.py runs last and requires all of them equal.
export AIGW_SPEC_RESULTS="$basetemp/spec-results" AIGW_SPEC_RUNNERS="python-sync,python-async,typescript,go"
mkdir -p "$AIGW_SPEC_RESULTS"
set +e
.venv/bin/python -m pytest --basetemp="$basetemp/t" "$@"
rc=$?
set -e
if [ "$rc" -eq 0 ]; then
  rm -rf "$basetemp"
elif [ "$rc" -ne 5 ]; then
  echo "test: the failed tests' folders are kept under $basetemp/t" >&2
fi
if [ "$rc" -eq 5 ]; then
  rm -rf "$basetemp"
  echo "test: pytest collected no tests; that is a failure here" >&2
  exit 1
fi
exit "$rc"
