"""Seams into moto that let its Step Functions interpreter run our state machines offline.

moto 5.2.5 (pinned) executes Amazon States Language when started with
``execute_state_machine``; three gaps are closed here (FIELD-NOTES "Running Amazon States
Language locally"):

* **JSONata** is not wired in moto (moto issue 10105): expressions are evaluated by
  :mod:`stepgraph.local.expressions` (``jsonata-python`` plus the functions Step Functions adds,
  only the referenced variables bound, as Python values), installed here.
* **Lambda** without Docker echoes its payload: ``LambdaSimpleBackend.invoke`` is replaced by a
  dispatcher that runs the real handler in-process and reports an exception the way Lambda
  does (``x-amz-function-error`` + ``{"errorType", "errorMessage"}``), so ``Retry``/``Catch``
  match the exception's class name.
  A ``lambda:invoke`` Task of a registered function calls it directly, with the answer moto's
  Lambda integration would give, without the botocore and HTTP-stubber round trip.
* **Time**: ``Wait`` states and retry back-offs can be fast-forwarded.
* **Start-up**: moto's interpreter imports its AWS Batch integration, and with it moto's whole
  Batch, EC2 and ECS emulations (about 60 % of the interpreter's import time), whether a state
  machine calls Batch or not. ``moto.batch`` is registered as a package that imports its
  backends on first use (:func:`defer_moto_batch`): a Batch task still works.
* **History**: moto answers ``GetExecutionHistory`` with a deep copy of the whole history, which
  botocore then parses back, on every call. :class:`HistoryFeed` reads only the events after a
  given index, in-process, and wakes its readers when any history grows or an execution ends, so
  following an execution costs time in proportion to its events, not to their square, and an
  event (or the end) is seen as soon as it is recorded.
* **Parses**: moto parses a definition with ANTLR (pure Python) at every execution start; the
  parse tree is cached by the definition's text, the evaluation components are still built
  anew for each execution.
* **JSONPath**: moto parses a state's ``ResultPath`` (``$`` by default, JSONata states too) and
  its other paths anew on every evaluation; parses are cached by text (parsed paths are
  not changed by use).
* **Clients**: moto's interpreter creates a new boto3 client for every Task it runs (about
  50 ms each: a Lambda invocation, an S3 put, an SNS publish); the clients are cached per
  region and service instead (botocore clients are thread-safe).
* **Variables** (``Assign``): moto writes a string variable as ``"<value>"`` without escaping
  where it still writes variables as text (the ``assignedVariables`` of the history); strings are
  JSON-encoded there (:func:`stepgraph.local.expressions.install_variables`).
* **Nested executions** (``arn:aws:states:::states:startExecution.sync:2``, a ``subflow``
  step): moto's copy of the interpreter leaves the parameter and response normalisation of
  its Step Functions integration empty, so ``StateMachineArn`` never reaches botocore's
  ``stateMachineArn`` and the answer keeps botocore's ``executionArn`` where the integration
  (and AWS) says ``ExecutionArn``. Both are translated here, top-level keys only, as AWS does.

These touch private names; :func:`check_seams` fails loudly if moto moved them.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from types import ModuleType
from typing import Any, Callable

from .expressions import Evaluator, install_direct_bindings, install_variables, unexpected_evaluation

__all__ = ["install_seams", "restore_real_time", "check_seams", "defer_moto_batch", "HistoryFeed", "LambdaRegistry",
           "LambdaContext", "FastForward", "SeamError", "TaskCallbacks"]


class SeamError(RuntimeError):
    """moto's internals no longer look as this module expects (the pinned version moved)."""


@dataclass
class LambdaContext:
    """The parts of Lambda's context object that handlers and Powertools read."""

    function_name: str
    aws_request_id: str
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = ""
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:  # noqa: D401 - Lambda's own name
        """Milliseconds left; locally a Lambda never runs out of time."""
        return 900_000


