#!/usr/bin/env bash
# Install the Pulumi engine at the version pinned in cli/aigw/tools.toml (the same as
# the pinned `pulumi` Python SDK; tests/test_tools.py checks they agree):
# `aigw tools install --only pulumi` (aigw.tool_install) uses a `pulumi` already found
# at that version, else builds it from the Go module proxy (the recipe is in
# docs/engine.md; about 4 minutes and 4 GB cold) into
# ${AIGW_CACHE:-~/.cache/aigw}/pulumi-vVERSION/. A second run builds nothing. The Go
# build cache is kept. Prints the folder holding `pulumi` (put it first on PATH).
set -euo pipefail
# shellcheck source=scripts/tools.sh
. "$(dirname "$0")/tools.sh"
aigw_tools_install pulumi
