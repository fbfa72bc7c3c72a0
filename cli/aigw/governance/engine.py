"""Run OPA: evaluate every rule package under `data.aigw.rules`, run the rules' own tests.

A rule is a Rego package under `aigw.rules` defining `deny` and/or `warn`: sets of
objects `{"msg": str, "path": [..], "service": str|null, "provider": str|null}`.
Its id is the package path below `aigw.rules` with `_` written `-`
(`aigw.rules.prod_two_providers` -> `prod-two-providers`,
`aigw.rules.team.require_description` -> `team.require-description`).
Files named `*_test.rego` are tests: loaded by `opa test`, never by evaluation.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aigw import proc as _proc
from aigw.governance.findings import SEVERITIES, PolicyError, Severity
from aigw.tools import find_opa

QUERY = "data.aigw.rules"
TIMEOUT = 600


@dataclass(frozen=True)
class RawFinding:
    """One object of a rule's deny/warn set, before locating and waiving."""

    rule: str
    severity: Severity
    message: str
    path: tuple[str | int, ...]
    service: str | None
    provider: str | None


@dataclass
class Evaluation:
    """Every rule's id, and what the rules reported."""

    rules: list[str]
    findings: list[RawFinding]


def rego_files(dirs: Iterable[Path], *, tests: bool = False) -> list[Path]:
    """The .rego files under DIRS (each once); test files only when TESTS."""
    seen: dict[Path, Path] = {}
    for folder in dirs:
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*.rego")):
            if not tests and path.name.endswith("_test.rego"):
                continue
            seen.setdefault(path.resolve(), path)
    return list(seen.values())


def _opa(args: list[str], stdin: str | None = None) -> _proc.CompletedProcess[str]:
    try:
        return _proc.run([str(find_opa()), *args], input=stdin, capture_output=True,
                         text=True, timeout=TIMEOUT, check=False)
    except _proc.TimeoutExpired:
        raise PolicyError(f"opa {args[0]} took longer than {TIMEOUT}s") from None


def _opa_errors(text: str) -> list[str]:
    try:
        doc = json.loads(text)
    except ValueError:
        return [line for line in text.strip().splitlines() if line][:20]
    out = []
    for err in doc.get("errors", []) if isinstance(doc, dict) else []:
        loc = err.get("location") or {}
        where = f"{loc.get('file')}:{loc.get('row')}: " if loc.get("file") else ""
        out.append(f"{where}{err.get('message', err)}")
    return out or [text.strip()[:500]]


def evaluate(document: dict[str, Any], files: list[Path]) -> Evaluation:
    """Evaluate FILES' rules over DOCUMENT (the policy input) with OPA."""
    if not files:
        return Evaluation([], [])
    args = ["eval", "--format", "json", "--stdin-input"]
    for f in files:
        args += ["--data", str(f)]
    proc = _opa([*args, QUERY], stdin=json.dumps(document))
    if proc.returncode != 0:
        errors = _opa_errors(proc.stdout or proc.stderr)
        raise PolicyError("the governance rules do not compile: " + "; ".join(errors),
                          hint="run `aigw policy test` to see every error")
    result = json.loads(proc.stdout).get("result") or []
    value = result[0]["expressions"][0]["value"] if result else {}
    rules: list[str] = []
    findings: list[RawFinding] = []
    for rule, package in _rule_packages(value, ()):
        rules.append(rule)
        for severity in SEVERITIES:
            for obj in package.get(severity) or []:
                findings.append(_raw(rule, severity, obj))
    return Evaluation(sorted(rules), findings)


def _rule_packages(value: Any, path: tuple[str, ...]) -> Iterator[tuple[str, dict[str, Any]]]:
    if not isinstance(value, dict):
        return
    if path and any(k in value for k in SEVERITIES):
        yield ".".join(path).replace("_", "-"), value
    for key, sub in sorted(value.items()):
        if key not in SEVERITIES and isinstance(sub, dict):
            yield from _rule_packages(sub, (*path, key))


def _raw(rule: str, severity: Severity, obj: Any) -> RawFinding:
    if not isinstance(obj, dict) or not isinstance(obj.get("msg"), str):
        raise PolicyError(f"rule {rule}: every {severity} entry must be an object with a "
                          f"string `msg`, got {json.dumps(obj)[:200]}")
    path = obj.get("path") or []
    if not isinstance(path, list) or not all(isinstance(p, str | int) for p in path):
        raise PolicyError(f"rule {rule}: `path` must be a list of keys and indexes, got "
                          f"{json.dumps(path)[:200]}")
    service, provider = obj.get("service"), obj.get("provider")
    return RawFinding(rule, severity, obj["msg"], tuple(path),
                      service if isinstance(service, str) else None,
                      provider if isinstance(provider, str) else None)


def run_tests(files: list[Path], *, verbose: bool = False) -> tuple[int, str]:
    """`opa test` over FILES; returns (exit code, output). 0 when every test passes."""
    if not files:
        return 0, "no Rego files\n"
    proc = _opa(["test", *(["-v"] if verbose else []), *map(str, files)])
    return proc.returncode, proc.stdout + proc.stderr
