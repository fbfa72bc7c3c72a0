"""The README tour's `aigw usage`, for real, against the stand-ins.

    python -m testing.usage_tour [ARGS...]   (default ARGS: usage --env prod --since 3d)

Starts a fresh OpenBao dev server, the OpenAI and Anthropic admin stand-ins
(testing.openai_admin, testing.anthropic_admin), the Prometheus query API stand-in
(testing.prometheus_api) and moto for Cost Explorer; writes a catalog with prices
and budgets; puts keys with the real `aigw keys put` (support-bot's OpenAI key with
its id, its Anthropic key without one: found by its hint; batch's shared key);
seeds three days of usage; runs `aigw ARGS` as a user would and prints it. It
checks that no admin key, key value or AWS secret appears in the output, and
stops everything at the end.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from testing.anthropic_admin import AnthropicAdminServer
from testing.bao import BaoDevServer
from testing.openai_admin import OpenAIAdminServer
from testing.prometheus_api import PrometheusAPIServer

ROOT = Path(__file__).resolve().parents[1]
TAG = "iamPrincipal/aigw-slot"
CATALOG = """\
environments:
  prod: {{}}
providers:
  openai:
    api: openai
    base_url: {openai}
    region: us
    rotation: {{driver: openai-admin, params: {{project_id: proj_1, admin_base_url: {openai}}}}}
    prices:
      gpt-4o: {{currency: USD, as_of: 2026-11-01, input: "2.50", cache_read: "1.25", output: "10"}}
  anthropic:
    api: anthropic
    base_url: {anthropic}
    region: us
    prices:
      claude-sonnet-4-5: {{currency: USD, as_of: 2026-11-01, input: "3", cache_read: "0.30",
                          cache_write: "3.75", output: "15"}}
  bedrock:
    api: bedrock
    region: us
    extra: {{aws_region_name: us-east-1}}
    rotation: {{driver: aws-iam, params: {{user_name: aigw-bedrock, cost_tag: {tag}}}}}
  deepseek:
    api: openai
    base_url: https://api.deepseek.com
    region: us
    prices:
      deepseek-chat: {{currency: CNY, as_of: 2026-11-01, input: "2", output: "8"}}
models:
  gpt: {{routes: [{{provider: openai, model: gpt-4o}}]}}
  claude: {{routes: [{{provider: anthropic, model: claude-sonnet-4-5}}]}}
  claude-aws: {{routes: [{{provider: bedrock, model: anthropic.claude-sonnet-4-5}}]}}
  ds: {{routes: [{{provider: deepseek, model: deepseek-chat}}]}}
