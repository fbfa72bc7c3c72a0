"""Run eval sets through `aigw.client` and the official SDKs, as a service would.

For each alias under evaluation there are two sides: `base` (the alias's routes
in the catalog at the base revision) and `head` (the working tree). Each side is
an in-memory aigw-client.json whose routes read the providers' `eval` key files
(evals/keyfolder.py); the official `openai` or `anthropic` SDK calls the alias
through aigw's transport, so failover, `extra` and auth are exactly a service's.
Calls run on a bounded thread pool; answers are cached (evals/cache.py). An
`llm-rubric` judge is called through its own alias with the head's routes on
both sides, so a change is judged by one judge.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aigw.apis import APIS
from aigw.catalog.models import Catalog, Defaults
from aigw.catalog.view import ResolvedRoute
from aigw.evals.cache import AnswerCache, answer_key
from aigw.evals.cases import Case
from aigw.evals.graders import GRADERS, Answer, Grade
from aigw.evals.keyfolder import eval_key_file
from aigw.evals.prices import answer_spend
from aigw.names import EVAL_SLOT

MAX_TOKENS = 1024  # what an anthropic-family call asks for (its API requires a number)
Progress = Callable[[int, int], None]  # (done, total)


@dataclass
class CaseResult:
    """One case on one side: the answer, its grades, its score."""

    case: Case
    side: str
    answer: Answer | None
    grades: dict[str, Grade] = field(default_factory=dict)
    error: str | None = None
    cached: bool = False
    route: str | None = None  # provider/model that answered
    alias: str = ""

    @property
    def score(self) -> float:
        """Weighted mean of the applicable grades (0 when the call failed)."""
        if self.answer is None:
            return 0.0
        pairs = [(g.score, a.weight) for a in self.case.asserts
                 if (g := self.grades.get(a.name)) is not None and g.score is not None]
        total = sum(w for _, w in pairs)
        return sum(s * w for s, w in pairs) / total if total else 1.0

    @property
    def passed(self) -> bool:
        """Every applicable grade passed (and the call did not fail)."""
        return self.answer is not None and all(g.passed for g in self.grades.values())


def eval_routes(cat: Catalog, alias: str) -> list[ResolvedRoute]:
    """ALIAS's routes as an eval calls them: the catalog's order, the `eval` key slot."""
    d = Defaults()
    out = []
    for r in cat.models[alias].routes:
        prov = cat.providers[r.provider]
        out.append(ResolvedRoute(
            provider=r.provider, api=prov.api, base_url=prov.base_url, model=r.model,
            slot=EVAL_SLOT, key_file=eval_key_file(r.provider),
            timeout=float(r.timeout if r.timeout is not None else d.timeout),
            retries=r.retries if r.retries is not None else d.retries,
            cooldown=float(r.cooldown if r.cooldown is not None else d.cooldown),
            extra={**prov.extra, **r.extra}, weight=r.weight))
    return out


def client_for(routes: dict[str, list[ResolvedRoute]], key_dir: Path) -> Any:
    """An `aigw.client.Client` serving ROUTES (alias -> routes), keys from KEY_DIR."""
    from aigw.client import Client
    from aigw.client.config import parse_config
    from aigw.client_config import alias_entry

    doc = {"version": 1, "service": "aigw-eval", "environment": "eval",
           "key_dir": str(key_dir),
           "aliases": {a: alias_entry(a, r) for a, r in sorted(routes.items())}}
    return Client(parse_config(doc, key_dir), watch_keys=False, session_affinity=False)


class Caller:
    """Calls aliases of one client through the official SDK of each alias's family."""

    def __init__(self, client: Any, routes: dict[str, list[ResolvedRoute]],
                 cache: AnswerCache, cat: Catalog) -> None:
        self.client = client
        self.routes = routes
        self.cache = cache
        self.cat = cat
        self._sdks: dict[str, Any] = {}
        self._lock = threading.Lock()
        self.calls = 0

    def _sdk(self, family: str) -> Any:
        # Made once, before any call is timed: importing an SDK takes seconds, which
        # must not count as the first cases' latency.
        with self._lock:
            if family not in self._sdks:
                self._sdks[family] = (self.client.anthropic() if family == "anthropic"
                                      else self.client.openai())
            return self._sdks[family]

    def ask(self, alias: str, messages: list[dict[str, str]]) -> tuple[Answer, str, bool]:
        """(answer, the route that answered, from the cache?); raises on a failed call."""
        routes = self.routes[alias]
        request = {"messages": messages}
        key = answer_key(routes, request)
        value, cached = self.cache.fetch(key, lambda: self._fresh(alias, routes, messages))
        return self._answer(value), str(value.get("route") or ""), cached

    def _answer(self, value: dict[str, Any]) -> Answer:
        """The cached (or fresh) answer, priced with this side's catalog now: a price
        changed in the PR applies to answers cached before it."""
        route = str(value.get("route") or "")
        provider, _, model = route.partition("/")
        spend = answer_spend(self.cat, provider or None, model or None, value.get("usage"),
                             str(value.get("family") or "openai"))
        return Answer(str(value.get("text") or ""), float(value.get("latency_ms") or 0.0),
                      spend.input_tokens, spend.output_tokens, spend.cost, spend.currency)

    def _fresh(self, alias: str, routes: list[ResolvedRoute],
               messages: list[dict[str, str]]) -> dict[str, Any]:
        """Call the provider(s) now; the answer as the cache keeps it."""
        family = APIS[routes[0].api].family
        sdk = self._sdk(family)
        started = time.perf_counter()
        text, usage, raw = self._call(sdk, family, alias, messages)
        latency_ms = (time.perf_counter() - started) * 1000
        with self._lock:
            self.calls += 1
        route = _answering_route(raw, routes)
        return {"text": text, "latency_ms": latency_ms, "usage": usage, "family": family,
                "route": f"{route.provider}/{route.model}" if route else None}

    def _call(self, sdk: Any, family: str, alias: str,
              messages: list[dict[str, str]]) -> tuple[str, Any, Any]:
        """(text, the usage object as a dict, the raw response) of one SDK call."""
        if family == "anthropic":
            system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
            rest = [m for m in messages if m["role"] != "system"]
            extra = {"system": system} if system else {}
            raw = sdk.messages.with_raw_response.create(model=alias, max_tokens=MAX_TOKENS,
                                                        messages=rest, **extra)
            msg = raw.parse()
            text = "".join(getattr(b, "text", "") for b in msg.content)
            return text, _plain(msg.usage), raw
        raw = sdk.chat.completions.with_raw_response.create(model=alias, messages=messages)
        completion = raw.parse()
        text = (completion.choices[0].message.content or "") if completion.choices else ""
        return text, _plain(completion.usage), raw


