"""Workarounds for pulumi 3.259 (SDK and engine) that make stacks of thousands of resources work.

Each one was measured on a 2,500-resource stack (docs/stacks.md has the numbers):

- `keep_pickler()`: `serialize_provider` wraps `pickle._Pickler._batch_setitems`
  once per dynamic resource and never unwraps it; past ~300 resources the chain
  overflows the stack (RecursionError). Save and restore it around each
  construction (which is synchronous).
- `fast_inline_program()`, active while an Automation API operation runs:
  * `wait_for_rpcs` waits for outstanding outputs with `asyncio.wait(...,
    FIRST_COMPLETED)` in a loop: quadratic in the number of outputs (~7 per
    resource), up to 20 s of CPU at 2,500 resources. Waiting for all of them at
    once is equivalent there (each finished task is then awaited the same way).
  * `pulumi.log.debug` makes a blocking RPC to the engine per call, three per
    resource; the messages only show in verbose engine logs, so skip them.
  * Every resource sends the stack trace of its construction (turned into file
    URIs frame by frame) for source positions in state; skip it.
  * Every dynamic resource pickles its provider with dill (a new Pickler, the
    patching above, ~0.3 ms); aigw's providers hold no state, so each class is
    pickled once and its (deterministic) string reused.
- `no_outputs_after_up(stack)`: `Stack.up` ends by running `pulumi stack output`
  twice (plain and --show-secrets), each loading the whole state (~1 s each at
  1,000 services); aigw reads none of them.
- `quiet_pulumi_home()`: the engine logs every run at debug level into
  `$PULUMI_HOME/logs/` (encrypted, unredacted; ~30% of its CPU at this size and
  megabytes per run). It skips that log when it cannot create the folder, so
  aigw gives the engine its own PULUMI_HOME where `logs` is a file. A
  PULUMI_HOME set by the user is kept as is.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import types
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pulumi.dynamic.dynamic as sdk_dynamic
import pulumi.log
import pulumi.runtime.resource as sdk_resource
import pulumi.runtime.stack as sdk_stack
from pulumi.runtime.proto import source_pb2

from aigw import envvars
from aigw.tools import cache_dir


@contextmanager
def keep_pickler() -> Iterator[None]:
    """Undo serialize_provider's leftover wrapper of `pickle._Pickler._batch_setitems`."""
    saved = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]
    try:
        yield
    finally:
        pickle._Pickler._batch_setitems = saved  # type: ignore[attr-defined]


class _AsyncioForStack(types.ModuleType):
    """`asyncio` as seen by pulumi.runtime.stack, with a linear `wait`."""

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    @staticmethod
    async def wait(fs: Any, *, timeout: float | None = None,
                   return_when: str = asyncio.ALL_COMPLETED) -> Any:
        """asyncio.wait, waiting for all tasks when asked for the first without a timeout."""
        if return_when == asyncio.FIRST_COMPLETED and timeout is None:
            return_when = asyncio.ALL_COMPLETED
        return await asyncio.wait(fs, timeout=timeout, return_when=return_when)


def _no_debug(*_args: Any, **_kwargs: Any) -> None:
    """pulumi.log.debug without the blocking RPC."""


def _no_stack_trace() -> source_pb2.StackTrace:
    return source_pb2.StackTrace()


_PICKLED: dict[type, Any] = {}
_serialize = sdk_dynamic._serialize
# Where aigw's providers live: stateless classes, pickled by reference.
_PROVIDERS_MODULE = "aigw.stack.providers"


def _serialize_once(allow_secrets: bool, fn: Any, provider: Any) -> Any:
    """The SDK's `_serialize` of a provider, once per aigw provider class."""
    kind = type(provider)
    if kind.__module__ != _PROVIDERS_MODULE or vars(provider):
        return _serialize(allow_secrets, fn, provider)
    if kind not in _PICKLED:
        _PICKLED[kind] = _serialize(allow_secrets, fn, provider)
    return _PICKLED[kind]


@contextmanager
def no_outputs_after_up(stack: Any) -> Iterator[None]:
    """Run `stack.up` without the two `stack output` runs that follow it (UpResult.outputs
    is then empty; aigw reads the events and, where it needs one, the state)."""
    stack.outputs = dict
    try:
        yield
    finally:
        del stack.outputs


@contextmanager
def fast_inline_program() -> Iterator[None]:
    """Apply the in-process SDK workarounds for the duration of one engine operation.

    Set AIGW_PULUMI_SDK_DEBUG=1 to run with the SDK untouched (debug logs and
    source positions back, at the cost above).
    """
    if os.environ.get(envvars.PULUMI_SDK_DEBUG):
        yield
        return
    patches = {(sdk_stack, "asyncio"): _AsyncioForStack("asyncio"),
               (pulumi.log, "debug"): _no_debug,
               (sdk_resource, "_get_stack_trace"): _no_stack_trace,
               (sdk_dynamic, "_serialize"): _serialize_once}
    saved = {key: getattr(*key) for key in patches}
    for (module, name), value in patches.items():
        setattr(module, name, value)
    try:
        yield
    finally:
        for (module, name), value in saved.items():
            setattr(module, name, value)


def quiet_pulumi_home(env: dict[str, str]) -> None:
    """Point the engine at aigw's PULUMI_HOME (no automatic debug log) unless one is set."""
    if env.get("PULUMI_HOME"):
        return
    home = cache_dir() / "pulumi-home"
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    logs = home / "logs"
    if logs.is_dir() and not any(logs.iterdir()):
        logs.rmdir()
    if not logs.exists():
        _write_blocker(logs)
    env["PULUMI_HOME"] = str(home)


def _write_blocker(path: Path) -> None:
    path.write_text("aigw: a file, not a folder, so that the Pulumi engine skips its automatic "
                    "debug log (see aigw.stack.sdkfix)\n")
