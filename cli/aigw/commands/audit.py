"""`aigw audit`: print the audit trail of key operations, and check its hash chain."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from aigw.commands.options import EnvOpt, JsonOpt, PathArg, vault_client
from aigw.commands.options import emit_json as _say
from aigw.errors import EXIT_CHANGES, EXIT_OK


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
    client = vault_client()
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
    """Add `audit` to the app."""
    app.command("audit")(audit_cmd)
