"""Time `aigw apply`/`aigw plan` against a real OpenBao for 10 to 3,000 services.

For each size, a fresh `bao server -dev` and a fresh file backend; one
environment; a synthetic catalog (tests/stack/stack_catalogs.py: every 4th
service uses per-service keys). Each step runs the CLI as its own process, timed
wall-clock, while a sampler adds up the RSS of that process and all its
descendants (engine, dynamic-provider process) every 50 ms:

- first apply          `aigw apply --yes` on an empty server (then every slot gets a
                       key, untimed, so that the changes below are applied, not held)
- no-op plan           `aigw plan` (the catalog against the recorded state: the default),
                       answered from the last apply's fingerprint without the engine
- no-op plan (engine)  the same plan with the fingerprint moved aside (as after an older
                       aigw), so the engine compares the catalog with the state
- plan --refresh       `aigw plan --refresh` (every object read back from OpenBao first;
                       the scheduled drift job)
- one-service apply --no-refresh
                       one service gets another alias (its policy and config change),
                       then `aigw apply --yes --no-refresh`
- one-service apply    another service drops an alias, then `aigw apply --yes` (the
                       default: it refreshes, reading every object back first)
- plan --refresh, drifted
                       one service's policy rewritten by hand in OpenBao (untimed), then
                       `aigw plan --refresh` (the drift job finding it)
- apply, drifted       `aigw apply --yes`, which repairs it

With `--baseline DIR` (a checkout of the base branch, e.g. `/work/main` or a `git
worktree` of it), the same steps run with DIR's code (`PYTHONPATH=DIR/cli`, same
interpreter and engine) on a second server and backend, step by step alternating
with this checkout's, so both see the same machine load; the table then prints
both, their ratio and the targets of issue 27. Every run gets compiled bytecode
(`PYTHONPYCACHEPREFIX` in the run's folder; `PYTHONDONTWRITEBYTECODE` is dropped)
after one warm-up, as an installed package has.

    python benchmarks/apply.py                  # 10, 100, 1000, 3000 services
    python benchmarks/apply.py --sizes 10 100   # a quick run
    python benchmarks/apply.py --sizes 1000 --baseline /work/main
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from testing.bao import BaoDevServer  # noqa: E402
from tests.stack.stack_catalogs import catalog_doc, service_name  # noqa: E402

ENV = "bench"


@dataclass
class Step:
    """One timed CLI run."""

    seconds: float
    peak_rss: int
    code: int
    # At the tree's peak: RSS per process (the CLI, the engine, the provider process...).
    parts: dict[str, int] = field(default_factory=dict)


@dataclass
class Row:
    """One size's results for one checkout."""

    services: int
    resources: int = 0
    steps: dict[str, Step] = field(default_factory=dict)

    @property
    def peak_rss(self) -> int:
        """The largest peak of any step."""
        return max(s.peak_rss for s in self.steps.values())


def run_cli(args: list[str], env: dict[str, str]) -> Step:
    """Run `aigw ARGS` as a process; wall time and the peak RSS of its whole tree."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "aigw", *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = 0
    parts: dict[str, int] = {}
    done = threading.Event()

    def sample() -> None:
        nonlocal peak, parts
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                rss = 0
                now: dict[str, int] = {}
                for p in tree:
                    try:
                        size = p.memory_info().rss
                    except psutil.Error:
                        continue
                    rss += size
                    name = "cli" if p.pid == proc.pid else _role(p)
                    now[name] = now.get(name, 0) + size
                if rss > peak:
                    peak, parts = rss, now
            except psutil.Error:
                pass
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    if proc.returncode not in (0, 1):
        sys.stderr.write(out[-3000:])
    return Step(seconds=seconds, peak_rss=peak, code=proc.returncode, parts=parts)


def _role(p: psutil.Process) -> str:
    """Which part of a run a child process is: the engine, a plugin, the provider."""
    try:
        name = p.name()
        cmd = " ".join(p.cmdline()[:3])
    except psutil.Error:
        return "other"
    if name == "pulumi":
        return "engine"
    if "dynamic" in cmd or "provider" in cmd:
        return "provider"
    return name


# The one-service changes: service 1 (chat-us) gets batch-us; service 2 (chat-us and
# batch-us) drops it. Each changes that service's policy and published config only.
CHANGES = {
    "one": {1: ["chat-us", "batch-us"]},
    "two": {1: ["chat-us", "batch-us"], 2: ["chat-us"]},
}


def write(folder: Path, services: int, change: str | None = None) -> None:
    """The catalog of SERVICES services, with the one-service CHANGE(s) made (None: none)."""
    extra = {service_name(i): {"environments": [ENV], "models": models}
             for i, models in (CHANGES[change] if change else {}).items()}
    doc = catalog_doc(services, env=ENV, extra_services=extra)
    (folder / "aigw.yaml").write_text(yaml.safe_dump(doc, sort_keys=True))


def fill_slots(folder: Path, addr: str, token: str) -> None:
    """A key in every slot the environment reads (untimed), as `aigw keys put` stores it,
    so that apply publishes the changed configs instead of holding them."""
    import hvac

    from aigw.catalog import load_catalog
    from aigw.catalog.view import used_slots
    from aigw.names import slot_path

    cat = load_catalog(folder).catalog
    env = cat.environments[ENV]
    kv = hvac.Client(url=addr, token=token).secrets.kv.v2
    for ref in used_slots(cat, ENV):
        kv.create_or_update_secret(path=slot_path(ENV, env, ref), cas=0, mount_point=env.mount,
                                   secret={"api_key": "sk-bench-not-a-key"})


@dataclass
class Lab:
    """One checkout's run: its own server, backend, catalog and environment."""

    name: str
    folder: Path
    backend: Path
    env: dict[str, str]
    row: Row

    def run(self, step: str, *args: str) -> None:
        self.row.steps[step] = run_cli([*args], self.env)


