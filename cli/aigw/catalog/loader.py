"""Read catalog YAML into plain data while remembering where every value came from.

PyYAML's composer gives nodes with marks; we build the Python objects ourselves so
each value's (file, line, column) is kept under its path, duplicate keys are caught
(PyYAML silently keeps the last one), and alias expansion is bounded (a YAML
"billion laughs" document becomes a one-line error instead of eating memory).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml
import yaml_rs as _yaml_rs

try:  # libyaml is 10x faster; fall back to the pure-Python loader when absent
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover
    from yaml import SafeLoader as _Loader  # type: ignore[assignment]

MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_NODES = 1_000_000
SECTIONS = ("environments", "providers", "models", "services")

PathKey = tuple[str | int, ...]


class Mark(NamedTuple):
    """A position in a catalog file (1-based line and column)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


def dotted(path: PathKey) -> str:
    """Render a path as `services.bot.models[0]`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


@dataclass
class Problem:
    """One thing wrong with the catalog, located and with a hint."""

    mark: Mark
    key: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        text = f"{self.mark}: {self.key}: {self.message}"
        return text + (f" (hint: {self.hint})" if self.hint else "")


@dataclass
class SourceDoc:
    """One parsed YAML file: its data and (computed on first use) the mark of every path."""

    file: str
    data: Any
    text: str = ""
    _marks: dict[PathKey, Mark] | None = field(default=None, repr=False)

    @property
    def marks(self) -> dict[PathKey, Mark]:
        """Positions come from a second, slower parse, done only when one is needed."""
        if self._marks is None:
            self._marks = {}
            try:
                node = yaml.compose(self.text, Loader=_Loader)
                if node is not None:
                    builder = _Builder(self.file)
                    builder.build(node, ())
                    self._marks = builder.marks
            except (yaml.YAMLError, RecursionError, _TooBig, _Unsupported):
                pass  # the fast parser accepted it; locate problems at the top instead
        return self._marks


class _Builder:
    def __init__(self, file: str) -> None:
        self.file = file
        self.marks: dict[PathKey, Mark] = {}
        self.problems: list[Problem] = []
        self.count = 0

    def mark(self, node: yaml.Node) -> Mark:
        return Mark(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooBig(self.mark(node))
        if path not in self.marks:
            self.marks[path] = self.mark(node)
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise _Unsupported(self.mark(key_node), "YAML merge keys (<<) are not supported")
                key = (
                    self._construct_scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
                )
                if key is None:
                    self.problems.append(
                        Problem(self.mark(key_node), dotted(path), "mapping keys must be plain strings",
                                "write each name as plain text, e.g. `prod:`")
                    )
                    continue
                key = str(key) if not isinstance(key, str) else key
                child = (*path, key)
                if key in out:
                    first = self.marks.get(child)
                    self.problems.append(
                        Problem(
                            self.mark(key_node),
                            dotted(child),
                            "duplicate key",
                            f"first defined at {first}" if first else None,
                        )
                    )
                    continue
                self.marks[child] = self.mark(key_node)
                out[key] = self.build(value_node, child)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._construct_scalar(node)

    def _construct_scalar(self, node: yaml.Node) -> Any:
        tag = node.tag
        value = node.value
        if tag == "tag:yaml.org,2002:str":
            return value
        if tag == "tag:yaml.org,2002:null":
            return None
        if tag == "tag:yaml.org,2002:bool":
            return value.lower() in ("yes", "true", "on")
        if tag == "tag:yaml.org,2002:int":
            try:
                return int(value.replace("_", ""), 0)
            except ValueError:
                return value
        if tag == "tag:yaml.org,2002:float":
            try:
                return float(value.replace("_", ""))
            except ValueError:
                return value
        # timestamps, binary and custom tags stay strings: the schema decides.
        return str(value)


class _TooBig(Exception):
    def __init__(self, mark: Mark) -> None:
        self.mark = mark


class _Unsupported(Exception):
    def __init__(self, mark: Mark, message: str) -> None:
        self.mark = mark
        self.message = message


def parse_file(path: Path, shown: str) -> tuple[SourceDoc | None, list[Problem]]:
    """Parse one YAML file; return the document or the problems that stopped it."""
    top = Mark(shown, 1, 1)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, [
                Problem(top, "(file)", f"file is {size} bytes, over the {MAX_FILE_BYTES} limit",
                        "split the catalog into a catalog/ folder of smaller files")
            ]
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Problem(top, "(file)", f"cannot read: {exc.strerror or exc}")]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(top, "(file)", f"not UTF-8 text (byte {exc.start})",
                              "a catalog is YAML text")]
    if "\x00" in text:
        return None, [Problem(top, "(file)", "binary content (NUL byte)", "a catalog is YAML text")]
    data = _fast_load(text)
    if data is not _FAILED:
        return SourceDoc(shown, data, text), []
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.composer.ComposerError as exc:
        return None, [_yaml_problem(exc, shown)]
    except yaml.YAMLError as exc:
        return None, [_yaml_problem(exc, shown)]
    except RecursionError:
        return None, [Problem(top, "(file)", "nesting too deep", "a catalog is a few levels deep")]
    if node is None:
        return None, [Problem(top, "(file)", "empty catalog file",
                              "start with `providers:`, `models:`, `services:`, `environments:`")]
    try:
        # Only a document with anchors can expand; most catalogs have none.
        expanded = _expanded_size(node, {}) if "&" in text else 0
    except RecursionError:
        return None, [Problem(top, "(file)", "nesting too deep", "a catalog is a few levels deep")]
    if expanded > MAX_NODES:
        return None, [Problem(Mark(shown, node.start_mark.line + 1, node.start_mark.column + 1),
                              "(file)", f"{expanded} values after expanding YAML aliases, over the "
                              f"{MAX_NODES} limit", "remove anchors/aliases (*name) that expand "
                              "recursively")]
    builder = _Builder(shown)
    try:
        data = builder.build(node, ())
    except _TooBig as exc:
        return None, [Problem(exc.mark, "(file)", f"more than {MAX_NODES} values after expanding "
                              "YAML aliases", "remove anchors/aliases (*name) that expand recursively")]
    except _Unsupported as exc:
        return None, [Problem(exc.mark, "(file)", exc.message, "write the keys out explicitly")]
    except RecursionError:
        return None, [Problem(top, "(file)", "nesting too deep", "a catalog is at most a few levels deep")]
    return SourceDoc(shown, data, text, builder.marks), builder.problems


_FAILED = object()


def _fast_load(text: str) -> Any:
    """Parse with the Rust yaml-rs (20x faster than PyYAML).

    Anything it rejects or returns in a shape the catalog never has (non-string
    keys, dates, empty documents) goes through the PyYAML path, which reports
    problems with positions. Duplicate keys and alias bombs are rejected here.
    """
    try:
        data = _yaml_rs.loads(text, duplicate_key_policy=_yaml_rs.DuplicateKeyPolicy.Error)
    except Exception:  # any rejection: let the careful path explain it
        return _FAILED
    if data is None or not _plain(data, 0):
        return _FAILED
    return data


def _plain(value: Any, depth: int) -> bool:
    if depth > 50:
        return False
    if isinstance(value, dict):
        return all(type(k) is str and _plain(v, depth + 1) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v, depth + 1) for v in value)
    return value is None or type(value) in (str, int, float, bool)


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """How many values NODE stands for once aliases are expanded (memoised: linear time)."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = 1  # a cycle counts once; the composer cannot build one from safe YAML anyway
    size = 1
    if isinstance(node, yaml.MappingNode):
        size += sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        size += sum(_expanded_size(item, memo) for item in node.value)
    memo[key] = size
    return size


def _yaml_problem(exc: yaml.YAMLError, shown: str) -> Problem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = Mark(shown, mark.line + 1, mark.column + 1) if mark else Mark(shown, 1, 1)
    what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return Problem(where, "(file)", f"not valid YAML: {what}", "check indentation and quoting")


def find_catalog_files(path: Path) -> list[Path]:
    """The files making up the catalog at PATH: a file, or a folder's aigw.yaml and catalog/*."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        return []
    files: list[Path] = []
    for name in ("aigw.yaml", "aigw.yml"):
        if (path / name).is_file():
            files.append(path / name)
            break
    folder = path / "catalog"
    if folder.is_dir():
        files += sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    if not files:
        files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
    return files
