"""Schema errors as located problems, and the semantic checks across the catalog."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from aigw.apis import APIS
from aigw.catalog.limits import limit_problems, shared_scope_conflicts
from aigw.catalog.loader import Mark, PathKey, Problem, dotted
from aigw.catalog.models import NAME_RE, Catalog
from aigw.names import PER_SERVICE_SLOT_PREFIX, per_service_slot, shared_access_names
from aigw.outputs import OUTPUTS

NAME_HINT = "names become Vault paths and file names: use a-z, 0-9 and '-' (max 63, no leading '-')"


class Locator:
    """Finds the mark of a path, falling back to its nearest located parent."""

    def __init__(self, marks: Mapping[PathKey, Mark], default: Mark) -> None:
        self.marks = marks
        self.default = default

    def __call__(self, path: PathKey) -> Mark:
        while path:
            if path in self.marks:
                return self.marks[path]
            path = path[:-1]
        return self.marks.get((), self.default)

    def key(self, path: PathKey) -> str:
        """The dotted key a problem at PATH names."""
        return dotted(path)

    def problem(self, path: PathKey, message: str, hint: str | None = None) -> Problem:
        return Problem(self(path), self.key(path), message, hint)


def schema_problems(
    exc: ValidationError, locate: Locator, prefix: PathKey = ()
) -> list[Problem]:
    """Turn pydantic's errors into located problems with hints."""
    out = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        path = (*prefix, *loc)
        kind = err["type"]
        message = err["msg"]
        hint = None
        if kind == "extra_forbidden":
            message = "unknown field"
            hint = _field_hint(exc, path)
        elif kind == "missing":
            message = "required field is missing"
            hint = f"add `{path[-1]}:`"
        elif kind.startswith("literal_error"):
            hint = "allowed: " + message.split("Input should be ", 1)[-1]
            message = f"{_short(err.get('input'))} is not allowed"
        elif kind in ("dict_type", "list_type", "model_type", "model_attributes_type"):
            want = {"dict_type": "a mapping", "list_type": "a list"}.get(kind, "a mapping")
            message = f"expected {want}, got {_type_name(err.get('input'))}"
            hint = ("write one `- item` per line" if want == "a list"
                    else "indent its fields under it, one `field: value` per line")
        elif kind.startswith(("string_type", "int_", "float_", "bool_")):
            message = f"{message.lower()}, got {_short(err.get('input'))}"
            hint = {"s": "quote it as text", "i": "write a whole number, e.g. 2",
                    "f": "write a number, e.g. 30", "b": "write true or false"}[kind[0]]
        elif kind == "value_error":
            message = message.removeprefix("Value error, ")
            hint = "see docs/catalog.md for this field"
        elif kind.startswith(("greater_than", "less_than")):
            hint = "see docs/catalog.md for the allowed range"
        out.append(Problem(locate(path), locate.key(path), message, hint))
    return out


def _field_hint(exc: ValidationError, path: PathKey) -> str | None:
    allowed = {
        "environments": ["mount", "path_prefix", "key_dir", "agent_refresh", "openbao_address",
                         "overrides"],
        "providers": ["api", "base_url", "region", "slots", "rotation", "extra"],
        "models": ["description", "routes"],
        "services": ["description", "environments", "models", "regions", "keys", "outputs",
                     "defaults", "key_dir", "kubernetes", "budget", "limits", "workspace"],
    }
    names: list[str] = []
    if len(path) == 3 and path[0] in allowed:
        names = allowed[str(path[0])]
    elif len(path) == 5 and path[0] == "models" and path[2] == "routes":
        names = ["provider", "model", "slot", "timeout", "retries", "cooldown", "weight",
                 "extra"]
    elif len(path) == 1:
        names = ["version", *allowed]
    if not names:
        return "see docs/catalog.md for the fields"
    close = difflib.get_close_matches(str(path[-1]), names, n=1)
    return f"did you mean `{close[0]}`?" if close else f"known fields: {', '.join(names)}"


