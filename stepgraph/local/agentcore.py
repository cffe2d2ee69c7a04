"""Agents served from their folders on loopback, behind an emulated AgentCore data plane.

Each agent of ``agents/<agent_id>/`` runs as its own process (``python <entrypoint>`` with
``PORT`` set), speaking its real HTTP contract: ``POST /invocations``, ``GET /ping`` (FIELD-NOTES
"Bedrock AgentCore Runtime"). A small gateway answers botocore's ``InvokeAgentRuntime`` request
(``POST /runtimes/{agentRuntimeArn}/invocations``) and forwards it to the agent behind the ARN,
streaming the body back unchanged — so ``lambdas/invoke_agent`` runs locally exactly as deployed,
with ``AWS_ENDPOINT_URL_BEDROCK_AGENTCORE`` pointing at the gateway.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterable

from stepgraph_runtime import env as env_names

from ..agents import AgentSpec
from ..exceptions import StepgraphError
from . import sockets

__all__ = ["AgentProcess", "AgentCoreGateway", "local_runtime_arn", "AgentStartError"]

SESSION_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
USER_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-User-Id"
#: The Step Functions actions an async agent calls (JSON protocol 1.0, ``X-Amz-Target: AWSStepFunctions.<action>``),
#: by action → the boto3 method and its parameters.
CALLBACK_ACTIONS = {
    "SendTaskSuccess": ("send_task_success", ("taskToken", "output")),
    "SendTaskFailure": ("send_task_failure", ("taskToken", "error", "cause")),
    "SendTaskHeartbeat": ("send_task_heartbeat", ("taskToken",)),
}
#: How long an agent may take to answer ``GET /ping`` after start (AgentCore allows 30 s).
STARTUP_SECONDS = 30.0


#: Runs an entrypoint with its uvicorn server bound to 127.0.0.1 (see its module docstring).
LAUNCHER = Path(__file__).with_name("agent_launcher.py")


class AgentStartError(StepgraphError):
    """An agent process did not come up (it exited, did not answer ``/ping`` in time, or listened beyond loopback)."""


def local_runtime_arn(agent_id: str, *, region: str = "us-east-1", account: str = "123456789012") -> str:
    """The ARN a local run gives an agent's runtime (the shape AgentCore uses)."""
    return f"arn:aws:bedrock-agentcore:{region}:{account}:runtime/{agent_id}-local"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class AgentProcess:
    """One agent served from its folder on ``127.0.0.1:<port>``.

    Parameters
    ----------
    spec:
        The agent.
    env:
        Extra environment variables for the process (credentials are *not* passed on: a local
        agent gets no AWS access unless the caller adds it).
    log_dir:
        Folder for the agent's stdout/stderr (``<agent_id>.log``).
    """

    def __init__(self, spec: AgentSpec, *, env: dict[str, str] | None = None, log_dir: Path | None = None):
        self.spec = spec
        self.port = _free_port()
        self.env = env or {}
        self.log_dir = log_dir
        self.process: subprocess.Popen[bytes] | None = None
        #: True once ``GET /ping`` answered and the listening sockets were checked.
        self.ready = False
        self._log: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the process (:meth:`launch`) and wait until it is ready (:meth:`wait_ready`)."""
        self.launch()
        self.wait_ready()

    def launch(self) -> None:
        """Start the process and return at once (it is not ready yet; see :meth:`wait_ready`)."""
        if self.process is not None:
            return
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NOVA_ACT_API_KEY"))}
        env.update(self.spec.environment)
        env.update(self.env)
        env.update({"PORT": str(self.port), "PYTHONUNBUFFERED": "1", "AWS_REGION": "us-east-1",
                    "AWS_EC2_METADATA_DISABLED": "true"})
        env.pop("DOCKER_CONTAINER", None)  # not a container; the launcher binds 127.0.0.1 anyway
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_dir / f"{self.spec.agent_id}.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, str(LAUNCHER), self.spec.entrypoint], cwd=self.spec.path, env=env,
            stdout=self._log or subprocess.DEVNULL, stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> None:
        """Wait until ``GET /ping`` answers on 127.0.0.1, then check the process listens on loopback only.

        The entrypoint runs under :data:`LAUNCHER`, which binds its uvicorn server to
        127.0.0.1 whatever the environment (the AgentCore SDK would bind 0.0.0.0 when
        ``/.dockerenv`` exists). Once it answers, every TCP socket its process tree listens
        on is read from ``/proc``; one on another address stops the agent.

        Raises
        ------
        AgentStartError
            When the process exits, does not answer within 30 s, or listens on an address
            other than loopback (it is stopped first).
        """
        if self.ready:
            return
        self.launch()
        assert self.process is not None
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                where = f"; see {self.log_dir / (self.spec.agent_id + '.log')}" if self.log_dir else ""
                raise AgentStartError(f"agent {self.spec.agent_id} exited with code {self.process.returncode} while starting{where}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", "/ping")
                if conn.getresponse().status == 200:
                    self._check_loopback_only()
                    self.ready = True
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise AgentStartError(f"agent {self.spec.agent_id} did not answer GET /ping within {STARTUP_SECONDS:.0f} s")

    def _check_loopback_only(self) -> None:
        """Stop the agent and raise :class:`AgentStartError` when it listens beyond loopback."""
        assert self.process is not None
        if not sockets.can_inspect():
            return  # no /proc (macOS): the launcher's binding is all there is
        exposed = sockets.non_loopback_listeners(self.process.pid)
        if exposed:
            self.stop()
            where = ", ".join(f"{host}:{port}" for _, host, port in exposed)
            raise AgentStartError(
                f"agent {self.spec.agent_id} listens on {where}; a local agent may listen on 127.0.0.1 only "
                "(bind 127.0.0.1, or leave the host to BedrockAgentCoreApp.run / uvicorn); it was stopped"
            )

    @property
    def alive(self) -> bool:
        """True while the process runs."""
        return self.process is not None and self.process.poll() is None

    def terminate(self) -> None:
        """Ask the process to stop (SIGTERM) without waiting; :meth:`stop` then waits."""
        if self.process and self.process.poll() is None:
            self.process.terminate()

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 5 s)."""
        if self.process and self.process.poll() is None:
            self.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.ready = False
        if self._log:
            self._log.close()
            self._log = None


