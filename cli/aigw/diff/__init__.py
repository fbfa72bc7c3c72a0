"""`aigw diff`: what a catalog change does, for a reviewer.

`build_report(path, base_ref=..., env=...)` compares the catalog at a git
revision with the working tree and returns a `DiffReport`: per-service catalog
effects, rendered-file diffs, governance verdicts and the Vault plan.
`format_text`, `format_markdown` (a PR comment, size-capped) and
`DiffReport.as_dict()` (JSON) print it.
"""

from __future__ import annotations

from aigw.diff.build import build_report
from aigw.diff.markdown import COMMENT_LIMIT, MARKER, format_markdown
from aigw.diff.model import DiffReport
from aigw.diff.text import format_text

__all__ = ["COMMENT_LIMIT", "MARKER", "DiffReport", "build_report", "format_markdown",
           "format_text"]
