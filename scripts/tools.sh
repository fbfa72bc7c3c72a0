# Sourced by scripts/install-*.sh: the tool table (cli/aigw/tools.toml, the only place
# tool versions are pinned) and the steps every install script shares.
# shellcheck shell=bash
TOOLS_TABLE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/cli/aigw/tools.toml"
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

# need_go NAME VERSION: fail with one line when Go is missing.
need_go() {
  command -v go >/dev/null 2>&1 || {
    echo "install-$1: Go is needed to build $1 v$2 (or put $1 v$2 on PATH)" >&2; exit 1; }
}

# need_disk NAME: fail with one line when the build would not fit (tools.toml disk_mb).
need_disk() {
  local need_mb; need_mb=$(tool_field "$1" disk_mb)
  [ -n "$need_mb" ] || return 0
  local free_kb; free_kb=$(df -Pk "$HOME" | awk 'NR==2 {print $4}')
  if [ "${free_kb:-0}" -lt $((need_mb * 1000)) ]; then
    echo "install-$1: only $((free_kb / 1024)) MB free under $HOME; building $1 needs about $((need_mb / 1000)).$((need_mb % 1000 / 100)) GB" >&2
    exit 1
  fi
}