class LambdaRegistry:
    """Function name → in-process handler, consulted by the patched Lambda backend.

    Handlers are plain callables ``handler(event: dict, context: LambdaContext) -> Any``.
    """

    def __init__(self) -> None:
        self._handlers: dict[str, Callable[[Any, Any], Any]] = {}
        self._lock = threading.Lock()
        self.invocations: list[tuple[str, Any]] = []

    def register(self, function_name: str, handler: Callable[[Any, Any], Any]) -> None:
        """Run ``handler`` when ``function_name`` is invoked."""
        with self._lock:
            self._handlers[function_name] = handler

    def handler_for(self, function_name: str) -> Callable[[Any, Any], Any] | None:
        """The handler registered for a function name or ARN, if any."""
        name = function_name.split(":function:")[-1].split(":")[0]
        return self._handlers.get(name)

    def invoke(self, function_name: str, body: Any, response_headers: dict) -> bytes:
        """Call the handler like Lambda does; errors become ``{"errorType", "errorMessage"}``."""
        handler = self.handler_for(function_name)
        if handler is None:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": "ResourceNotFoundException", "errorMessage": f"no local handler for {function_name}"}).encode()
        event = json.loads(body) if body else {}
        with self._lock:
            self.invocations.append((function_name, event))
        context = LambdaContext(function_name=function_name.split(":function:")[-1], aws_request_id=str(uuid.uuid4()),
                                invoked_function_arn=function_name)
        try:
            result = handler(event, context)
        except Exception as exc:  # Lambda reports any exception as a function error
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({
                "errorType": type(exc).__name__,
                "errorMessage": str(exc),
                "stackTrace": traceback.format_exception(exc)[-3:],
            }).encode()
        return json.dumps(result).encode()


class FastForward:
    """Fast-forwards ``Wait`` states and retry back-offs; records how long was skipped (seconds)."""

    def __init__(self) -> None:
        self.skipped_seconds = 0.0
        self._lock = threading.Lock()

    def skip(self, seconds: float) -> None:
        with self._lock:
            self.skipped_seconds += max(0.0, float(seconds))


class _DeferredPackage(ModuleType):
    """A package whose ``__init__`` runs on the first attribute it is asked for (its submodules import at once)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or self.__dict__.get("_stepgraph_loaded"):
            raise AttributeError(name)
        self.__dict__["_stepgraph_loaded"] = True
        self.__spec__.loader.exec_module(self)  # type: ignore[union-attr]
        return getattr(self, name)


def defer_moto_batch() -> None:
    """Register ``moto.batch`` so that importing ``moto.batch.utils`` does not import its backends.

    moto's Step Functions interpreter imports ``moto.batch.utils`` for one enum; the package's
    ``__init__`` imports ``moto.batch.models``, which imports moto's EC2, ECS, IAM and Logs
    emulations. Here the package's ``__init__`` runs when an attribute of the package itself is
    first read (``batch_backends``, by moto's backend lookup), so a state machine that calls AWS
    Batch still reaches moto's Batch emulation. Does nothing when ``moto.batch`` is imported already.
    """
    if "moto.batch" in sys.modules:
        return
    spec = importlib.util.find_spec("moto.batch")
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:  # pragma: no cover
        raise SeamError("moto.batch is not a package; stepgraph pins moto==5.2.5")
    module = _DeferredPackage(spec.name)
    module.__spec__ = spec
    module.__loader__ = spec.loader
    module.__file__ = spec.origin
    module.__package__ = spec.name
    module.__path__ = list(spec.submodule_search_locations)
    sys.modules[spec.name] = module


class HistoryFeed:
    """Executions' history events, read in-process from moto's interpreter as they are recorded.

    The events have the shape botocore gives ``GetExecutionHistory``'s (``type`` a string,
    ``timestamp`` a timezone-aware ``datetime``, the ``*EventDetails`` keys as in the API).
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._generation = 0

    def notify(self) -> None:
        """Called by the seam whenever any execution's history grows."""
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    @property
    def generation(self) -> int:
        """A counter that grows with every event recorded (pass it to :meth:`wait`)."""
        return self._generation

    def wait(self, generation: int, timeout: float) -> None:
        """Return when an event was recorded after ``generation`` was read, or after ``timeout`` seconds."""
        with self._changed:
            self._changed.wait_for(lambda: self._generation != generation, timeout)

    @staticmethod
    def _execution(execution_arn: str) -> Any:
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        parts = execution_arn.split(":")
        if len(parts) < 8 or parts[5] != "execution":
            raise ValueError(f"not an execution ARN: {execution_arn}")
        return stepfunctions_parser_backends[parts[4]][parts[3]].describe_execution(execution_arn)

    def read(self, execution_arn: str, start: int = 0) -> tuple[str, list[dict[str, Any]]]:
        """The execution's status and its history events from index ``start`` on.

        The status is read first, so once it is terminal the events returned are all there are.

        Raises
        ------
        ValueError
            When ``execution_arn`` is not an execution ARN.
        moto.stepfunctions.exceptions.ExecutionDoesNotExist
            When the emulator has no such execution.
        """
        execution = self._execution(execution_arn)
        status = execution.exec_status.value if execution.exec_status is not None else "RUNNING"
        worker = execution.exec_worker
        env = worker.env if worker is not None else None
        if env is None:  # not started yet
            return status, []
        manager = env.event_manager
        with manager._mutex:
            fresh = manager._history_event_list[start:]
        return status, [_api_event(event) for event in fresh]


