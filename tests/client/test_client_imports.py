"""The client must install and import without the CLI's dependencies.

Note: httpx itself imports rich, click and pygments (for its optional `httpx`
command line) whenever they are installed, as they are in the dev environment;
so the tests check what aigw.client adds beyond httpx, and that it imports with
those packages made unimportable, as in a service that installs the client alone.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ["typer", "pulumi", "hvac", "boto3", "yaml", "jinja2", "pydantic", "rich",
         # the SDK adapters and SigV4 are extras: imported only when used
         "openai", "anthropic", "httpx2", "botocore"]


def run(code: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    return list(json.loads(out.splitlines()[-1]))


def test_import_client_loads_no_cli_dependency():
    """Importing aigw.client pulls in none of the CLI's heavy modules beyond httpx's own."""
    code = f"""
import sys, json
import httpx
before = set(sys.modules)
import aigw.client
heavy = {HEAVY!r}
print(json.dumps(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in heavy)))
"""
    assert run(code) == []


def test_client_imports_with_cli_dependencies_absent():
    """With the CLI's packages unimportable (and httpx's CLI extras), the client still loads."""
    code = f"""
import sys, json, importlib.abc
heavy = set({HEAVY!r}) | {{"click", "pygments"}}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in heavy:
            raise ImportError(name + " is blocked")
        return None
sys.meta_path.insert(0, Block())
import aigw.client
aigw.client.Client
print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy)))
"""
    assert run(code) == []


# The bottom-layer modules the client shares with the CLI (docs/architecture.md): the
# names and file-naming rules, the table of wire APIs, and the fast-path switch (with its
# variable's name in aigw.envvars). Standard library only.
SHARED = ("aigw", "aigw.names", "aigw.apis", "aigw.fastpath", "aigw.envvars")


def test_client_imports_nothing_else_from_aigw():
    """aigw.client is self-contained: from the package only aigw.client.* and SHARED."""
    code = ("import aigw.client, sys, json; "
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('aigw'))))")
    loaded = run(code)
    assert "aigw.apis" in loaded
    assert [m for m in loaded if m not in SHARED and not m.startswith("aigw.client")] == []


def test_shared_modules_import_only_the_standard_library():
    """What the client shares with the CLI loads nothing outside the standard library,
    so `aigw validate` reads the wire table without httpx (and the client without the CLI)."""
    code = f"""
import sys, json
before = set(sys.modules)
for name in {SHARED!r}:
    __import__(name)
new = {{m.split('.')[0] for m in set(sys.modules) - before}}
print(json.dumps(sorted(new - set(sys.stdlib_module_names) - {{"aigw"}})))
"""
    assert run(code) == []


def test_sdk_adapter_without_its_sdk_names_the_extra(tmp_path):
    """With openai and anthropic unimportable, the adapters say which extra to install."""
    cfg = tmp_path / "aigw-client.json"
    cfg.write_text(json.dumps({"version": 1, "service": "s", "environment": "e",
                               "key_dir": ".", "aliases": {}}))
    code = f"""
import sys, json, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ("openai", "anthropic"):
            raise ImportError(name + " is blocked")
        return None
sys.meta_path.insert(0, Block())
from aigw.client import Client, ClientError
out = []
with Client.from_file({str(cfg)!r}) as client:
    for make in (client.openai, client.anthropic):
        try:
            make()
        except ClientError as exc:
            out.append(str(exc))
print(json.dumps(out))
"""
    assert run(code) == [
        "the openai SDK is not installed: pip install 'aigw[openai]'",
        "the anthropic SDK is not installed: pip install 'aigw[anthropic]'"]
