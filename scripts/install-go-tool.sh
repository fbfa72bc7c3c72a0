#!/usr/bin/env bash
# Install a Go tool of cli/aigw/tools.toml (a row whose build is "go MODULE"), e.g.
#   bash scripts/install-go-tool.sh opa
# at its pinned version: `aigw tools install --only NAME` (aigw.tool_install) uses the
# binary already found (its AIGW_* variable, the cache, PATH at that version), else
# builds it from the Go module proxy into ${AIGW_CACHE:-~/.cache/aigw}/NAME-vVERSION/.
# A second run builds nothing. Prints the folder holding the binary.
set -euo pipefail
# shellcheck source=scripts/tools.sh
. "$(dirname "$0")/tools.sh"
NAME="${1:?usage: install-go-tool.sh NAME (a go row of cli/aigw/tools.toml)}"
case "$(tool_field "$NAME" build)" in
  "go "*) ;;
  *) echo "install-go-tool: $NAME is not a Go tool in $TOOLS_TABLE" >&2; exit 1 ;;
esac
aigw_tools_install "$NAME"