def _api_event(event: dict[str, Any]) -> dict[str, Any]:
    """One of moto's history events as botocore would give it (a shallow copy; details are not changed later)."""
    out = dict(event)
    kind = out.get("type")
    if isinstance(kind, Enum):
        out["type"] = kind.value
    stamp = out.get("timestamp")
    if isinstance(stamp, str):
        out["timestamp"] = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return out


_installed: dict[str, Any] = {}


class TaskCallbacks:
    """The three callback actions of async agent steps, sent to the embedded Step Functions.

    Success and heartbeat go through the engine's boto3 client. A failure goes to moto's
    backend directly: moto 5.2.5's ``SendTaskFailure`` response handler drops ``cause``
    (``moto/stepfunctions/responses.py``), which carries the agent's message the result
    record must show.

    Parameters
    ----------
    client:
        The engine's ``stepfunctions`` client.
    account, region:
        Where the emulated state machines live.
    """

    def __init__(self, client: Any, *, account: str, region: str):
        self.client = client
        self.account = account
        self.region = region

    def send_task_success(self, **kwargs: Any) -> None:
        self.client.send_task_success(**kwargs)

    def send_task_heartbeat(self, **kwargs: Any) -> None:
        self.client.send_task_heartbeat(**kwargs)

    def send_task_failure(self, *, taskToken: str, error: str | None = None, cause: str | None = None) -> None:  # noqa: N803 - the API's names
        from moto.stepfunctions.responses import get_backend

        get_backend(self.account, self.region).send_task_failure(taskToken, error=error, cause=cause)


