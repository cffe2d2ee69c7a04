"""Fault injection on the local engine (issue: nothing lost under faults).

Agents that answer 500, throttle, hang past their time-out, return malformed or truncated
bodies or stream a large answer; a tool that raises; an S3 write and an SNS publish that fail
once. For each, the documented retries happen, then either success or a failed result record
with the right code — and across every injected run, exactly one result record lands in S3.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import threading
from collections import Counter
from pathlib import Path

import pytest

from stepgraph import load_project
from stepgraph.local import LocalEngine
from stepgraph.local.engine import RESULTS_BUCKET_NAME

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_AGENT = Path(__file__).parent / "fixtures" / "agents" / "faulty"
RUNS = int(os.environ.get("STEPGRAPH_FAULT_RUNS", "200"))

WORKFLOW = {
    "name": "faults",
    "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["agent"]},
        {"step_id": "agent", "step_type": "agent_execution",
         "parameters": {"agent_id": "faulty", "timeout_seconds": 2,
                        "payload": {"mode": "{{input.mode}}", "n": "{{input.n}}", "seconds": 5, "chunks": 400}},
         "retry": {"max_attempts": 2, "backoff_seconds": 1}, "next_steps": ["lookup"]},
        {"step_id": "lookup", "step_type": "tool_call",
         "parameters": {"tool": "lookup_order", "arguments": {"order_id": "{{input.order_id}}"}},
         "next_steps": ["done"]},
        {"step_id": "done", "step_type": "data_transform",
         "parameters": {"output": {"n": "{{input.n}}", "agent": "{{steps.agent.output}}"}}},
    ],
}

#: mode → (expected status, expected error code, expected failing step)
EXPECTED = {
    "ok": ("completed", None, None),
    "bad-order": ("failed", "TOOL_ERROR", "lookup"),
    "error": ("failed", "AGENT_ERROR", "agent"),
    "malformed": ("failed", "AGENT_ERROR", "agent"),
    "truncated": ("failed", "AGENT_ERROR", "agent"),
    "stream": ("completed", None, None),
    "flaky": ("completed", None, None),
    "throttled": ("failed", "RATE_LIMIT", "agent"),
    "throttle-once": ("completed", None, None),
    "s3-fails-once": ("completed", None, None),
    "sns-fails-once": ("completed", None, None),
    "hang": ("failed", "TIMEOUT", "agent"),
}


class _Faults:
    """Per-execution fault switches for the emulator's S3, SNS and AgentCore gateway."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.s3_failed: set[str] = set()
        self.sns_failed: set[str] = set()
        self.throttled: Counter[str] = Counter()

    def fail_first(self, seen: set[str], key: str) -> bool:
        with self.lock:
            if key in seen:
                return False
            seen.add(key)
            return True


