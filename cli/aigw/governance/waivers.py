"""Waivers: silence one rule for one service (or one provider), with a reason.

`policies/waivers.yaml` beside the catalog::

    - rule: prod-two-providers
      service: eu-contracts
      reason: Bedrock Frankfurt is our only EU provider; a second one is PLAT-142
      expires: 2026-06-30        # optional; after that day the rule applies again
    - rule: prod-rotation-driver
      provider: deepseek         # provider-wide rules name a provider instead
      reason: DeepSeek has no key-management API

A waiver matches findings of exactly its rule and its service (or provider).
A waiver that matches nothing, or has expired, is reported as a warning so a
stale exception does not linger unnoticed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import yaml

from aigw.catalog.loader import Mark
from aigw.governance.findings import Finding, PolicyError

WAIVERS_FILE = Path("policies") / "waivers.yaml"
_FIELDS = {"rule", "service", "provider", "reason", "expires"}


@dataclass(frozen=True)
class Waiver:
    """One accepted exception."""

    rule: str
    reason: str
    mark: Mark
    service: str | None = None
    provider: str | None = None
    expires: dt.date | None = None

    @property
    def subject(self) -> str:
        """`service bot` or `provider deepseek`."""
        return f"service {self.service}" if self.service else f"provider {self.provider}"

    def matches(self, finding: Finding) -> bool:
        """True when this waiver covers FINDING (same rule, same service or provider)."""
        if finding.rule != self.rule:
            return False
        if self.service is not None:
            return finding.service == self.service
        return finding.provider == self.provider and finding.service is None


def _scalar(node: yaml.Node) -> str | None:
    return str(node.value).strip() if isinstance(node, yaml.ScalarNode) and node.value else None


def load_waivers(path: Path, shown: str | None = None) -> list[Waiver]:
    """Read a waivers file (a missing file means no waivers); PolicyError lists every problem."""
    if not path.is_file():
        return []
    shown = shown or str(path)
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{shown}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if root is None:
        return []
    if not isinstance(root, yaml.SequenceNode):
        raise PolicyError(f"{shown}:1: expected a list of waivers",
                          hint="- {rule: RULE, service: NAME, reason: WHY}")
    waivers, problems = [], []
    for item in root.value:
        mark = Mark(shown, item.start_mark.line + 1, item.start_mark.column + 1)
        if not isinstance(item, yaml.MappingNode):
            problems.append(f"{mark}: expected a mapping with rule, service and reason")
            continue
        fields = {_scalar(k) or "": v for k, v in item.value}
        unknown = sorted(set(fields) - _FIELDS)
        values = {k: _scalar(v) for k, v in fields.items()}
        missing = [k for k in ("rule", "reason") if not values.get(k)]
        if unknown:
            problems.append(f"{mark}: unknown field(s) {', '.join(unknown)} "
                            f"(allowed: {', '.join(sorted(_FIELDS))})")
        if missing:
            problems.append(f"{mark}: {' and '.join(missing)} required (a waiver states why)")
        if bool(values.get("service")) == bool(values.get("provider")):
            problems.append(f"{mark}: name exactly one of service or provider")
        expires = None
        if values.get("expires"):
            try:
                expires = dt.date.fromisoformat(str(values["expires"]))
            except ValueError:
                problems.append(f"{mark}: expires: expected a date such as 2026-06-30")
        if not (unknown or missing) and bool(values.get("service")) != bool(values.get("provider")):
            waivers.append(Waiver(rule=str(values["rule"]), reason=str(values["reason"]),
                                  mark=mark, service=values.get("service"),
                                  provider=values.get("provider"), expires=expires))
    if problems:
        raise PolicyError(f"{len(problems)} problem(s) in {shown}: " + "; ".join(problems))
    return waivers


def apply_waivers(findings: list[Finding], waivers: list[Waiver], rules: list[str],
                  today: dt.date | None = None) -> list[Finding]:
    """Mark waived findings; add a warning for each unused, expired or unknown-rule waiver."""
    today = today or dt.date.today()
    active = [w for w in waivers if w.expires is None or w.expires >= today]
    used: set[Waiver] = set()
    out = []
    for f in findings:
        waiver = next((w for w in active if w.matches(f)), None)
        if waiver is not None:
            used.add(waiver)
            f = Finding(f.rule, f.severity, f.message, f.path, f.service, f.provider, f.mark,
                        waived=waiver.reason)
        out.append(f)
    for w in waivers:
        if w in used:
            continue
        if w.expires is not None and w.expires < today:
            why = f"expired on {w.expires.isoformat()}: {w.rule} applies to {w.subject} again"
        elif w.rule not in rules:
            why = f"there is no rule {w.rule!r} (rules: {', '.join(rules)})"
        else:
            why = f"{w.rule} reports nothing for {w.subject}: remove the waiver"
        out.append(Finding("waivers", "warn", f"waiver of {w.rule} for {w.subject}: {why}",
                           ("waivers",), w.service, w.provider, w.mark))
    return out
