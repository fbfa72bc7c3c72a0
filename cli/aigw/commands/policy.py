"""`aigw policy check|test`: the governance rules (Rego, run by OPA) over the catalog."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aigw.commands.options import JsonOpt, PathArg, catalog_folder, emit_json
from aigw.errors import EXIT_CHANGES, EXIT_OK

policy_app = typer.Typer(help="Governance rules as code (Rego, run by OPA): aigw's defaults "
                         "plus the policies/ folder beside the catalog.", no_args_is_help=True)


@policy_app.command("check")
def check(path: PathArg = Path(), as_json: JsonOpt = False) -> int:
    """Evaluate the governance rules. Exit 1 on a deny (warnings print but pass)."""
    from aigw.catalog import load_catalog
    from aigw.governance import counts, evaluate_policies

    loaded = load_catalog(path)
    report = evaluate_policies(loaded, root=catalog_folder(path))
    c = counts(report.findings)
    if as_json:
        emit_json({"rules": report.rules, "counts": c,
                   "findings": [f.as_dict() for f in report.findings]})
    else:
        for f in report.findings:
            if f.waived:
                who = f.service or f.provider or "-"
                typer.echo(f"{f.mark}: waived {f.rule} ({who}): {f.waived}")
            else:
                typer.echo(str(f))
        typer.echo(f"policy check: {c['deny']} deny, {c['warn']} warn, {c['waived']} waived "
                   f"({len(report.rules)} rules)")
    return EXIT_CHANGES if report.blocking else EXIT_OK


@policy_app.command("test")
def test(
    path: Annotated[Path, typer.Argument(help="The catalog folder (its policies/ folder is "
                                         "tested with aigw's default rules).")] = Path(),
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List every test.")] = False,
) -> int:
    """Run the rules' own Rego unit tests (`opa test`). Exit 1 when one fails."""
    from aigw.governance import test_policies

    code, output = test_policies(catalog_folder(path), verbose=verbose)
    typer.echo(output, nl=False)
    return EXIT_OK if code == 0 else EXIT_CHANGES


def register(app: typer.Typer) -> None:
    """Add `policy check|test` to the app."""
    app.add_typer(policy_app, name="policy")
