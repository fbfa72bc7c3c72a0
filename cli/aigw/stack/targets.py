"""A targeted apply: `up` only the resources whose inputs differ from the recorded state.

A one-service change at 1,000 services touches a handful of the stack's ~3,500
resources, yet a full `up` has the program register all of them, the engine diff
each one and the provider process check each one. When apply does not refresh
(`--no-refresh`, or aigw read every object back and none drifted: aigw.stack.drift),
aigw reads the recorded state itself (the same backend read as aigw.stack.fastplan),
runs each resource's own provider `diff` against it (the rule the engine would ask
the provider for, so it lives in one place), and when the change set holds only
creates and in-place updates it runs `up` with `target=` those URNs and a program
that declares only them and what they are declared after (the mount, the auth
method, a role's policy).

What Pulumi does with the rest (pulumi/pulumi pkg/resource/deploy/step_generator.go
at v3.259.0, `GenerateDeletes`): a resource in the state that is neither targeted
nor registered gets an "untargeted same" step, so it stays in the state unchanged
with no provider call; a registered but untargeted one is a same step with its
Check stubbed. The engine may delete a target and the targets' dependents in the
state's graph (a policy's role and config) when the program does not register them,
with or without `target_dependents` (`determineAllowedResourcesToDeleteFromTargets`),
so the program registers them too, untargeted; `target_dependents` is not passed
(it would update them too, for nothing: their inputs do not flow from their
dependencies, `depends_on` only orders them). The root stack
resource is always targeted, so the stack's outputs (the spec digest a plan's
fingerprint checks) are written as in a full run.

The full `up` runs instead, and apply says why, when: the engine refreshes (an object
drifted, or the state was recorded against another OpenBao); there is no recorded state or
aigw cannot read it (a backend other than `file://` and `s3://`); the state
records an interrupted run; a resource would be deleted or replaced; or more than
MAX_TARGETS resources change (a full run costs about the same then, and each target
is an argument of the engine's command line). A targeted run whose state another run
replaced before the engine took the lock is followed by the full one (aigw.stack.run,
aigw.stack.fastplan.replaced).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aigw.context import EngineSettings
from aigw.stack import fastplan
from aigw.stack.ids import PROJECT
from aigw.stack.program import Planned, planned_resources
from aigw.stack.report import TYPE_PREFIX
from aigw.stack.spec import EnvSpec

TARGETED = "targeted"  # StackResult.apply_path values (apply --json `apply_path`)
FULL = "full"
MAX_TARGETS = 200


@dataclass(frozen=True)
class Choice:
    """How apply runs `up` for one stack: targeted (URNS, the program declaring NAMES), or
    full (WHY says the reason)."""

    why: str = ""
    urns: tuple[str, ...] = ()
    names: frozenset[str] | None = None
    changed: int = 0
    mark: str = ""  # targeted: the digest of the state it was chosen against (Recorded.mark)

    @property
    def path(self) -> str:
        """TARGETED or FULL."""
        return FULL if self.names is None else TARGETED

    def line(self, label: str, total: int) -> str:
        """The one line apply prints about the path it takes."""
        if self.names is None:
            return f"{label}: full apply ({self.why})"
        return (f"{label}: targeted apply of {self.changed} of {total} resources (the rest "
                "match the recorded state; `aigw apply` without --no-refresh checks them all)")

    def counts(self, counts: Mapping[str, int], total: int) -> dict[str, int]:
        """The run's counts, the resources the targeted run left alone counted unchanged."""
        if self.names is None:
            return dict(counts)
        out = {op: n for op, n in counts.items() if op != "same"}
        same = total - sum(out.values())
        return {**out, "same": same} if same > 0 else out


def full(why: str) -> Choice:
    """The full `up`, for reason WHY."""
    return Choice(why=why)


def resource_type(plan: Planned) -> str:
    """The engine's type token of a planned resource (`pulumi-python:dynamic/aigw:KvSlot`)."""
    return TYPE_PREFIX + plan.kind.__name__