def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", type(None): "nothing"}.get(
        type(value), type(value).__name__
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _unknown(kind: str, name: str, known: Iterable[str]) -> tuple[str, str]:
    known = sorted(k for k in known if isinstance(k, str))  # salvaged lists may hold None
    close = difflib.get_close_matches(name, known, n=1)
    plural = "model aliases" if kind == "model alias" else kind + "s"
    hint = f"did you mean '{close[0]}'?" if close else (
        f"defined {plural}: {', '.join(known[:8])}" if known else f"no {plural} are defined")
    return f"unknown {kind} '{name}'", hint


def semantic_problems(
    cat: Catalog, locate: Locator, raw_names: dict[str, set[str]] | None = None,
    broken: set[str] | None = None, env_names: Iterable[str] | None = None,
) -> list[Problem]:
    """Cross-reference and safety checks that need the whole catalog.

    ENV_NAMES: the environments whose merged view CAT is (for checks per environment,
    such as two services' limits in one shared project); default: those without overrides.

    RAW_NAMES holds every name written in the files, valid or not: a reference to
    an entry that failed its schema check is not reported again as unknown.
    """
    out: list[Problem] = []
    raw = raw_names or {}

    skip = broken or set()

    def exists(section: str, name: str) -> bool:
        return section in skip or name in raw.get(section, ())

    def bad(path: PathKey, message: str, hint: str | None = None) -> None:
        out.append(locate.problem(path, message, hint))

    def name_ok(path: PathKey, name: str) -> bool:
        if NAME_RE.match(name):
            return True
        bad(path, f"unsafe name '{name}'", NAME_HINT)
        return False

    if not raw.get("environments") and not cat.environments and "environments" not in skip:
        bad(("environments",), "no environments are defined", "add e.g. `environments: {prod: {}}`")
    for section in ("environments", "providers", "models", "services"):
        for name in sorted(raw.get(section, ())) or getattr(cat, section):
            name_ok((section, name), name)
    for ename, environment in cat.environments.items():
        address = environment.openbao_address
        if address is not None and not (address.startswith(("http://", "https://"))
                                        and len(address.split("://", 1)[1].strip("/")) > 0):
            bad(("environments", ename, "openbao_address"),
                "openbao_address must be an http:// or https:// URL",
                "e.g. openbao_address: https://openbao.internal:8200")
    for pname, prov in cat.providers.items():
        name_ok(("providers", pname, "region"), prov.region)
        if APIS[prov.api].needs_base_url and not prov.base_url:
            bad(("providers", pname, "base_url"), f"api '{prov.api}' needs a base_url",
                f"e.g. base_url: {APIS[prov.api].example_base_url}")
        if prov.base_url and not prov.base_url.startswith(("http://", "https://")):
            bad(("providers", pname, "base_url"), "base_url must start with http:// or https://")
        if not prov.slots:
            bad(("providers", pname, "slots"), "a provider needs at least one key slot",
                "remove `slots:` to get the single slot `default`")
        seen: set[str] = set()
        for i, slot in enumerate(prov.slots):
            if slot is None:  # failed its schema check (salvage.py): reported there
                continue
            path = ("providers", pname, "slots", i)
            if name_ok(path, slot) and slot.startswith(PER_SERVICE_SLOT_PREFIX):
                bad(path, f"slot '{slot}' uses the reserved prefix '{PER_SERVICE_SLOT_PREFIX}'",
                    f"{per_service_slot('<service>')} slots are made for services with "
                    "`keys: per-service`")
            if slot in seen:
                bad(path, f"slot '{slot}' is listed twice")
            seen.add(slot)
    for alias, model in cat.models.items():
        if not model.routes:
            bad(("models", alias, "routes"), "alias has no routes", "add at least one route")
        for i, route in enumerate(model.routes):
            if route is None:
                continue
            path = ("models", alias, "routes", i)
            route_prov = cat.providers.get(route.provider)
            if route_prov is None:
                if not exists("providers", route.provider):
                    bad((*path, "provider"), *_unknown("provider", route.provider, raw.get("providers", cat.providers)))
            elif route.slot is not None and route.slot not in route_prov.slots:
                bad((*path, "slot"), *_unknown("slot", route.slot, route_prov.slots))
        if model.eval is not None:
            judge = model.eval.judge
            if judge is not None and judge not in cat.models and not exists("models", judge):
                bad(("models", alias, "eval", "judge"),
                    *_unknown("model alias", judge, raw.get("models", cat.models)))
            elif judge == alias:
                bad(("models", alias, "eval", "judge"), "an alias cannot judge itself",
                    "name another alias of the catalog as the judge")
            name_ok(("models", alias, "eval", "set"), model.eval.set)
    for sname, svc in cat.services.items():
        base = ("services", sname)
        if not svc.environments:
            bad((*base, "environments"), "a service needs at least one environment")
        if not svc.models:
            bad((*base, "models"), "a service needs at least one model alias",
                "list the aliases it calls, e.g. models: [chat-default]")
        for i, env in enumerate(svc.environments):
            if env is None:
                continue
            if env not in cat.environments:
                if not exists("environments", env):
                    bad((*base, "environments", i), *_unknown("environment", env, raw.get("environments", cat.environments)))
            elif env in svc.environments[:i]:
                bad((*base, "environments", i), f"environment '{env}' is listed twice")
        for i, alias in enumerate(svc.models):
            if alias is None:
                continue
            if alias not in cat.models:
                if not exists("models", alias):
                    bad((*base, "models", i), *_unknown("model alias", alias, raw.get("models", cat.models)))
                continue
            if alias in svc.models[:i]:
                bad((*base, "models", i), f"alias '{alias}' is listed twice")
            if svc.regions is None:
                continue
            allowed = ", ".join(x for x in svc.regions if x)
            for r, route in enumerate(cat.models[alias].routes):
                used = cat.providers.get(route.provider) if route is not None else None
                if used is not None and used.region not in svc.regions:
                    bad((*base, "models", i),
                        f"models.{alias}.routes[{r}] ({route.provider}, region {used.region}) "
                        f"is outside the service's regions [{allowed}]",
                        f"use an alias whose routes stay in [{allowed}], or allow "
                        f"region '{used.region}'")
        for i, region in enumerate(svc.regions or []):
            if region is not None:
                name_ok((*base, "regions", i), region)
        outs = list(svc.outputs)
        for i, o in enumerate(outs):
            if o in outs[:i]:
                bad((*base, "outputs", i), f"output '{o}' is listed twice")
    _colliding_deployments(cat, bad)
    _route_weights(cat, bad)
    _kubernetes_key_dirs(cat, bad)
    limit_problems(cat, bad)
    if env_names is None:
        env_names = [n for n, e in cat.environments.items()
                     if not any(True for _ in e.overrides.entries())]
    for env_name in sorted(env_names):
        shared_scope_conflicts(cat, env_name, bad)
    out.extend(wire_family_problems(cat, locate))
    return out


