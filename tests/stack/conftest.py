"""Fixtures for the Vault stack: a fresh OpenBao dev server and a fresh Pulumi backend per test.

Stack tests check that OpenBao holds *exactly* the catalog's objects, so each
one gets its own server (not the shared session one) and its own file backend.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import hvac
import pytest
from testing.bao import BaoDevServer

from aigw.context import EngineSettings
from aigw.stack import run
from aigw.stack.session import StackResult
from aigw.vault import VaultSettings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
PASSPHRASE = "stack-tests-passphrase"


@dataclass
class StackRig:
    """One OpenBao server + one Pulumi backend, and the stack operations against them."""

    bao: BaoDevServer
    backend: Path
    lines: list[str] = field(default_factory=list)

    @property
    def vault(self) -> VaultSettings:
        """Settings for the server (address and root token)."""
        return VaultSettings(addr=self.bao.addr, token=self.bao.token)

    @property
    def engine(self) -> EngineSettings:
        """Settings for the test backend."""
        return EngineSettings(backend_url=f"file://{self.backend}",
                              passphrase_env={"PULUMI_CONFIG_PASSPHRASE": PASSPHRASE})

    def client(self) -> hvac.Client:
        """A root client."""
        return self.bao.client()

    def plan(self, path: Path, env: str | None = None, **kw: object) -> list[StackResult]:
        """aigw plan (core), output collected in `lines`."""
        return run.plan(path, env, echo=self.lines.append, vault=self.vault, engine=self.engine,
                        **kw)  # type: ignore[arg-type]

    def apply(self, path: Path, env: str | None = None, **kw: object) -> list[StackResult]:
        """aigw apply --yes (core)."""
        return run.apply(path, env, echo=self.lines.append, yes=True, vault=self.vault,
                         engine=self.engine, **kw)  # type: ignore[arg-type]

    def fill(self, folder: Path, env: str, slots: list[str] | None = None,
             value: str = "sk-canary-stack-fill") -> None:
        """Store VALUE in every empty slot environment ENV reads (or only SLOTS, `p/s`
        ids), as `aigw keys put` would: so apply publishes configs that read them."""
        from aigw.catalog import load_catalog
        from aigw.catalog.view import used_slots
        from aigw.names import slot_path

        cat = load_catalog(folder).catalog
        e = cat.environments[env]
        kv = self.client().secrets.kv.v2
        for ref in used_slots(cat, env):
            path = slot_path(env, e, ref)
            if (slots is not None and ref.id not in slots) or \
                    self.client().read(f"{e.mount}/data/{path}"):
                continue
            kv.create_or_update_secret(path=path, secret={"api_key": value}, cas=0,
                                       mount_point=e.mount)

    def cli_env(self) -> dict[str, str]:
        """The environment for running `aigw` as a process against this rig."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("BAO_", "VAULT_", "PULUMI_CONFIG_PASSPHRASE"))}
        env.update({"BAO_ADDR": self.bao.addr, "BAO_TOKEN": self.bao.token,
                    "PULUMI_BACKEND_URL": f"file://{self.backend}",
                    "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
                    "AIGW_HOME": str(self.backend.parent)})
        return env


@pytest.fixture
def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[StackRig]:
    """A fresh OpenBao dev server and Pulumi backend; the CLI's environment points at them."""
    backend = tmp_path / "backend"
    backend.mkdir()
    with BaoDevServer() as server:
        r = StackRig(bao=server, backend=backend)
        for name in list(os.environ):
            if name.startswith(("BAO_", "VAULT_", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_BACKEND")):
                monkeypatch.delenv(name)
        for name, value in r.cli_env().items():
            monkeypatch.setenv(name, value)
        yield r


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    """A writable copy of examples/ (tests edit it)."""
    dest = tmp_path / "catalog"
    shutil.copytree(EXAMPLES, dest, ignore=shutil.ignore_patterns("rendered", ".aigw"))
    return dest
