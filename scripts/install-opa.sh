#!/usr/bin/env bash
# Install OPA (the Rego policy engine `aigw policy` runs) at a pinned version.
# Prefers an `opa` already on PATH with that version; otherwise builds it from the
# Go module proxy (`go install`, about 30 s with a warm module cache, 4 min cold)
# and caches it under ${AIGW_CACHE:-~/.cache/aigw}/opa-vVERSION/. A second run
# builds nothing. Prints the folder holding `opa`.
set -euo pipefail
VERSION="${OPA_VERSION:-1.22.2}"
CACHE="${AIGW_CACHE:-$HOME/.cache/aigw}"
BIN="$CACHE/opa-v$VERSION"

# Output captured first: `opa version | grep -q` under pipefail fails when grep exits
# before opa has written its last line (SIGPIPE), which would rebuild for nothing.
have_version() { local out; out=$("$1" version 2>/dev/null) || return 1; grep -qx "Version: $VERSION" <<<"$out"; }

if [ -x "$BIN/opa" ] && have_version "$BIN/opa"; then
  echo "$BIN"; exit 0
fi
if command -v opa >/dev/null 2>&1 && have_version "$(command -v opa)"; then
  dirname "$(command -v opa)"; exit 0
fi
command -v go >/dev/null 2>&1 || {
  echo "install-opa: Go is needed to build OPA v$VERSION (or put opa v$VERSION on PATH)" >&2; exit 1; }
free_kb=$(df -Pk "$HOME" | awk 'NR==2 {print $4}')
if [ "${free_kb:-0}" -lt 1500000 ]; then
  echo "install-opa: only $((free_kb / 1024)) MB free under $HOME; building OPA needs about 1.5 GB" >&2
  exit 1
fi
echo "install-opa: building OPA v$VERSION from the Go module proxy" >&2
mkdir -p "$CACHE"
TMP=$(mktemp -d "$BIN.tmp.XXXXXX")  # per run: two concurrent installs do not collide
chmod 755 "$TMP"; trap 'rm -rf "$TMP"' EXIT
# An exact version: the proxy here refuses @latest.
GOFLAGS=-mod=mod CGO_ENABLED=0 GOBIN="$TMP" \
  go install -trimpath "github.com/open-policy-agent/opa@v$VERSION"
rm -rf "$BIN"; mv "$TMP" "$BIN"
echo "$BIN"
