"""Which resources a targeted apply updates, and when it falls back to the full `up`
(aigw.stack.targets over a state file written here; no engine, no OpenBao)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from aigw.catalog import load_catalog
from aigw.context import EngineSettings
from aigw.stack import targets
from aigw.stack.program import planned_resources
from aigw.stack.spec import EnvSpec, environment_spec
from tests.stack.conftest import EXAMPLES

ADDR = "http://127.0.0.1:8200"
ENV = "prod"


def settings(backend: Path) -> EngineSettings:
    return EngineSettings(backend_url=f"file://{backend}", passphrase_env={})


def urn(kind: str, name: str) -> str:
    return f"urn:pulumi:{ENV}::aigw::{kind}::{name}"


def state_of(spec: EnvSpec) -> list[dict[str, Any]]:
    """The state a full apply of SPEC records: outputs = inputs, dependencies as declared."""
    planned = list(planned_resources(spec, ADDR))
    kinds = {p.name: targets.resource_type(p) for p in planned}
    return [{"urn": urn(kinds[p.name], p.name), "type": kinds[p.name], "id": p.name,
             "inputs": p.props, "outputs": p.props,
             "dependencies": [urn(kinds[d], d) for d in p.after]} for p in planned]


def choose(tmp_path: Path, spec: EnvSpec, resources: list[dict[str, Any]],
           **latest: Any) -> targets.Choice:
    path = tmp_path / ".pulumi" / "stacks" / "aigw" / f"{ENV}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"version": 3, "checkpoint": {
        "stack": ENV, "latest": {"resources": resources, **latest}}}))
    return targets.choose(spec, ADDR, None, settings(tmp_path), ENV)


@pytest.fixture
def spec() -> EnvSpec:
    return environment_spec(load_catalog(EXAMPLES).catalog, ENV)


def test_nothing_changed_targets_one_unchanged_leaf(tmp_path: Path, spec: EnvSpec) -> None:
    choice = choose(tmp_path, spec, state_of(spec))
    assert choice.path == targets.TARGETED and choice.changed == 0
    (only,) = choice.urns
    assert "KvSlot" in only  # nothing depends on a slot: no dependent to declare
    assert choice.names is not None and len(choice.names) == 2  # mount and that slot


def test_a_changed_policy_targets_it_and_declares_its_dependents(
        tmp_path: Path, spec: EnvSpec) -> None:
    resources = state_of(spec)
    name = "policy.aigw-prod-research-assistant"
    old = next(r for r in resources if r["urn"].endswith("::" + name))
    old["outputs"] = {**old["outputs"], "policy": "path \"x\" {}"}
    choice = choose(tmp_path, spec, resources)
    assert choice.path == targets.TARGETED and choice.changed == 1
    assert choice.urns == (old["urn"],)
    assert choice.names is not None
    assert {n for n in choice.names if "research-assistant" in n} == {
        name, "role.approle.aigw-prod-research-assistant",
        "role.kubernetes.aigw-prod-research-assistant", "config.research-assistant"}
    assert "auth.kubernetes" in choice.names  # what the k8s role is declared after
    assert "policy.aigw-prod-support-bot" not in choice.names
    assert choice.line("aigw/prod", 26).startswith("aigw/prod: targeted apply of 1 of 26 ")


def test_a_new_resource_is_targeted_by_the_urn_it_will_get(tmp_path: Path,
                                                          spec: EnvSpec) -> None:
    resources = [r for r in state_of(spec) if "::config." not in r["urn"]
                 or not r["urn"].endswith("support-bot")]
    choice = choose(tmp_path, spec, resources)
    assert choice.urns == (urn("pulumi-python:dynamic/aigw:ClientConfig",
                               "config.support-bot"),)


@pytest.mark.parametrize(("case", "why"), [
    ("delete", "1 to delete, e.g. policy.aigw-prod-gone"),
    ("replace", "slot."),
    ("pending", "the state records an interrupted run"),
    ("many", "resources change"),
    ("none", "no recorded state yet"),
])
def test_the_full_up_runs_and_says_why(tmp_path: Path, spec: EnvSpec, case: str,
                                       why: str, monkeypatch: pytest.MonkeyPatch) -> None:
    resources = state_of(spec)
    latest: dict[str, Any] = {}
    if case == "delete":
        resources.append({"urn": urn("pulumi-python:dynamic/aigw:Policy",
                                     "policy.aigw-prod-gone"),
                          "type": "pulumi-python:dynamic/aigw:Policy", "outputs": {}})
    elif case == "replace":  # a slot moved to another path: a new object
        slot = next(r for r in resources if "KvSlot" in r["type"])
        slot["outputs"] = {**slot["outputs"], "path": "elsewhere"}
    elif case == "pending":
        latest["pending_operations"] = [{"type": "creating"}]
    elif case == "many":
        monkeypatch.setattr(targets, "MAX_TARGETS", 2)
        for r in [r for r in resources if r["type"].endswith(":Policy")][:3]:
            r["outputs"] = {**r["outputs"], "policy": ""}
    if case == "none":
        choice = targets.choose(spec, ADDR, None,
                                settings(tmp_path), ENV)
    else:
        choice = choose(tmp_path, spec, resources, **latest)
    assert choice.path == targets.FULL and why in choice.why, choice.why
    assert choice.line("aigw/prod", 1).startswith("aigw/prod: full apply (")


def test_a_backend_aigw_does_not_read_runs_the_full_up(spec: EnvSpec) -> None:
    gcs = EngineSettings(backend_url="gs://bucket", passphrase_env={})
    choice = targets.choose(spec, ADDR, None, gcs, ENV)
    assert choice.path == targets.FULL and "file://" in choice.why
