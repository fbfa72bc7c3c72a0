"""`aigw tools install` and the policy check `aigw validate` no longer skips silently.

The release downloads are tested against a local stand-in of the vendors' release
sites (a loopback HTTP server with the same paths, reached through `--mirror`): the
real sites are unreachable from the test machines. The files it serves are small
fakes that report the pinned version; what is tested is aigw's side: the URLs,
upstream's checksum file, the refusal of a file that does not match, and the cache
aigw.tools then finds. The build from the Go module proxy is tested for real, from
a wheel install, in tests/test_install.py.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from aigw import envvars, tool_release, tools
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
OVERRIDES = ("AIGW_OPA", "AIGW_ACTIONLINT", "AIGW_PULUMI_DIR")


class _Quiet(SimpleHTTPRequestHandler):
    seen: list[str] = []

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        _Quiet.seen.append(self.path)


@pytest.fixture
def mirror(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A stand-in release site on a free loopback port: (its URL, the folder it serves)."""
    root = tmp_path / "site"
    root.mkdir()
    _Quiet.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def no_tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty AIGW_CACHE, no override variables, and no tool (nor Go) on PATH."""
    cache = tmp_path / "cache"
    monkeypatch.setenv(envvars.CACHE, str(cache))
    for name in OVERRIDES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setattr(tools, "_interpreter_bin", lambda: tmp_path / "empty-bin")
    monkeypatch.setattr(tool_release.sys, "platform", "linux")
    monkeypatch.setattr(tool_release.platform, "machine", lambda: "x86_64")
    return cache


def _script(body: str) -> bytes:
    return f"#!/bin/sh\n{body}\n".encode()


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _publish(root: Path, url: str, body: bytes) -> None:
    path = root / url.split("://", 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)


def _release(root: Path, name: str, body: bytes, *, listed: bytes | None = None) -> None:
    """Serve NAME's release file and a checksum file listing LISTED's SHA-256 (BODY's)."""
    url, sums = tool_release.urls(name, tools.tool(name).version if name != "pulumi"
                                  else tools.pulumi_version())
    _publish(root, url, body)
    digest = hashlib.sha256(body if listed is None else listed).hexdigest()
    other = hashlib.sha256(b"another platform").hexdigest()
    file_name = url.rsplit("/", 1)[1]
    _publish(root, sums, f"{other}  not-this-one.tar.gz\n{digest}  {file_name}\n".encode())


def test_release_urls_are_upstreams(no_tools: Path) -> None:
    """The names the vendors publish (a wrong one would 404 on the real site)."""
    opa, actionlint = tools.tool("opa").version, tools.tool("actionlint").version
    assert tool_release.urls("opa", opa) == (
        f"https://github.com/open-policy-agent/opa/releases/download/v{opa}/"
        "opa_linux_amd64_static",
        f"https://github.com/open-policy-agent/opa/releases/download/v{opa}/"
        "opa_linux_amd64_static.sha256")
    assert tool_release.urls("actionlint", actionlint)[0].endswith(
        f"/rhysd/actionlint/releases/download/v{actionlint}/actionlint_{actionlint}_linux_amd64"
        ".tar.gz")
    pulumi = tools.pulumi_version()
    assert tool_release.urls("pulumi", pulumi, "http://m/") == (
        f"http://m/github.com/pulumi/pulumi/releases/download/v{pulumi}/pulumi-v{pulumi}"
        "-linux-x64.tar.gz",
        f"http://m/github.com/pulumi/pulumi/releases/download/v{pulumi}/pulumi-{pulumi}"
        "-checksums.txt")


def test_release_download_is_checked_and_found_in_the_cache(
        no_tools: Path, mirror: tuple[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    url, root = mirror
    opa, actionlint = tools.tool("opa").version, tools.tool("actionlint").version
    engine = tools.pulumi_version()
    _release(root, "opa", _script(f'echo "Version: {opa}"'))
    _release(root, "actionlint", _tar({"README.md": b"x", "actionlint":
                                       _script(f"echo {actionlint}")}))
    _release(root, "pulumi", _tar({"pulumi/pulumi": _script(f"echo v{engine}"),
                                   "pulumi/pulumi-resource-pulumi-python": _script("exit 0"),
                                   "pulumi/pulumi-language-nodejs": b"not taken"}))
    result = run_cli(capsys, "tools", "install", "--release", "--mirror", url)
    assert result.code == 0, result.err
    folders = [Path(line) for line in result.out.splitlines()]
    assert folders == [no_tools / f"pulumi-v{engine}", no_tools / f"opa-v{opa}",
                       no_tools / f"actionlint-v{actionlint}"]
    assert sorted(p.name for p in folders[0].iterdir()) == [
        "pulumi", "pulumi-resource-pulumi-python"]
    assert tools.find_opa() == no_tools / f"opa-v{opa}" / "opa"
    assert tools.find_actionlint() == no_tools / f"actionlint-v{actionlint}" / "actionlint"
    assert tools.find_pulumi() == no_tools / f"pulumi-v{engine}" / "pulumi"
    assert os.access(tools.find_opa(), os.X_OK)
    assert "downloaded" in result.err
    # Each checksum file was read; a second run finds everything and downloads nothing.
    assert sum(p.endswith((".sha256", "checksums.txt")) for p in _Quiet.seen) == 3
    _Quiet.seen.clear()
    again = run_cli(capsys, "tools", "install", "--release", "--mirror", url)
    assert again.code == 0 and again.err.count(": found,") == 3 and not _Quiet.seen


@pytest.mark.parametrize("listed", [b"what upstream published", None])
def test_a_download_upstream_does_not_list_is_refused(
        no_tools: Path, mirror: tuple[str, Path], capsys: pytest.CaptureFixture[str],
        listed: bytes | None) -> None:
    url, root = mirror
    body = _script('echo "Version: 1.0.0"')
    if listed is None:  # the checksum file lists other files only
        _release(root, "opa", body)
        sums = next(root.rglob("*.sha256"))
        sums.write_text(sums.read_text().splitlines()[0] + "\n")
    else:  # the file differs from the one upstream's checksum names
        _release(root, "opa", body, listed=listed)
    result = run_cli(capsys, "tools", "install", "--only", "opa", "--release", "--mirror", url)
    assert result.code == 3
    lines = [ln for ln in result.err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and ("SHA-256" in lines[0] or "lists no checksum" in lines[0]), lines
    assert not no_tools.exists() or not list(no_tools.iterdir())  # nothing half-written
    assert "Traceback" not in result.err


def test_validate_fails_without_opa_and_only_no_policy_skips(
        no_tools: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "validate", str(EXAMPLES))
    assert result.code == 3
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "aigw tools install --only opa" in lines[0], lines
    assert "skipped" not in result.err
    skipped = run_cli(capsys, "validate", str(EXAMPLES), "--no-policy")
    assert skipped.code == 0 and "policy check skipped (--no-policy)" in skipped.err


def test_building_without_go_says_so_in_one_line(
        no_tools: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "tools", "install", "--only", "opa")
    assert result.code == 3
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "Go is needed" in lines[0] and "--release" in lines[0], lines


def test_only_names_a_tool_aigw_installs(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_cli(capsys, "tools", "install", "--only", "bao")
    assert result.code == 2 and "pulumi, opa, actionlint" in result.err
    mirror = run_cli(capsys, "tools", "install", "--mirror", "http://m.example")
    assert mirror.code == 2 and "--release" in mirror.err


def test_the_scaffolds_validate_hook_leaves_the_policy_check_to_its_own_hook() -> None:
    for path in (ROOT / "cli/aigw/scaffold/files/dot-pre-commit-config.yaml",
                 ROOT / ".pre-commit-hooks.yaml"):
        doc = yaml.safe_load(path.read_text())
        hooks = doc if isinstance(doc, list) else doc["repos"][0]["hooks"]
        entries = {h["id"]: h["entry"] for h in hooks}
        assert entries["aigw-validate"] == "aigw validate --no-policy", path
        assert entries["aigw-policy-check"] == "aigw policy check", path


def test_scripts_install_through_aigw_tools_install() -> None:
    """One recipe: the scripts call the command the wheel ships."""
    text = (ROOT / "scripts" / "tools.sh").read_text()
    assert "-m aigw tools install" in text
    for name in ("install-pulumi.sh", "install-go-tool.sh"):
        script = (ROOT / "scripts" / name).read_text()
        assert "aigw_tools_install" in script and "go build" not in script
        assert "go clean" not in script  # the Go build cache is kept
    assert shutil.which("bash")


FAKE_GO = r"""#!/bin/sh
# A stand-in for `go` (the real build is tests/test_install.py's): records each call and
# does what the recipe needs, refusing a build outside pkg/ with no sdk/ beside it.
echo "$*" >> "$GO_LOG"
case "$1" in
  mod) printf '{"Path": "github.com/pulumi/pulumi/pkg/v3", "Dir": "%s"}\n{\n "Path": "github.com/pulumi/pulumi/sdk/v3",\n "Dir": "%s"}\n' "$FAKE_PKG" "$FAKE_SDK" ;;
  build)
    [ "$(basename "$PWD")" = pkg ] && [ -d ../sdk/python ] || { echo "not in pkg/" >&2; exit 1; }
    while [ $# -gt 0 ]; do
      [ "$1" = -o ] && out="$2"; [ "$1" = -ldflags ] && ld="$2"; shift
    done
    mkdir -p "$(dirname "$out")"; printf '#!/bin/sh\necho %s\n' "${ld##*Version=}" > "$out"
    chmod +x "$out" ;;
  install) for arg; do module="$arg"; done; mkdir -p "$GOBIN"; name=$(basename "${module%@*}")
    printf '#!/bin/sh\necho "Version: %s"\n' "${module##*@v}" > "$GOBIN/$name"
    chmod +x "$GOBIN/$name" ;;
  *) exit 2 ;;
esac
"""


def _read_only_tree(root: Path, files: dict[str, str]) -> Path:
    """A folder like the Go module cache's: its files and folders read-only."""
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    for path in sorted(root.rglob("*"), reverse=True):
        path.chmod(0o555 if path.is_dir() else 0o444)
    root.chmod(0o555)
    return root


def test_the_build_recipes_run_go_as_docs_engine_md_says(
        no_tools: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The engine's recipe (pkg/ and sdk/ copied side by side and made writable, built
    in pkg/ with the version ldflag, the plugin beside it) and `go install` for OPA and
    actionlint, against a stand-in `go`; the Go build cache is never cleaned."""
    fake_bin = tmp_path / "go-bin"
    fake_bin.mkdir()
    (fake_bin / "go").write_text(FAKE_GO)
    (fake_bin / "go").chmod(0o755)
    log = tmp_path / "go.log"
    pkg = _read_only_tree(tmp_path / "modcache" / "pkg@v", {"go.mod": "module pkg\n"})
    sdk = _read_only_tree(tmp_path / "modcache" / "sdk@v", {
        "go.mod": "module sdk\n", "python/dist/pulumi-resource-pulumi-python": "#!/bin/sh\n"})
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}/usr/bin{os.pathsep}/bin")
    monkeypatch.setenv("GO_LOG", str(log))
    monkeypatch.setenv("FAKE_PKG", str(pkg))
    monkeypatch.setenv("FAKE_SDK", str(sdk))
    result = run_cli(capsys, "tools", "install")
    assert result.code == 0, result.err
    engine = tools.pulumi_version()
    assert tools.find_pulumi() == no_tools / f"pulumi-v{engine}" / "pulumi"
    assert tools.find_opa().parent.name == f"opa-v{tools.tool('opa').version}"
    assert tools.find_actionlint().parent.parent == no_tools
    calls = log.read_text().splitlines()
    assert calls[0].startswith("mod download -json github.com/pulumi/pulumi/pkg/v3@v")
    assert f"version.Version=v{engine}" in calls[1] and "./cmd/pulumi" in calls[1]
    assert calls[2] == f"install -trimpath github.com/open-policy-agent/opa@v{tools.tool('opa').version}"
    assert not [c for c in calls if c.startswith("clean")]
    assert sorted(p.name for p in no_tools.iterdir()) == sorted(  # no staging folder left
        [f"pulumi-v{engine}", f"opa-v{tools.tool('opa').version}",
         f"actionlint-v{tools.tool('actionlint').version}"])
    for path in (pkg, sdk):  # the module cache is left as it was
        for sub in path.rglob("*"):
            sub.parent.chmod(0o755)