def choose(spec: EnvSpec, addr: str, commit: str | None, settings: EngineSettings,
           stack: str, recorded: fastplan.Recorded | None = None) -> Choice:
    """Targeted when the recorded state allows it (module docstring), else full with why.
    RECORDED: the state's resources when the caller has read them already (aigw.stack.drift)."""
    recorded = recorded or fastplan.recorded_resources(settings, stack)
    if recorded.why is not None:
        return full(recorded.why)
    choice = _compare(list(planned_resources(spec, addr, commit)), recorded.resources, stack)
    return choice if choice.names is None else dataclasses.replace(choice, mark=recorded.mark)


def _compare(planned: list[Planned], resources: list[Any], stack: str) -> Choice:
    recorded: dict[tuple[str, str], Mapping[str, Any]] = {}
    for res in resources:
        kind = str(res.get("type", ""))
        if not kind.startswith(TYPE_PREFIX):
            continue
        recorded[(kind, str(res.get("urn", "")).rsplit("::", 1)[-1])] = res
    wanted = {(resource_type(p), p.name) for p in planned}
    gone = [name for key, name in recorded if (key, name) not in wanted]
    if gone:
        return full(f"{len(gone)} to delete, e.g. {gone[0]}")
    by_name = {p.name: p for p in planned}
    urns: list[str] = []
    names: set[str] = set()
    for plan in planned:
        kind = resource_type(plan)
        old = recorded.get((kind, plan.name))
        if old is None:  # a create: the URN the engine will give it
            urns.append(f"urn:pulumi:{stack}::{PROJECT}::{kind}::{plan.name}")
        else:
            diff = plan.kind.provider_class().diff(str(old.get("id", "")),
                                                   dict(old.get("outputs") or {}), plan.props)
            if diff.replaces:
                return full(f"{plan.name} would be replaced")
            if not diff.changes:
                continue
            urns.append(str(old["urn"]))
    if len(urns) > MAX_TARGETS:
        return full(f"{len(urns)} resources change")
    changed = len(urns)
    if not urns:  # nothing differs: target one resource nothing depends on (unchanged), so
        # the run writes the stack's outputs (the spec digest) as a full one would
        leaf = _leaf(planned)
        if leaf is None:
            return full("nothing to target")
        urns.append(str(recorded[(resource_type(leaf), leaf.name)]["urn"]))
    for urn in _dependents(urns, resources):
        _with_dependencies(urn.rsplit("::", 1)[-1], by_name, names)
    for urn in urns:
        _with_dependencies(urn.rsplit("::", 1)[-1], by_name, names)
    return Choice(urns=tuple(urns), names=frozenset(names), changed=changed)


def _leaf(planned: list[Planned]) -> Planned | None:
    """A resource no other is declared after."""
    needed = {dep for p in planned for dep in p.after}
    return next((p for p in planned if p.name not in needed), None)


def _dependents(urns: list[str], resources: list[Any]) -> set[str]:
    """The recorded resources that depend on URNS, transitively. The engine may delete a
    target's dependents that the program does not declare (it computes them from the
    state's graph, with or without `target_dependents`), so the program declares them."""
    depending: dict[str, list[str]] = {}
    for res in resources:
        for dep in res.get("dependencies") or ():
            depending.setdefault(str(dep), []).append(str(res.get("urn", "")))
    found: set[str] = set()
    frontier = list(urns)
    while frontier:
        for urn in depending.get(frontier.pop(), ()):
            if urn not in found:
                found.add(urn)
                frontier.append(urn)
    return found


def _with_dependencies(name: str, by_name: Mapping[str, Planned], into: set[str]) -> None:
    """NAME and what it is declared after, transitively (so the state keeps its edges)."""
    if name in into:
        return
    into.add(name)
    for dep in by_name[name].after:
        _with_dependencies(dep, by_name, into)