def check_seams() -> None:
    """Raise :class:`SeamError` if a private moto name this module patches has moved."""
    defer_moto_batch()
    try:
        from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
        from moto.awslambda_simple.models import LambdaSimpleBackend
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
        from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata
        from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
            StateTaskServiceSfn,
        )
        from moto.stepfunctions.parser.asl.component.common.string import string_expression
        from moto.stepfunctions.parser.asl.eval import variable_store
    except ImportError as exc:  # pragma: no cover - only when moto moves
        raise SeamError(f"moto layout changed: {exc}; stepgraph pins moto==5.2.5") from exc
    problems = []
    from moto.stepfunctions.parser.asl.utils import boto_client

    if not callable(getattr(boto_client, "boto_client_for", None)) or not hasattr(boto_client, "botocore_stubber"):
        problems.append("moto.stepfunctions.parser.asl.utils.boto_client.boto_client_for")
    for name in ("_publish_history_event", "get_event_history"):
        if not hasattr(EventManager, name):
            problems.append(f"EventManager.{name}")
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    if not isinstance(AmazonStateLanguageParser.__dict__.get("parse"), staticmethod):
        problems.append("AmazonStateLanguageParser.parse")
    if not hasattr(BaseExecutionWorkerCommunication, "terminated"):
        problems.append("BaseExecutionWorkerCommunication.terminated")
    for name in ("_normalise_parameters", "_normalise_response", "_eval_service_task"):
        if not hasattr(StateTaskServiceSfn, name):
            problems.append(f"StateTaskServiceSfn.{name}")
    if not hasattr(moto_jsonata, "_eval_jsonata"):
        problems.append("moto.stepfunctions.parser.asl.jsonata.jsonata._eval_jsonata")
    if not hasattr(LambdaSimpleBackend, "invoke"):
        problems.append("LambdaSimpleBackend.invoke")
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    for name in ("_invoke_lambda_function", "_from_payload"):
        if not callable(getattr(lambda_eval_utils, name, None)):
            problems.append(f"lambda_eval_utils.{name}")
    if not hasattr(WaitFunction, "_wait_interval"):
        problems.append("WaitFunction._wait_interval")
    if not hasattr(retrier_decl, "time"):
        problems.append("retrier_decl.time")
    for name in ("StringJSONata", "StringVariableSample"):
        if not hasattr(getattr(string_expression, name, None), "_eval_body"):
            problems.append(f"string_expression.{name}._eval_body")
    if not hasattr(variable_store.VariableStore, "get") or not hasattr(variable_store, "NoSuchVariable"):
        problems.append("VariableStore.get / NoSuchVariable")
    if not hasattr(variable_store.VariableStore, "get_assigned_variables"):
        problems.append("VariableStore.get_assigned_variables")
    from moto.stepfunctions import responses as sfn_responses

    if not hasattr(sfn_responses, "get_backend"):
        problems.append("moto.stepfunctions.responses.get_backend")
    if problems:
        raise SeamError(f"moto internals moved ({', '.join(problems)}); stepgraph pins moto==5.2.5")


def restore_real_time() -> None:
    """Undo the fast-forward of ``Wait`` states and retry back-offs (when an engine closes), so a
    later emulator in the same process waits in real time again."""
    if "wait" in _installed:
        from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
        from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

        WaitFunction._wait_interval = _installed["wait"]
        retrier_decl.time = _installed["retry_time"]


def install_seams(registry: LambdaRegistry, *, fast_forward: FastForward | None,
                  history: HistoryFeed | None = None) -> None:
    """Patch moto (process-wide) so state machines run with JSONata, real handlers and fast time.

    Parameters
    ----------
    registry:
        Where Lambda invocations are dispatched.
    fast_forward:
        When given, ``Wait`` states and retry back-offs return at once and the skipped seconds
        are added to it; ``None`` keeps real time (``stepgraph run --real-time``).
    history:
        Notified whenever an execution's history grows. Default: none.

    Raises
    ------
    SeamError
        When moto's internals are not where the pinned version keeps them.
    """
    check_seams()
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction
    from moto.stepfunctions.parser.asl.jsonata import jsonata as moto_jsonata

    if "wait" not in _installed:
        _installed["wait"] = WaitFunction._wait_interval
        _installed["retry_time"] = retrier_decl.time
    evaluator = Evaluator()
    moto_jsonata._eval_jsonata = unexpected_evaluation
    install_direct_bindings(evaluator, _installed)

    def invoke(self: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any) -> bytes:
        return registry.invoke(function_name, body, response_headers)

    LambdaSimpleBackend.invoke = invoke
    _install_direct_lambda(registry)
    _install_nested_executions()
    _install_history_notice(history)
    _install_parse_cache()
    _install_client_cache()
    _install_path_cache()
    install_variables()

    if fast_forward is None:
        WaitFunction._wait_interval = _installed["wait"]
        retrier_decl.time = _installed["retry_time"]
        return

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        fast_forward.skip(wait_seconds)

    class _FastTime:
        @staticmethod
        def sleep(seconds: float) -> None:
            fast_forward.skip(seconds)
            time.sleep(min(seconds, 0.01))

        def __getattr__(self, name: str) -> Any:
            return getattr(time, name)

    WaitFunction._wait_interval = wait_interval
    retrier_decl.time = _FastTime()


