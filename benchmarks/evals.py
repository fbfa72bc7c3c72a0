"""Benchmark: what `aigw eval` costs in wall time and provider calls, and what the cache saves.

A stand-in provider (testing/eval_provider.py) answers every chat call after a
fixed delay (default 200 ms, a fast hosted model); one alias switches models, so
each run calls CASES x 2 sides. The table shows, per concurrency, the first run
(every answer made) and the re-run of the same change (every answer cached:
no provider call, counted at the stand-in).

    .venv/bin/python benchmarks/evals.py [--cases 40] [--delay 0.2] [--concurrency 1 4 8]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testing.eval_provider import ScriptedProvider  # noqa: E402

from aigw.cli import run  # noqa: E402

KEY = "sk-bench-eval"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=b", "-c", "user.email=b@x.invalid",
                    "-c", "commit.gpgsign=false", *args], check=True, capture_output=True)


def _repo(folder: Path, url: str, cases: int) -> Path:
    repo = folder / "repo"
    (repo / "evals").mkdir(parents=True)
    catalog = ("environments: {{staging: {{}}}}\nproviders:\n  lab: {{api: openai, base_url: "
               f"'{url}', region: eu, slots: [default, eval]}}}}\nmodels:\n  qa:\n"
               "    routes: [{{provider: lab, model: {model}}}]\n    eval: {{set: bench}}\n"
               "services:\n  s: {{environments: [staging], models: [qa]}}\n")
    (repo / "aigw.yaml").write_text(catalog.format(model="old-model"))
    (repo / "evals" / "bench.yaml").write_text("prompts: ['Question {{n}}']\n"
                                               "tests: file://bench.jsonl\n")
    (repo / "evals" / "bench.jsonl").write_text("".join(
        json.dumps({"vars": {"n": i}, "assert": [{"type": "contains", "value": str(i)}]}) + "\n"
        for i in range(cases)))
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "base")
    (repo / "aigw.yaml").write_text(catalog.format(model="new-model"))
    keys = folder / "keys"
    keys.mkdir()
    (keys / "lab.eval.key").write_text(KEY)
    (keys / "lab.eval.key").chmod(0o600)
    return repo


def _timed(args: list[str]) -> float:
    start = time.perf_counter()
    with Path(os.devnull).open("w") as sink:
        stdout, sys.stdout = sys.stdout, sink
        try:
            code = run(args)
        finally:
            sys.stdout = stdout
    if code != 0:
        raise SystemExit(f"aigw {' '.join(args)} exited {code}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    opts = parser.parse_args()

    def answer(model: str, messages: list[dict[str, object]]) -> str:
        time.sleep(opts.delay)
        return f"answer to {messages[-1].get('content')}"

    print(f"aigw eval: {opts.cases} cases x 2 sides, stand-in answers after {opts.delay * 1000:.0f}"
          " ms\n")
    print("| concurrency | first run (s) | provider calls | re-run (s) | provider calls |")
    print("|---:|---:|---:|---:|---:|")
    with ScriptedProvider("lab", [KEY], answer) as fake:
        for width in opts.concurrency:
            with tempfile.TemporaryDirectory() as tmp:
                repo = _repo(Path(tmp), fake.base_url, opts.cases)
                os.chdir(repo)
                args = ["eval", ".", "--keys", str(Path(tmp) / "keys"), "-j", str(width)]
                before = fake.total_calls
                first = _timed(args)
                made = fake.total_calls - before
                again = _timed(args)
                print(f"| {width} | {first:.2f} | {made} | {again:.2f} | "
                      f"{fake.total_calls - before - made} |")
                os.chdir(ROOT)


if __name__ == "__main__":
    main()
