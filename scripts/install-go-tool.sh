#!/usr/bin/env bash
# Install a Go tool of cli/aigw/tools.toml (a row whose build is "go MODULE"), e.g.
#   bash scripts/install-go-tool.sh opa
# at its pinned version ($NAME_VERSION overrides it, e.g. OPA_VERSION). Prefers the
# binary already on PATH with that version; otherwise builds it from the Go module
# proxy (`go install MODULE@vVERSION`) and caches it under
# ${AIGW_CACHE:-~/.cache/aigw}/NAME-vVERSION/. A second run builds nothing.
# Prints the folder holding the binary.
set -euo pipefail
# shellcheck source=scripts/tools.sh
. "$(dirname "$0")/tools.sh"
NAME="${1:?usage: install-go-tool.sh NAME (a go row of cli/aigw/tools.toml)}"
VERSION=$(tool_version "$NAME")
build=$(tool_field "$NAME" build)
case "$build" in
  "go "*) MODULE="${build#go }" ;;
  *) echo "install-go-tool: $NAME is not a Go tool in $TOOLS_TABLE (build = \"$build\")" >&2; exit 1 ;;
esac
# The version arguments (a TOML list of strings) as words.
read -r -a ARGS <<<"$(tool_field "$NAME" version_args | tr -d '[],"')"
BIN="$CACHE/$NAME-v$VERSION"

# Output captured first: `tool version | grep -q` under pipefail fails when grep exits
# before the tool has written its last line (SIGPIPE), which would rebuild for nothing.
have_version() {
  local out; out=$("$1" "${ARGS[@]}" 2>/dev/null) || return 1
  grep -qE "(^|[^0-9.])v?${VERSION//./\\.}([^0-9.]|$)" <<<"$out"
}

if [ -x "$BIN/$NAME" ] && have_version "$BIN/$NAME"; then
  echo "$BIN"; exit 0
fi
if command -v "$NAME" >/dev/null 2>&1 && have_version "$(command -v "$NAME")"; then
  dirname "$(command -v "$NAME")"; exit 0
fi
need_go "$NAME" "$VERSION"
need_disk "$NAME"
echo "install-$NAME: building $NAME v$VERSION from the Go module proxy" >&2
mkdir -p "$CACHE"
TMP=$(mktemp -d "$BIN.tmp.XXXXXX")  # per run: two concurrent installs do not collide
chmod 755 "$TMP"; trap 'rm -rf "$TMP"' EXIT
# An exact version: the proxy here refuses @latest.
GOFLAGS=-mod=mod CGO_ENABLED=0 GOBIN="$TMP" go install -trimpath "$MODULE@v$VERSION"
rm -rf "$BIN"; mv "$TMP" "$BIN"
echo "$BIN"
