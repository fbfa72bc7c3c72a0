"""Where the stacks' state lives and how the Pulumi engine is started.

- Backend: `$PULUMI_BACKEND_URL`, else the dev backend `file://<home>/.aigw/pulumi`.
- Secrets passphrase: `$PULUMI_CONFIG_PASSPHRASE` or `$PULUMI_CONFIG_PASSPHRASE_FILE`,
  else `<home>/.aigw/passphrase` (created once, 0600, like `aigw dev up` does).
- Project `aigw`, one stack per environment, named like the environment.

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
import secrets
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from pulumi import automation as auto
from semver import VersionInfo

from aigw import dev
from aigw.errors import EngineError
from aigw.stack.program import PROJECT
from aigw.stack.sdkfix import quiet_pulumi_home
from aigw.tools import find_pulumi, pulumi_env, pulumi_version
from aigw.vault import VaultSettings


class SecretEnv(dict[str, str]):
    """An environment mapping whose repr never shows values (it holds the OpenBao token)."""

    def __repr__(self) -> str:
        return f"<environment: {len(self)} variables>"

    __str__ = __repr__


@dataclass(frozen=True)
class EngineSettings:
    """Backend and passphrase for the stacks; `repr` never shows the passphrase."""

    backend_url: str
    passphrase_env: Mapping[str, str] = field(repr=False)  # the one PULUMI_CONFIG_PASSPHRASE*
    source: str = "env"  # "env" or "dev"

    @property
    def backend_dir(self) -> Path | None:
        """The folder of a `file://` backend, None for other backends."""
        parts = urlsplit(self.backend_url)
        if parts.scheme != "file":
            return None
        return Path(unquote(parts.netloc + parts.path)).expanduser()

    @classmethod
    def resolve(cls, env: Mapping[str, str] | None = None,
                home: Path | None = None) -> EngineSettings:
        """Backend and passphrase from the environment, else the dev ones under `.aigw/`."""
        env = os.environ if env is None else env
        paths = dev.DevPaths.of(home or dev.default_home(env=env))
        backend = env.get("PULUMI_BACKEND_URL")
        source = "env"
        if not backend:
            paths.pulumi.mkdir(mode=0o700, parents=True, exist_ok=True)
            backend, source = f"file://{paths.pulumi}", "dev"
        if env.get("PULUMI_CONFIG_PASSPHRASE") is not None:
            phrase = {"PULUMI_CONFIG_PASSPHRASE": env["PULUMI_CONFIG_PASSPHRASE"]}
        elif env.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
            phrase = {"PULUMI_CONFIG_PASSPHRASE_FILE": env["PULUMI_CONFIG_PASSPHRASE_FILE"]}
        else:
            paths.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            dev.write_private(paths.passphrase, secrets.token_urlsafe(32), keep_existing=True)
            phrase = {"PULUMI_CONFIG_PASSPHRASE_FILE": str(paths.passphrase)}
        return cls(backend_url=backend, passphrase_env=phrase, source=source)


def engine_env(settings: EngineSettings, vault: VaultSettings) -> SecretEnv:
    """The environment of the engine process (and so of the dynamic providers)."""
    env = SecretEnv(pulumi_env(os.environ))
    env.update(settings.passphrase_env)
    env.update({
        "PULUMI_BACKEND_URL": settings.backend_url,
        "PULUMI_SKIP_CHECKPOINTS": "true",
        "PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK": "true",
        "BAO_ADDR": vault.addr,
        "VAULT_ADDR": vault.addr,
        "BAO_TOKEN": vault.token,
        "VAULT_TOKEN": vault.token,
    })
    quiet_pulumi_home(env)
    return env


def pulumi_command() -> auto.PulumiCommand:
    """A PulumiCommand for the engine aigw found (the cache holds `pulumi`, not `bin/pulumi`)."""
    cmd = auto.PulumiCommand.__new__(auto.PulumiCommand)
    cmd.command = str(find_pulumi())
    cmd.version = VersionInfo.parse(pulumi_version())
    return cmd


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
