"""The TypeScript client (clients/typescript) builds and passes its own tests.

Runs ``npm test`` there: the compile with the pinned TypeScript, then node:test
over the conformance vectors (writing ``typescript.results.json`` next to the
Python runners' files, spec/README.md#the-results-file), the official openai and
@anthropic-ai/sdk clients against local provider stand-ins, live keys and config
under load, the canary, telemetry and the packed tarball. So the project's one
test command runs them too. Dependencies come from scripts/install-node-client.sh
(``npm ci``, skipped when node_modules matches the lockfile).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "clients" / "typescript"

pytestmark = pytest.mark.integration


def test_npm_test_passes() -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed (the TypeScript client needs Node >= 20)")
    subprocess.run(["bash", str(ROOT / "scripts" / "install-node-client.sh")], check=True,
                   timeout=600)
    done = subprocess.run(["npm", "test", "--silent"], cwd=PACKAGE, capture_output=True,
                          text=True, timeout=900, env={**os.environ, "NO_COLOR": "1"})
    tail = "\n".join((done.stdout + done.stderr).splitlines()[-60:])
    assert done.returncode == 0, f"npm test failed in clients/typescript:\n{tail}"
