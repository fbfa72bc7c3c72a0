"""`aigw usage` for Bedrock: AWS Cost Explorer, grouped by the calling principal's tag.

moto (ThreadedMotoServer on 127.0.0.1, boto3 pointed at it with AWS_ENDPOINT_URL)
stands in for AWS Cost Explorer; what GetCostAndUsage answers is set through moto's
`/moto-api/static/ce/cost-and-usage-results` queue, one page per distinct request
(the second page is asked for with the first page's NextPageToken). The rotation
inventory is in a real OpenBao dev server.
"""

from __future__ import annotations

import json
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.helpers import run_cli
from tests.usage.conftest import DAY

CATALOG = """\
environments:
  prod: {{mount: {mount}}}
providers:
  bedrock:
    api: bedrock
    region: us
    extra: {{aws_region_name: us-east-1}}
    rotation: {{driver: aws-iam, params: {{user_name: aigw-bedrock, cost_tag: {tag}}}}}
models:
  claude: {{routes: [{{provider: bedrock, model: anthropic.claude-sonnet-4-5}}]}}
services:
  bot: {{environments: [prod], models: [claude], keys: per-service,
        budget: {{monthly: "{budget}", currency: USD}}}}
  batch-a: {{environments: [prod], models: [claude]}}
  batch-b: {{environments: [prod], models: [claude]}}
"""
TAG = "iamPrincipal/aigw-slot"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def moto_ce(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A moto server; boto3's chain finds it (AWS_ENDPOINT_URL) and canary credentials."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    requests.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA" + secrets.token_hex(8).upper())
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-canary-" + secrets.token_hex(8))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    yield url
    server.stop()


def _group(slot_id: str, usage_type: str, amount: str) -> dict:
    return {"Keys": [f"{TAG}${slot_id}", usage_type],
            "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}


def _pages(url: str, *pages: list[dict]) -> None:
    """Queue GetCostAndUsage answers: each page one day's groups, chained by NextPageToken."""
    results = []
    for i, groups in enumerate(pages):
        page = {"ResultsByTime": [{"TimePeriod": {"Start": DAY, "End": DAY}, "Total": {},
                                   "Groups": groups, "Estimated": True}],
                "DimensionValueAttributes": [], "GroupDefinitions": [
                    {"Type": "TAG", "Key": TAG}, {"Type": "DIMENSION", "Key": "USAGE_TYPE"}]}
        if i + 1 < len(pages):
            page["NextPageToken"] = f"page-{i + 1}"
        results.append(page)
    requests.post(f"{url}/moto-api/static/ce/cost-and-usage-results",
                  json={"results": results}, timeout=10).raise_for_status()


@pytest.fixture
def catalog(tmp_path: Path, bao, vault_mount: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BAO_ADDR", bao.addr)
    monkeypatch.setenv("BAO_TOKEN", bao.token)

    def write(budget: str = "1000", tag: str = TAG) -> Path:
        (tmp_path / "aigw.yaml").write_text(CATALOG.format(mount=vault_mount, budget=budget,
                                                           tag=tag))
        return tmp_path
    return write


def test_bedrock_spend_per_principal_tag(moto_ce: str, catalog, capsys):
    """Two pages; bot's principal, the shared slot's, an untagged one, another env's."""
    _pages(moto_ce,
           [_group("prod/bedrock/svc-bot", "USE1-Claude4.5Sonnet-input-tokens", "2.50"),
            _group("prod/bedrock/svc-bot", "USE1-Claude4.5Sonnet-output-tokens", "1.25")],
           [_group("prod/bedrock/default", "USE1-Claude4.5Sonnet-input-tokens", "0.40"),
            _group("", "USE1-Claude4.5Sonnet-input-tokens", "0.10"),
            _group("staging/bedrock/svc-bot", "USE1-Claude4.5Sonnet-input-tokens", "9.00")])
    folder = catalog()
    got = run_cli(capsys, "usage", str(folder), "--since", "1d", "--json")
    assert got.code == 0, got.err
    doc = json.loads(got.out)
    rows = {r["service"]: r for r in doc["rows"]}
    assert {k: r["amount"] for k, r in rows.items()} == {
        "bot": "3.75", "(shared)": "0.40", "(unknown key)": "9.10"}
    assert rows["(shared)"]["shared_with"] == ["batch-a", "batch-b"]
    assert doc["no_provider_report"] == [] and doc["drift"] == []
    (b,) = doc["budgets"]
    assert b["service"] == "bot" and b["spent"] == "3.75"
    text = run_cli(capsys, "usage", str(folder), "--since", "1d").out
    md = run_cli(capsys, "usage", str(folder), "--since", "1d", "--format", "markdown").out
    for r in doc["rows"]:
        assert f"{r['amount']} USD" in text and f"{r['amount']} USD" in md
    assert rows["bot"]["tokens"] == 0  # Cost Explorer bills money, counts no tokens
    assert any(ln.split()[:4] == ["bot", "3.75", "USD", "-"] for ln in text.splitlines())
    import os
    secret = os.environ["AWS_SECRET_ACCESS_KEY"]
    for out in (got.out, got.err, text, md):
        assert secret not in out


def test_bedrock_cost_explorer_unreachable_is_one_line(moto_ce, catalog, capsys, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_free_port()}")
    got = run_cli(capsys, "usage", str(catalog()), "--since", "1d")
    assert got.code == 3
    lines = [x for x in got.err.splitlines() if x.strip()]
    assert len(lines) == 1 and "bedrock: cannot reach Cost Explorer" in lines[0], got.err
    assert "Traceback" not in got.err


def test_bedrock_without_credentials_names_them(moto_ce, catalog, capsys, monkeypatch,
                                                tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    got = run_cli(capsys, "usage", str(catalog()), "--since", "1d")
    assert got.code == 2 and "no AWS credentials" in got.err and "AWS_PROFILE" in got.err


def test_bedrock_without_a_cost_tag_has_no_provider_report(moto_ce, catalog, capsys):
    """Cost Explorer is read only once the catalog names the activated tag."""
    got = run_cli(capsys, "usage", str(catalog(tag='""')), "--since", "1d", "--json")
    assert got.code == 0 and json.loads(got.out)["no_provider_report"] == ["bedrock"]
