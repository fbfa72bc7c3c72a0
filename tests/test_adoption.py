"""A new adopter's first week, end to end, with the commands exactly as README/docs print them.

In an empty git repository: `aigw init`; add a provider, an alias with a fallback
route and a per-service-key service in two environments (by editing aigw.yaml, as a
user would); `aigw dev up`, `aigw apply --yes`, `aigw render`, `aigw keys put`,
`aigw agent-credentials`; a real `bao agent` run from the rendered folder writes the
key file; a Python service process using `aigw.client` serves a request; a manual
rotation (the new key on stdin) reaches the service without a restart; `aigw audit
--verify`; `aigw diff` after a commit; `aigw init --update`; `aigw dev down`.

Real components: `aigw` as a process, its OpenBao dev server, the Pulumi engine, the
`bao agent`. The LLM provider is testing/fake_provider.py, a local OpenAI-compatible
server that checks the bearer key (faithful enough for `aigw.client` to parse it).
"""

from __future__ import annotations

import os
import secrets
import shlex
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from testing.fake_provider import FakeProvider

from aigw.tools import find_bao

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SERVICE = "eu-assistant"
BIN = Path(sys.executable).parent

SERVICE_SCRIPT = """\
import sys
from aigw.client import Client

client = Client.from_file(sys.argv[1])
reply = client.chat.completions.create(model="eu-chat",
                                       messages=[{"role": "user", "content": "hello"}])
print(reply["choices"][0]["message"]["content"])
"""


class Shell:
    """Runs command lines as a user types them (bash, in the repository, aigw on PATH)."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("BAO_", "VAULT_", "PULUMI_", "AIGW_"))}
        env.update({"PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
                    "GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.invalid",
                    "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.invalid"})
        self.env = env

    def __call__(self, line: str, *, stdin: str = "", ok: bool = True,
                 timeout: float = 600) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(["bash", "-ec", line], cwd=self.repo, env=self.env, input=stdin,
                              capture_output=True, text=True, timeout=timeout, check=False)
        if ok:
            assert done.returncode == 0, f"$ {line}\n{done.stdout}\n{done.stderr}"
        return done

    def dev_env(self) -> None:
        """`eval "$(aigw dev env)"`: take its exports into every later command."""
        for line in self("aigw dev env").stdout.splitlines():
            name, _, value = line.removeprefix("export ").partition("=")
            self.env[name] = shlex.split(value)[0]


def _wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _add_to_catalog(catalog: Path, base_url: str, backup_url: str, key_dir: Path) -> None:
    """What the adopter typed into aigw.yaml: providers, an alias, a service (2 envs).

    Two EU providers: the scaffold's governance wants production aliases on two, each
    priced (prod-route-price), and a budget (prod-service-budget).
    """
    text = catalog.read_text()
    provider = f"""\
  mistral:
    api: openai
    base_url: {base_url}
    region: eu
    rotation: {{driver: manual, max_age: 30d, grace: 1s}}
    prices:
      mistral-large-latest: {{currency: EUR, as_of: 2026-11-01, input: "2", output: "6"}}
  scaleway:
    api: openai
    base_url: {backup_url}
    region: eu
    prices:
      mistral-large-latest: {{currency: EUR, as_of: 2026-11-01, input: "2", output: "6"}}
"""
    alias = """\
  eu-chat:
    description: Mistral in the EU, the same model at Scaleway as a fallback
    routes:
      - {provider: mistral, model: mistral-large-latest}
      - {provider: scaleway, model: mistral-large-latest, timeout: 10}
"""
    service = f"""\
  {SERVICE}:
    description: Internal assistant for EU staff; data stays in the EU
    environments: [staging, prod]
    models: [eu-chat]
    regions: [eu]
    keys: per-service
    budget: {{monthly: "300", currency: EUR}}
    key_dir: {key_dir}
"""
    assert "\nmodels:\n" in text and "\nservices:\n" in text
    text = text.replace("\nmodels:\n", f"{provider}\nmodels:\n", 1)
    text = text.replace("\nservices:\n", f"{alias}\nservices:\n", 1)
    catalog.write_text(text.rstrip("\n") + "\n" + service)


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    """The adopter's new EU provider, as a local stand-in."""
    fake = FakeProvider("mistral").start()
    yield fake
    fake.stop()


@pytest.fixture
def backup() -> Iterator[FakeProvider]:
    """Its fallback provider, as a local stand-in."""
    fake = FakeProvider("scaleway").start()
    yield fake
    fake.stop()


