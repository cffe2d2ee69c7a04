"""Local mode: the compiled state machine runs offline on an embedded AWS emulator (SPEC §10)."""

from .agentcore import AgentCoreGateway, AgentProcess, AgentStartError, local_runtime_arn
from .emulator import FastForward, LambdaContext, LambdaRegistry, SeamError, check_seams, install_seams
from .engine import EngineError, LocalEngine, RunResult, StepEvent

__all__ = (
    "AgentCoreGateway",
    "AgentProcess",
    "AgentStartError",
    "EngineError",
    "FastForward",
    "LambdaContext",
    "LambdaRegistry",
    "LocalEngine",
    "RunResult",
    "SeamError",
    "StepEvent",
    "check_seams",
    "install_seams",
    "local_runtime_arn",
)
