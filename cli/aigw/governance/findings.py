"""What a governance rule reports: a located, severity-tagged finding."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from aigw.catalog.loader import Mark, PathKey, dotted
from aigw.errors import EXIT_INVALID, AigwError

Severity = Literal["deny", "warn"]
SEVERITIES: tuple[Severity, ...] = ("deny", "warn")


class PolicyError(AigwError):
    """A rule or the waivers file is broken (Rego syntax, a finding without msg...)."""

    exit_code = EXIT_INVALID


@dataclass(frozen=True)
class Finding:
    """One rule violation (deny) or advisory (warn), located in the catalog.

    `service` and `provider` say whom it concerns (either may be None: a
    provider-wide rule names no service); `waived` holds the waiver's reason
    when a waiver silences it.
    """

    rule: str
    severity: Severity
    message: str
    path: PathKey
    service: str | None = None
    provider: str | None = None
    mark: Mark | None = None
    waived: str | None = None

    @property
    def blocking(self) -> bool:
        """True for an unwaived deny: `aigw policy check` exits 1."""
        return self.severity == "deny" and self.waived is None

    @property
    def key(self) -> str:
        """The dotted catalog path (`services.bot.keys`)."""
        return dotted(self.path)

    @property
    def identity(self) -> tuple[str, str, str, str | None, str | None]:
        """What makes two findings the same across two versions of a catalog (no marks)."""
        return (self.rule, self.severity, self.key, self.service, self.provider)

    def __str__(self) -> str:
        where = f"{self.mark}: " if self.mark else ""
        waived = f" (waived: {self.waived})" if self.waived else ""
        return f"{where}{self.severity} {self.rule}: {self.key}: {self.message}{waived}"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (used by `--json` and `aigw diff`)."""
        return {
            "rule": self.rule, "severity": self.severity, "message": self.message,
            "path": list(self.path), "key": self.key, "service": self.service,
            "provider": self.provider,
            "file": self.mark.file if self.mark else None,
            "line": self.mark.line if self.mark else None,
            "column": self.mark.column if self.mark else None,
            "waived": self.waived,
        }


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Deny before warn, then by file, line, rule (a stable, readable order)."""
    return sorted(findings, key=lambda f: (
        SEVERITIES.index(f.severity), f.mark.file if f.mark else "", f.mark.line if f.mark else 0,
        f.rule, f.service or "", f.provider or "", f.key))


def counts(findings: Iterable[Finding]) -> dict[str, int]:
    """`{"deny": n, "warn": n, "waived": n}` (waived ones counted apart)."""
    out = {"deny": 0, "warn": 0, "waived": 0}
    for f in findings:
        out["waived" if f.waived else f.severity] += 1
    return out
