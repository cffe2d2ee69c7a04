"""Hardening on the local engine (issue 11, items 1-3): nothing run twice, nothing cut short passes, nothing read across executions.

* an agent that hangs past the step's ``timeout_seconds`` receives exactly one ``POST /invocations``
  per attempt (no botocore retry of the read timeout);
* an event-stream answer cut short (its last event stops mid-JSON, or the connection closes
  before the announced length) fails the step with ``AGENT_ERROR``; an agent that dies partway
  through its ``text/event-stream`` answer fails the step with
  ``AGENT_ERROR`` and one failed result record (``test_agent_stream_cut_short.py``: its own engine);
* an offload reference in the execution input that points at another execution's payload (or
  at a result record) is refused with ``VALIDATION_ERROR`` naming it; the execution's own
  references are followed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
from pathlib import Path

import pytest

from stepgraph import load_project
from stepgraph.local import LocalEngine
from stepgraph.local.engine import RESULTS_BUCKET_NAME
from stepgraph_runtime import env

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_AGENT = Path(__file__).parent / "fixtures" / "agents" / "faulty"

WORKFLOWS = {
    "hangs": {"name": "hangs", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["agent"]},
        {"step_id": "agent", "step_type": "agent_execution",
         "parameters": {"agent_id": "faulty", "timeout_seconds": 3, "payload": {"mode": "hang", "seconds": 8}},
         "retry": {"max_attempts": 2, "backoff_seconds": 1}},
    ]},
    "reads": {"name": "reads", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["agent"]},
        {"step_id": "agent", "step_type": "agent_execution",
         "parameters": {"agent_id": "faulty", "timeout_seconds": 30, "payload": {"mode": "ok", "n": "{{input.doc}}"}}},
    ]},
    "cut": {"name": "cut", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["agent"]},
        {"step_id": "agent", "step_type": "agent_execution",
         "parameters": {"agent_id": "faulty", "timeout_seconds": 30, "payload": {"mode": "{{input.mode}}"}}},
    ]},
    "relays": {"name": "relays", "steps": [
        {"step_id": "trigger", "step_type": "trigger", "next_steps": ["big"]},
        {"step_id": "big", "step_type": "agent_execution",
         "parameters": {"agent_id": "faulty", "timeout_seconds": 30, "payload": {"mode": "stream", "chunks": 400}},
         "next_steps": ["echo"]},
        {"step_id": "echo", "step_type": "agent_execution",
         "parameters": {"agent_id": "faulty", "timeout_seconds": 30,
                        "payload": {"mode": "ok", "n": "{{steps.big.output}}"}}},
    ]},
}


class _Invocations:
    """Counts the ``POST /invocations`` the gateway forwards to the agent."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0

    def __call__(self, arn: str, payload: bytes) -> None:
        with self.lock:
            self.count += 1
        return None


def make_engine(tmp_path_factory, name: str, workflows=WORKFLOWS):
    root = tmp_path_factory.mktemp(name)
    (root / "workflows").mkdir()
    for workflow in workflows.values():
        (root / "workflows" / f"{workflow['name']}.json").write_text(json.dumps(workflow))
    shutil.copytree(FIXTURE_AGENT, root / "agents" / "faulty")
    for folder in ("lambdas", "tools"):
        (root / folder).symlink_to(ROOT / folder)
    return LocalEngine(load_project(root), results_dir=root / "results")


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    with make_engine(tmp_path_factory, "hardening") as running:
        running.gateway.before_invoke = _Invocations()
        yield running


def _put(engine, key: str, value) -> dict:
    body = json.dumps(value).encode()
    engine.client("s3").put_object(Bucket=RESULTS_BUCKET_NAME, Key=key, Body=body)
    return {"offloaded": {"s3_uri": f"s3://{RESULTS_BUCKET_NAME}/{key}", "size_bytes": len(body),
                          "sha256": hashlib.sha256(body).hexdigest()}, "preview": ""}


def test_hanging_agent_receives_one_invocation_per_attempt(engine):
    counter = engine.gateway.before_invoke
    before = counter.count

    result = engine.run("hangs", {}, name="hangs-once-per-attempt")

    attempts = sum(1 for e in result.events if e.kind == "step_retry")  # one per failed attempt (retried or caught)
    assert result.record["status"] == "failed"
    assert result.record["error"]["code"] == "TIMEOUT"
    assert attempts == 2  # the step's retry: max_attempts 2
    assert counter.count - before == attempts  # one POST /invocations per attempt, not two


@pytest.mark.parametrize("mode", ["cut-event", "short-body"])
def test_answer_cut_short_fails_the_step_with_agent_error(engine, mode):
    result = engine.run("cut", {"mode": mode}, name=f"cut-{mode}")

    assert result.record["status"] == "failed"
    assert result.record["error"]["code"] == "AGENT_ERROR"
    assert result.record["error"]["step"] == "agent"
    assert not any(e.kind == "step_complete" and e.name == "agent" for e in result.events)


@pytest.mark.parametrize("key", [
    "payloads/other-workflow/other-execution/agent-0123456789abcdef.json",  # another workflow's run
    "payloads/reads/another-run/agent-0123456789abcdef.json",  # the same workflow, another execution
    "results/other-workflow/other-execution.json",  # a result record
])
def test_reference_to_another_executions_data_is_refused(engine, key):
    counter = engine.gateway.before_invoke
    before = counter.count
    secret = {"card": "4111111111111111", "note": "another run's data"}
    reference = _put(engine, key, secret)

    result = engine.run("reads", {"doc": reference}, name=f"forged-{abs(hash(key)) % 10**8}")

    error = result.record["error"]
    assert result.record["status"] == "failed"
    assert error["code"] == "VALIDATION_ERROR"
    assert error["step"] == "agent"
    assert reference["offloaded"]["s3_uri"] in error["message"]
    assert counter.count == before  # the agent was never called
    assert "4111111111111111" not in json.dumps(result.record)


def test_reference_with_a_wrong_digest_is_refused(engine):
    name = "wrong-digest"
    reference = _put(engine, f"payloads/reads/{name}/agent-0123456789abcdef.json", {"x": 1})
    reference["offloaded"]["sha256"] = "0" * 64

    result = engine.run("reads", {"doc": reference}, name=name)

    assert result.record["error"]["code"] == "VALIDATION_ERROR"
    assert "sha256" in result.record["error"]["message"]


def test_own_reference_is_followed_by_the_next_agent(engine, monkeypatch):
    # a ~90 KB value is offloaded with a 64 KiB threshold (the default, 252 KiB, is just under
    # Step Functions' 256 KiB; the mechanism is the same)
    monkeypatch.setenv(env.OFFLOAD_BYTES, str(64 * 1024))
    result = engine.run("relays", {}, name="relays-own-reference")

    assert result.record["status"] == "completed"
    reference = result.record["result"]  # the echo of a ~90 KB value is offloaded again
    assert reference["offloaded"]["s3_uri"].startswith(f"s3://{RESULTS_BUCKET_NAME}/payloads/relays/relays-own-reference/")
    bucket, _, key = reference["offloaded"]["s3_uri"][len("s3://"):].partition("/")
    echoed = json.loads(engine.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert echoed["echo"]["response"].count("chunk-") == 400  # the whole value reached the agent, not the reference

