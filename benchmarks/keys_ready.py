"""Time the keys-ready check that `aigw plan`, `aigw apply` and `aigw diff` run per environment.

For each size, a synthetic catalog (tests/stack/stack_catalogs.py: every service
with per-service keys) against one real `bao server -dev` with an empty KV v2
mount: the check LISTs each folder's KV v2 metadata once (aigw.stack.listing;
entry-by-entry reads in aigw.stack.readiness.READERS threads where OpenBao refuses)
and checks every slot against the deployment's policy text. The table is the check alone, wall-clock, median
of three runs; apply's engine time comes on top (benchmarks/apply.py).

    python benchmarks/keys_ready.py                 # 10, 100, 680 services
    python benchmarks/keys_ready.py --sizes 10 100
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from testing.bao import BaoDevServer  # noqa: E402
from tests.stack.stack_catalogs import write_catalog  # noqa: E402

from aigw.catalog import load_catalog  # noqa: E402
from aigw.stack.readiness import READERS, check_environment  # noqa: E402
from aigw.stack.spec import environment_spec  # noqa: E402


def main() -> None:
    """Print one table row per catalog size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 680])
    args = parser.parse_args()
    print(f"| services | deployments checked | slots read | check (median of 3, "
          f"{READERS} readers) |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp, BaoDevServer() as bao:
        client = bao.client()
        client.sys.enable_secrets_engine("kv", path="aigw", options={"version": "2"})
        for size in args.sizes:
            cat = load_catalog(write_catalog(Path(tmp) / f"cat{size}", size,
                                             per_service_every=1)).catalog
            spec = environment_spec(cat, "bench")
            times = []
            for _ in range(3):
                start = time.perf_counter()
                result = check_environment(cat, spec, client)
                times.append(time.perf_counter() - start)
            print(f"| {size} | {len(result.deployments)} | {len(spec.slots)} | "
                  f"{statistics.median(times):.2f} s |")


if __name__ == "__main__":
    main()
