"""``pip install .`` into a fresh virtual environment, then the command works from another folder (issue 8).

About 45 s (venv, pip, the core's dependencies from the package index).
"""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def test_installed_command_runs_outside_the_checkout(tmp_path):
    env_dir = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    bin_dir = env_dir / ("Scripts" if sys.platform == "win32" else "bin")
    done = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                           str(ROOT)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    helped = subprocess.run([str(bin_dir / "stepgraph"), "invoke", "agent", "--help"], cwd=elsewhere,
                            capture_output=True, text=True, timeout=60)
    compiled = subprocess.run([str(bin_dir / "stepgraph"), "compile", str(ROOT / "workflows" / "customer-support.json")],
                              cwd=elsewhere, capture_output=True, text=True, timeout=60)

    assert helped.returncode == 0, helped.stderr
    assert "AGENT_ID" in helped.stdout.upper()
    assert compiled.returncode == 0, compiled.stderr
    assert '"QueryLanguage": "JSONata"' in compiled.stdout
