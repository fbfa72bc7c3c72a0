"""`aigw validate` and `aigw render`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from aigw.commands.options import (
    JsonOpt,
    PathArg,
    catalog_folder,
    emit_json,
    rendered_folder,
)
from aigw.errors import EXIT_CHANGES, EXIT_OK

if TYPE_CHECKING:
    from aigw.catalog import LoadedCatalog
    from aigw.governance.findings import Finding


def validate(
    path: PathArg = Path(),
    as_json: JsonOpt = False,
    policy: Annotated[bool, typer.Option("--policy/--no-policy", help="Also run the governance "
                                         "rules (aigw policy check; needs opa: aigw tools "
                                         "install). --no-policy skips them.")] = True,
) -> int:
    """Check the catalog (schema, references, names, residency) and its governance rules.

    Exit 2 listing every catalog problem; exit 1 when a governance rule denies; exit 3
    when the rules cannot run (no OPA: `aigw tools install --only opa`), unless
    `--no-policy` skips them.
    """
    from aigw.catalog import load_catalog

    loaded = load_catalog(path)  # a CatalogError under --json: the errors of docs/json.md
    # Governance is never silently off: without OPA the check fails (ToolMissing names
    # `aigw tools install`); only --no-policy skips it, and says so.
    findings, note = (_policy_findings(loaded, path) if policy
                      else ([], "policy check skipped (--no-policy)"))
    blocking = [f for f in findings if f.blocking]
    cat = loaded.catalog
    counts = {
        "providers": len(cat.providers), "models": len(cat.models),
        "services": len(cat.services), "environments": len(cat.environments),
        "deployments": sum(len(s.environments) for s in cat.services.values()),
    }
    if as_json:
        emit_json({"files": [str(f) for f in loaded.files], **counts,
                   "policy": [f.as_dict() for f in findings], "policy_note": note})
    else:
        for finding in findings:
            typer.echo(str(finding), err=True)
        typer.echo(f"{'ok' if not blocking else 'catalog ok'}: "
                   f"{', '.join(str(f) for f in loaded.files)}: {counts['providers']} "
                   f"providers, {counts['models']} model aliases, {counts['services']} services, "
                   f"{counts['environments']} environments ({counts['deployments']} deployments)")
        if note:
            typer.echo(f"note: {note}", err=True)
        if blocking:
            typer.echo(f"error: {len(blocking)} governance rule violation(s) "
                       "(see docs/governance.md to fix or waive)", err=True)
    return EXIT_CHANGES if blocking else EXIT_OK


def _policy_findings(loaded: LoadedCatalog, path: Path) -> tuple[list[Finding], str | None]:
    """Governance findings (ToolMissing, naming `aigw tools install`, when OPA is missing)."""
    from aigw.governance import check_policies

    return check_policies(loaded, root=catalog_folder(path)), None


def render(
    path: PathArg = Path(),
    env: Annotated[str | None, typer.Option("--env", "-e", help="Only this environment.")] = None,
    service: Annotated[str | None, typer.Option("--service", "-s", help="Only this service.")]
    = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder (default: "
                                             "rendered/ beside the catalog).")] = None,
    check: Annotated[bool, typer.Option("--check", help="Write nothing; print the plan (what "
                                        "would be written and removed) and a diff, and exit 1 "
                                        "when the files on disk differ.")] = False,
    as_json: JsonOpt = False,
) -> int:
    """Render per-service configs (aigw-client.json, LiteLLM, dotenv, agent) into a folder."""
    from aigw.catalog import load_catalog
    from aigw.render_sync import render_into

    loaded = load_catalog(path)
    if out is None:
        out = rendered_folder(path)
    result = render_into(loaded, out, env=env, service=service, check=check)
    if as_json:
        emit_json({"out": str(out), "check": check, "written": result.written,
                   "removed": result.removed, "unchanged": len(result.unchanged),
                   "kept": result.kept, "deployments": result.deployments,
                   "committable": result.committable,
                   "deployments_unchanged": result.skipped})
    elif check:
        if result.changed:
            typer.echo("\n".join([*result.plan(), result.diff]), nl=False)
            typer.echo(f"render --check: {len(result.written)} file(s) differ, "
                       f"{len(result.removed)} to remove in {out} (run `aigw render`)", err=True)
        else:
            typer.echo(f"render --check: {out} is up to date ({len(result.unchanged)} files)")
    else:
        typer.echo(f"rendered {len(result.written) + len(result.unchanged)} files into {out}: "
                   f"{len(result.written)} written, {len(result.unchanged)} unchanged, "
                   f"{len(result.removed)} removed; {result.skipped} of {result.deployments} "
                   "deployments unchanged since the last render (not rendered again)")
    if result.kept and not as_json:
        shown = ", ".join(result.kept[:5]) + (" ..." if len(result.kept) > 5 else "")
        typer.echo(f"left alone {len(result.kept)} file(s) aigw render did not write: {shown}",
                   err=True)
    if result.committable:
        shown = ", ".join(result.committable[:3]) + (" ..." if len(result.committable) > 3
                                                      else "")
        typer.echo(f"warning: git would commit what an agent writes: {shown} (in a git work "
                   "tree and not git-ignored; hint: put key_dir outside the repository, or "
                   "git-ignore it)", err=True)
    return EXIT_CHANGES if check and result.changed else EXIT_OK


def register(app: typer.Typer) -> None:
    """Add these commands to the app."""
    app.command()(validate)
    app.command()(render)