#: moto's Lambda ``Invoke`` answers ``Function.ResponseSizeTooLarge`` above this (``sys.getsizeof`` of the payload).
_LAMBDA_RESPONSE_LIMIT = 6_000_000


def _install_direct_lambda(registry: LambdaRegistry) -> None:
    """Let ``lambda:invoke`` Tasks call the registry's handler without a round trip through botocore and moto.

    moto's integration serializes the request with botocore, routes it through its HTTP stubber
    to its Lambda backend (whose ``invoke`` the registry replaces) and parses the answer back:
    ~5 ms per invocation, most of a loop over tool calls. Here a synchronous invocation of a
    function the registry knows gets the same answer directly: ``{"StatusCode": 200,
    "Payload": <decoded>}``, plus ``FunctionError`` when the handler raised, and moto's
    ``Function.ResponseSizeTooLarge`` above its limit. Any other invocation (unknown function,
    ``Event`` or ``DryRun`` type) still goes through moto.
    """
    import io

    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    original = _installed.setdefault("invoke_lambda_function", lambda_eval_utils._invoke_lambda_function)

    def invoke(parameters: dict, region: str, state_credentials: Any) -> dict[str, Any]:
        name = parameters.get("FunctionName")
        if (not isinstance(name, str) or registry.handler_for(name) is None
                or parameters.get("InvocationType", "RequestResponse") != "RequestResponse"):
            return original(parameters, region, state_credentials)
        headers: dict[str, str] = {}
        payload = registry.invoke(name, parameters.get("Payload"), headers)
        if sys.getsizeof(payload) > _LAMBDA_RESPONSE_LIMIT:
            headers["x-amz-function-error"] = "Unhandled"
            payload = json.dumps({
                "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
                "errorType": "Function.ResponseSizeTooLarge",
            }).encode("utf-8")
        response: dict[str, Any] = {"StatusCode": 200, "Payload": lambda_eval_utils._from_payload(io.BytesIO(payload))}
        if "x-amz-function-error" in headers:
            response["FunctionError"] = headers["x-amz-function-error"]
        return response

    lambda_eval_utils._invoke_lambda_function = invoke


def _install_path_cache() -> None:
    """Cache moto's JSONPath parses by text (``ResultPath``, and its ``jsonpath_ng.ext`` helper)."""
    import functools

    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    for module in (result_path, json_path):
        key = f"parse:{module.__name__}"
        original = _installed.setdefault(key, module.parse)
        module.parse = functools.lru_cache(maxsize=1024)(original)  # type: ignore[attr-defined]


def _install_client_cache() -> None:
    """Let moto's interpreter reuse one boto3 client per region and service (emptied at every install)."""
    import moto.stepfunctions.parser.asl.parse.asl_parser  # noqa: F401 - imports every module that creates clients
    from moto.stepfunctions.parser.asl.utils import boto_client

    original = _installed.setdefault("boto_client_for", boto_client.boto_client_for)
    cache: dict[tuple[str, str, bool], Any] = {}
    lock = threading.Lock()

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        key = (region, service, bool(boto_client.botocore_stubber.enabled))
        with lock:
            client = cache.get(key)
            if client is None:
                client = cache[key] = original(region, service, state_credentials)
        return client

    for name, module in list(sys.modules.items()):
        if name.startswith("moto.stepfunctions.parser") and getattr(module, "boto_client_for", None) in (original, *_replaced_clients):
            module.boto_client_for = boto_client_for  # type: ignore[attr-defined]
    _replaced_clients[:] = [boto_client_for]


#: The cached ``boto_client_for`` installed last (replaced again by the next install).
_replaced_clients: list[Any] = []


