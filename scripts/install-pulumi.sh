#!/usr/bin/env bash
# Install the Pulumi engine at the version pinned in cli/aigw/tools.toml (the same as
# the pinned `pulumi` Python SDK; tests/test_tools.py checks they agree).
# Prefers a `pulumi` already on PATH with the right version; otherwise builds it
# from the Go module proxy (the recipe is in docs/engine.md) and caches it under
# ${AIGW_CACHE:-~/.cache/aigw}/pulumi-vVERSION/. A second run builds nothing.
# Prints the folder holding `pulumi` (put it first on PATH).
set -euo pipefail
# shellcheck source=scripts/tools.sh
. "$(dirname "$0")/tools.sh"
VERSION=$(tool_version pulumi)
BIN="$CACHE/pulumi-v$VERSION"

have_version() { "$1" version 2>/dev/null | grep -qx "v$VERSION"; }

if [ -x "$BIN/pulumi" ] && [ -x "$BIN/pulumi-resource-pulumi-python" ] && have_version "$BIN/pulumi"; then
  echo "$BIN"; exit 0
fi
if command -v pulumi >/dev/null 2>&1 && have_version "$(command -v pulumi)" \
   && command -v pulumi-resource-pulumi-python >/dev/null 2>&1; then
  dirname "$(command -v pulumi)"; exit 0
fi
need_go pulumi "$VERSION"
need_disk pulumi
echo "install-pulumi: building the Pulumi engine v$VERSION from the Go module proxy (about 4 minutes cold)" >&2
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export GOFLAGS=-mod=mod
json=$(go mod download -json "github.com/pulumi/pulumi/pkg/v3@v$VERSION" "github.com/pulumi/pulumi/sdk/v3@v$VERSION")
pkg_dir=$(printf '%s' "$json" | python3 -c 'import json,sys
dec=json.JSONDecoder(); s=sys.stdin.read(); i=0; out={}
while i < len(s):
    s2=s[i:].lstrip();
    if not s2: break
    o,n=dec.raw_decode(s2); i=len(s)-len(s2)+n; out[o["Path"]]=o["Dir"]
print(out["github.com/pulumi/pulumi/pkg/v3"]); print(out["github.com/pulumi/pulumi/sdk/v3"])')
PKG=$(printf '%s\n' "$pkg_dir" | sed -n 1p); SDK=$(printf '%s\n' "$pkg_dir" | sed -n 2p)
cp -r "$PKG" "$WORK/pkg"; cp -r "$SDK" "$WORK/sdk"; chmod -R u+w "$WORK"
mkdir -p "$BIN.tmp"
(cd "$WORK/pkg" && CGO_ENABLED=0 go build -trimpath -tags osusergo \
  -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$VERSION" \
  -o "$BIN.tmp/pulumi" ./cmd/pulumi)
cp -p "$WORK/sdk/python/dist/pulumi-resource-pulumi-python" "$BIN.tmp/"
chmod +x "$BIN.tmp/pulumi-resource-pulumi-python"
rm -rf "$BIN"; mv "$BIN.tmp" "$BIN"
# The Go build cache is kept: the Go client (clients/go) and the tools built
# here share it, and a wiped cache costs minutes on the next build.
echo "$BIN"
