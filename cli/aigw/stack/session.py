"""One run of a stack verb (`plan`, `apply`, `destroy`: aigw.stack.run) and its shared steps.

`Run.start` loads the catalog, picks the environments, checks that OpenBao serves
this token and notes its `cluster_id`; `ready_spec` computes an environment's spec
after the keys-ready holds; `engine_preview`, `clear_locks` and `other_server` are the engine
steps plan and apply share; `engine_errors` turns an engine or provider failure into
one aigw error line (OpenBao unreachable or refusing, a lock held by a live run, the
engine's own error line); `StackResult` is what each verb returns per stack.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aigw.catalog import load_catalog
from aigw.catalog.models import Catalog
from aigw.catalog.view import did_you_mean
from aigw.context import EngineSettings, current
from aigw.errors import EngineError, UsageError, VaultError, VaultForbidden
from aigw.stack import fastplan, locks
from aigw.stack._conn import tagged_error
from aigw.stack.ids import PROJECT, SERVER_OUTPUT
from aigw.stack.readiness import DeploymentReadiness, EnvReadiness, check_environment, hold
from aigw.stack.report import Change, EventLog, summary_line
from aigw.stack.spec import EnvSpec, environment_spec
from aigw.vault import VaultSettings, connect, read_health

if TYPE_CHECKING:
    from aigw.stack.drift import Drift
    from aigw.stack.targets import Choice
    from aigw.stack.workspace import StackHandle

# The Pulumi SDK (~1 s to import) and the modules over it (workspace, program, sdkfix)
# are imported where the engine runs: a plan answered from the fingerprint never needs them.

Echo = Callable[[str], None]
Confirm = Callable[[str], bool]
# What a plan or apply token must be allowed, said whenever OpenBao denies it one.
TOKEN_NEEDS = ("the token needs to manage ACL policies, auth methods and roles, and the KV "
               "mount")


@dataclass
class StackResult:
    """What one stack's plan, apply or destroy found or did."""

    stack: str
    changes: list[Change] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    applied: bool = False
    readiness: EnvReadiness | None = None  # keys ready: which deployments are held
    planner: str = fastplan.ENGINE  # plan: "fingerprint" when answered without the engine
    apply_path: str | None = None  # apply: "targeted" or "full" (aigw.stack.targets)
    refresh: str | None = None  # who read OpenBao back: "aigw" (aigw.stack.drift), "engine"

    @property
    def held(self) -> list[DeploymentReadiness]:
        """The deployments kept at their live config (empty or unreadable slots)."""
        return self.readiness.held if self.readiness is not None else []

    @property
    def changed(self) -> bool:
        """True when something was (or would be) created, updated or deleted, or is held."""
        return bool(self.changes) or bool(self.held) or any(
            n for op, n in self.counts.items() if op != "same")

    def as_dict(self) -> dict[str, Any]:
        """The JSON of one stack in `plan --json` / `apply --json` (docs/json.md)."""
        return {"stack": self.stack, "environment": self.stack.split("/", 1)[-1],
                "changed": self.changed, "applied": self.applied,
                "summary": summary_line(self.counts), "planner": self.planner,
                "apply_path": self.apply_path, "refresh": self.refresh,
                "changes": [c.as_dict() for c in self.changes],
                "readiness": [d.as_dict() for d in (self.readiness.deployments
                                                    if self.readiness else ())]}


def vault_ready(vault: VaultSettings | None = None) -> VaultSettings:
    """Resolve the OpenBao settings and check, in one line on failure, that it serves us."""
    vault = vault or current().vault
    health = read_health(vault.addr, tls=vault.tls)
    if not health.initialized or health.sealed:
        raise VaultError(f"OpenBao at {vault.addr} is sealed or not initialized")
    with vault.errors():
        connect(vault).auth.token.lookup_self()
    return vault


@contextmanager
def engine_errors(stack: str, operation: str) -> Iterator[None]:
    """Run one engine operation (with the SDK workarounds); failures become one aigw error."""
    from pulumi import automation as auto

    from aigw.stack.sdkfix import fast_inline_program
    from aigw.stack.workspace import first_error_line

    try:
        with fast_inline_program():
            yield
    except auto.errors.ConcurrentUpdateError:
        raise EngineError(f"stack {stack} is locked by another run",
                          hint="wait for it, or rerun with --force-unlock if it is dead") from None
    except auto.errors.CommandError as exc:
        text = str(exc)
        error = tagged_error(text)
        if isinstance(error, VaultForbidden):
            raise VaultForbidden(error.message, hint=TOKEN_NEEDS) from None
        if error is not None:
            raise error from None
        raise EngineError(f"pulumi {operation} of stack {stack} failed: "
                          f"{first_error_line(text)}") from None


def clear_locks(handle: StackHandle, echo: Echo, *, force: bool) -> None:
    """Remove the stack's stale locks (or all of them with force); refuse a live holder."""
    label = f"{PROJECT}/{handle.name}"
    backend = handle.settings.backend_dir
    if backend is None:  # not a file backend: only the engine can see its locks
        if force:
            with engine_errors(label, "cancel"):
                handle.stack.cancel()
            echo(f"{label}: cancelled any run holding the lock (--force-unlock)")
        return
    for lock in locks.stack_locks(backend, PROJECT, handle.name):
        if force or lock.holder_is_dead():
            locks.remove_lock(lock)
            why = "--force-unlock" if force else "its holder is gone"
            echo(f"{label}: removed a stale lock left by {lock.holder} ({why})")
        else:
            raise EngineError(f"stack {label} is locked by {lock.holder} since "
                              f"{lock.timestamp or 'an unknown time'}",
                              hint="another run is in progress; if it is dead, rerun with "
                              "--force-unlock")


