"""How the Pulumi engine is started for the stacks (project `aigw`, one stack per environment).

Where the state lives and its passphrase are `EngineSettings`, resolved once by
`aigw.context` (`$PULUMI_BACKEND_URL`, `$PULUMI_CONFIG_PASSPHRASE[_FILE]`, else the
dev ones under `<home>/.aigw/`); this module only uses them.

The engine gets its environment through LocalWorkspace `env_vars`: the engine
settings of `aigw.tools.pulumi_env`, PULUMI_SKIP_CHECKPOINTS (state written
once per run; safe because every create is an upsert), and the OpenBao address
and token that the dynamic providers read from their environment. That mapping
is a `SecretEnv`, whose repr hides its values: pulumi's LocalWorkspace puts
`env_vars` in its own repr.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pulumi import automation as auto

from aigw import envvars
from aigw.context import EngineSettings
from aigw.errors import EngineError
from aigw.stack.ids import PROJECT
from aigw.stack.sdkfix import quiet_pulumi_home
from aigw.tools import pulumi_command, pulumi_env
from aigw.vault import VaultSettings


class SecretEnv(dict[str, str]):
    """An environment mapping whose repr never shows values (it holds the OpenBao token)."""

    def __repr__(self) -> str:
        return f"<environment: {len(self)} variables>"

    __str__ = __repr__


def engine_env(settings: EngineSettings, vault: VaultSettings) -> SecretEnv:
    """The environment of the engine process (and so of the dynamic providers)."""
    env = SecretEnv(pulumi_env(os.environ))
    env.update(settings.passphrase_env)
    env.update({
        envvars.PULUMI_BACKEND_URL: settings.backend_url,
        "PULUMI_SKIP_CHECKPOINTS": "true",
        "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
    })
    env.update(vault.as_env())
    for name, value in ENGINE_GO_ENV.items():  # the user's own setting wins
        env.setdefault(name, value)
    quiet_pulumi_home(env)
    return env


# The engine's Go heap. By default Go lets it grow to twice the live heap between
# collections; at 3,000 services (10,500 resources) that peaked at ~720 MB RSS, with
# GOGC=50 and a soft limit of 384 MiB at ~400-480 MB (benchmarks/apply.py, docs/stacks.md).
# The limit is soft: a bigger live heap still fits, at the cost of more collections.
ENGINE_GO_ENV = {"GOGC": "50", "GOMEMLIMIT": "384MiB"}


@dataclass
class StackHandle:
    """An opened stack plus the settings it was opened with."""

    stack: auto.Stack
    name: str
    settings: EngineSettings


@contextmanager
def open_stack(env_name: str, settings: EngineSettings, vault: VaultSettings,
               program: Callable[[], None] | None = None) -> Iterator[StackHandle]:
    """Create or select the stack of `env_name` in a throwaway work folder."""
    with tempfile.TemporaryDirectory(prefix="aigw-stack-") as work:
        opts = _workspace_options(work, settings, vault)
        try:
            stack = auto.create_or_select_stack(stack_name=env_name, project_name=PROJECT,
                                                program=program or _no_program, opts=opts)
        except auto.errors.CommandError as exc:
            raise EngineError(f"cannot open stack {PROJECT}/{env_name} at "
                              f"{settings.backend_url}: {first_error_line(str(exc))}") from None
        yield StackHandle(stack=stack, name=env_name, settings=settings)


def _workspace_options(work: str, settings: EngineSettings,
                       vault: VaultSettings) -> auto.LocalWorkspaceOptions:
    return auto.LocalWorkspaceOptions(
        work_dir=work,
        env_vars=engine_env(settings, vault),
        pulumi_command=pulumi_command(),
        project_settings=auto.ProjectSettings(
            name=PROJECT, runtime="python", backend=auto.ProjectBackend(url=settings.backend_url)),
    )


def stack_names(settings: EngineSettings, vault: VaultSettings) -> list[str]:
    """The stacks of project `aigw` in the backend, by short name (= environment)."""
    with tempfile.TemporaryDirectory(prefix="aigw-stack-") as work:
        opts = _workspace_options(work, settings, vault)
        ws = auto.LocalWorkspace(work_dir=work, env_vars=opts.env_vars,
                                 pulumi_command=opts.pulumi_command,
                                 project_settings=opts.project_settings)
        return sorted(s.name.rsplit("/", 1)[-1] for s in ws.list_stacks())


def _no_program() -> None:
    """Destroy needs no program; the workspace wants one for inline stacks."""


def first_error_line(text: str) -> str:
    """The most telling line of an engine error output (not its closing "update failed")."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln.split(":", 1)[1].strip() for ln in lines if ln.lower().startswith("error:")]
    specific = [e for e in errors if not _GENERIC.match(e)]
    if specific or errors:
        return (specific or errors)[0][:300]
    return (lines[-1] if lines else "unknown error")[:300]


_GENERIC = re.compile(r"^(update|preview|destroy|refresh) failed$|^an error occurred")