@contextmanager
def lab(name: str, code: Path | None, services: int,
        extra_env: dict[str, str]) -> Iterator[Lab]:
    """A fresh server and backend for CODE's checkout (None: this one)."""
    with tempfile.TemporaryDirectory(prefix=f"aigw-bench-{name}-") as tmp, \
            BaoDevServer() as bao:
        folder = Path(tmp) / "catalog"
        folder.mkdir()
        write(folder, services)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("BAO_", "VAULT_", "PULUMI_CONFIG_PASSPHRASE"))
               and k != "PYTHONDONTWRITEBYTECODE"}
        env.update(BAO_ADDR=bao.addr, BAO_TOKEN=bao.token, AIGW_HOME=tmp,
                   PULUMI_BACKEND_URL=f"file://{tmp}/backend",
                   PULUMI_CONFIG_PASSPHRASE="bench",
                   PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"))
        if code is not None:
            env["PYTHONPATH"] = os.pathsep.join(
                [str(code / "cli"), *filter(None, [env.get("PYTHONPATH")])])
        env.update(extra_env)
        (Path(tmp) / "backend").mkdir()
        subprocess.run([sys.executable, "-m", "aigw", "--help"], env=env, cwd=ROOT,
                       capture_output=True, check=False)  # warm-up: compile the bytecode
        yield Lab(name, folder, Path(tmp) / "backend", env, Row(services))


STEPS = ("first apply", "no-op plan", "no-op plan (engine)", "plan --refresh",
         "one-service apply --no-refresh", "one-service apply", "plan --refresh, drifted",
         "apply, drifted")


def tamper(addr: str, token: str) -> None:
    """Rewrite one service's policy by hand (untimed): drift for the next refresh."""
    import hvac

    hvac.Client(url=addr, token=token).sys.create_or_update_acl_policy(
        f"aigw-{ENV}-{service_name(0)}", 'path "changed/by/hand" { capabilities = ["read"] }')


def bench(services: int, baseline: Path | None = None, first_only: bool = False,
          extra_env: dict[str, str] | None = None) -> list[Row]:
    """Run every step for one size (this checkout, then the baseline's, step by step)."""
    from aigw.catalog import load_catalog
    from aigw.stack.fastplan import fingerprint_key
    from aigw.stack.spec import environment_spec

    codes: list[tuple[str, Path | None]] = [("head", None)]
    if baseline is not None:
        codes.append(("baseline", baseline))
    with ExitStack() as stack:
        labs = [stack.enter_context(lab(n, c, services, extra_env or {})) for n, c in codes]
        resources = environment_spec(load_catalog(labs[0].folder).catalog, ENV).resource_count

        def each(step: str, *args: str) -> None:
            for one in labs:
                one.run(step, *[a.replace("CATALOG", str(one.folder)) for a in args])

        each("first apply", "apply", "CATALOG", "--yes")
        for one in labs:
            one.row.resources = resources
        if not first_only:
            for one in labs:
                fill_slots(one.folder, one.env["BAO_ADDR"], one.env["BAO_TOKEN"])
            each("no-op plan", "plan", "CATALOG")
            for one in labs:
                fingerprint = one.backend / fingerprint_key(ENV)
                fingerprint.rename(fingerprint.with_name("moved-aside"))
            each("no-op plan (engine)", "plan", "CATALOG")
            for one in labs:
                fingerprint = one.backend / fingerprint_key(ENV)
                fingerprint.with_name("moved-aside").rename(fingerprint)
            each("plan --refresh", "plan", "CATALOG", "--refresh")
            for one in labs:
                write(one.folder, services, "one")
            each("one-service apply --no-refresh", "apply", "CATALOG", "--yes", "--no-refresh")
            for one in labs:
                write(one.folder, services, "two")
            each("one-service apply", "apply", "CATALOG", "--yes")
            for one in labs:
                tamper(one.env["BAO_ADDR"], one.env["BAO_TOKEN"])
            each("plan --refresh, drifted", "plan", "CATALOG", "--refresh")
            each("apply, drifted", "apply", "CATALOG", "--yes")
        return [one.row for one in labs]


def table(rows: list[Row]) -> str:
    """A Markdown table of one checkout's results, a row per size."""
    names = list(rows[0].steps)
    head = ["services", "resources", *[f"{n} (s)" for n in names], "peak RSS (MB)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [str(row.services), str(row.resources)]
        for n in names:
            step = row.steps[n]
            cells.append(f"{step.seconds:.1f}" + ("" if step.code in (0, 1) else " (failed)"))
        cells.append(f"{row.peak_rss / 1e6:.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# Issue 27's targets at 1,000 services: an absolute bound, or a ratio to the baseline.
TARGETS = {"no-op plan": ("< 2 s", lambda h, b: h < 2.0),
           "one-service apply --no-refresh": ("< 10 s", lambda h, b: h < 10.0),
           "plan --refresh": ("<= 0.7 x baseline", lambda h, b: b is not None and h <= 0.7 * b),
           "one-service apply": ("<= 0.7 x baseline",
                                 lambda h, b: b is not None and h <= 0.7 * b)}


def comparison(head: Row, base: Row | None) -> str:
    """This checkout beside the baseline for one size: each step, the ratio, the target."""
    lines = [f"{head.services} services, {head.resources} resources:", "",
             "| step | this checkout | baseline | ratio | target | met |",
             "|---|---|---|---|---|---|"]

    def cell(value: float, unit: str, failed: bool = False) -> str:
        return f"{value:.1f} {unit}" + (" (failed)" if failed else "")

    for name, step in head.steps.items():
        other = base.steps.get(name) if base else None
        target, met = TARGETS.get(name, ("", None))
        lines.append("| " + " | ".join([
            name, cell(step.seconds, "s", step.code not in (0, 1)),
            cell(other.seconds, "s", other.code not in (0, 1)) if other else "-",
            f"{step.seconds / other.seconds:.2f}" if other else "-", target,
            ("yes" if met(step.seconds, other.seconds if other else None) else "no")
            if met else ""]) + " |")
    ratio = f"{head.peak_rss / base.peak_rss:.2f}" if base else "-"
    lines.append("| " + " | ".join([
        "peak RSS (any step)", f"{head.peak_rss / 1e6:.0f} MB",
        f"{base.peak_rss / 1e6:.0f} MB" if base else "-", ratio, "< 600 MB",
        "yes" if head.peak_rss < 600e6 else "no"]) + " |")
    return "\n".join(lines)


def main() -> None:
    """Parse flags, run the sizes, print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 3000])
    parser.add_argument("--baseline", type=Path, metavar="DIR",
                        help="a checkout of the base branch to run beside this one")
    parser.add_argument("--first-apply-only", action="store_true",
                        help="only the first apply (a quick memory check)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="set a variable for the runs (e.g. GOGC=100 to compare engine "
                        "settings)")
    opts = parser.parse_args()
    if opts.baseline is not None and not (opts.baseline / "cli" / "aigw").is_dir():
        parser.error(f"--baseline {opts.baseline}: no cli/aigw there (a checkout of aigw?)")
    extra = dict(item.split("=", 1) for item in opts.env)
    results = []
    for size in opts.sizes:
        print(f"{size} services ...", file=sys.stderr, flush=True)
        results.append(bench(size, opts.baseline, first_only=opts.first_apply_only,
                             extra_env=extra))
    if extra:
        print("with " + " ".join(f"{k}={v}" for k, v in sorted(extra.items())))
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(table([rows[0] for rows in results]))
    if opts.baseline is not None:
        print()
        print(f"baseline {opts.baseline}:")
        print(table([rows[1] for rows in results]))
        for rows in results:
            print()
            print(comparison(rows[0], rows[1]))
    print()
    print("peak RSS by process (MB), at each step's peak:")
    for rows in results:
        for label, row in zip(("", "baseline, "), rows, strict=False):
            for name, step in row.steps.items():
                shown = ", ".join(f"{k} {v / 1e6:.0f}" for k, v in
                                  sorted(step.parts.items(), key=lambda kv: -kv[1]))
                print(f"- {label}{row.services} services, {name}: {shown}")


if __name__ == "__main__":
    main()
