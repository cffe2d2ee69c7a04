"""Figures for the local engine and the compiler: prints them, asserts nothing.

    .venv/bin/python benchmarks/local_engine.py [--runs 20] [--items 300]

Needs the project installed (``make install``: stepgraph is installed editable in ``.venv``).
Each figure is printed next to its target and its value when issue 13 was filed.

Measures, on this machine:
- compile time of every workflow in workflows/ (validate + compile, ms);
- engine start-up (moto, resources, handlers; agents start lazily) and the first run (agent start);
- customer-support end-to-end latency over N warm runs (p50 / p95 / max, ms);
- an inline loop over ITEMS items, with a data_transform body and with a tool_call body, each
  after a 1-item run of the same state machine (seconds, items per second);
- peak resident memory of the process (MiB).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

from stepgraph import compile_workflow, load_project
from stepgraph.local import LocalEngine

ROOT = Path(__file__).resolve().parents[1]


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--items", type=int, default=300)
    args = parser.parse_args()

    started = time.perf_counter()
    project = load_project(ROOT)
    print(f"load + validate project ({len(project.workflows)} workflows): {_ms(time.perf_counter() - started)}")
    for name, workflow in sorted(project.workflows.items()):
        t0 = time.perf_counter()
        for _ in range(50):
            compiled = compile_workflow(workflow)
        per = (time.perf_counter() - t0) / 50
        print(f"  compile {name}: {per * 1000:.2f} ms, {len(compiled.to_json(indent=None)) / 1024:.1f} KiB of ASL")

    chat = json.loads((ROOT / "examples" / "customer-support.input.json").read_text())
    with tempfile.TemporaryDirectory() as results:
        t0 = time.perf_counter()
        with LocalEngine(project, results_dir=Path(results)) as engine:
            print(f"engine start-up: {_ms(time.perf_counter() - t0)}   target <= 1500 ms, at issue 13: 4700 ms")
            t0 = time.perf_counter()
            engine.run("customer-support", chat, follow_chain=False)
            print(f"first customer-support run (starts the agent process): {_ms(time.perf_counter() - t0)}")
            latencies = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                record = engine.run("customer-support", chat, follow_chain=False).record
                latencies.append(time.perf_counter() - t0)
                assert record["status"] == "completed"
            latencies.sort()
            p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
            print(f"customer-support warm runs ({args.runs}): p50 {_ms(statistics.median(latencies))}, "
                  f"p95 {_ms(p95)}, max {_ms(latencies[-1])}   target p50 <= 150 ms, at issue 13: 430 ms")

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "workflows").mkdir()
        bodies = {
            "squares": {"step_id": "square", "step_type": "data_transform",
                        "parameters": {"output": {"n": "{{item}}", "at": "{{index}}"}}},
            "tagged": {"step_id": "square", "step_type": "tool_call",
                       "parameters": {"tool": "sized_payload", "arguments": {"tag": "t{{index}}", "size_bytes": 16}}},
        }
        for name, body in bodies.items():
            (root / "workflows" / f"{name}.json").write_text(json.dumps({"name": name, "steps": [
                {"step_id": "trigger", "step_type": "trigger", "next_steps": ["each"]},
                {"step_id": "each", "step_type": "loop",
                 "parameters": {"items": "{{input.numbers}}", "body": "square", "max_concurrency": 50}},
                body,
            ]}))
        (root / "tools").symlink_to(ROOT / "tools")
        (root / "lambdas").symlink_to(ROOT / "lambdas")
        with LocalEngine(load_project(root), results_dir=root / "results") as engine:
            for name, what in (("squares", "data_transform"), ("tagged", "tool_call (one Lambda invocation each)")):
                t0 = time.perf_counter()
                engine.run(name, {"numbers": [0]})  # deploys the state machine, compiles its expressions
                first = time.perf_counter() - t0
                t0 = time.perf_counter()
                record = engine.run(name, {"numbers": list(range(args.items))}).record
                elapsed = time.perf_counter() - t0
                assert record["status"] == "completed" and len(record["result"]) == args.items
                print(f"inline loop over {args.items} {what} items: {elapsed:.2f} s ({args.items / elapsed:.0f} items/s; "
                      f"first 1-item run {first * 1000:.0f} ms)   target >= 500 items/s, at issue 13: 61 items/s")

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident memory: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
