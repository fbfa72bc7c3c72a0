"""`aigw keys put|list|status|import`: provider keys in OpenBao (values never printed).

Each subcommand parses flags, takes OpenBao from the run's context (aigw.context),
calls aigw.slots.put and prints: tables for people, `--json` for machines.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from aigw.commands.options import (
    EnvOpt,
    JsonOpt,
    NeedEnv,
    PathArg,
    ProviderOpt,
    age_text,
    vault_client,
)
from aigw.commands.options import emit_json as _say
from aigw.errors import EXIT_OK

if TYPE_CHECKING:
    from aigw.slots.status import SlotStatus

keys_app = typer.Typer(help="Put, import and inspect provider keys in OpenBao (values never "
                       "printed).", no_args_is_help=True)


def _age(seconds: float | None) -> str:
    return "-" if seconds is None else age_text(seconds)


@keys_app.command("put")
def put(
    slot: Annotated[str, typer.Argument(help="PROVIDER or PROVIDER/SLOT.")],
    env: NeedEnv,
    path: PathArg = Path(),
    file: Annotated[Path | None, typer.Option("--file", "-f", help="Read the value from this "
                                              "file (default: stdin; a terminal prompts "
                                              "without echo).")] = None,
    key_id: Annotated[str | None, typer.Option("--key-id", help="The key's id at the provider "
                                               "(lets rotation revoke it later).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Store it even in a slot no service "
                                        "of the environment reads.")] = False,
    as_json: JsonOpt = False,
) -> int:
    """Store a key in a slot (check-and-set); the value is read from stdin or --file."""
    from aigw.catalog import load_catalog
    from aigw.slots import put as core
    from aigw.slots.lock import who_am_i

    cat = load_catalog(path).catalog
    target = core.resolve_target(cat, env, slot)
    unread = core.unread_slot(cat, target)
    if unread is not None and not force:
        raise unread
    if unread is not None:
        typer.echo(f"warning: {unread.message} (stored anyway: --force)", err=True)
    secret = core.read_secret(target.fields, f"key for {target.id}", file=file)
    client = vault_client()
    result = core.put_key(client, target, secret, key_id=key_id, who=who_am_i(client))
    if as_json:
        _say(result.as_dict())
    else:
        verb = "stored" if result.changed else "unchanged:"
        typer.echo(f"{result.slot}: {verb} version {result.version} "
                   f"(fingerprint {result.fingerprint})")
    return EXIT_OK


@keys_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="A dotenv file with AIGW_KEY_<PROVIDER>_<SLOT>= "
                                         "lines (names as in aigw.env / litellm.yaml).")],
    env: NeedEnv,
    path: PathArg = Path(),
    as_json: JsonOpt = False,
) -> int:
    """Onboard existing keys from a dotenv file (every name is checked before any write)."""
    from aigw.catalog import load_catalog
    from aigw.slots import put as core
    from aigw.slots.lock import who_am_i

    cat = load_catalog(path).catalog
    values = core.load_env_file(file)
    core.import_plan(cat, env, list(values))  # every name checked before OpenBao is asked
    client = vault_client()
    results = core.import_values(client, cat, env, values, str(file), who=who_am_i(client))
    if as_json:
        _say({"keys": [r.as_dict() for r in results]})
    else:
        for r in results:
            typer.echo(f"{r.slot}: {'stored' if r.changed else 'unchanged:'} version "
                       f"{r.version} (fingerprint {r.fingerprint})")
    return EXIT_OK


def _statuses(path: Path, env: str | None, provider: str | None,
              as_json: bool, *, read_only: bool = False) -> tuple[float, list[SlotStatus]]:
    """The selected slots' statuses and when they were read. Under --json they are
    printed here and no rows are left to print as text."""
    from aigw.catalog import load_catalog
    from aigw.slots import put as core

    now = time.time()
    rows = core.slot_statuses(vault_client(), load_catalog(path).catalog, env, provider,
                              read_only=read_only)
    if as_json:
        _say({"slots": [s.as_dict(now) for s in rows]})
        return now, []
    return now, rows


@keys_app.command("list")
def list_(path: PathArg = Path(), env: EnvOpt = None, provider: ProviderOpt = None,
          as_json: JsonOpt = False) -> int:
    """One line per slot some service reads: version, age, fingerprint, driver (never a
    value). A declared slot no route of the environment uses is left out (`keys status`
    shows it)."""
    now, rows = _statuses(path, env, provider, as_json, read_only=True)
    if rows:
        typer.echo(f"{'SLOT':40} {'VER':<5} {'AGE':>5}  {'FINGERPRINT':12}  DRIVER")
    for s in rows:
        age = _age(now - s.created_at) if s.created_at else "-"
        typer.echo(f"{s.target.id:40} v{s.version or '-':<4} {age:>5}  "
                   f"{s.fingerprint or '(no key)':12}  {s.target.rotation.driver}")
    return EXIT_OK


@keys_app.command("status")
def status(path: PathArg = Path(), env: EnvOpt = None, provider: ProviderOpt = None,
           as_json: JsonOpt = False) -> int:
    """Versions, age, due date, rotation state, lock and consumers of each slot."""
    from aigw.catalog.models import format_duration

    now, rows = _statuses(path, env, provider, as_json)
    for s in rows:
        d = s.as_dict(now)
        rot = d["rotation"]
        state = "-" if rot is None else (f"{rot['state']} (run {rot['run_id']}"
                                         + (f", grace until {rot['grace_until']}"
                                            if rot["state"] == "promoted" else "") + ")")
        typer.echo(f"{s.target.id}  [{d['driver']}]")
        typer.echo(f"  key:       {d['fingerprint'] or '(none)'}  version {d['version'] or '-'}"
                   f" of {len(d['versions'])}, age {_age(d['age_seconds'])}, due "
                   f"{d['due_at'] or '-'}{'  DUE' if d['due'] else ''} (max_age "
                   f"{format_duration(s.target.rotation.max_age)})")
        typer.echo(f"  rotation:  {state}" + (f"  locked by {d['lock']}" if d["lock"] else ""))
        if rot is not None and rot["verification"]:
            typer.echo(f"  verified:  {rot['verification']}")
        if rot is not None and rot["revocation"]:
            typer.echo(f"  old key:   {rot['revocation']}")
        if rot is not None and rot["grace_override"]:
            g = rot["grace_override"]
            typer.echo(f"  grace:     shortened from {format_duration(int(g['from']))} to "
                       f"{format_duration(int(g['to']))} by {g['by']}: {g['reason']}")
        typer.echo(f"  consumers: {', '.join(d['consumers']) or '(none)'}")
    return EXIT_OK


def register(app: typer.Typer) -> None:
    """Add `keys` to the app."""
    app.add_typer(keys_app, name="keys")
