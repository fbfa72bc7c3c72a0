"""Assemble the diff report: catalog at a git revision vs the working tree."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

from aigw.catalog import LoadedCatalog, load_catalog
from aigw.catalog.view import check_scope
from aigw.client_config import CLIENT_CONFIG, REVISION_FIELD
from aigw.diff.effects import Effect, catalog_effects, compare
from aigw.diff.model import DiffReport, PlanSection, PolicySection, ServiceReport, file_changes
from aigw.errors import AigwError, CatalogError
from aigw.evals.results import current_aliases, read_results, results_path
from aigw.git import Base, export_catalog, repo_root, resolve_base
from aigw.governance import evaluate_policies
from aigw.outputs import AGENT_TEMPLATE_DIR, OUTPUTS
from aigw.render import render_all


def _reason(exc: AigwError) -> str:
    return f"{exc.message}; {exc.hint}" if exc.hint else exc.message


def _in_env(rel: str, env: str | None) -> bool:
    return env is None or rel.split("/", 1)[0] == env


def policy_section(head: LoadedCatalog, base: LoadedCatalog | None, root: Path) -> PolicySection:
    """Verdicts on HEAD, and which of them BASE did not have (same rules and waivers)."""
    try:
        report = evaluate_policies(head, root=root)
        before = evaluate_policies(base, root=root).active if base is not None else []
    except AigwError as exc:  # OPA missing, a rule that does not compile...
        return PolicySection(False, _reason(exc))
    old = {f.identity for f in before}
    now = {f.identity for f in report.active}
    return PolicySection(True, None, report.findings,
                         new={f.identity for f in report.active if f.identity not in old},
                         resolved=[f for f in before if f.identity not in now])


def _revision(files: dict[str, bytes], rel: str) -> str | None:
    data = files.get(rel)
    if data is None:
        return None
    try:
        return str(json.loads(data)[REVISION_FIELD])
    except (ValueError, KeyError, TypeError):
        return "(unreadable)"


def config_effects(base: dict[str, bytes], head: dict[str, bytes],
                   service: str, envs: list[str]) -> list[Effect]:
    """`config of support-bot (prod): revision 3f2a... -> 9c1d...`, per environment it changes.

    What `aigw apply` would publish (the rendered aigw-client.json), so a
    reviewer sees which running services a change reaches, without a Vault plan.
    """
    out = []
    for env in envs:
        rel = f"{env}/{service}/{CLIENT_CONFIG}"
        old, new = _revision(base, rel), _revision(head, rel)
        if old == new:
            continue
        text = f"config of {service} ({env}): revision {old or '(none)'} -> {new or '(none)'}"
        out.append(Effect("config-revision", text, None, old, new))
    return out


AGENT_FILES = tuple(o.file for o in OUTPUTS.values() if o.agent or o.kubernetes)


def _agent_files(files: dict[str, bytes], env: str, service: str) -> dict[str, bytes]:
    prefix = f"{env}/{service}/"
    return {k: v for k, v in files.items() if k.startswith(prefix) and (
        k[len(prefix):] in AGENT_FILES or k[len(prefix):].startswith(f"{AGENT_TEMPLATE_DIR}/"))}


def agent_effects(base: dict[str, bytes], head: dict[str, bytes],
                  service: str, envs: list[str]) -> list[Effect]:
    """`restart the agent of web-app`, per environment whose agent configuration changes.

    A running agent does not pick up its own config (bao-agent.hcl, its templates,
    the Kubernetes manifests); the live aigw-client.json it writes needs no restart.
    """
    out = []
    for env in envs:
        old, new = _agent_files(base, env, service), _agent_files(head, env, service)
        if not old or old == new:  # a new deployment starts its agent anyway
            continue
        changed = sorted(k.split("/", 2)[2] for k in set(old) | set(new)
                         if old.get(k) != new.get(k))
        text = (f"agent of {service} ({env}): its configuration changed "
                f"({', '.join(changed)}): restart the agent of {service}")
        out.append(Effect("agent-restart", text, None, None, changed))
    return out


def readiness_effects(head: LoadedCatalog, env: str | None) -> dict[str, list[Effect]]:
    """Keys ready, ahead of apply: per service, the deployments whose new config reads an
    empty or unreadable slot (read from OpenBao, with or without the engine's plan).

    Raises AigwError when OpenBao cannot be read (the caller notes it).
    """
    from aigw.stack.readiness import check_environment
    from aigw.stack.session import vault_ready
    from aigw.stack.spec import environment_spec
    from aigw.vault import connect

    client = connect(vault_ready())
    out: dict[str, list[Effect]] = {}
    for name in head.catalog.environments:
        if env is not None and name != env:
            continue
        spec = environment_spec(head.catalog, name)
        for d in check_environment(head.catalog, spec, client).deployments:
            if d.blocked:
                out.setdefault(d.service, []).append(Effect(
                    "keys-not-ready", d.lines(ahead=True)[0], None, list(d.empty),
                    list(d.unreadable)))
    return out


def plan_section(path: Path, env: str | None) -> PlanSection:
    """The stack preview (`aigw plan`) as data; unavailable, with the reason, when it cannot run."""
    try:
        from aigw.stack import run
        from aigw.stack.report import summary_line
    except ImportError as exc:
        return PlanSection(False, f"the Vault stack is not installed ({exc})")
    try:
        results = run.plan(path, env, echo=lambda _line: None)
    except AigwError as exc:
        return PlanSection(False, _reason(exc))
    except Exception as exc:  # the plan is one optional part of a report: degrade, say why
        return PlanSection(False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    stacks: list[dict[str, Any]] = [
        {"stack": r.stack, "changed": r.changed, "summary": summary_line(r.counts),
         "changes": [{"op": c.op, "kind": c.kind, "target": c.target, "detail": c.detail()}
                     for c in r.changes]}
        for r in results
    ]
    return PlanSection(True, None, stacks)


def _load_base(root: Path, base: Base, rel: PurePosixPath,
               tmp: Path) -> tuple[LoadedCatalog | None, list[str]]:
    exported = export_catalog(root, base, rel, tmp)
    if exported is None:
        return None, [f"no catalog at {base.label}: every service shows as added"]
    try:
        return load_catalog(exported), []
    except CatalogError as exc:
        return None, [f"the catalog at {base.label} is invalid ({len(exc.problems)} problem(s)); "
                      "compared as if it were empty"]


def build_report(path: Path, *, base_ref: str | None = None, env: str | None = None,
                 plan: bool = True) -> DiffReport:
    """Compare the catalog at PATH with its version at BASE_REF (default origin/main, else HEAD)."""
    head = load_catalog(path)
    check_scope(head.catalog, env)
    root = repo_root(path)
    base = resolve_base(root, base_ref)
    rel = PurePosixPath(path.resolve().relative_to(root).as_posix())
    catalog_dir = path if path.is_dir() else path.parent
    with tempfile.TemporaryDirectory(prefix="aigw-diff-") as tmp:
        base_loaded, notes = _load_base(root, base, rel, Path(tmp))
        base_files = render_all(base_loaded) if base_loaded is not None else {}
        policy = policy_section(head, base_loaded, catalog_dir)
    head_files = render_all(head)
    files = file_changes({k: v for k, v in base_files.items() if _in_env(k, env)},
                         {k: v for k, v in head_files.items() if _in_env(k, env)})
    base_cat = base_loaded.catalog if base_loaded is not None else None
    changes = compare(base_cat, head.catalog, env)
    base_scoped = {k: v for k, v in base_files.items() if _in_env(k, env)}
    head_scoped = {k: v for k, v in head_files.items() if _in_env(k, env)}
    try:
        keys = readiness_effects(head, env)
    except AigwError as exc:
        keys = {}
        notes.append(f"keys-ready check skipped: {_reason(exc)}")
    except ImportError as exc:  # the CLI without the stack's dependencies
        keys = {}
        notes.append(f"keys-ready check skipped: {exc}")
    for c in changes:
        envs = [e for e in c.environments if env is None or e == env]
        c.effects += config_effects(base_scoped, head_scoped, c.service, envs)
        c.effects += agent_effects(base_scoped, head_scoped, c.service, envs)
        c.effects += keys.get(c.service, [])
    services = [ServiceReport(c, [f for f in files if f.service == c.service]) for c in changes]
    plan_part = plan_section(path, env) if plan else PlanSection(False, "skipped: --no-plan")
    shown = rel.as_posix() if str(rel) != "." else "."
    evals = eval_section(catalog_dir, head, notes)
    return DiffReport(base, shown, env, services, catalog_effects(base_cat, head.catalog),
                      policy, plan_part, notes, evals)


def eval_section(catalog_dir: Path, head: LoadedCatalog, notes: list[str]) -> dict[str, Any] | None:
    """`aigw eval`'s results file beside the catalog, kept to aliases it still describes."""
    doc = read_results(results_path(catalog_dir))
    if doc is None:
        return None
    current = current_aliases(doc, head.catalog)
    stale = sorted({str(a.get("alias")) for a in doc["aliases"]} - {a["alias"] for a in current})
    if stale:
        notes.append(f"eval results of {', '.join(stale)} are for other routes than this "
                     "change's: run `aigw eval` again")
    return {**doc, "aliases": current}
