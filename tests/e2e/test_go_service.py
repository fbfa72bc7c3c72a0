"""A Go service in the lab, beside the Python ones: rotation, a model switch,
OpenBao down and a provider down, with 0 failed requests.

testing/go_service calls the lab's aliases through the official openai-go SDK
with aigw's Go RoundTripper underneath, on svc-3's live aigw-client.json (the
one its real `bao agent` writes, so it follows `aigw apply` and rotation), and
logs every attempt in testing/demo_service's format. Real OpenBao, Pulumi
engine, agents and HTTP; the providers are the lab's local stand-ins.
Propagation times are printed, never compared with a threshold.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from testing.lab import Lab, request_revision

ROOT = Path(__file__).resolve().parents[2]
GO = "svc-3-go"  # the Go process, on svc-3's config (aliases chat-ab and chat-ba)


def build_go_service(out: Path) -> Path:
    """`go build` testing/go_service (module and build caches kept between runs)."""
    env = {**os.environ, "GOFLAGS": (os.environ.get("GOFLAGS", "") + " -buildvcs=false").strip()}
    binary = out / "go_service"
    subprocess.run(["go", "build", "-o", str(binary), "."], cwd=ROOT / "testing" / "go_service",
                   env=env, check=True, timeout=1200)
    return binary


def switch_model(doc: dict[str, Any]) -> None:
    """chat-ba's first route (beta) asks for another model."""
    doc["models"]["chat-ba"]["routes"][0]["model"] = "m-beta-go"


def bad_attempts(reqs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Requests that failed, or had an attempt answered 401/403."""
    return [r for r in reqs if not r["ok"] or any(
        a["outcome"] in ("http_401", "http_403") for a in r["attempts"])]


@pytest.mark.integration
@pytest.mark.slow
def test_go_service_in_the_lab(tmp_path: Path) -> None:
    if shutil.which("go") is None:
        pytest.skip("the Go toolchain is not on PATH")
    binary = build_go_service(tmp_path)
    lab = Lab(tmp_path / "lab", say=lambda _: None,
              extra_services={GO: ("svc-3", [str(binary)])})
    with lab:
        pid = lab.services[GO].pid
        lab.wait_served(20)
        # Rotation of both providers' keys: the Go service moves to the new keys.
        rot = lab.rotate_all(wait="60s")
        new = lab.slot_fps()
        lab.wait_until(lambda: all(any(r["ok"] and r.get("provider") == p and r.get("fp") == fp
                                       for r in lab.requests(GO, rot["promoted"][p]))
                                   for p, fp in new.items()), "the Go service never used a new key")
        rotation = {p: round(next(r["t"] for r in lab.requests(GO, rot["promoted"][p])
                                  if r["ok"] and r.get("provider") == p and r.get("fp") == fp)
                             - rot["promoted"][p], 3) for p, fp in new.items()}
        # A model switch through `aigw apply`: live, no restart.
        change = lab.change_catalog("switch chat-ba's model", switch_model)
        revision = change.after["svc-3"]
        lab.wait_until(lambda: any(r["ok"] and r["alias"] == "chat-ba" and r.get("model") == "m-beta-go"
                                   and request_revision(r) == revision
                                   for r in lab.requests(GO, change.started)),
                       "the Go service never called the switched model")
        switched = round(next(r["t"] for r in lab.requests(GO, change.started)
                              if request_revision(r) == revision) - change.applied, 3)
        # OpenBao down, then a provider down.
        lab.openbao_outage(seconds=4, count=20)
        down = time.time()
        fo = lab.failover("alpha")
        lab.wait_until(lambda: any(r["ok"] and r.get("provider") == "alpha" and r["route"] == 0
                                   for r in lab.requests(GO, fo["up"])),
                       "the Go service never went back to alpha")
        reqs = lab.requests(GO)
        starts = [r for r in lab.records(GO) if r.get("event") == "start"]
        print("go service:", json.dumps({
            "requests": len(reqs), "rotation_propagation_s": rotation,
            "model_switch_after_apply_s": switched,
            "fell_back_during_alpha_down": sum(1 for r in lab.requests(GO, down, fo["up"])
                                               if r["ok"] and r["provider"] == "beta"
                                               and r["alias"] == "chat-ab")}))
        assert bad_attempts(reqs) == [], bad_attempts(reqs)[:3]
        assert [s["pid"] for s in starts] == [pid] and lab.services[GO].poll() is None
        assert any(a["outcome"] == "connect_error" for r in lab.requests(GO, down, fo["up"])
                   for a in r["attempts"] if a["provider"] == "alpha")
