"""``stepgraph serve`` itself: 127.0.0.1, a development token printed per start, no anonymous access."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _start(env: dict) -> tuple[subprocess.Popen, str, list[str]]:
    process = subprocess.Popen([str(Path(sys.executable).parent / "stepgraph"), "serve", "--port", "0"], cwd=ROOT, env=env,
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    lines: list[str] = []
    deadline = time.monotonic() + 60
    url = None
    while time.monotonic() < deadline and process.poll() is None:
        line = process.stderr.readline()
        lines.append(line)
        found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
        if found:
            url = found.group(0)
        if url and ("STEPGRAPH_API_TOKEN=" in line or "token(s) from" in line):
            break
    assert url, "".join(lines)
    return process, url, lines


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def test_serve_prints_a_fresh_development_token_and_refuses_anonymous_calls():
    env = {k: v for k, v in os.environ.items() if k != "STEPGRAPH_API_TOKENS"}
    process, url, lines = _start(env)
    try:
        token = re.search(r"STEPGRAPH_API_TOKEN=(\S+)", "".join(lines)).group(1)
        anonymous = httpx.get(f"{url}/api/workflows", timeout=10)
        authorized = httpx.get(f"{url}/api/workflows", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    finally:
        _stop(process)
    assert anonymous.status_code == 401
    assert authorized.status_code == 200 and "customer-support" in authorized.text
    assert len(token) >= 32 and token not in (ROOT / "stepgraph" / "cli_serve.py").read_text()


def test_serve_uses_configured_tokens_and_prints_no_development_token():
    env = {**os.environ, "STEPGRAPH_API_TOKENS": "tok-ops-2b8e=ops@example.com"}
    process, url, lines = _start(env)
    try:
        ok = httpx.get(f"{url}/api/approvals", headers={"Authorization": "Bearer tok-ops-2b8e"}, timeout=10)
    finally:
        _stop(process)
    assert ok.status_code == 200
    assert "STEPGRAPH_API_TOKEN=" not in "".join(lines) and "ops@example.com" in "".join(lines)
