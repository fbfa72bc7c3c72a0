"""`aigw keys put|list|status|import`, `aigw rotate-keys` and `aigw audit`.

Each command parses flags, takes OpenBao from the run's context (aigw.context), calls
one core function (aigw.slots.put, aigw.rotation.runner, aigw.slots.audit) and
prints: tables for people, `--json` for machines, progress lines on stderr.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from aigw.commands.options import (
    EnvOpt,
    JsonOpt,
    NeedEnv,
    PathArg,
    ProviderOpt,
    YesOpt,
    age_text,
    duration_flag,
)
from aigw.commands.options import emit_json as _say
from aigw.errors import EXIT_CHANGES, EXIT_OK, RotationError, RotationInProgress, UsageError

if TYPE_CHECKING:
    from aigw.rotation.machine import Progress
    from aigw.slots.status import SlotStatus

keys_app = typer.Typer(help="Put, import and inspect provider keys in OpenBao (values never "
                       "printed).", no_args_is_help=True)


def _client() -> Any:
    from aigw.context import current
    from aigw.vault import connect

    return connect(current().vault)


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
    client = _client()
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
    client = _client()
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
    rows = core.slot_statuses(_client(), load_catalog(path).catalog, env, provider,
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


def _progress(p: Progress) -> None:
    arrow = p.detail if p.to_state in ("note", "failed", "waiting") else (
        f"{p.from_state or '-'} -> {p.to_state}" + (f" ({p.detail})" if p.detail else ""))
    label = {"note": "note: ", "failed": "failed: "}.get(p.to_state, "")
    typer.echo(f"rotate {p.slot}: {label}{arrow}", err=True)


def rotate_keys_cmd(
    path: PathArg = Path(),
    env: EnvOpt = None,
    provider: ProviderOpt = None,
    slot: Annotated[str | None, typer.Option("--slot", help="Only this slot.")] = None,
    due: Annotated[bool, typer.Option("--due", help="Only keys older than max_age.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Change nothing; exit 1 when "
                                          "something would be done.")] = False,
    resume: Annotated[bool, typer.Option("--resume", help="Only continue rotations in "
                                         "progress.")] = False,
    finish: Annotated[bool, typer.Option("--finish", help="Like --resume, and finish rotations "
                                         "whose grace period is over.")] = False,
    abort: Annotated[bool, typer.Option("--abort", help="Give up rotations in progress whose "
                                        "new key is not promoted yet (it is revoked; the old "
                                        "key stays).")] = False,
    grace: Annotated[str | None, typer.Option("--grace", help="Grace period after promotion "
                                              "(never below agent_refresh; fixed once a key "
                                              "is promoted: a longer one only delays).")] = None,
    override_grace: Annotated[bool, typer.Option("--override-grace", help="Allow --grace to "
                                                 "shorten the grace recorded at promotion "
                                                 "(needs --reason).")] = False,
    reason: Annotated[str | None, typer.Option("--reason", help="Why the grace is overridden "
                                               "(recorded in the audit trail).")] = None,
    wait: Annotated[str | None, typer.Option("--wait", help="Wait this long for evidence that "
                                             "consumers moved (default: do not wait).")] = None,
    yes: YesOpt = False,
    as_json: JsonOpt = False,
) -> int:
    """Rotate provider keys with zero downtime; resumable after any interruption."""
    from aigw.catalog import load_catalog
    from aigw.rotation.runner import RotateOptions, rotate_keys, timing_from_env
    from aigw.slots import put as core
    from aigw.slots.targets import select_targets

    loaded = load_catalog(path)
    options = RotateOptions(env=env, provider=provider, slot=slot, due=due, resume=resume,
                            finish=finish, dry_run=dry_run, grace=duration_flag(grace, "--grace"),
                            abort=abort, override_grace=override_grace, reason=reason)
    continuing = (resume or finish or abort) and not due  # as the runner selects
    select_targets(loaded.catalog, env, provider, slot,  # unknown names fail before Vault
                   read_only=not continuing)
    if not (yes or dry_run):
        if not sys.stdin.isatty():
            raise UsageError("rotate-keys changes provider keys: pass --yes (or --dry-run)")
        typer.confirm("Rotate the selected keys?", abort=True)
    client = _client()
    timing = timing_from_env(wait=duration_flag(wait, "--wait"))
    result = rotate_keys(loaded, client, options, timing=timing,
                         secret_input=core.StdinSecretInput(), reporter=_progress)
    if as_json:
        _say(result.as_dict())
    else:
        skipped: dict[str, int] = {}
        for o in result.outcomes:
            if o.status == "skipped":  # summarised below, one line for all of them
                skipped[o.message or "skipped"] = skipped.get(o.message or "skipped", 0) + 1
                continue
            extra = f" [{o.state}]" if o.state and o.status != "done" else ""
            typer.echo(f"{o.slot}: {o.status}{extra}" + (f": {o.message}" if o.message else ""))
            for note in o.notes:
                if note.startswith(("revoke", "grace shortened", "the new key was not")):
                    typer.echo(f"  {note}")
        if skipped:
            total = sum(skipped.values())
            whys = sorted(skipped.items())
            typer.echo(f"skipped {total} slot(s): " + (whys[0][0] if len(whys) == 1 else
                       ", ".join(f"{n} {why}" for why, n in whys)))
        if result.by_status("waiting"):
            typer.echo("the old keys stay valid until consumers have moved: rerun `aigw "
                       "rotate-keys --resume` (with --wait 10m to wait), or `--finish` once "
                       "the grace period is over")
    failed = result.by_status("failed", "aborted")
    if failed:
        # A slot's message may carry its own hint already: never add a second one.
        own = any("(hint: " in o.message for o in failed)
        raise RotationError(f"{len(failed)} slot(s) failed: " + "; ".join(
            f"{o.slot}: {o.message}" for o in failed),
            hint=None if own else "fix the cause and rerun; the journal resumes where it "
            "stopped")
    busy = result.by_status("in-progress")
    if busy:
        raise RotationInProgress("; ".join(o.message for o in busy))
    return result.exit_code


def audit_cmd(path: PathArg = Path(), env: EnvOpt = None,
              verify: Annotated[bool, typer.Option("--verify", help="Check the hash chain; "
                                                   "exit 1 on a gap or an edit.")] = False,
              as_json: JsonOpt = False) -> int:
    """Print the audit trail of key operations (and check it with --verify)."""
    from aigw.catalog import load_catalog
    from aigw.catalog.models import format_duration
    from aigw.slots.audit import AuditLog
    from aigw.slots.kv import KV
    from aigw.slots.targets import select_targets

    cat = load_catalog(path).catalog
    client = _client()
    scopes: dict[tuple[str, str], Any] = {}
    for t in select_targets(cat, env):
        scopes.setdefault((t.mount, t.bookkeeping), t)
    out: list[dict[str, Any]] = []
    bad = 0
    for (mount, base), _t in sorted(scopes.items()):
        report = AuditLog(KV(client, mount), base).verify()
        bad += len(report.problems)
        out.append({"mount": mount, "path": f"{base}/audit", "ok": report.ok,
                    "problems": report.problems, "records": report.records})
    if as_json:
        # One shape with and without --verify: the scopes, each with its records.
        _say({"verified": verify, "scopes": out})
    else:
        for scope in out:
            for r in scope["records"]:
                typer.echo(f"#{r['seq']:<5} {r['at']} {r['env']}/{r['slot']} {r['action']}: "
                           f"{r.get('from_state') or '-'} -> {r['to_state']}, version "
                           f"{r.get('from_version') or '-'} -> {r.get('to_version') or '-'}, "
                           f"key {r.get('old_fingerprint') or '-'} -> "
                           f"{r.get('new_fingerprint') or '-'}, by {r['who']}")
                g = (r.get("detail") or {}).get("grace_override")
                if g:
                    typer.echo(f"       grace shortened from {format_duration(int(g['from']))}"
                               f" to {format_duration(int(g['to']))} by {g['by']}: "
                               f"{g['reason']}")
            if verify:
                state = "intact" if scope["ok"] else "BROKEN"
                typer.echo(f"{scope['mount']}/{scope['path']}: {state}, "
                           f"{len(scope['records'])} record(s)")
                for p in scope["problems"]:
                    typer.echo(f"  problem: {p}")
    return EXIT_CHANGES if verify and bad else EXIT_OK


def register(app: typer.Typer) -> None:
    """Add `keys`, `rotate-keys` and `audit` to the app."""
    app.add_typer(keys_app, name="keys")
    app.command("rotate-keys")(rotate_keys_cmd)
    app.command("audit")(audit_cmd)

