"""Where the scaffolded CI installs aigw from: the `aigw` input of the setup-aigw action.

The default is the source the running aigw came from, when a CI runner can reach it:

1. aigw installed from a git URL (`pip install 'aigw[cli] @ git+https://...@v0.1.0'`): pip
   records it (PEP 610, `direct_url.json`), and CI installs the same URL and revision;
2. aigw running from a git checkout (an editable install) whose `origin` is an https or
   ssh URL: that URL at the checkout's tag (`git describe --exact-match`) or commit;
3. otherwise the version pin `aigw[cli]==<version>`, which needs an index that has aigw
   (the action's `index-url` input names a private one).

`aigw init --install-source SRC` overrides all three (docs/ci.md).
"""

from __future__ import annotations

import json
import re
from importlib import metadata
from pathlib import Path

from aigw import __version__, proc
from aigw.errors import UsageError

REQUIREMENT = "aigw[cli]"
_SCP = re.compile(r"^(?P<user>[\w.-]+)@(?P<host>[\w.-]+):(?P<path>.+)$")  # git@github.com:o/r


def version_pin(version: str = __version__) -> str:
    """`aigw[cli]==VERSION`: needs an index that publishes aigw."""
    return f"{REQUIREMENT}=={version}"


def git_requirement(url: str, revision: str | None) -> str | None:
    """`aigw[cli] @ git+URL@REV` for a URL a CI runner can reach (https or ssh), else None."""
    url = url.strip()
    m = _SCP.match(url)
    if m and "://" not in url:
        url = f"ssh://{m['user']}@{m['host']}/{m['path']}"
    url = url.removeprefix("git+")
    if not url.startswith(("https://", "ssh://")):
        return None  # a local path or file:// URL exists only on this machine
    return f"{REQUIREMENT} @ git+{url}" + (f"@{revision}" if revision else "")


def _from_direct_url() -> tuple[str | None, str | None]:
    """(requirement, editable checkout) from pip's record of how aigw was installed."""
    try:
        text = metadata.distribution("aigw").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None, None
    if not text:
        return None, None
    info = json.loads(text)
    url = str(info.get("url", ""))
    vcs = info.get("vcs_info")
    if isinstance(vcs, dict) and vcs.get("vcs") == "git":
        rev = vcs.get("requested_revision") or vcs.get("commit_id")
        return git_requirement(url, str(rev) if rev else None), None
    if isinstance(info.get("dir_info"), dict) and url.startswith("file://"):
        return None, url.removeprefix("file://")
    return None, None


def _git(folder: str, *args: str) -> str | None:
    try:
        out = proc.run(["git", "-C", folder, *args], capture_output=True, text=True,
                             timeout=10, check=False)
    except (OSError, proc.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else None


def _from_checkout(folder: str) -> str | None:
    origin = _git(folder, "remote", "get-url", "origin")
    if origin is None:
        return None
    rev = _git(folder, "describe", "--tags", "--exact-match") or _git(folder, "rev-parse",
                                                                      "HEAD")
    return git_requirement(origin, rev)


def detect() -> tuple[str, str | None]:
    """(install source, a note when CI may not find it) for the running aigw."""
    requirement, checkout = _from_direct_url()
    if requirement:
        return requirement, None
    if checkout is None:
        here = Path(__file__).resolve().parents[3]  # cli/aigw/scaffold -> the checkout
        checkout = str(here) if (here / ".git").exists() else None
    if checkout and (found := _from_checkout(checkout)):
        return found, None
    return version_pin(), (f"{version_pin()} needs a package index that has aigw: pass "
                           "--install-source (a git URL or a wheel) if yours has not "
                           "(docs/ci.md)")


def check_source(source: str) -> str:
    """SOURCE as one pip argument for the action's YAML (refuse what would break it)."""
    source = source.strip()
    if not source or "\n" in source or "${{" in source:
        raise UsageError(f"--install-source: {source!r} is not one pip requirement",
                         hint="e.g. 'aigw[cli] @ git+https://github.com/ORG/aigw@v0.1.0', "
                         "'./dist/aigw-0.1.0-py3-none-any.whl[cli]' or 'aigw[cli]==0.1.0'")
    return source
