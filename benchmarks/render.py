"""Benchmark: validate and render time and peak memory for 100 / 1,000 / 10,000 services.

Each size runs in its own process (so peak RSS is that size's alone) on a generated
catalog: 3 environments, 12 providers, 20 aliases, services with 2-4 aliases each.
Targets (issue 15): 1,000 services x 3 environments render in < 1 s; 10,000 x 3 in
< 8 s and < 500 MB peak RSS; a re-render that changes nothing in < half the first
render's time. "render" is `aigw render` into an empty folder (render_into, the catalog
loaded), "re-render" is `aigw render` again, unchanged catalog (load, fingerprint, stat:
every deployment skipped, nothing written).

    .venv/bin/python benchmarks/render.py [--sizes 100,1000,10000] [--repeat 2]
        [--baseline /work/main]

`--baseline DIR` runs each size with the aigw of another checkout (DIR/cli first on
PYTHONPATH, its own templates) in the same run, alternating with this one, and prints
its rows beside these: a comparison on one machine under one load.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REGIONS = ["cn", "eu", "us"]


def make_catalog(services: int) -> dict:
    """A catalog shaped like a large real one."""
    providers = {
        f"p{i}": {"api": "openai", "base_url": f"https://p{i}.example.com/v1",
                  "region": REGIONS[i % 3], "slots": ["default", "batch"]}
        for i in range(12)
    }
    models = {
        f"alias-{a}": {"routes": [
            {"provider": f"p{(a + 3 * k) % 12}", "model": f"m-{a}-{k}"} for k in range(3)
        ]}
        for a in range(20)
    }
    svcs = {}
    for s in range(services):
        svcs[f"svc-{s:05d}"] = {
            "environments": ["dev", "staging", "prod"],
            "models": [f"alias-{(s + k) % 20}" for k in range(2 + s % 3)],
            "keys": "per-service" if s % 2 else "shared",
            "outputs": ["aigw-client", "litellm", "env"],
        }
    return {"environments": {"dev": {}, "staging": {}, "prod": {}}, "providers": providers,
            "models": models, "services": svcs}


def _cpu() -> float:
    """User + system CPU seconds of this process and of the workers it has joined."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _child(catalog: str, out: str) -> None:
    import aigw
    from aigw.catalog import load_catalog
    # A --baseline checkout from before issue 25 has render_into in aigw.render.
    sync = "aigw.render_sync" if importlib.util.find_spec("aigw.render_sync") else "aigw.render"
    render_into = importlib.import_module(sync).render_into

    marks = []

    def mark() -> None:
        marks.append((time.perf_counter(), _cpu()))

    mark()
    loaded = load_catalog(catalog)
    mark()
    first = render_into(loaded, Path(out))
    count = len(first.written)
    del first, loaded  # the re-render is a new `aigw render`: it holds only its own state
    mark()
    again = render_into(load_catalog(catalog), Path(out))  # what `aigw render` does again
    mark()
    assert not again.written and not again.removed, "the re-render changed files"
    assert again.skipped == again.deployments, "the re-render rendered deployments again"
    wall = [b[0] - a[0] for a, b in zip(marks, marks[1:], strict=False)]
    cpu = [b[1] - a[1] for a, b in zip(marks, marks[1:], strict=False)]
    print(json.dumps({"validate": wall[0], "render": wall[1], "rerender": wall[2],
                      "cpu": cpu, "files": count, "code": str(Path(aigw.__file__).parents[2])}))


def _run(catalog: Path, out: Path, code: Path | None = None) -> tuple[dict, float]:
    """One size in its own process: its timings, and its peak RSS in MB (workers included).

    CODE: a checkout whose aigw runs instead of this one's.
    """
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code / "cli"),
                                                          env.get("PYTHONPATH")]))
    proc = subprocess.Popen([sys.executable, __file__, "--child", str(catalog), str(out)],
                            stdout=subprocess.PIPE, text=True, env=env)
    stdout = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        sys.exit(f"{catalog.name} failed")
    return json.loads(stdout), usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--out-base", default="/dev/shm" if Path("/dev/shm").is_dir() else None,
                        help="where outputs are written (default: tmpfs, to time aigw rather "
                        "than the disk; pass a disk folder to include its per-file cost)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per size; the table shows the one with the fastest render "
                        "(on a shared machine, the least disturbed)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="another checkout (e.g. /work/main) to run beside this one")
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    codes: list[tuple[str, Path | None]] = [("this", None)]
    if args.baseline is not None:
        if not (args.baseline / "cli" / "aigw").is_dir():
            sys.exit(f"--baseline {args.baseline}: no cli/aigw there")
        codes.append(("baseline", args.baseline.resolve()))
    rows = []
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory(
            dir=args.out_base) as out_tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            path = Path(tmp) / f"cat-{n}.yaml"
            path.write_text(yaml.safe_dump(make_catalog(n), sort_keys=False))
            runs: dict[str, list[tuple[dict, float]]] = {label: [] for label, _ in codes}
            for i in range(args.repeat):  # alternated: both see the same moments of load
                for label, code in codes:
                    runs[label].append(_run(path, Path(out_tmp) / f"out-{n}-{label}-{i}", code))
            for label, _ in codes:
                data, rss = min(runs[label], key=lambda run: run[0]["render"])
                rows.append((label, n, path.stat().st_size, data, rss))
    print(f"outputs written under {args.out_base or tempfile.gettempdir()}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (cpu = user+system seconds, "
          "workers included: what a busy machine does not inflate as much as wall time)")
    print("| code | services | x envs | catalog | validate | render | re-render | re-render / render "
          "| render cpu | re-render cpu | files | peak RSS |\n"
          "|---|---|---|---|---|---|---|---|---|---|---|---|")
    for label, n, size, d, rss in rows:
        cpu = d["cpu"]
        print(f"| {label} ({d['code']}) | {n} | 3 | {size / 1e6:.1f} MB | {d['validate']:.2f} s "
              f"| {d['render']:.2f} s | {d['rerender']:.2f} s | {d['rerender'] / d['render']:.2f} "
              f"| {cpu[1]:.2f} s | {cpu[2]:.2f} s | {d['files']} | {rss:.0f} MB |")

if __name__ == "__main__":
    main()
