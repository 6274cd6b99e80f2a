"""How long `estateflow validate FILE` takes on each broken file of the corpus, as a user feels it.

Runs `.venv/bin/estateflow validate FILE --workflows workflows` as a subprocess per file (so
interpreter start-up and imports count), prints each file's wall time, the slowest, and a
last line of JSON: {"files": N, "max_seconds": ..., "median_seconds": ...}.
Not a test: it never asserts. The issue's target is under one second per file.

    .venv/bin/python bench/validate_bench.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "bad"
ESTATEFLOW = ROOT / ".venv" / "bin" / "estateflow"


def run_once(path: Path) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run(
        [str(ESTATEFLOW), "validate", str(path.relative_to(ROOT)), "--workflows", "workflows"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
    )
    return time.perf_counter() - started, done.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per file; the best time is kept")
    args = parser.parse_args()
    if not ESTATEFLOW.exists():
        sys.exit(f"{ESTATEFLOW} is missing: run `make install` first")
    files = sorted(CORPUS.rglob("*.yaml"))
    times: dict[str, float] = {}
    for path in files:
        runs = [run_once(path) for _ in range(max(1, args.repeat))]
        best = min(seconds for seconds, _ in runs)
        codes = {code for _, code in runs}
        times[path.name] = best
        note = "" if codes == {1} else f"  (exit {sorted(codes)}, expected 1)"
        print(f"{best:7.3f}s  {path.relative_to(ROOT)}{note}")
    slowest = max(times, key=times.__getitem__)
    print(f"slowest: {slowest} {times[slowest]:.3f}s")
    print(json.dumps({
        "files": len(times),
        "max_seconds": round(max(times.values()), 3),
        "median_seconds": round(statistics.median(times.values()), 3),
    }))


if __name__ == "__main__":
    main()