def _plain(usage: Any) -> Any:
    """An SDK usage object as the provider sent it (a dict), None when absent."""
    dump = getattr(usage, "model_dump", None)
    return dump(exclude_none=True) if callable(dump) else None


def _answering_route(raw: Any, routes: list[ResolvedRoute]) -> ResolvedRoute | None:
    from aigw.client import attempts_of

    ok = [a for a in attempts_of(raw.http_response) if a.outcome == "ok"]
    if ok and 0 <= ok[-1].route < len(routes):
        return routes[ok[-1].route]
    return None


def _short_error(exc: Exception) -> str:
    from aigw.client import attempts_of

    attempts = attempts_of(exc)
    outcomes = ", ".join(f"{a.provider}: {a.outcome}" for a in attempts)
    return f"{type(exc).__name__}" + (f" ({outcomes})" if outcomes else "")


@dataclass
class Job:
    """One case of one alias on one side."""

    alias: str
    side: str
    case: Case
    caller: Caller


def run_case(job: Job, judge: Caller) -> CaseResult:
    """Call, then grade one case; a failed call is a result with `error`, not an exception."""
    try:
        answer, route, cached = job.caller.ask(job.alias, list(job.case.messages))
    except Exception as exc:  # provider failures of every kind: the case fails, the run goes on
        return CaseResult(job.case, job.side, None, error=_short_error(exc), alias=job.alias)
    result = CaseResult(job.case, job.side, answer, cached=cached, route=route, alias=job.alias)

    def ask_judge(alias: str, messages: list[dict[str, str]]) -> str:
        return judge.ask(alias, messages)[0].text

    for a in job.case.asserts:
        grader = GRADERS[a.type][0]
        try:
            grade = grader(a, answer, ask_judge)
        except Exception as exc:  # a judge that failed: this grade fails, with the reason
            grade = Grade(0.0, False, f"judge failed: {_short_error(exc)}")
        if a.negate and grade.score is not None:
            grade = Grade(1.0 - grade.score, not grade.passed,
                          f"matches, but {a.name} says it must not" if grade.passed else "")
        result.grades[a.name] = grade
    return result


def run_jobs(jobs: list[Job], judge: Caller, *, concurrency: int,
             progress: Progress | None = None) -> list[CaseResult]:
    """Run JOBS on at most CONCURRENCY threads, in order; report progress as they finish."""
    with ThreadPoolExecutor(max_workers=max(1, concurrency),
                            thread_name_prefix="aigw-eval") as pool:
        futures = [pool.submit(run_case, job, judge) for job in jobs]
        for done, _ in enumerate(as_completed(futures), start=1):
            if progress is not None:
                progress(done, len(jobs))
        return [f.result() for f in futures]