class AgentCoreGateway:
    """Emulates AgentCore's ``InvokeAgentRuntime`` on loopback and forwards to agent processes.

    Agents start on their first invocation (or earlier, with :meth:`launch`) and stay up until :meth:`stop`.

    It also answers the three Step Functions callback actions an async agent sends
    (``SendTaskSuccess``/``SendTaskFailure``/``SendTaskHeartbeat``, botocore's JSON protocol on
    ``POST /``) by passing them to :attr:`callbacks`, the engine's client of the embedded
    emulator: agents are separate processes, the emulator lives in the engine's. Agents reach it
    through ``AWS_ENDPOINT_URL_SFN`` (:meth:`callback_env`). ``StopRuntimeSession`` is answered
    too, and recorded in :attr:`stopped_sessions`.

    Parameters
    ----------
    agents:
        Agents by runtime ARN.
    env:
        Extra environment for the agent processes.
    log_dir:
        Folder for the agents' logs.
    """

    def __init__(self, agents: dict[str, AgentSpec], *, env: dict[str, str] | None = None, log_dir: Path | None = None):
        self.agents = dict(agents)
        self.env = env or {}
        self.log_dir = log_dir
        self.processes: dict[str, AgentProcess] = {}
        #: Optional admission hook ``(runtime_arn, payload bytes) -> (status, error_type, message) | None``:
        #: answer an invocation the way AgentCore would when it refuses one (throttling, say).
        self.before_invoke: Callable[[str, bytes], tuple[int, str, str] | None] | None = None
        #: The ``stepfunctions`` client the callback actions go to (set by the engine).
        self.callbacks: Any = None
        #: Every callback action received: ``(action, task token)``, in order.
        self.callback_log: list[tuple[str, str]] = []
        #: ``(runtime ARN, session id)`` of every ``StopRuntimeSession`` received.
        self.stopped_sessions: list[tuple[str, str]] = []
        #: ``(runtime ARN, session id, user id, traceparent)`` of every invocation, in order.
        self.invocations: list[tuple[str, str, str | None, str | None]] = []
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        # polls for shutdown every 50 ms (serve_forever's default, 0.5 s, is what stop() would wait)
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="agentcore-gateway", daemon=True)

    @property
    def endpoint_url(self) -> str:
        """Value for ``AWS_ENDPOINT_URL_BEDROCK_AGENTCORE``."""
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def callback_env(self) -> dict[str, str]:
        """What an agent process needs to reach the callback actions: ``AWS_ENDPOINT_URL_SFN``."""
        return {env_names.AWS_ENDPOINT_URL_SFN: self.endpoint_url}

    def start(self) -> "AgentCoreGateway":
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the gateway and every agent process (all are signalled first, then each is waited for)."""
        for process in self.processes.values():
            process.terminate()
        self.server.shutdown()
        self.server.server_close()
        for process in self.processes.values():
            process.stop()

    def launch(self, agent_ids: Iterable[str]) -> None:
        """Start the processes of these agents now, without waiting for them to be ready.

        Their first invocation then waits only for what is left of their start-up, which
        overlaps whatever the caller does meanwhile (the engine's own start-up). An agent that
        fails to start fails that first invocation, as a lazily started one would. Unknown ids
        are ignored.
        """
        wanted = set(agent_ids)
        with self._lock:
            for arn, spec in self.agents.items():
                if spec.agent_id in wanted and arn not in self.processes:
                    process = AgentProcess(spec, env=self.env, log_dir=self.log_dir)
                    process.launch()
                    self.processes[arn] = process

    def process_for(self, arn: str) -> AgentProcess:
        """The running process behind a runtime ARN, started on first use and restarted when it died.

        A process that exited (crashed, killed) is replaced on the next invocation; the
        invocation during which it died has already failed (``AGENT_ERROR``).

        Raises
        ------
        KeyError
            When no agent has that ARN.
        AgentStartError
            When the agent does not start.
        """
        with self._lock:
            dead = self.processes.get(arn)
            if dead is not None and not dead.alive:
                dead.stop()  # closes its log
                del self.processes[arn]
            if arn not in self.processes:
                self.processes[arn] = AgentProcess(self.agents[arn], env=self.env, log_dir=self.log_dir)
            process = self.processes[arn]
            try:
                process.wait_ready()
            except AgentStartError:
                process.stop()  # closes its log
                del self.processes[arn]
                raise
            return process

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep the console for step events
                pass

            def _error(self, status: int, code: str, message: str) -> None:
                body = json.dumps({"message": message}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("x-amzn-ErrorType", code)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _json(self, document: dict[str, Any], content_type: str = "application/x-amz-json-1.0") -> None:
                body = json.dumps(document).encode()
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _callback(self, action: str, payload: bytes) -> None:
                """One Step Functions callback action, passed to the embedded emulator."""
                if action not in CALLBACK_ACTIONS or gateway.callbacks is None:
                    return self._error(400, "UnknownOperationException", f"this endpoint answers only {sorted(CALLBACK_ACTIONS)}")
                method, names = CALLBACK_ACTIONS[action]
                try:
                    request = json.loads(payload or b"{}")
                except ValueError:
                    return self._error(400, "SerializationException", "the request body is not JSON")
                gateway.callback_log.append((action, str(request.get("taskToken"))))
                try:
                    getattr(gateway.callbacks, method)(**{k: request[k] for k in names if k in request})
                except Exception as exc:  # botocore ClientError from the emulator: same code back
                    error = getattr(exc, "response", {}).get("Error", {})
                    code = error.get("Code") or getattr(exc, "code", None) or type(exc).__name__
                    return self._error(400, str(code), str(error.get("Message") or exc))
                self._json({})

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                parsed = urllib.parse.urlparse(self.path)
                parts = parsed.path.split("/")
                length = int(self.headers.get("Content-Length") or 0)
                payload = self.rfile.read(length)
                target = self.headers.get("X-Amz-Target", "")
                if parsed.path == "/" and target.startswith("AWSStepFunctions."):
                    return self._callback(target.split(".", 1)[1], payload)
                if len(parts) == 4 and parts[1] == "runtimes" and parts[3] == "stopruntimesession":
                    arn = urllib.parse.unquote(parts[2])
                    gateway.stopped_sessions.append((arn, self.headers.get(SESSION_HEADER, "")))
                    return self._json({"runtimeSessionId": self.headers.get(SESSION_HEADER, "")}, "application/json")
                if len(parts) != 4 or parts[1] != "runtimes" or parts[3] != "invocations":
                    return self._error(404, "UnknownOperationException", f"no route {parsed.path}")
                arn = urllib.parse.unquote(parts[2])
                if arn not in gateway.agents:
                    return self._error(404, "ResourceNotFoundException", f"no agent runtime {arn}")
                gateway.invocations.append((arn, self.headers.get(SESSION_HEADER, ""), self.headers.get(USER_HEADER),
                                            self.headers.get("traceparent")))
                refusal = gateway.before_invoke(arn, payload) if gateway.before_invoke else None
                if refusal is not None:
                    return self._error(*refusal)
                try:
                    process = gateway.process_for(arn)
                except AgentStartError as exc:
                    return self._error(424, "RuntimeClientError", str(exc))
                session = self.headers.get(SESSION_HEADER, "")
                conn = http.client.HTTPConnection("127.0.0.1", process.port, timeout=900)
                try:
                    conn.request("POST", "/invocations", body=payload, headers={
                        "Content-Type": self.headers.get("Content-Type", "application/json"),
                        "Accept": self.headers.get("Accept", "application/json, text/event-stream"),
                        SESSION_HEADER: session,
                    })
                    upstream = conn.getresponse()
                except OSError as exc:  # 424 as AgentCore answers a failed runtime: not retried by botocore
                    exited = "" if process.alive else f" (its process exited with code {process.process.returncode}; restarted on the next invocation)"
                    return self._error(424, "RuntimeClientError", f"agent {gateway.agents[arn].agent_id} did not answer: {exc}{exited}")
                if upstream.status >= 400:
                    body = upstream.read()
                    return self._error(424 if upstream.status >= 500 else 400, "RuntimeClientError",
                                       f"agent returned HTTP {upstream.status}: {body[:500].decode('utf-8', 'replace')}")
                self.send_response(200)
                self.send_header("Content-Type", upstream.getheader("Content-Type", "application/json"))
                self.send_header(SESSION_HEADER, session)
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                complete = self._forward(upstream)
                conn.close()
                if complete:
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    # Cut short upstream: cut short here too. No terminating chunk, and the
                    # connection closes, so botocore sees the body end early (as from AgentCore)
                    # and the invoker reports AGENT_ERROR instead of a truncated success.
                    self.close_connection = True

            def _forward(self, upstream: http.client.HTTPResponse) -> bool:
                """Relay the agent's body as chunks; ``False`` when the agent's answer ended before its end."""
                while True:
                    try:
                        chunk = upstream.read1(65536)
                    except (http.client.IncompleteRead, OSError):
                        return False
                    if not chunk:
                        # http.client signals a Content-Length body that ended early by returning
                        # b"" with bytes still expected (a chunked one raises IncompleteRead).
                        return not (upstream.length or 0)
                    self.wfile.write(f"{len(chunk):X}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.flush()

        return Handler
