"""`aigw eval`: run each changed alias's eval set, base routes against head routes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from aigw.commands import output
from aigw.commands.options import JsonOpt, PathArg, catalog_folder, emit_json
from aigw.envvars import EVAL_KEYS
from aigw.errors import EXIT_OK


class _Bar:
    """A one-line progress bar on stderr; silent unless stderr is a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or not total:
            return
        width = 30
        filled = width * done // total
        sys.stderr.write(f"\reval [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def eval_command(
    path: PathArg = Path(),
    alias: Annotated[list[str] | None, typer.Option(
        "--alias", "-a", help="Evaluate this alias (repeatable; default: every alias with an "
        "eval set whose routes the change touches).")] = None,
    base: Annotated[str | None, typer.Option(
        "--base", help="The git revision whose routes are the 'old' side (default: origin/main "
        "if it exists, else HEAD).")] = None,
    env: Annotated[str | None, typer.Option(
        "--env", "-e", help="The environment whose `eval` key slots (OpenBao) the calls use, "
        "when --keys is not given.")] = None,
    keys: Annotated[Path | None, typer.Option(
        "--keys", envvar=EVAL_KEYS, help="A folder of <provider>.eval.key files (mode "
        "0600); default: the providers' `eval` slots of --env in OpenBao.")] = None,
    concurrency: Annotated[int, typer.Option(
        "--concurrency", "-j", min=1, max=64, help="Calls in flight at once.")] = 4,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", help="The results file (default: .aigw/eval-results.json beside the "
        "catalog, which aigw diff and aigw policy check read).")] = None,
    cache: Annotated[bool, typer.Option(
        "--cache/--no-cache", help="Reuse answers of earlier runs (.aigw/eval-cache/).")] = True,
    as_json: JsonOpt = False,
) -> int:
    """Evaluate changed aliases: old routes vs new, score per grader, latency, tokens, cost."""
    from aigw.evals.compare import EvalOptions, run_evals, write_results
    from aigw.evals.report import format_text
    from aigw.evals.results import results_path

    options = EvalOptions(base_ref=base, aliases=tuple(alias or ()), env=env, keys_dir=keys,
                          concurrency=concurrency, cache=cache)
    bar = _Bar(sys.stderr.isatty() and not output.active())
    doc = run_evals(path, options, progress=bar)
    target = out or results_path(catalog_folder(path))
    write_results(doc, target)
    if as_json:
        emit_json({**doc, "results_file": str(target)})
    else:
        typer.echo(format_text(doc), nl=False)
        typer.echo(f"results: {target}", err=True)
    return EXIT_OK


def register(app: typer.Typer) -> None:
    """Add `aigw eval` to the app."""
    app.command("eval")(eval_command)
