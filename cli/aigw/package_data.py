"""Where the shipped templates and policies are: inside the wheel, or the repo checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_REPO = _PACKAGE.parents[1]


def _find(name: str) -> Path:
    for candidate in (_PACKAGE / "_data" / name, _REPO / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"aigw installation is missing its {name}/ folder")


def templates_dir() -> Path:
    """The folder of Jinja2 output templates."""
    return _find("templates")


def policies_dir() -> Path:
    """The folder of Rego rules and Vault ACL policy templates."""
    return _find("policies")
