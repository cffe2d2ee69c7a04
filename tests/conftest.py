"""Fixtures shared by every test layer."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture()
def serve_agent() -> Iterator[Callable[..., str]]:
    """Serve an agent folder's ``main.py`` over its real HTTP contract: ``serve_agent(folder, cwd=, env=) -> base URL``.

    The process gets ``PORT`` (a free loopback port), never ``DOCKER_CONTAINER`` (so it binds
    127.0.0.1), and the current environment with ``env`` applied on top (a value of ``None``
    removes a variable). It must answer ``GET /ping`` within 30 s; it is stopped after the test.
    """
    processes: list[subprocess.Popen[bytes]] = []

    def start(folder: Path, *, cwd: Path | None = None, env: dict[str, str | None] | None = None) -> str:
        port = _free_port()
        environment = {k: v for k, v in os.environ.items() if k != "DOCKER_CONTAINER"}
        for key, value in (env or {}).items():
            if value is None:
                environment.pop(key, None)
            else:
                environment[key] = value
        environment["PORT"] = str(port)
        process = subprocess.Popen([sys.executable, str(folder / "main.py")], cwd=str(cwd or folder), env=environment,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        processes.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                pytest.fail(f"agent exited with {process.returncode}: {output}")
            try:
                if httpx.get(f"{base}/ping", timeout=1).status_code == 200:
                    return base
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("agent did not answer /ping within 30 s")
            time.sleep(0.1)

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def aws_env(monkeypatch):
    """Fake credentials and us-east-1, never a real profile; boto3's cached session dropped."""
    import boto3

    for name in ("AWS_PROFILE", "AWS_REGION", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # botocore caches credentials per session


@pytest.fixture
def aws(aws_env):
    """moto with Step Functions executing state machines (a Pass machine succeeds at once)."""
    from moto import mock_aws

    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield
