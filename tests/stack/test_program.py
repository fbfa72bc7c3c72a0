"""The stack program under pulumi.runtime.Mocks: which resources, with which inputs (no engine)."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest

from aigw.catalog import load_catalog
from aigw.catalog.models import Catalog
from aigw.stack.program import declare_environment, run_from_project
from aigw.stack.sdkfix import fast_inline_program
from aigw.stack.spec import environment_spec
from tests.stack.conftest import EXAMPLES
from tests.stack.stack_catalogs import catalog_doc

ADDR = "http://127.0.0.1:8200"
TYPE = "pulumi-python:dynamic/aigw:"


class Recorder(pulumi.runtime.Mocks):
    """Records every resource the program registers; outputs echo the inputs."""

    def __init__(self) -> None:
        self.resources: dict[str, pulumi.runtime.MockResourceArgs] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources[args.name] = args
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}


@pytest.fixture
def mocks() -> Iterator[Recorder]:
    # Pulumi's mocks run on the current event loop; an earlier test's asyncio.run()
    # leaves none set, so give these tests their own.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    recorder = Recorder()
    pulumi.runtime.set_mocks(recorder, preview=False)
    yield recorder
    asyncio.set_event_loop(None)
    loop.close()


@pulumi.runtime.test
def test_program_declares_one_resource_per_object(mocks: Recorder) -> Any:
    spec = environment_spec(load_catalog(EXAMPLES).catalog, "prod")
    declared = declare_environment(spec, ADDR)

    def check(_: Any) -> None:
        kinds: dict[str, int] = {}
        for args in mocks.resources.values():
            kinds[args.typ] = kinds.get(args.typ, 0) + 1
        assert spec.k8s is not None  # examples/ renders k8s outputs: Kubernetes roles too
        assert kinds == {f"{TYPE}KvMount": 1, f"{TYPE}AuthBackend": 2,
                         f"{TYPE}KvSlot": len(spec.slots), f"{TYPE}Policy": len(spec.policies),
                         f"{TYPE}AuthRole": len(spec.roles) + len(spec.k8s.roles),
                         f"{TYPE}ClientConfig": len(spec.configs)}
        k8s = mocks.resources["role.kubernetes.aigw-prod-eu-contracts"].inputs
        assert k8s["params"]["bound_service_account_names"] == ["eu-contracts"]
        pol = mocks.resources["policy.aigw-prod-support-bot"].inputs
        assert pol["name"] == "aigw-prod-support-bot" and pol["addr"] == ADDR
        assert pol["policy"] == next(p.text for p in spec.policies if p.service == "support-bot")
        slot = mocks.resources["slot.deepseek.svc-support-bot"].inputs
        assert slot["path"] == "prod/providers/deepseek/svc-support-bot"
        assert slot["custom_metadata"]["driver"] == "manual"
        role = mocks.resources["role.approle.aigw-prod-support-bot"].inputs
        assert role["params"]["token_policies"] == ["aigw-prod-support-bot"]
        for args in mocks.resources.values():  # no credential is ever a resource input
            assert not {"token", "secret", "api_key", "password"} & set(args.inputs)

    # Wait for every declared resource, not a subset: registrations finish in any
    # order, and on a busy machine a slot could still be on its way when check ran.
    assert len(declared.every) == spec.resource_count  # the test waits for all of them
    return pulumi.Output.all(*(r.urn for r in declared.every)).apply(check)


def test_program_of_1000_resources_keeps_one_pickler_wrapper(mocks: Recorder) -> None:
    """pulumi 3.259 wraps pickle once per dynamic resource (RecursionError past ~300).

    The real engine runs 3,000 in tests/stack/test_scale.py; this is the fast check.
    """
    spec = environment_spec(Catalog.model_validate(catalog_doc(300, per_service_every=1)),
                            "bench")
    assert spec.resource_count >= 1000
    before = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]

    @pulumi.runtime.test
    def program() -> Any:
        declared = declare_environment(spec, ADDR)  # RecursionError without the workaround
        assert pickle._Pickler._batch_setitems is before  # type: ignore[attr-defined]
        return declared.mount.urn  # the test wrapper waits for every registration

    with fast_inline_program():  # as in aigw: the SDK waits for outputs in quadratic time
        program()
    assert len(mocks.resources) == spec.resource_count


@pulumi.runtime.test
def test_the_official_cli_entry_declares_the_same_program(mocks: Recorder) -> Any:
    """stacks/__main__.py calls run_from_project: the catalog path, the stack's environment."""
    declared = run_from_project(EXAMPLES, "staging", ADDR)
    assert sorted(declared.policies) == ["aigw-staging-eu-contracts", "aigw-staging-nightly-batch",
                                         "aigw-staging-research-assistant",
                                         "aigw-staging-support-bot"]
    return declared.mount.urn


