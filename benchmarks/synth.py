"""``python app.py`` against a minimal one-Lambda CDK app, same run, cold and warm; Lambda package sizes: prints, asserts nothing.

    .venv/bin/python benchmarks/synth.py [--runs 3] [--skip-cold] [--breakdown]

The minimal app (one ``aws_lambda.Function`` from a one-line inline handler, in a stack of its
own) is written to a temporary folder and synthesized with the same interpreter, so both
figures share the jsii start-up and the machine's load. The ratio's target is ≤ 1.5×
(2.39–2.67× when issue 13 was filed). Each round synthesizes the app three times:

* **cold**: no ``cdk.out/`` and an empty requirements cache (``STEPGRAPH_CACHE_DIR`` set to a
  new temporary folder): a fresh clone, pip installs included (needs PyPI);
* **clean**: no ``cdk.out/`` (deleted), the cache of the cold run: every asset is bundled, the
  requirements come from the cache (``make clean``, then ``cdk synth``);
* **warm**: the same again, ``cdk.out/`` kept: nothing is bundled (a second ``cdk synth``).

This deletes the repository's ``cdk.out/`` (a build output) before the cold and clean runs.
``--breakdown`` also times both apps with CDK's built-in CloudFormation validation off
(``CDK_VALIDATION=false``), to show how much of both figures that fixed cost is; it is not the
measured figure (the app keeps the validation on). Then each Lambda asset of ``cdk.out/`` is
listed with its size and whether it bundles boto3.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MINIMAL_APP = '''
import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_

app = cdk.App(outdir=OUTDIR)
stack = cdk.Stack(app, "Minimal")
lambda_.Function(stack, "Fn", runtime=lambda_.Runtime.PYTHON_3_12, handler="index.handler",
                 code=lambda_.Code.from_inline("def handler(event, context):\\n    return event\\n"))
app.synth()
'''


def _timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return elapsed


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _lambda_assets(cdk_out: Path) -> list[tuple[str, Path]]:
    """(function logical id, asset folder) of every Lambda function in the synthesized templates."""
    found = []
    for template in sorted(cdk_out.glob("*.template.json")):
        resources = json.loads(template.read_text()).get("Resources", {})
        for logical_id, resource in resources.items():
            if resource.get("Type") != "AWS::Lambda::Function":
                continue
            key = resource.get("Properties", {}).get("Code", {}).get("S3Key")
            folder = cdk_out / f"asset.{key.removesuffix('.zip')}" if isinstance(key, str) else None
            if folder is not None and folder.is_dir():
                found.append((f"{template.stem.removesuffix('.template')}/{logical_id}", folder))
    return found


def _median_ratio(apps: list[float], minimals: list[float]) -> float:
    return statistics.median(a / m for a, m in zip(apps, minimals))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--skip-cold", action="store_true", help="no cold run (it needs PyPI)")
    parser.add_argument("--breakdown", action="store_true", help="also time both apps with CDK_VALIDATION=false")
    args = parser.parse_args()
    env = dict(os.environ, JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION="1", JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION="1",
               JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="1")
    env.pop("CDK_OUTDIR", None)
    env.pop("CDK_VALIDATION", None)
    times: dict[str, list[float]] = {name: [] for name in ("minimal", "cold", "clean", "warm", "minimal-noval", "warm-noval")}
    with tempfile.TemporaryDirectory() as folder:
        minimal = Path(folder) / "minimal_app.py"
        minimal.write_text(f"OUTDIR = {str(Path(folder) / 'cdk.out')!r}\n" + MINIMAL_APP)
        cache = Path(folder) / "cache"
        app_env = dict(env, STEPGRAPH_CACHE_DIR=str(cache))
        for _ in range(args.runs):
            times["minimal"].append(_timed([sys.executable, str(minimal)], Path(folder), env))
            shutil.rmtree(ROOT / "cdk.out", ignore_errors=True)
            if not args.skip_cold:
                shutil.rmtree(cache, ignore_errors=True)
                times["cold"].append(_timed([sys.executable, "app.py"], ROOT, app_env))
                shutil.rmtree(ROOT / "cdk.out", ignore_errors=True)
            times["clean"].append(_timed([sys.executable, "app.py"], ROOT, app_env))
            times["warm"].append(_timed([sys.executable, "app.py"], ROOT, app_env))
            if args.breakdown:
                noval = dict(env, CDK_VALIDATION="false")
                times["minimal-noval"].append(_timed([sys.executable, str(minimal)], Path(folder), noval))
                times["warm-noval"].append(_timed([sys.executable, "app.py"], ROOT, dict(app_env, CDK_VALIDATION="false")))
    print(f"minimal one-Lambda CDK app synth: median {statistics.median(times['minimal']):.1f} s")
    labels = {"cold": "cold (no cdk.out, empty cache)", "clean": "clean (no cdk.out, cached pip)",
              "warm": "warm (cdk.out kept)"}
    for name, label in labels.items():
        if times[name]:
            print(f"python app.py synth, {label:31} median {statistics.median(times[name]):5.1f} s   "
                  f"ratio: median {_median_ratio(times[name], times['minimal']):.2f}x of {args.runs}")
    print("target <= 1.5x; at issue 13: 2.39-2.67x (every synth re-ran pip and re-bundled)")
    if args.breakdown:
        print(f"without CDK's CloudFormation validation (CDK_VALIDATION=false; diagnostic only): minimal "
              f"{statistics.median(times['minimal-noval']):.1f} s, warm app {statistics.median(times['warm-noval']):.1f} s, "
              f"ratio {_median_ratio(times['warm-noval'], times['minimal-noval']):.2f}x")
    print("Lambda deployment packages (cdk.out asset folders):")
    for name, path in _lambda_assets(ROOT / "cdk.out") or [("(no Lambda asset found in cdk.out)", None)]:
        if path is None:
            print(f"  {name}")
            continue
        bundled = (path / "boto3").is_dir()
        print(f"  {name}: {_size(path) / 1024:.0f} KiB{'  (bundles boto3 ' + _version(path) + ')' if bundled else ''}")


def _version(asset: Path) -> str:
    info = sorted(asset.glob("boto3-*.dist-info"))
    return info[0].name.removeprefix("boto3-").removesuffix(".dist-info") if info else "?"


if __name__ == "__main__":
    main()
