"""Agent steps that outlive a request: the task-token envelope and the agent-side helper (SPEC §6, ``mode: async``).

An ``agent_execution`` step in ``async`` mode compiles to a ``lambda:invoke.waitForTaskToken``
Task. The invoker adds one field to the agent's payload (the payload must be a JSON object)::

    "stepgraph": {"task_token": "<Step Functions task token>", "heartbeat_seconds": 300,
                  "workflow_name": "...", "execution_name": "...", "step_id": "..."}

and returns as soon as the agent answers ``{"stepgraph": {"accepted": true, "task_id": ...}}``.
An answer without that acceptance (an agent that does not know the contract, an error) fails
the step ``AGENT_ERROR`` at once, so nothing waits for a token nobody holds.

Agent side, :func:`async_step` wraps an ``@app.entrypoint`` of a ``BedrockAgentCoreApp``:

- without ``stepgraph.task_token`` in the payload the function runs as before (sync steps,
  ``stepgraph invoke agent``);
- with it, the work runs in a background thread registered as an AgentCore async task
  (``app.add_async_task`` … ``app.complete_async_task``, so ``GET /ping`` answers
  ``HealthyBusy`` while it works), the request is answered at once with the acceptance, a
  ``SendTaskHeartbeat`` goes out every ``heartbeat_seconds / 3`` seconds, and the work ends
  with ``SendTaskSuccess`` (its return value, offloaded to S3 when large:
  :mod:`stepgraph_runtime.offload`) or ``SendTaskFailure`` with a code of SPEC §7
  (``AGENT_ERROR``, ``TIMEOUT``, ``RATE_LIMIT`` … from :mod:`stepgraph_runtime.errors`).

The Step Functions client is botocore's default, so ``AWS_ENDPOINT_URL_SFN`` points it at the
local engine's gateway when run locally. Deployed, the runtime's role may send task results only
to the state machines that call it asynchronously (``stacks/workflows_stack.py``).
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import threading
from dataclasses import dataclass
from typing import Any, Callable

from . import offload
from .errors import AGENT_ERROR, TIMEOUT, StepError

__all__ = [
    "ACCEPTED",
    "ENVELOPE",
    "AsyncRequest",
    "CallbackReporter",
    "acceptance",
    "async_step",
    "check_acceptance",
    "stepfunctions_client",
    "with_envelope",
]

#: The payload field that carries the task token (and the answer field that carries the acceptance).
ENVELOPE = "stepgraph"
#: ``{"stepgraph": {"accepted": true}}`` in the agent's immediate answer.
ACCEPTED = "accepted"
#: Longest ``cause`` Step Functions keeps (``SendTaskFailure``: 32,768 characters).
_MAX_CAUSE = 32_768
#: Longest ``error`` (``SendTaskFailure``: 256 characters).
_MAX_ERROR = 256

logger = logging.getLogger("stepgraph.async_agent")


# ----------------------------------------------------------------------------- invoker side


def with_envelope(payload: Any, *, task_token: str, heartbeat_seconds: int, workflow_name: str | None,
                  execution_name: str | None, step_id: str | None) -> dict[str, Any]:
    """The payload of an async step: ``payload`` plus the ``stepgraph`` envelope.

    Raises
    ------
    VALIDATION_ERROR
        When ``payload`` is not a JSON object (there is nowhere to put the token), or already
        has a ``stepgraph`` field.
    """
    from .errors import VALIDATION_ERROR

    if not isinstance(payload, dict):
        raise VALIDATION_ERROR(f"an async agent step needs a JSON object payload to carry its task token, "
                               f"got {type(payload).__name__}", step_id=step_id)
    if ENVELOPE in payload:
        raise VALIDATION_ERROR(f"the payload of an async agent step may not have its own {ENVELOPE!r} field",
                               step_id=step_id)
    return {**payload, ENVELOPE: {"task_token": task_token, "heartbeat_seconds": int(heartbeat_seconds),
                                  "workflow_name": workflow_name, "execution_name": execution_name,
                                  "step_id": step_id}}


def check_acceptance(answer: Any, *, agent_id: str, step_id: str | None = None) -> dict[str, Any]:
    """The acceptance in an agent's immediate answer to an async step; ``AGENT_ERROR`` without one.

    Raises
    ------
    AGENT_ERROR
        When the answer is not ``{"stepgraph": {"accepted": true, ...}}``: the agent did not
        take the task token, so no one would ever end the step.
    """
    envelope = answer.get(ENVELOPE) if isinstance(answer, dict) else None
    if isinstance(envelope, dict) and envelope.get(ACCEPTED) is True:
        return envelope
    shown = json.dumps(answer, default=str)[:300]
    raise AGENT_ERROR(
        f"agent {agent_id!r} did not accept the async step (its answer lacks \"stepgraph\": {{\"accepted\": true}}; "
        f"serve the entrypoint with stepgraph_runtime.async_agent.async_step): {shown}",
        agent_id=agent_id, step_id=step_id)


# ----------------------------------------------------------------------------- agent side


@dataclass(frozen=True)
class AsyncRequest:
    """The envelope of an async step, as the agent received it."""

    task_token: str
    heartbeat_seconds: int
    workflow_name: str | None = None
    execution_name: str | None = None
    step_id: str | None = None

    @classmethod
    def from_payload(cls, payload: Any) -> "AsyncRequest | None":
        """The envelope of ``payload``, or ``None`` for a synchronous request."""
        envelope = payload.get(ENVELOPE) if isinstance(payload, dict) else None
        if not isinstance(envelope, dict) or not isinstance(envelope.get("task_token"), str):
            return None
        heartbeat = envelope.get("heartbeat_seconds")
        return cls(task_token=envelope["task_token"],
                   heartbeat_seconds=int(heartbeat) if isinstance(heartbeat, (int, float)) and heartbeat > 0 else 300,
                   workflow_name=envelope.get("workflow_name"), execution_name=envelope.get("execution_name"),
                   step_id=envelope.get("step_id"))


def acceptance(task_id: Any) -> dict[str, Any]:
    """The immediate answer of an agent that took an async step."""
    return {ENVELOPE: {ACCEPTED: True, "task_id": str(task_id)}}


def stepfunctions_client() -> Any:
    """``boto3.client("stepfunctions")``; unsigned when ``AWS_ENDPOINT_URL_SFN`` is a loopback URL.

    Locally the endpoint is the engine's gateway on 127.0.0.1, which needs no credentials, and a
    local agent gets none (a Nova Act agent must not find any); deployed the variable is unset
    and the runtime's role signs the calls.
    """
    import os
    import urllib.parse

    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    from . import env

    endpoint = os.environ.get(env.AWS_ENDPOINT_URL_SFN, "")
    region = os.environ.get(env.AWS_REGION) or os.environ.get(env.AWS_DEFAULT_REGION)  # AgentCore sets AWS_REGION
    if urllib.parse.urlparse(endpoint).hostname in ("127.0.0.1", "localhost", "::1"):
        return boto3.client("stepfunctions", region_name=region, config=Config(signature_version=UNSIGNED))
    return boto3.client("stepfunctions", region_name=region)


def _code_of(exc: BaseException) -> str:
    if isinstance(exc, StepError):
        return exc.code
    if isinstance(exc, TimeoutError):
        return TIMEOUT.__name__
    return AGENT_ERROR.__name__


class CallbackReporter:
    """Sends one task's heartbeats and its result to Step Functions.

    Parameters
    ----------
    request:
        The step's envelope.
    client:
        A ``stepfunctions`` client; default :func:`stepfunctions_client`.
    """

    def __init__(self, request: AsyncRequest, client: Any = None):
        self.request = request
        self.client = client if client is not None else stepfunctions_client()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def interval(self) -> float:
        """Seconds between heartbeats: a third of ``heartbeat_seconds`` (two may be lost before the step times out)."""
        return max(0.2, self.request.heartbeat_seconds / 3)

    def heartbeat(self) -> None:
        """Send one ``SendTaskHeartbeat``."""
        self.client.send_task_heartbeat(taskToken=self.request.task_token)

    def start_heartbeats(self) -> None:
        """Heartbeat now and then every :attr:`interval` seconds until :meth:`stop_heartbeats`."""
        def beat() -> None:
            while True:
                try:
                    self.heartbeat()
                except Exception as exc:  # a lost heartbeat is retried at the next beat; the timeout decides
                    logger.warning("heartbeat failed: %s", exc)
                if self._stop.wait(self.interval):
                    return

        self._thread = threading.Thread(target=beat, name="stepgraph-heartbeat", daemon=True)
        self._thread.start()

    def stop_heartbeats(self) -> None:
        """Stop sending heartbeats (before the result goes out)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def succeed(self, output: Any) -> None:
        """``SendTaskSuccess`` with ``output`` (offloaded by reference when its JSON is large).

        An output that cannot be offloaded (too large, ``PAYLOADS_BUCKET`` not set) or is not
        JSON fails the step ``AGENT_ERROR`` instead.
        """
        r = self.request
        try:
            value = offload.offload(output, workflow=r.workflow_name or "unknown",
                                    execution=r.execution_name or "unknown", step=r.step_id or "agent")
            body = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        except Exception as exc:  # noqa: BLE001 - reported as the step's failure
            self.fail(AGENT_ERROR(f"the agent's result cannot be sent: {exc}"))
            return
        self.client.send_task_success(taskToken=r.task_token, output=body)

    def fail(self, exc: BaseException) -> None:
        """``SendTaskFailure`` with the exception's code (``AGENT_ERROR`` unless it carries one) and message."""
        code = _code_of(exc)
        message = str(getattr(exc, "message", None) or exc) or type(exc).__name__
        self.client.send_task_failure(taskToken=self.request.task_token, error=code[:_MAX_ERROR],
                                      cause=message[:_MAX_CAUSE])