@pulumi.runtime.test
def test_a_config_is_written_after_its_service_policy(mocks: Recorder,
                                                      monkeypatch: pytest.MonkeyPatch) -> Any:
    """Keys ready: a running service switches within seconds to a published config, so the
    policy granting the slots it names must be in OpenBao first (an engine runs
    independent resources in parallel)."""
    from aigw.stack import program

    after: dict[str, list[str]] = {}
    real = program.ClientConfig

    def recording(name: str, props: dict[str, Any], opts: pulumi.ResourceOptions) -> Any:
        after[props["service"]] = [getattr(r, "_name", "") for r in opts.depends_on or []]
        return real(name, props, opts)

    monkeypatch.setattr(program, "ClientConfig", recording)
    spec = environment_spec(load_catalog(EXAMPLES).catalog, "prod")
    declared = declare_environment(spec, ADDR)
    assert after and all(f"policy.aigw-prod-{svc}" in deps for svc, deps in after.items())
    return declared.mount.urn


def test_each_provider_class_is_pickled_once_and_as_dill_would(
        mocks: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dill runs once per provider class, not once per resource; every resource still
    carries exactly the string the SDK's own serialization gives (state unchanged)."""
    import pulumi.dynamic.dynamic as sdk_dynamic

    from aigw.stack import sdkfix
    from aigw.stack.providers import PolicyProvider

    serialize_provider = sdk_dynamic.serialize_provider
    calls: list[type] = []

    def counting(provider: Any) -> str:
        calls.append(type(provider))
        return serialize_provider(provider)

    monkeypatch.setattr(sdk_dynamic, "serialize_provider", counting)
    monkeypatch.setattr(sdkfix, "_PICKLED", {})
    spec = environment_spec(load_catalog(EXAMPLES).catalog, "prod")

    @pulumi.runtime.test
    def program() -> Any:
        return declare_environment(spec, ADDR).mount.urn

    with fast_inline_program():
        program()
    assert len(mocks.resources) == spec.resource_count
    assert len(calls) == len(set(calls)) < 10  # one per class
    policies = [a for a in mocks.resources.values() if a.typ == f"{TYPE}Policy"]
    assert {a.inputs["__provider"] for a in policies} == {serialize_provider(PolicyProvider())}


def test_registered_resources_are_freed_batch_by_batch(
        mocks: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    """The inline program keeps only the policies (roles and configs depend on them):
    a registered slot, role or config is freed once its batch is registered, so the
    program's memory does not grow with the stack (docs/stacks.md#scale)."""
    import gc
    import weakref

    from aigw.stack import program as prog

    alive: list[weakref.ref[Any]] = []
    real = prog.ClientConfig

    def config(*args: Any, **kwargs: Any) -> Any:
        made = real(*args, **kwargs)
        alive.append(weakref.ref(made))
        return made

    monkeypatch.setattr(prog, "ClientConfig", config)
    spec = environment_spec(Catalog.model_validate(catalog_doc(120)), "bench")

    still: list[int] = []

    @pulumi.runtime.test
    def run() -> Any:
        async def go() -> None:
            declared = await prog.declare_in_batches(spec, ADDR, batch=20)
            gc.collect()  # while the program (and what it returned) is still running
            still.append(sum(ref() is not None for ref in alive))
            assert declared.policies  # kept: what later resources depend on
        return pulumi.Output.from_input(go())

    with fast_inline_program():
        run()
    assert len(alive) == 120
    assert still and still[0] <= 20, f"{still} configs outlive their batch"
