"""Where eval calls get their keys: a folder of key files, or the `eval` slots in OpenBao.

Evals call providers with their own key, never a service's: each provider an
evaluated route uses has a slot named `eval` (`providers.<p>.slots: [default,
eval]`, filled with `aigw keys put <p>/eval --env E`), so the eval spend is on a
key of its own, with its own provider-side limit, and revoking it touches no
service. Two sources, never argv:

- `--keys DIR` (or `$AIGW_EVAL_KEYS`): a folder holding `<provider>.eval.key`
  files, mode 0600 (a laptop; the stand-in tests);
- else `--env E`: the slots `<provider>/eval` of environment E, read from
  OpenBao with the run's token (in CI, the `aigw-ci-plan` role's OIDC login,
  which pull requests from forks never get). They are written 0600 into a
  private temporary folder that is removed when the run ends.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from aigw.catalog.models import Catalog
from aigw.errors import UsageError
from aigw.fsutil import atomic_write
from aigw.names import EVAL_SLOT, key_file

__all__ = ["eval_key_file", "key_folder"]


def eval_key_file(provider: str) -> str:
    """The key file of a provider's eval slot (`deepseek.eval.key`)."""
    return key_file(provider, EVAL_SLOT)


def _check_folder(folder: Path, providers: Iterable[str]) -> None:
    missing = [eval_key_file(p) for p in sorted(providers)
               if not (folder / eval_key_file(p)).is_file()]
    if missing:
        raise UsageError(f"{folder}: no eval key file {', '.join(missing)}",
                         hint="write each provider's eval key there (mode 0600), or pass "
                         "--env E to read the `eval` slots from OpenBao")
    for p in sorted(providers):
        path = folder / eval_key_file(p)
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            raise UsageError(f"{path}: a key file must not be readable by others",
                             hint=f"chmod 600 {path}")


@contextmanager
def key_folder(cat: Catalog, providers: Iterable[str], *, folder: Path | None,
               env: str | None) -> Iterator[Path]:
    """A folder holding `<provider>.eval.key` for every one of PROVIDERS."""
    wanted = sorted(set(providers))
    if folder is not None:
        _check_folder(folder, wanted)
        yield folder.resolve()
        return
    if env is None:
        raise UsageError("no eval keys: pass --keys DIR (files <provider>.eval.key) or --env E "
                         "(the providers' `eval` slots in OpenBao)",
                         hint="docs/safe-changes.md#where-eval-keys-come-from")
    tmp = Path(tempfile.mkdtemp(prefix="aigw-eval-keys-"))
    try:
        os.chmod(tmp, 0o700)  # noqa: PTH101
        for provider, value in _read_slots(cat, env, wanted):
            atomic_write(tmp / eval_key_file(provider), value.encode(), 0o600)
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _read_slots(cat: Catalog, env: str, providers: list[str]) -> Iterator[tuple[str, str]]:
    from aigw.apis import APIS
    from aigw.catalog.view import SlotRef
    from aigw.context import current
    from aigw.names import slot_path
    from aigw.slots.kv import KV
    from aigw.vault import connect

    # A provider only the base's routes use (the change removes it) is not checked here:
    # its eval slot may still hold a key, and reading it says so either way.
    undeclared = [p for p in providers
                  if p in cat.providers and EVAL_SLOT not in cat.providers[p].slots]
    if undeclared:
        raise UsageError(f"provider(s) {', '.join(undeclared)} declare no `{EVAL_SLOT}` slot",
                         hint=f"add {EVAL_SLOT} to providers.<p>.slots, then "
                         f"`aigw keys put <p>/{EVAL_SLOT} --env {env}`")
    aws = [p for p in providers if p in cat.providers and APIS[cat.providers[p].api].is_aws]
    if aws:
        raise UsageError(f"provider(s) {', '.join(aws)} sign with AWS keys: `aigw eval` reads "
                         "only API-key eval slots from OpenBao",
                         hint="pass --keys DIR with <provider>.eval.key as an AWS credentials "
                         "file")
    environment = cat.environments[env]
    client = connect(current().vault)
    for provider in providers:
        path = slot_path(env, environment, SlotRef(provider, EVAL_SLOT))
        entry = KV(client, environment.mount).read(path, metadata_fallback=False)
        value = (entry.data or {}).get("api_key") if entry is not None else None
        if not isinstance(value, str) or not value:
            raise UsageError(f"slot {provider}/{EVAL_SLOT} in {env} is empty",
                             hint=f"aigw keys put {provider}/{EVAL_SLOT} --env {env}")
        yield provider, value
