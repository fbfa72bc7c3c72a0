"""One error root for aigw; the CLI maps these to messages and exit codes.

Exit codes (documented in the README): 0 ok, 1 check failed / changes pending,
2 invalid input, 3 unexpected error (including an unreachable server or engine
failure we could not classify), 130 interrupted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from aigw.catalog.loader import Problem

EXIT_OK = 0
EXIT_CHANGES = 1
EXIT_INVALID = 2
EXIT_UNEXPECTED = 3


class AigwError(Exception):
    """Base of every error aigw reports to a user as one line (never a traceback)."""

    exit_code = EXIT_UNEXPECTED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def lines(self) -> list[str]:
        """The lines to print on stderr."""
        return [self.message + (f" (hint: {self.hint})" if self.hint else "")]


class UsageError(AigwError):
    """Bad flags or arguments."""

    exit_code = EXIT_INVALID


class CatalogError(AigwError):
    """The catalog is invalid; carries every problem found, not only the first."""

    exit_code = EXIT_INVALID

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the catalog")

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


class VaultError(AigwError):
    """OpenBao/Vault is unreachable, sealed, or refused a request."""

    exit_code = EXIT_UNEXPECTED


class VaultUnreachable(VaultError):
    """No OpenBao/Vault answers at the address (or none is configured): exit 3 in every
    command. The CLI words the hint from where the address came from (aigw.context)."""


class VaultForbidden(VaultError):
    """A request was denied by policy (HTTP 403)."""


class EngineError(AigwError):
    """The Pulumi engine failed (missing, locked, or an operation error)."""

    exit_code = EXIT_UNEXPECTED


class RotationError(AigwError):
    """A rotation step failed; the journal says where to resume."""

    exit_code = EXIT_UNEXPECTED


class RotationInProgress(RotationError):
    """Another run holds the lock of a slot."""

    exit_code = EXIT_CHANGES


class ToolMissing(AigwError):
    """A needed binary (bao, pulumi, opa) is not installed."""

    exit_code = EXIT_UNEXPECTED


MISSING_EXTRA_HINT = "aigw: the command line needs the cli extra: pip install 'aigw[cli]'"


def missing_extra_line(exc: ModuleNotFoundError) -> str | None:
    """The one line for a missing third-party module; None when aigw itself is broken."""
    top = (exc.name or "").partition(".")[0]
    if not top or top == "aigw":
        return None
    return f"{MISSING_EXTRA_HINT} (module '{top}' is not installed)"
