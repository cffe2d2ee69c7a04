"""Helpers for tests of the Lambda handlers in ``lambdas/`` (not a package: handlers load by path)."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

LAMBDAS = Path(__file__).resolve().parents[1] / "lambdas"


def load_handler(folder: str) -> ModuleType:
    """Import ``lambdas/<folder>/handler.py`` afresh, as module ``<folder>_handler``."""
    spec = importlib.util.spec_from_file_location(f"{folder}_handler", LAMBDAS / folder / "handler.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class FakeLambdaContext:
    """The parts of Lambda's context object the handlers and Powertools read."""

    remaining_ms: int = 600_000
    function_name: str = "handler"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:handler"
    aws_request_id: str = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms
