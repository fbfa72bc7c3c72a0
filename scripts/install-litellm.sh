#!/usr/bin/env bash
# Install the LiteLLM proxy (the benchmark peer) into its own virtualenv, so its
# large dependency tree never touches aigw's, at the version pinned in
# cli/aigw/tools.toml (LITELLM_VERSION overrides it). Idempotent: a second run with
# the venv already at the pinned version installs nothing.
# Creates ${AIGW_CACHE:-~/.cache/aigw}/litellm-venv and prints its path.
set -euo pipefail
# shellcheck source=scripts/tools.sh
. "$(dirname "$0")/tools.sh"
VERSION=$(tool_version litellm)
case "$VERSION" in
  1.82.7|1.82.8) echo "install-litellm: refusing litellm $VERSION (compromised release)" >&2; exit 1 ;;
esac
VENV="$CACHE/litellm-venv"
PYTHON="${PYTHON:-python3}"

installed_version() {
  "$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))' 2>/dev/null || true
}

if [ -x "$VENV/bin/litellm" ] && [ "$(installed_version)" = "$VERSION" ]; then
  echo "$VENV"; exit 0
fi
mkdir -p "$CACHE"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
echo "install-litellm: installing litellm[proxy]==$VERSION into $VENV" >&2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
REQ=$(tool_field litellm build); REQ="${REQ#pip }"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "$REQ==$VERSION" >&2
[ "$(installed_version)" = "$VERSION" ] || { echo "install-litellm: litellm $VERSION did not install" >&2; exit 1; }
echo "$VENV"
