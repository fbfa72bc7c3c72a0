"""`Client` (client.py) is generated from `AsyncClient` (aio.py): the two cannot drift.

scripts/unasync.py derives the sync module from the async one (httpcore's shape);
this test fails when the committed client.py is not what it derives, e.g. a method
added to one side only. Fix: edit aio.py, run ``python scripts/unasync.py``.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "unasync.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("unasync", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_client_py_is_what_aio_py_generates() -> None:
    result = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stderr


def test_the_sync_twin_drops_await_and_async_names() -> None:
    source = ('"""`AsyncThing`: one per event loop.\n\nMore.\n"""\n'
              "class AsyncThing:\n"
              "    async def __aenter__(self) -> AsyncThing:\n"
              "        await self.aclose()\n"
              "        return make(aio=True)\n")
    out = _script().unasync(source)
    assert out.startswith('"""`Thing`: one per process (thread-safe).\n\nGenerated from aio.py')
    assert out.endswith("class Thing:\n"
                        "    def __enter__(self) -> Thing:\n"
                        "        self.close()\n"
                        "        return make(aio=False)\n")
