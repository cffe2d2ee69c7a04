"""``stepgraph run workflows/customer-support.json`` timed as a whole process: prints figures, asserts nothing.

    .venv/bin/python benchmarks/cli_run.py [--runs 3]

Each run is a fresh ``stepgraph run`` (interpreter start, imports, engine start-up, the agent's
process, the run, the chained ``support-followup`` run, shut-down), the figure the median wall
time (target ≤ 3 s; 7.4 s when issue 13 was filed).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    stepgraph = Path(sys.executable).with_name("stepgraph")
    command = [str(stepgraph), "run", "workflows/customer-support.json", "--input", "examples/customer-support.input.json"]
    times = []
    for _ in range(args.runs):
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            print(f"stepgraph run exited {done.returncode}:\n{done.stderr[-2000:]}")
    print(f"stepgraph run workflows/customer-support.json (chain included): median {statistics.median(times):.1f} s "
          f"of {args.runs} ({', '.join(f'{t:.1f}' for t in times)})   target <= 3 s, at issue 13: 7.4 s")


if __name__ == "__main__":
    main()
