#!/usr/bin/env bash
# Install OPA (the Rego policy engine `aigw policy` runs) at the version pinned in
# cli/aigw/tools.toml: built from the Go module proxy by install-go-tool.sh (about
# 30 s with a warm module cache, 4 min cold), cached, found on PATH first.
exec bash "$(dirname "$0")/install-go-tool.sh" opa
