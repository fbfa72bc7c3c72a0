# Sourced by scripts/install-*.sh: the tool table (cli/aigw/tools.toml, the only place
# tool versions are pinned) and the steps every install script shares.
# shellcheck shell=bash
AIGW_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_TABLE="$AIGW_ROOT/cli/aigw/tools.toml"
CACHE="${AIGW_CACHE:-$HOME/.cache/aigw}"

# tool_field NAME FIELD: a string or number field of tools.toml's [NAME] table.
tool_field() {
  awk -v section="[$1]" -v key="$2" '
    /^\[/ { inside = ($1 == section); next }
    inside && $1 == key && $2 == "=" {
      sub(/^[^=]*=[ \t]*/, ""); sub(/[ \t]+#.*$/, ""); gsub(/^["\x27]|["\x27]$/, ""); print; exit
    }' "$TOOLS_TABLE"
}

# tool_version NAME: $NAME_VERSION (e.g. OPA_VERSION) when set, else the pinned version.
tool_version() {
  local var; var="$(printf '%s' "$1" | tr '[:lower:]-' '[:upper:]_')_VERSION"
  local pinned; pinned=$(tool_field "$1" version)
  [ -n "$pinned" ] || { echo "install: no [$1] version in $TOOLS_TABLE" >&2; return 1; }
  printf '%s\n' "${!var:-$pinned}"
}

# aigw_tools_install NAME...: `aigw tools install --only NAME...` (aigw.tool_install builds
# the Go tools and the engine; it is shipped in the wheel, so pip users run the same
# recipe). Runs this checkout's aigw with the project's .venv python ($AIGW_PYTHON, else
# .venv/bin/python, else python3). Prints the folder of each tool.
aigw_tools_install() {
  local py="${AIGW_PYTHON:-}" args=()
  if [ -z "$py" ]; then
    if [ -x "$AIGW_ROOT/.venv/bin/python" ]; then py="$AIGW_ROOT/.venv/bin/python"; else py=python3; fi
  fi
  for name in "$@"; do args+=(--only "$name"); done
  PYTHONPATH="$AIGW_ROOT/cli${PYTHONPATH:+:$PYTHONPATH}" "$py" -m aigw tools install "${args[@]}"
}