@pytest.fixture(scope="module")
def faulty_engine(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    (root / "workflows").mkdir()
    (root / "workflows" / "faults.json").write_text(json.dumps(WORKFLOW))
    shutil.copytree(FIXTURE_AGENT, root / "agents" / "faulty")
    for name in ("lambdas", "tools"):
        (root / name).symlink_to(ROOT / name)
    with LocalEngine(load_project(root)) as engine:
        yield engine


@pytest.fixture(scope="module")
def faults(faulty_engine):
    from moto.s3.models import S3Backend
    from moto.sns.models import SNSBackend

    switches = _Faults()
    put_object, publish = S3Backend.put_object, SNSBackend.publish

    def flaky_put_object(self, bucket_name, key_name, value, *args, **kwargs):
        if "s3-fails-once" in key_name and switches.fail_first(switches.s3_failed, key_name):
            raise ConnectionResetError("injected: S3 connection reset")
        return put_object(self, bucket_name, key_name, value, *args, **kwargs)

    def flaky_publish(self, message, *args, **kwargs):
        record = json.loads(message) if message.startswith("{") else {}
        name = str(record.get("executionName", ""))
        if "sns-fails-once" in name and switches.fail_first(switches.sns_failed, name):
            raise ConnectionResetError("injected: SNS connection reset")
        return publish(self, message, *args, **kwargs)

    def admission(arn: str, payload: bytes):
        body = json.loads(payload)
        mode, n = body.get("mode"), body.get("n")
        if mode == "throttled" or (mode == "throttle-once" and switches.throttled[str(n)] == 0):
            switches.throttled[str(n)] += 1
            return (429, "ThrottlingException", "Rate exceeded")
        return None

    S3Backend.put_object, SNSBackend.publish = flaky_put_object, flaky_publish
    faulty_engine.gateway.before_invoke = admission
    yield switches
    S3Backend.put_object, SNSBackend.publish = put_object, publish
    faulty_engine.gateway.before_invoke = None


def _input(mode: str, n: int) -> dict:
    order = "ORD-9999" if mode == "bad-order" else "ORD-1001"
    agent_mode = "ok" if mode in ("bad-order", "s3-fails-once", "sns-fails-once", "throttle-once", "throttled") else mode
    return {"mode": agent_mode if mode not in ("throttled", "throttle-once") else mode, "n": n, "order_id": order}


def test_every_injected_run_ends_with_exactly_one_result_record(faulty_engine, faults, capsys):
    modes = [m for m in EXPECTED if m != "hang"]
    # hanging agents cost real seconds (2 attempts x 2 s): a handful of them is enough
    plan = list(itertools.islice(itertools.cycle(modes), RUNS - 4)) + ["hang"] * 4
    outcomes: Counter[tuple] = Counter()
    mismatches = []
    for n, mode in enumerate(plan):
        name = f"{mode}-{n:04d}"
        record = faulty_engine.run("faults", _input(mode, n), name=name).record
        got = (record["status"], (record["error"] or {}).get("code"), (record["error"] or {}).get("step"))
        outcomes[(mode,) + got] += 1
        if got != EXPECTED[mode]:
            mismatches.append((name, got, record["error"]))

    s3 = faulty_engine.client("s3")
    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=RESULTS_BUCKET_NAME, Prefix="results/faults/")
            for o in page.get("Contents", [])]
    with capsys.disabled():
        print(f"\nfault injection: {len(plan)} injected runs, {len(keys)} result records, {len(plan) - len(keys)} lost")
    assert mismatches == []
    assert sorted(keys) == sorted(f"results/faults/{m}-{n:04d}.json" for n, m in enumerate(plan))
    assert faults.s3_failed and faults.sns_failed  # the one-off failures really happened


def test_flaky_agent_is_retried_then_succeeds(faulty_engine, faults):
    result = faulty_engine.run("faults", _input("flaky", 10_001), name="flaky-retried")
    assert result.record["result"]["agent"] == {"ok": True, "attempt": 2}
    retries = [e for e in result.events if e.kind == "step_retry"]
    assert len(retries) == 1 and retries[0].detail["error"] == "AGENT_ERROR"


def test_large_streamed_answer_arrives_whole_by_reference(faulty_engine, faults, monkeypatch):
    # GIVEN an agent streaming ~90 KB of text (plus its events), and an offload threshold of 64 KiB
    # (the default, 252 KiB, is just under Step Functions' 256 KiB; the mechanism is the same)
    monkeypatch.setenv("STEPGRAPH_OFFLOAD_BYTES", str(64 * 1024))
    result = faulty_engine.run("faults", _input("stream", 10_002), name="stream-whole")
    reference = result.record["result"]["agent"]
    # THEN the step output is a reference to S3, and the stored value is the whole answer
    assert reference["offloaded"]["size_bytes"] > 64 * 1024
    bucket, _, key = reference["offloaded"]["s3_uri"][len("s3://"):].partition("/")
    stored = json.loads(faulty_engine.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert stored["response"].count("chunk-") == 400 and "chunk-00399" in stored["response"]
    assert len(stored["events"]) == 400