def wire_family_problems(cat: Catalog, locate: Locator) -> list[Problem]:
    """One wire family per alias, and what each wire API needs (aigw/apis.py).

    aigw fails over underneath the caller's SDK and never translates between
    request shapes, so an alias mixing openai-family and anthropic-family routes
    could not be called through either SDK. A Bedrock provider needs its AWS
    region (or an explicit base_url).
    """
    out: list[Problem] = []
    for pname, prov in cat.providers.items():
        api = APIS[prov.api]
        if api.region_extra and not prov.base_url and not prov.extra.get(api.region_extra):
            out.append(locate.problem(
                ("providers", pname, "extra"), f"api '{prov.api}' needs the AWS region",
                f"add `extra: {{{api.region_extra}: eu-central-1}}` (or a base_url)"))
    for alias, model in cat.models.items():
        first: tuple[int, str, str] | None = None
        for i, route in enumerate(model.routes):
            used = cat.providers.get(route.provider) if route is not None else None
            if used is None or route is None:
                continue  # reported as an unknown provider, or a schema problem
            family = APIS[used.api].family
            if first is None:
                first = (i, route.provider, family)
                continue
            if family != first[2]:
                out.append(locate.problem(
                    ("models", alias, "routes", i, "provider"),
                    f"alias '{alias}' mixes wire families: route {first[0] + 1} "
                    f"({first[1]}) speaks {first[2]}, route {i + 1} ({route.provider}, "
                    f"api {used.api}) speaks {family}",
                    f"every route of an alias must speak one family (aigw fails over "
                    f"under the caller's SDK, it does not translate): move route {i + 1} "
                    f"to its own alias, or use a provider with an {first[2]}-compatible "
                    "endpoint"))
    return out


