"""`aigw policy check|test`, `aigw diff` and `aigw init`: review and govern before shipping."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from aigw.commands.options import JsonOpt, PathArg, YesOpt, catalog_folder, emit_json
from aigw.errors import EXIT_CHANGES, EXIT_OK


class Format(StrEnum):
    """Output formats of `aigw diff`."""

    text = "text"
    markdown = "markdown"
    json = "json"


def _format_mode(ctx: typer.Context, value: Format) -> Format:
    """`--format json` is this command's `--json` (docs/json.md)."""
    from aigw.commands import output

    if value is Format.json:
        output.activate(ctx)
    return value


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


def diff(
    path: PathArg = Path(),
    base: Annotated[str | None, typer.Option("--base", help="The git revision to compare with "
                                             "(default: origin/main if it exists, else HEAD).")]
    = None,
    env: Annotated[str | None, typer.Option("--env", "-e", help="Only this environment.")] = None,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="text, markdown (a PR comment) "
                                        "or json (the same as --json).",
                                        callback=_format_mode)] = Format.text,
    plan: Annotated[bool, typer.Option("--plan/--no-plan", help="Include the Vault plan (needs "
                                       "OpenBao and the Pulumi engine; default: on).")] = True,
    limit: Annotated[int | None, typer.Option("--limit", help="Markdown size cap in characters "
                                              "(default: what a GitHub comment holds).",
                                              min=2000)] = None,
    as_json: JsonOpt = False,
) -> int:
    """What a catalog change does: per-service effects, rendered diffs, policy, Vault plan."""
    from aigw.diff import COMMENT_LIMIT, build_report, format_markdown, format_text
    from aigw.errors import UsageError

    if as_json and fmt is Format.markdown:
        raise UsageError("--json and --format markdown ask for two outputs",
                         hint="choose one (--format json is the same as --json)")
    report = build_report(path, base_ref=base, env=env, plan=plan)
    if as_json or fmt is Format.json:
        emit_json(report.as_dict())
    elif fmt is Format.markdown:
        typer.echo(format_markdown(report, limit=limit or COMMENT_LIMIT), nl=False)
    else:
        typer.echo(format_text(report), nl=False)
    return EXIT_OK


def init(
    folder: Annotated[Path, typer.Argument(help="Where to create the catalog repository.")]
    = Path(),
    update: Annotated[bool, typer.Option("--update", help="Refresh only the files aigw owns "
                                         "(workflows, the setup-aigw action, the pre-commit "
                                         "config); the catalog and policies stay as they are."
                                         )] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite every scaffold file, the "
                                        "catalog and policies included (names them and asks; "
                                        "without a terminal it needs --yes).")] = False,
    install_source: Annotated[str | None, typer.Option(
        "--install-source", help="What CI pip-installs aigw from (default: where this aigw "
        "came from, else aigw[cli]==VERSION; docs/ci.md).")] = None,
    yes: YesOpt = False,
) -> int:
    """Scaffold a catalog repo: example catalog, policies, CI workflows, .gitignore, README."""
    from aigw.errors import UsageError
    from aigw.scaffold import init_repo, plan_init, write_init
    from aigw.scaffold.source import detect

    if update and force:
        raise UsageError("--update and --force do not go together",
                         hint="--update refreshes aigw's own files; --force overwrites all")
    source, note = (install_source, None) if install_source else detect()
    if force:
        plan = plan_init(folder, install_source=source)
        if plan.overwrite and not yes:
            _confirm_overwrite(plan.overwrite)
        result = write_init(plan)
    else:
        result = init_repo(folder, update=update, install_source=source)
    for verb, rels in (("create   ", result.written), ("overwrite", result.overwritten),
                       ("unchanged", result.unchanged if update else []),
                       ("keep     ", result.kept)):
        for rel in rels:
            typer.echo(f"  {verb} {rel}")
    typer.echo(f"CI installs aigw from: {source}")
    if note:
        typer.echo(f"note: {note}", err=True)
    if update:
        typer.echo(f"refreshed aigw's own files in {folder}: {len(result.written)} created, "
                   f"{len(result.overwritten)} updated, {len(result.unchanged)} unchanged; "
                   "catalog and policies untouched")
    else:
        typer.echo(f"initialised an aigw catalog repository in {folder}\n"
                   "next: aigw validate && aigw policy check && aigw render, then commit; "
                   "see README.md for CI setup")
    return EXIT_OK


def _confirm_overwrite(paths: list[str]) -> None:
    """Name what --force overwrites; ask on a terminal, refuse without one (needs --yes)."""
    import sys

    from aigw.errors import UsageError

    names = ", ".join(paths)
    if not sys.stdin.isatty():
        raise UsageError(f"init --force would overwrite {len(paths)} file(s): {names}",
                         hint="pass --yes to overwrite them, or --update to refresh only "
                         "aigw's own files")
    typer.echo(f"init --force overwrites {len(paths)} file(s):", err=True)
    for rel in paths:
        typer.echo(f"  {rel}", err=True)
    typer.confirm("Overwrite them?", default=False, abort=True)


def register(app: typer.Typer) -> None:
    """Add `policy check|test`, `diff` and `init` to the app."""
    app.add_typer(policy_app, name="policy")
    app.command()(diff)
    app.command()(init)
