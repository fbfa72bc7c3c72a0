"""Time `aigw apply`/`aigw plan` against a real OpenBao for 10 to 3,000 services.

For each size, a fresh `bao server -dev` and a fresh file backend; one
environment; a synthetic catalog (tests/stack/stack_catalogs.py: every 4th
service uses per-service keys). Each step runs the CLI as its own process, timed
wall-clock, while a sampler adds up the RSS of that process and all its
descendants (engine, dynamic-provider process) every 50 ms:

- first apply          `aigw apply --yes` on an empty server
- no-op plan           `aigw plan` (the catalog against the recorded state: the default),
                       answered from the last apply's fingerprint without the engine
- no-op plan (engine)  the same plan with the fingerprint moved aside (as after an older
                       aigw), so the engine compares the catalog with the state
- no-op plan --refresh `aigw plan --refresh` (every object read back from OpenBao first)
- one-service change   one service gets another alias, then `aigw apply --yes` (which
                       refreshes by default, so it reads every object back too)

    python benchmarks/apply.py                  # 10, 100, 1000, 3000 services
    python benchmarks/apply.py --sizes 10 100   # a quick run
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
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
    """One size's results."""

    services: int
    resources: int = 0
    steps: dict[str, Step] = field(default_factory=dict)


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


def write(folder: Path, services: int, changed: bool = False) -> None:
    extra = {}
    if changed:  # service 1 gets one more alias: its policy changes, nothing else
        extra[service_name(1)] = {"environments": [ENV], "models": ["chat-us", "batch-us"]}
    doc = catalog_doc(services, env=ENV, extra_services=extra)
    (folder / "aigw.yaml").write_text(yaml.safe_dump(doc, sort_keys=True))


def bench(services: int, first_only: bool = False,
          extra_env: dict[str, str] | None = None) -> Row:
    """Run every step for one size on a fresh server and backend."""
    from aigw.catalog import load_catalog
    from aigw.stack.fastplan import fingerprint_key
    from aigw.stack.spec import environment_spec

    row = Row(services)
    with tempfile.TemporaryDirectory(prefix="aigw-bench-") as tmp, BaoDevServer() as bao:
        folder = Path(tmp) / "catalog"
        folder.mkdir()
        write(folder, services)
        row.resources = environment_spec(load_catalog(folder).catalog, ENV).resource_count
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("BAO_", "VAULT_", "PULUMI_CONFIG_PASSPHRASE"))}
        env.update(BAO_ADDR=bao.addr, BAO_TOKEN=bao.token, AIGW_HOME=tmp,
                   PULUMI_BACKEND_URL=f"file://{tmp}/backend",
                   PULUMI_CONFIG_PASSPHRASE="bench")
        env.update(extra_env or {})
        (Path(tmp) / "backend").mkdir()
        row.steps["first apply"] = run_cli(["apply", str(folder), "--yes"], env)
        if first_only:
            return row
        row.steps["no-op plan"] = run_cli(["plan", str(folder)], env)
        fingerprint = Path(tmp) / "backend" / fingerprint_key(ENV)
        aside = fingerprint.with_name("moved-aside")
        fingerprint.rename(aside)
        row.steps["no-op plan (engine)"] = run_cli(["plan", str(folder)], env)
        aside.rename(fingerprint)
        row.steps["no-op plan --refresh"] = run_cli(["plan", str(folder), "--refresh"], env)
        write(folder, services, changed=True)
        row.steps["one-service change"] = run_cli(["apply", str(folder), "--yes"], env)
    return row


def table(rows: list[Row]) -> str:
    """A Markdown table of the results."""
    names = list(rows[0].steps)
    head = ["services", "resources", *[f"{n} (s)" for n in names], "peak RSS (MB)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [str(row.services), str(row.resources)]
        for n in names:
            step = row.steps[n]
            cells.append(f"{step.seconds:.1f}" + ("" if step.code in (0, 1) else " (failed)"))
        peak = max(s.peak_rss for s in row.steps.values())
        cells.append(f"{peak / 1e6:.0f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    """Parse flags, run the sizes, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000, 3000])
    parser.add_argument("--first-apply-only", action="store_true",
                        help="only the first apply (a quick memory check)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="set a variable for the runs (e.g. AIGW_ENGINE_GOGC=100 to "
                        "compare engine settings)")
    opts = parser.parse_args()
    extra = dict(item.split("=", 1) for item in opts.env)
    rows = []
    for size in opts.sizes:
        print(f"{size} services ...", file=sys.stderr, flush=True)
        rows.append(bench(size, first_only=opts.first_apply_only, extra_env=extra))
    if extra:
        print("with " + " ".join(f"{k}={v}" for k, v in sorted(extra.items())))
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(table(rows))
    print()
    print("peak RSS by process (MB), at each step's peak:")
    for row in rows:
        for name, step in row.steps.items():
            shown = ", ".join(f"{k} {v / 1e6:.0f}" for k, v in
                              sorted(step.parts.items(), key=lambda kv: -kv[1]))
            print(f"- {row.services} services, {name}: {shown}")


if __name__ == "__main__":
    main()