WEIGHT_TOTAL = 100


def _kubernetes_key_dirs(cat: Catalog, bad: Any) -> None:
    """A Kubernetes output mounts the key folder in a container: it must be absolute."""
    for sname, svc in cat.services.items():
        k8s = [o for o in svc.outputs if o in OUTPUTS and OUTPUTS[o].kubernetes]
        if not k8s:
            continue
        if svc.key_dir is not None:
            dirs = [(("services", sname, "key_dir"), svc.key_dir)]
        else:
            dirs = [(("environments", e, "key_dir"), cat.environments[e].key_dir)
                    for e in svc.environments if e in cat.environments]
        for path, key_dir in dirs:
            if not key_dir.startswith("/"):
                bad(path, f"key_dir '{key_dir}' is relative, but service '{sname}' renders "
                    f"{', '.join(k8s)}, which mounts it in a container",
                    "use an absolute path, e.g. key_dir: /run/secrets/aigw")
                break


def _route_weights(cat: Catalog, bad: Any) -> None:
    """Weights split an alias's first attempts; when any route has one, they add up to 100.

    Routes without a `weight` are fallbacks only. A weight of 0 keeps a route in the
    split's list (a paused canary) without sending it first attempts. The range
    (0-100, whole numbers) is the model's; docs/live-config.md has the recipe.
    """
    for alias in sorted(cat.models):
        weights = [(i, r.weight) for i, r in enumerate(cat.models[alias].routes)
                   if r is not None and r.weight is not None]  # None: a route that failed its schema
        if not weights:
            continue
        total = sum(w for _, w in weights)
        if total != WEIGHT_TOTAL:
            shown = " + ".join(str(w) for _, w in weights)
            bad(("models", alias, "routes", weights[0][0], "weight"),
                f"the weights of alias '{alias}' add up to {total} ({shown}), not "
                f"{WEIGHT_TOTAL}", "give every weighted route its share so they add up to 100, "
                "e.g. 95 and 5 for a 5% canary; routes without a weight are fallbacks only")


def _colliding_deployments(cat: Catalog, bad: Any) -> None:
    """`aigw-<env>-<service>` names one OpenBao policy and role: two deployments must not share it.

    (`eu` + `west-app` and `eu-west` + `app` would; the rule is `aigw.names.shared_access_names`.)
    """
    pairs = [(env, sname) for sname in sorted(cat.services)
             for env in cat.services[sname].environments if env is not None]
    for name, shared in shared_access_names(pairs).items():
        owners = sorted(shared, key=lambda p: (p[1], p[0]))  # reported at the later service
        first = owners[0]
        for env, sname in owners[1:]:
            bad(("services", sname), f"service '{sname}' in '{env}' and service "
                f"'{first[1]}' in '{first[0]}' would share the OpenBao policy and role "
                f"'{name}'", "rename the service or the environment")