services:
  support-bot:
    environments: [prod]
    models: [gpt, claude]
    keys: per-service
    budget: {{monthly: "60", currency: USD}}
  search:
    environments: [prod]
    models: [claude-aws, ds]
    keys: per-service
    budget: {{monthly: "500", currency: USD}}
  batch-a: {{environments: [prod], models: [gpt, ds]}}
  batch-b: {{environments: [prod], models: [gpt, ds]}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seed(oa: OpenAIAdminServer, an: AnthropicAdminServer, prom: PrometheusAPIServer,
          moto_url: str, ids: dict[str, str], today: dt.date) -> None:
    """Three days of usage in every source."""
    days = [today - dt.timedelta(days=i) for i in range(2, -1, -1)]
    for day in days:
        d = day.isoformat()
        oa.record_usage(d, ids["bot"], "proj_1", "gpt-4o", input_tokens=1_000_000,
                        cached=200_000, output_tokens=100_000)
        oa.record_usage(d, ids["shared"], "proj_1", "gpt-4o", input_tokens=100_000,
                        output_tokens=10_000)
        oa.record_cost(d, "proj_1", 3.50)
        an.record_usage(d, ids["anthropic"], "wrkspc_1", "claude-sonnet-4-5", uncached=100_000,
                        cache_read=1_000_000, cache_5m=10_000, output=50_000)
        an.record_cost(d, "wrkspc_1", "138.75")
        midnight = dt.datetime.combine(day, dt.time(), dt.UTC).timestamp()
        for svc, slot, kind, n in (("search", "svc-search", "input", 2_000_000),
                                   ("search", "svc-search", "output", 300_000),
                                   ("batch-a", "default", "input", 500_000)):
            labels = {"aigw_provider": "deepseek", "aigw_environment": "prod",
                      "aigw_service": svc, "aigw_alias": "ds", "aigw_slot": slot,
                      "gen_ai_request_model": "deepseek-chat", "aigw_token_type": kind}
            prom.add_sample("aigw_client_token_usage_total", labels, midnight + 60, 0)
            prom.add_sample("aigw_client_token_usage_total", labels, midnight + 3600, n)

    def group(usage_type: str, amount: str) -> dict[str, Any]:
        return {"Keys": [f"{TAG}$prod/bedrock/svc-search", usage_type],
                "Metrics": {"UnblendedCost": {"Amount": amount, "Unit": "USD"}}}

    page = {"DimensionValueAttributes": [], "ResultsByTime": [
        {"TimePeriod": {"Start": d.isoformat(), "End": (d + dt.timedelta(days=1)).isoformat()},
         "Total": {}, "Estimated": True,
         "Groups": [group("USE1-Claude4.5Sonnet-input-tokens", "4.20"),
                    group("USE1-Claude4.5Sonnet-output-tokens", "2.10")]} for d in days]}
    requests.post(f"{moto_url}/moto-api/static/ce/cost-and-usage-results",
                  json={"results": [page]}, timeout=10).raise_for_status()


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Bring everything up, run `aigw ARGS`, check it leaks nothing, stop everything."""
    from moto.server import ThreadedMotoServer

    work = Path(tempfile.mkdtemp(prefix="aigw-usage-tour-"))
    oa = OpenAIAdminServer("admin-" + secrets.token_hex(8)).start()
    an = AnthropicAdminServer("admin-" + secrets.token_hex(8)).start()
    prom = PrometheusAPIServer().start()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    moto_url = f"http://{host}:{port}"
    try:
        with BaoDevServer() as bao:
            bao.client().sys.enable_secrets_engine("kv", path="aigw", options={"version": "2"})
            time.sleep(1.0)  # a new KV v2 mount answers 'upgrading' for a moment
            (work / "aigw.yaml").write_text(CATALOG.format(openai=oa.url, anthropic=an.url,
                                                           tag=TAG))
            env = {**os.environ, "BAO_ADDR": bao.addr, "BAO_TOKEN": bao.token,
                   "OPENAI_ADMIN_KEY": oa.admin_key, "ANTHROPIC_ADMIN_KEY": an.admin_key,
                   "AIGW_PROMETHEUS_URL": prom.url, "AWS_ENDPOINT_URL": moto_url,
                   "AWS_ACCESS_KEY_ID": "AKIA" + secrets.token_hex(8).upper(),
                   "AWS_SECRET_ACCESS_KEY": secrets.token_hex(20),
                   "AWS_DEFAULT_REGION": "us-east-1"}
            aigw = [sys.executable, "-m", "aigw"]
            acct, bot_key = oa.create_account("proj_1", "aigw-prod-openai-svc-support-bot-r1-1")
            bot_id = next(k.key_id for k in oa.live_keys("proj_1") if k.account_id == acct)
            shared_id, shared_key = oa.add_user_key("proj_1")
            an_id, an_key = an.create_key("support-bot prod", "wrkspc_1")
            for slot, value, key_id in (("openai/svc-support-bot", bot_key, acct),
                                        ("openai/default", shared_key, shared_id),
                                        ("anthropic/svc-support-bot", an_key, None)):
                subprocess.run([*aigw, "keys", "put", slot, "--env", "prod", str(work),
                                *(["--key-id", key_id] if key_id else [])], input=value,
                               env=env, capture_output=True, text=True, check=True)
            _seed(oa, an, prom, moto_url, {"bot": bot_id, "shared": shared_id,
                                           "anthropic": an_id}, dt.datetime.now(dt.UTC).date())
            got = subprocess.run([*aigw, *args, str(work)], env=env, capture_output=True,
                                 text=True, check=False, cwd=ROOT)
            for secret in (oa.admin_key, an.admin_key, bot_key, shared_key, an_key,
                           env["AWS_SECRET_ACCESS_KEY"]):
                assert secret not in got.stdout + got.stderr, "a secret in the output"
            return got
    finally:
        oa.stop()
        an.stop()
        prom.stop()
        moto.stop()


def main(argv: list[str]) -> int:
    """Print what `aigw ARGS` prints in the tour."""
    args = argv or ["usage", "--env", "prod", "--since", "3d"]
    got = run(args)
    print("$ aigw " + " ".join(args))
    print(got.stdout + got.stderr, end="")
    return got.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