def test_first_week(tmp_path: Path, provider: FakeProvider, backup: FakeProvider) -> None:
    repo = tmp_path / "catalog-repo"
    repo.mkdir()
    sh = Shell(repo)
    key_dir = tmp_path / "run" / "secrets"
    first_key = f"sk-canary-first-{secrets.token_hex(6)}"
    second_key = f"sk-canary-second-{secrets.token_hex(6)}"
    provider.add_key(first_key)

    sh("git init -q")
    sh("aigw init")
    _add_to_catalog(repo / "aigw.yaml", provider.base_url, backup.base_url, key_dir)
    sh("aigw validate")

    sh("aigw dev up")
    agent: subprocess.Popen[bytes] | None = None
    try:
        sh.dev_env()
        sh("aigw apply --yes")
        assert sh("aigw plan").stdout.count(": no changes (") == 2
        sh("aigw render")
        stored = sh(f"aigw keys put mistral/svc-{SERVICE} --env prod", stdin=first_key + "\n")
        assert "stored version 1" in stored.stdout
        backup_key = f"sk-canary-backup-{secrets.token_hex(6)}"
        backup.add_key(backup_key)
        sh(f"aigw keys put scaleway/svc-{SERVICE} --env prod", stdin=backup_key + "\n")

        made = sh(f"aigw agent-credentials {SERVICE} --env prod")
        folder = repo / "rendered" / "prod" / SERVICE
        for name in ("role-id", "secret-id"):
            assert stat.S_IMODE((folder / name).stat().st_mode) == 0o600
            assert (folder / name).read_text().strip() not in made.stdout + made.stderr
        # The scaffold's .gitignore keeps the agent's login out of commits.
        assert sh("git status --porcelain --ignored rendered").stdout.count("!! ") >= 1
        assert "secret-id" not in sh("git status --porcelain").stdout

        log = (tmp_path / "agent.log").open("wb")
        agent_env = {k: v for k, v in sh.env.items() if k not in ("BAO_TOKEN", "VAULT_TOKEN")}
        agent = subprocess.Popen([str(find_bao()), "agent", "-config=bao-agent.hcl"],
                                 cwd=folder, env=agent_env, stdout=log, stderr=subprocess.STDOUT)
        key_file = key_dir / f"mistral.svc-{SERVICE}.key"
        assert _wait_for(lambda: key_file.exists() and first_key in key_file.read_text()), (
            (tmp_path / "agent.log").read_text())
        assert _wait_for(lambda: (key_dir / f"scaleway.svc-{SERVICE}.key").exists())

        script = tmp_path / "service.py"
        script.write_text(SERVICE_SCRIPT)
        config = folder / "aigw-client.json"
        served = subprocess.run([sys.executable, str(script), str(config)], env=sh.env,
                                capture_output=True, text=True, timeout=120, check=False)
        assert served.returncode == 0, served.stderr
        assert served.stdout.strip() and provider.calls_for(first_key) == 1

        # A manual rotation: the operator made a new key at the provider, gives it on stdin.
        provider.add_key(second_key)
        rotated = sh(f"aigw rotate-keys --env prod --provider mistral --slot svc-{SERVICE} "
                     "--yes", stdin=second_key + "\n")
        assert f"prod/mistral/svc-{SERVICE}: waiting [promoted]" in rotated.stdout
        assert _wait_for(lambda: second_key in key_file.read_text())  # the agent rendered it
        time.sleep(1.2)  # the 1s grace
        finished = sh("aigw rotate-keys --finish --yes")
        assert f"prod/mistral/svc-{SERVICE}: done" in finished.stdout
        provider.revoke_key(first_key)  # revoked by hand, as the manual driver asks
        again = subprocess.run([sys.executable, str(script), str(config)], env=sh.env,
                               capture_output=True, text=True, timeout=120, check=False)
        assert again.returncode == 0, again.stderr
        assert provider.calls_for(second_key) == 1

        audit = sh("aigw audit --verify")
        assert "intact" in audit.stdout

        sh("git add -A && git commit -qm 'Add the EU assistant'")
        catalog = repo / "aigw.yaml"
        catalog.write_text(catalog.read_text().replace(
            "      - {provider: scaleway, model: mistral-large-latest, timeout: 10}\n",
            "      - {provider: scaleway, model: mistral-large-latest, timeout: 20}\n"))
        diff = sh("aigw diff")
        assert SERVICE in diff.stdout and "timeout" in diff.stdout

        everything = "".join(p.read_text(errors="replace") for p in repo.rglob("*")
                             if p.is_file() and ".git" not in p.parts and ".aigw" not in p.parts
                             and p.name != "secret-id")
        committed = sh("git log -p --all").stdout
        for key in (first_key, second_key, backup_key):
            assert key not in everything and key not in committed
        assert (folder / "secret-id").read_text().strip() not in committed

        # init --update refreshes aigw's own files and leaves the adopter's alone.
        before = catalog.read_text()
        sh("aigw init --update")
        assert catalog.read_text() == before  # the catalog is the adopter's
    finally:
        if agent is not None:
            agent.terminate()
            try:
                agent.wait(10)
            except subprocess.TimeoutExpired:
                agent.kill()
        sh("aigw dev down", ok=False)