def _install_history_notice(history: HistoryFeed | None) -> None:
    """Make moto tell ``history`` of every event it records and of every execution's end (``None``: nobody).

    An execution's status turns terminal *after* its last event is recorded
    (``BaseExecutionWorkerCommunication.terminated``), so a reader that saw the last event while
    the status still read ``RUNNING`` is woken once more when the status is set, instead of
    sleeping until its poll timeout.
    """
    from moto.stepfunctions.parser.asl.eval.event.event_manager import EventManager
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    original = _installed.setdefault("publish_event", EventManager._publish_history_event)
    original_terminated = _installed.setdefault("terminated", BaseExecutionWorkerCommunication.terminated)
    if history is None:
        EventManager._publish_history_event = original
        BaseExecutionWorkerCommunication.terminated = original_terminated
        return

    def publish(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        history.notify()

    def terminated(self: Any) -> None:
        try:
            original_terminated(self)
        finally:
            history.notify()

    EventManager._publish_history_event = publish
    BaseExecutionWorkerCommunication.terminated = terminated


def _install_parse_cache() -> None:
    """Parse each state machine definition with ANTLR once, not at every execution.

    moto parses the definition text at ``CreateStateMachine`` and again at every execution
    start (``ExecutionWorker._get_evaluation_entrypoint``): the ANTLR lexer and parser, in pure
    Python, take 20-40 ms for a 10-state machine, most of a warm local run. The parse tree is
    cached by the definition's text (bounded, least recently used first out); the evaluation
    components are still built anew from it for every call (moto's ``Preprocessor``, ~1 ms), so
    no execution shares state with another. Syntax errors are not cached.
    """
    import functools

    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

    original = _installed.setdefault("asl_parse", AmazonStateLanguageParser.__dict__["parse"].__func__)
    parse_tree = functools.lru_cache(maxsize=256)(lambda definition: original(definition)[1])

    def parse(definition: str) -> tuple[Any, Any]:
        tree = parse_tree(definition)
        return Preprocessor().visit(tree), tree

    AmazonStateLanguageParser.parse = staticmethod(parse)  # type: ignore[method-assign]


def _pascal_keys(value: Any) -> None:
    """Top-level keys of a botocore answer in the Step Functions integration's PascalCase; dates as epoch ms."""
    from datetime import datetime

    if not isinstance(value, dict):
        return
    for key in list(value):
        new = key[:1].upper() + key[1:]
        item = value.pop(key)
        value[new] = int(item.timestamp() * 1000) if isinstance(item, datetime) else item


def _install_nested_executions() -> None:
    """Close the gaps of moto's ``states:startExecution`` integration (see the module docstring)."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn import (
        StateTaskServiceSfn,
    )

    if "sfn_parameters" in _installed:
        return
    _installed["sfn_parameters"] = StateTaskServiceSfn._normalise_parameters
    _installed["sfn_eval"] = StateTaskServiceSfn._eval_service_task
    import botocore.session

    model = botocore.session.get_session().get_service_model("stepfunctions")

    def normalise_parameters(self: Any, parameters: dict, boto_service_name: Any = None, service_action_name: Any = None) -> None:
        _installed["sfn_parameters"](self, parameters, boto_service_name, service_action_name)
        action = service_action_name or self.resource.api_action
        operation = model.operation_model(action[:1].upper() + action[1:])
        members = {m.lower(): m for m in operation.input_shape.members}
        for key in list(parameters):
            if key.lower() in members and members[key.lower()] != key:
                parameters[members[key.lower()]] = parameters.pop(key)

    def normalise_response(self: Any, response: Any, boto_service_name: Any = None, service_action_name: Any = None) -> None:
        _pascal_keys(response)

    def eval_service_task(self: Any, env: Any, *args: Any, **kwargs: Any) -> None:
        _installed["sfn_eval"](self, env, *args, **kwargs)
        _pascal_keys(env.stack[-1])

    StateTaskServiceSfn._normalise_parameters = normalise_parameters
    StateTaskServiceSfn._normalise_response = normalise_response
    StateTaskServiceSfn._eval_service_task = eval_service_task
