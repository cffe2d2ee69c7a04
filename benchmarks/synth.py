"""``python app.py`` against a minimal one-Lambda CDK app, same run; Lambda package sizes: prints, asserts nothing.

    .venv/bin/python benchmarks/synth.py [--runs 1]

The minimal app (one ``aws_lambda.Function`` from a one-line inline handler, in a stack of its
own) is written to a temporary folder and synthesized with the same interpreter, so both
figures share the jsii start-up and the machine's load. The ratio's target is ≤ 1.5×
(2.39–2.67× when issue 13 was filed). Then each Lambda asset of ``cdk.out/`` is listed with its
size and whether it bundles boto3.
"""

from __future__ import annotations

import argparse
import json
import os
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    env = dict(os.environ, JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION="1", JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION="1",
               JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="1")
    env.pop("CDK_OUTDIR", None)
    ratios, apps, minimals = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        minimal = Path(folder) / "minimal_app.py"
        minimal.write_text(f"OUTDIR = {str(Path(folder) / 'cdk.out')!r}\n" + MINIMAL_APP)
        for _ in range(args.runs):
            minimals.append(_timed([sys.executable, str(minimal)], Path(folder), env))
            apps.append(_timed([sys.executable, "app.py"], ROOT, env))
            ratios.append(apps[-1] / minimals[-1])
    print(f"minimal one-Lambda CDK app synth: median {statistics.median(minimals):.1f} s")
    print(f"python app.py synth:              median {statistics.median(apps):.1f} s")
    print(f"ratio: median {statistics.median(ratios):.2f}x of {args.runs}   target <= 1.5x, at issue 13: 2.39-2.67x")
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
