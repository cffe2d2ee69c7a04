"""Tests for stepgraph_runtime: records, the error mapping (parity with the compiler's JSONata), sessions, offload, env names."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import boto3
import pytest
from moto import mock_aws

from stepgraph.compiler.asl import error_object
from stepgraph_runtime import errors, offload, records
from stepgraph_runtime.records import (
    RESULT_RECORD_FIELDS,
    build_result_record,
    execution_error,
    failure_error,
    record_session_id,
    session_id_jsonata,
)
from stepgraph_runtime.sessions import execution_runtime_session_id, runtime_session_id


def jsonata_eval(expression: str, bindings: dict) -> object:
    import jsonata

    from stepgraph.local.expressions import _sfn_functions

    compiled = jsonata.Jsonata(expression)
    for name, fn in _sfn_functions().items():
        compiled.register_lambda(name, fn)
    return compiled.evaluate(None, bindings)


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize("code", [c.value for c in errors.ErrorCode])
def test_error_class_name_is_its_code(code):
    cls = errors.error_class(code)
    assert cls.__name__ == code == cls.code
    assert issubclass(cls, errors.StepError)


def test_stepgraph_errors_reexports_the_runtime_codes():
    from stepgraph.errors import RETRYABLE_BY_DEFAULT, ErrorCode

    assert ErrorCode is errors.ErrorCode
    assert RETRYABLE_BY_DEFAULT == ("RATE_LIMIT", "AGENT_ERROR", "TIMEOUT")


# ----------------------------------------------------------------------------- session id


@pytest.mark.parametrize("execution_input, expected", [
    ({"session_id": "chat-7", "sessionId": "other"}, "chat-7"),
    ({"sessionId": "seed-style"}, "seed-style"),
    ({"session_id": "", "sessionId": "second"}, "second"),
    ({"session_id": None, "sessionId": None}, "run-1"),
    ({"session_id": 42}, "42"),
    ({"session_id": 4.5}, "4.5"),
    ({"session_id": True}, "run-1"),
    ({"session_id": {"id": 1}}, "run-1"),
    ({}, "run-1"),
    ("not an object", "run-1"),
    (None, "run-1"),
])
def test_record_session_id_follows_the_one_rule(execution_input, expected):
    assert record_session_id(execution_input, "run-1") == expected


@pytest.mark.parametrize("execution_input", [
    {"session_id": "chat-7", "sessionId": "other"}, {"sessionId": "seed-style"}, {"session_id": "", "sessionId": "b"},
    {"session_id": None}, {"session_id": 42}, {"session_id": 4.5}, {"session_id": True}, {}, {"session_id": [1]},
])
def test_session_id_jsonata_agrees_with_record_session_id(execution_input):
    expression = session_id_jsonata("$states.input.input", "$states.context.Execution.Name")
    bindings = {"states": {"input": {"input": execution_input}, "context": {"Execution": {"Name": "run-1"}}}}
    assert jsonata_eval(expression, bindings) == record_session_id(execution_input, "run-1")


def test_runtime_session_id_of_an_execution_derives_from_the_record_session_id():
    assert execution_runtime_session_id({"sessionId": "chat-42"}, "run-1") == runtime_session_id("chat-42")
    assert execution_runtime_session_id({}, "run-1") == runtime_session_id("run-1")
    assert 33 <= len(execution_runtime_session_id({}, "r")) <= 256


# ----------------------------------------------------------------------------- error mapping


FAILURES = [
    ("TIMEOUT", json.dumps({"errorMessage": "agent 'a' did not answer within 3 s", "errorType": "TIMEOUT"}), "AGENT_ERROR"),
    ("AGENT_ERROR", json.dumps({"errorMessage": "boom", "step": "inner"}), "AGENT_ERROR"),
    ("States.Timeout", "Task timed out", "AGENT_ERROR"),
    ("States.HeartbeatTimeout", None, "AGENT_ERROR"),
    ("Lambda.TooManyRequestsException", "Rate exceeded", "TOOL_ERROR"),
    ("States.Runtime", "bad path", "TOOL_ERROR"),
    ("KeyError", json.dumps({"errorMessage": "'x'", "errorType": "KeyError"}), "TOOL_ERROR"),
    ("VALIDATION_ERROR", json.dumps({"message": "from message"}), "AGENT_ERROR"),
    ("RATE_LIMIT", "", "AGENT_ERROR"),
    # a subflow's child failed: States.TaskFailed whose Cause is the child's DescribeExecution
    ("States.TaskFailed", json.dumps({"ExecutionArn": "arn:aws:states:us-east-1:1:execution:child:run-1", "Name": "run-1",
                                      "Status": "FAILED", "Error": "TOOL_ERROR", "Cause": "refused"}), "AGENT_ERROR"),
    ("States.TaskFailed", json.dumps({"ExecutionArn": "arn:x", "Name": "run-2", "Error": "States.Runtime",
                                      "Cause": "bad"}), "AGENT_ERROR"),
]


@pytest.mark.parametrize("error, cause, default_code", FAILURES)
def test_failure_error_matches_the_compiled_catch(error, cause, default_code):
    output = {"Error": error} if cause is None else {"Error": error, "Cause": cause}
    compiled = jsonata_eval(error_object("step_a", default_code), {"states": {"errorOutput": output}})
    assert failure_error(error, cause, step="step_a", default_code=default_code) == compiled


def test_failure_error_examples():
    assert failure_error("States.Timeout", "Task timed out", step="agent", default_code="AGENT_ERROR") == {
        "code": "TIMEOUT", "message": "Task timed out", "step": "agent"}
    assert failure_error("KeyError", '{"errorMessage": "x"}', step="t", default_code="TOOL_ERROR") == {
        "code": "TOOL_ERROR", "message": "KeyError: x", "step": "t"}
    assert failure_error("AGENT_ERROR", '{"errorMessage": "boom", "step": "inner"}', step="loop",
                         default_code="AGENT_ERROR")["step"] == "inner"


@pytest.mark.parametrize("status, error, cause, expected", [
    ("ABORTED", None, None, ("CANCELLED", "the execution was stopped")),
    ("ABORTED", None, "by ops", ("CANCELLED", "by ops")),
    ("TIMED_OUT", None, None, ("TIMEOUT", "the execution exceeded its time-out")),
    ("FAILED", "States.DataLimitExceeded", "too big", ("AGENT_ERROR", "States.DataLimitExceeded: too big")),
    ("FAILED", "TOOL_ERROR", "tool lookup failed", ("TOOL_ERROR", "tool lookup failed")),
    ("FAILED", None, None, ("AGENT_ERROR", "the execution failed")),
])
def test_execution_error_maps_endings(status, error, cause, expected):
    got = execution_error(status, error, cause, step="s")
    assert (got["code"], got["message"], got["step"]) == (*expected, "s")


def test_build_result_record_has_exactly_the_spec_fields_in_order():
    record = build_result_record(execution_arn="arn:x", execution_name="run-1", workflow_name="wf",
                                 execution_input={"sessionId": "chat-1"}, status="completed", result={"a": 1},
                                 started_at="2026-01-01T00:00:00+00:00", completed_at="2026-01-01T00:00:01+00:00")
    assert tuple(record) == RESULT_RECORD_FIELDS
    assert (record["sessionId"], record["result"], record["error"]) == ("chat-1", {"a": 1}, None)


def test_build_result_record_refuses_a_failed_record_without_error():
    with pytest.raises(ValueError, match="needs an error"):
        build_result_record(execution_arn="a", execution_name="n", workflow_name="w", execution_input={},
                            status="failed", started_at=None, completed_at=None)


def test_result_key_is_the_compilers():
    from stepgraph.compiler import result_key

    assert records.result_key("wf", "run") == result_key("wf", "run") == "results/wf/run.json"


# ----------------------------------------------------------------------------- offload


@pytest.fixture()
def payloads(monkeypatch, aws_env):
    with mock_aws():
        monkeypatch.setattr(offload, "_s3", None)
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="payloads-bucket")
        s3.create_bucket(Bucket="elsewhere")
        monkeypatch.setenv("PAYLOADS_BUCKET", "payloads-bucket")
        monkeypatch.setenv("STEPGRAPH_OFFLOAD_BYTES", "100")
        yield s3
        monkeypatch.setattr(offload, "_s3", None)


BIG = {"text": "x" * 500}


def test_offload_then_resolve_in_the_same_execution_round_trips(payloads):
    reference = offload.offload(BIG, workflow="wf", execution="run-1", step="agent")
    assert reference["offloaded"]["s3_uri"].startswith("s3://payloads-bucket/payloads/wf/run-1/agent-")
    assert offload.resolve({"nested": [reference]}, workflow="wf", execution="run-1") == {"nested": [BIG]}


@pytest.mark.parametrize("workflow, execution", [("wf", "run-2"), ("other", "run-1"), ("wf", "run-10")])
def test_resolve_refuses_another_executions_reference(payloads, workflow, execution):
    reference = offload.offload(BIG, workflow="wf", execution="run-1", step="agent")
    with pytest.raises(errors.VALIDATION_ERROR, match="not under this execution's prefix") as info:
        offload.resolve(reference, workflow=workflow, execution=execution, step="next")
    assert reference["offloaded"]["s3_uri"] in str(info.value)
    assert info.value.step_id == "next"


def test_resolve_refuses_a_reference_outside_the_payloads_bucket(payloads):
    body = json.dumps(BIG).encode()
    payloads.put_object(Bucket="elsewhere", Key="payloads/wf/run-1/x.json", Body=body)
    forged = {"offloaded": {"s3_uri": "s3://elsewhere/payloads/wf/run-1/x.json", "size_bytes": len(body),
                            "sha256": hashlib.sha256(body).hexdigest()}}
    with pytest.raises(errors.VALIDATION_ERROR, match="not in the payloads bucket payloads-bucket"):
        offload.resolve(forged, workflow="wf", execution="run-1")


@pytest.mark.parametrize("field, value, match", [
    ("sha256", "0" * 64, "sha256 differs"),
    ("sha256", None, "64 lower-case hex"),
    ("size_bytes", 3, "the reference says 3"),
    ("size_bytes", "500", "whole number"),
])
def test_resolve_refuses_a_reference_whose_size_or_digest_is_wrong(payloads, field, value, match):
    reference = offload.offload(BIG, workflow="wf", execution="run-1", step="agent")
    reference["offloaded"][field] = value
    with pytest.raises(errors.VALIDATION_ERROR, match=match):
        offload.resolve(reference, workflow="wf", execution="run-1")


def test_resolve_refuses_a_subfolder_of_the_prefix(payloads):
    reference = offload.offload(BIG, workflow="wf", execution="run-1", step="agent")
    reference["offloaded"]["s3_uri"] = reference["offloaded"]["s3_uri"].replace("/run-1/", "/run-1/deeper/")
    with pytest.raises(errors.VALIDATION_ERROR, match="prefix"):
        offload.resolve(reference, workflow="wf", execution="run-1")


def test_resolve_leaves_values_without_references_alone_and_reads_nothing(monkeypatch):
    monkeypatch.setattr(offload, "_client", lambda: pytest.fail("S3 was called"))
    value = {"a": [1, {"offloaded": "not a reference"}]}
    assert offload.resolve(value, workflow="wf", execution="run-1") == value


# ----------------------------------------------------------------------------- purity


def test_pure_modules_import_without_boto3():
    script = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('boto3', 'botocore'):\n"
        "            raise ImportError('blocked ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import stepgraph_runtime.errors, stepgraph_runtime.records, stepgraph_runtime.env, stepgraph_runtime.net\n"
        "import stepgraph_runtime.sessions, stepgraph_runtime.streams, stepgraph_runtime.offload, stepgraph_runtime.agentcore\n"
        "import stepgraph.errors, stepgraph.handlers\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "ok", done.stderr


def test_every_handler_env_name_is_defined_in_env():
    from stepgraph.handlers import HANDLERS
    from stepgraph_runtime import env

    names = {getattr(env, n) for n in env.__all__ if n.isupper()}
    for spec in HANDLERS.values():
        assert set(spec.environment) <= names, spec.folder
