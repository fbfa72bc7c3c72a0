"""`aigw validate`: check the catalog (schema, references, names) and its governance rules."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from aigw.commands.options import JsonOpt, PathArg, catalog_folder, emit_json
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


def register(app: typer.Typer) -> None:
    """Add `validate` to the app."""
    app.command()(validate)