def environments(names: list[str], env: str | None) -> list[str]:
    """NAMES in the order given (the catalog's: staging before prod), or just ENV."""
    if env is None:
        return list(names)
    if env not in names:
        raise UsageError(f"unknown environment '{env}'", did_you_mean(env, names))
    return [env]


def cluster_id(vault: VaultSettings) -> str:
    """The server's identity (`sys/health` cluster_id; "" when it does not say)."""
    return read_health(vault.addr, tls=vault.tls).cluster_id


def other_server(handle: StackHandle, cluster_id: str, addr: str, echo: Echo) -> bool:
    """True (said in one line) when the state was recorded against another OpenBao.

    A dev server restarted empty, or a backend pointed at a new server: the
    recorded state then describes objects this server does not have, and only a
    refresh shows what is missing. A state recorded before aigw kept the id is
    not judged.
    """
    label = f"{PROJECT}/{handle.name}"
    try:
        recorded = fastplan.recorded_server(handle.settings, handle.name)
    except LookupError:  # a backend aigw does not read: ask the engine
        with engine_errors(label, "stack output"):
            output = handle.stack.outputs().get(SERVER_OUTPUT)
        recorded = None if output is None else str(output.value)
    if not cluster_id or recorded is None or recorded in ("", cluster_id):
        return False
    echo(f"{label}: the state was recorded against another OpenBao server (cluster "
         f"{recorded[:8]}, now {cluster_id[:8]} at {addr}): refreshing, so this "
         "shows what is really there (hint: `aigw apply` refreshes and recreates what is "
         "missing)")
    return True


def engine_preview(handle: StackHandle, refresh: bool,
             readiness: EnvReadiness | None = None, **how: Any) -> StackResult:
    label = f"{PROJECT}/{handle.name}"
    log = EventLog()
    with engine_errors(label, "preview"):
        handle.stack.preview(on_event=log.on_event, refresh=refresh, **how)
    return StackResult(stack=label, changes=log.changes(), counts=log.counts,
                       readiness=readiness)


def ready_spec(run: Run, name: str, *, allow_empty: bool = False,
               ) -> tuple[EnvSpec, EnvReadiness]:
    """The spec apply converges for environment NAME, and the keys-ready verdicts.

    Reads OpenBao itself (slot metadata, live configs and policies), not through
    the engine: a held deployment keeps what OpenBao has (aigw.stack.readiness).
    """
    spec = environment_spec(run.catalog, name)
    client = connect(run.vault)
    try:
        readiness = check_environment(run.catalog, spec, client, allow_empty=allow_empty)
        return hold(run.catalog, spec, readiness, client), readiness
    except VaultForbidden as exc:
        raise VaultForbidden(exc.message, hint=TOKEN_NEEDS) from None


@dataclass(frozen=True)
class Run:
    """What plan and apply start from: the catalog, the environments asked for, a
    reachable OpenBao and its cluster id, the engine, and the catalog's path."""

    catalog: Catalog
    names: list[str]
    vault: VaultSettings
    engine: EngineSettings
    cluster_id: str
    path: Path

    @classmethod
    def start(cls, path: Path, env: str | None, vault: VaultSettings | None,
              engine: EngineSettings | None) -> Run:
        catalog = load_catalog(path).catalog
        names = environments(list(catalog.environments), env)
        vault = vault_ready(vault)
        return cls(catalog, names, vault, engine or current().engine, cluster_id(vault), path)

    @functools.cached_property
    def commit(self) -> str | None:
        """The catalog's git commit (recorded with each config the engine writes)."""
        from aigw.git import catalog_commit

        return catalog_commit(self.path)

    def program(self, spec: EnvSpec, digest: str,
                only: frozenset[str] | None = None) -> Callable[[], Any]:
        """The inline program declaring SPEC (imports the SDK: only where the engine runs);
        with ONLY, just those resources (a targeted apply, aigw.stack.targets)."""
        from aigw.stack.program import spec_program

        return spec_program(spec, self.vault.addr, self.cluster_id, self.commit, digest, only)

    def read_back(self, name: str, label: str, echo: Echo, *, until_first: bool = False,
                  ) -> Drift:
        """Read every object stack NAME records back from OpenBao (aigw.stack.drift), said in
        one line: is an engine refresh needed?"""
        from aigw.stack import drift

        try:
            found = drift.check(self.engine, self.vault, name, until_first=until_first)
        except VaultForbidden as exc:
            raise VaultForbidden(exc.message, hint=TOKEN_NEEDS) from None
        echo(found.line(label))
        return found

    def choose(self, spec: EnvSpec, name: str, digest: str, *, fresh: str | None,
               recorded: fastplan.Recorded | None = None) -> tuple[Choice, dict[str, Any]]:
        """How apply runs `up` for stack NAME, and the arguments that add to `up`/`preview`:
        FRESH says why the engine refreshes (the full `up` then), RECORDED is the state's
        resources already read."""
        from aigw.stack import targets

        if fresh is not None:
            return targets.full(f"{fresh}: the engine refreshes every object first"), {}
        choice = targets.choose(spec, self.vault.addr, self.commit, self.engine, name, recorded)
        if choice.names is None:
            return choice, {}
        return choice, {"target": list(choice.urns),
                        "program": self.program(spec, digest, choice.names)}


