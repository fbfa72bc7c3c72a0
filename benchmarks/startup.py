"""Benchmark: how long the commands that run on every commit take to start and finish.

`aigw --help` and `aigw validate` run in pre-commit hooks and in every CI job, so
their wall time is paid on every commit. Each command runs as a fresh process, the
way a hook runs it, several times; the table prints the median and the best run,
beside the interpreter's own start (`python -c pass`) measured in the same run, so a
busy machine shows as a higher floor rather than as a regression.

Targets (issue 12): `aigw --help` <= 250 ms, `aigw validate examples` <= 450 ms
(policy check included, which starts OPA once).

    .venv/bin/python benchmarks/startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGETS_MS = {"aigw --help": 250.0, "aigw validate examples": 450.0}


def _aigw() -> str:
    found = shutil.which("aigw", path=str(Path(sys.executable).parent))
    if not found:
        raise SystemExit("startup: no aigw next to this interpreter (run scripts/setup.sh)")
    return found


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time(cmd: list[str], runs: int, env: dict[str, str]) -> tuple[list[float], list[float]]:
    """Wall and CPU (user+system, its own children such as OPA included) ms of each run."""
    wall, cpu = [], []
    for _ in range(runs):
        start, cpu0 = time.perf_counter(), _children_cpu()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, check=False)
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((_children_cpu() - cpu0) * 1000)
        if proc.returncode != 0:
            raise SystemExit(f"startup: {' '.join(cmd)} exited {proc.returncode}: "
                             f"{proc.stderr.decode(errors='replace')[:300]}")
    return wall, cpu


def main() -> None:
    """Print the start-up table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    args = ap.parse_args()
    aigw = _aigw()
    env = dict(os.environ)  # OPA is found in the tool cache where scripts/setup.sh put it
    # Time what a user runs: an install has compiled bytecode (pip writes it), so let the
    # warm-up below write the .pyc files even where the shell says not to.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    rows = [
        ("python -c pass (floor)", [sys.executable, "-c", "pass"]),
        ("aigw --version", [aigw, "--version"]),
        ("aigw --help", [aigw, "--help"]),
        ("aigw validate examples", [aigw, "validate", "examples"]),
        ("aigw validate examples --no-policy", [aigw, "validate", "examples", "--no-policy"]),
    ]
    for _, cmd in rows:  # warm the page cache and .pyc files once
        subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, check=False)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; cpu = user+system "
          "of the command and its children (OPA's threads included)")
    print("| command | median ms | best ms | median cpu ms | target ms | met |\n"
          "|---|---|---|---|---|---|")
    for name, cmd in rows:
        times, cpu = _time(cmd, args.runs, env)
        target = TARGETS_MS.get(name)
        med = statistics.median(times)
        met = "" if target is None else ("yes" if med <= target else "NO")
        print(f"| {name} | {med:.0f} | {min(times):.0f} | {statistics.median(cpu):.0f} | "
              f"{target or ''} | {met} |")


if __name__ == "__main__":
    main()
