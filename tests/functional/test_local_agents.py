"""Local agent processes: bound to loopback whatever the environment, restarted when they die."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest

from stepgraph.agents import discover_agents
from stepgraph.local import LocalEngine
from stepgraph.local.agentcore import AgentProcess, AgentStartError
from stepgraph.local.sockets import can_inspect, listening_addresses, non_loopback_listeners, process_tree
from stepgraph.project import load_project

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "agents"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not can_inspect(), reason="reads listening sockets from /proc/net/tcp (Linux)"),
]


def _workflow(agent_id: str) -> dict:
    return {
        "name": f"{agent_id}-flow",
        "steps": [
            {"step_id": "trigger", "step_type": "trigger", "next_steps": ["agent"]},
            {"step_id": "agent", "step_type": "agent_execution",
             "parameters": {"agent_id": agent_id, "timeout_seconds": 10, "payload": {"mode": "{{input.mode}}"}}},
        ],
    }


@pytest.fixture()
def mortal_engine(tmp_path):
    (tmp_path / "workflows").mkdir()
    (tmp_path / "workflows" / "mortal-flow.json").write_text(json.dumps(_workflow("mortal")))
    (tmp_path / "agents").mkdir()
    shutil.copytree(FIXTURES / "mortal", tmp_path / "agents" / "mortal")
    for name in ("lambdas", "tools"):
        (tmp_path / name).symlink_to(ROOT / name)
    with LocalEngine(load_project(tmp_path)) as engine:
        yield engine


def _agent_pid(engine: LocalEngine) -> int:
    (process,) = engine.gateway.processes.values()
    return process.process.pid


def test_killed_agent_process_is_restarted_and_the_next_run_completes(mortal_engine):
    # GIVEN a run that started the agent, whose process is then killed
    first = mortal_engine.run("mortal-flow", {"mode": "ok"}, follow_chain=False)
    assert first.record["status"] == "completed"
    killed = _agent_pid(mortal_engine)
    os.kill(killed, signal.SIGKILL)
    os.waitpid(killed, 0)
    # WHEN the workflow runs again THEN a new agent process answers it
    second = mortal_engine.run("mortal-flow", {"mode": "ok"}, follow_chain=False)
    assert second.record["status"] == "completed", second.record["error"]
    assert second.record["result"]["ok"] is True
    assert second.record["result"]["pid"] != killed == first.record["result"]["pid"]


def test_agent_dying_during_an_invocation_fails_it_with_agent_error_then_the_next_run_completes(mortal_engine):
    dying = mortal_engine.run("mortal-flow", {"mode": "die"}, follow_chain=False)
    assert dying.record["status"] == "failed"
    assert (dying.record["error"]["code"], dying.record["error"]["step"]) == ("AGENT_ERROR", "agent")
    after = mortal_engine.run("mortal-flow", {"mode": "ok"}, follow_chain=False)
    assert after.record["status"] == "completed", after.record["error"]


def test_agent_binding_every_interface_listens_on_loopback_only(mortal_engine):
    # GIVEN an agent whose entrypoint asks uvicorn for 0.0.0.0, in an environment that looks like Docker
    spec = discover_agents(FIXTURES)["mortal"]
    process = AgentProcess(spec, env={"DOCKER_CONTAINER": "1"})
    try:
        process.start()
        listening = listening_addresses(process_tree(process.process.pid))
        # THEN it serves on 127.0.0.1 and nothing else
        assert {host for _, host, _ in listening} == {"127.0.0.1"}
        assert process.port in {port for _, _, port in listening}
    finally:
        process.stop()


def test_agent_listening_beyond_loopback_is_stopped_with_a_clear_error():
    spec = discover_agents(FIXTURES)["exposed"]
    process = AgentProcess(spec)
    with pytest.raises(AgentStartError, match=r"listens on 0\.0\.0\.0:\d+; a local agent may listen on 127\.0\.0\.1 only"):
        process.start()
    assert process.process.poll() is not None  # stopped


def test_no_process_of_a_local_run_listens_beyond_loopback(project, tmp_path):
    # GIVEN the repository's own project, run locally the way `make run` does (agents started)
    example = json.loads((ROOT / "examples" / "customer-support.input.json").read_text())
    with LocalEngine(project, results_dir=tmp_path) as engine:
        result = engine.run("customer-support", example)
        assert result.record["status"] == "completed"
        assert engine.gateway.processes, "the run started no agent"
        # THEN no process of the run (this one, the agents and their children) listens elsewhere
        assert non_loopback_listeners(os.getpid()) == []
        assert listening_addresses(process_tree(os.getpid())), "found no listening socket at all"