def _run_to_end(func: Callable[[Any], Any], payload: Any, *args: Any, **kwargs: Any) -> Any:
    """Call the entrypoint; a generator is drained into ``{"response", "events"}`` as a stream would decode."""
    from .streams import events_output

    result = func(payload, *args, **kwargs)
    if inspect.isgenerator(result):
        return events_output(result)
    return result


def async_step(app: Any, *, client_factory: Callable[[], Any] | None = None, name: str | None = None):
    """Decorate an entrypoint so that it also serves ``mode: async`` steps.

    Parameters
    ----------
    app:
        The ``bedrock_agentcore.BedrockAgentCoreApp`` (its ``add_async_task``/``complete_async_task``
        make ``GET /ping`` answer ``HealthyBusy`` while the work runs).
    client_factory:
        Makes the ``stepfunctions`` client; default :func:`stepfunctions_client`.
    name:
        The async task's name in ``/ping``'s bookkeeping; default the function's name.

    Returns
    -------
    callable
        A decorator. The decorated function takes the payload (without the ``stepgraph``
        envelope) and returns the output, or raises (a :class:`~stepgraph_runtime.errors.StepError`
        names its code; ``TimeoutError`` is ``TIMEOUT``; anything else ``AGENT_ERROR``).

    Examples
    --------
    >>> app = BedrockAgentCoreApp()  # doctest: +SKIP
    >>> @app.entrypoint  # doctest: +SKIP
    ... @async_step(app)
    ... def invoke(payload):
    ...     return {"answer": research(payload["topic"])}
    """
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        task_name = name or func.__name__

        @functools.wraps(func)
        def entrypoint(payload: Any, *args: Any, **kwargs: Any) -> Any:
            request = AsyncRequest.from_payload(payload)
            if request is None:
                return func(payload, *args, **kwargs)
            work_payload = {k: v for k, v in payload.items() if k != ENVELOPE}
            reporter = CallbackReporter(request, client_factory() if client_factory else None)
            task_id = app.add_async_task(task_name, {"step_id": request.step_id})

            def work() -> None:
                reporter.start_heartbeats()
                try:
                    try:
                        output = _run_to_end(func, work_payload, *args, **kwargs)
                    except BaseException as exc:  # noqa: BLE001 - every failure ends the step
                        logger.exception("async step %s failed", request.step_id)
                        reporter.stop_heartbeats()
                        reporter.fail(exc)
                        return
                    reporter.stop_heartbeats()
                    reporter.succeed(output)
                except Exception:  # the callback itself failed: the step's timeout ends it
                    logger.exception("could not report the result of async step %s", request.step_id)
                finally:
                    app.complete_async_task(task_id)

            threading.Thread(target=work, name=f"stepgraph-async-{task_name}", daemon=True).start()
            return acceptance(task_id)

        return entrypoint

    return decorate
