"""Convert elevAIte workflow-engine documents into stepgraph workflow documents (``stepgraph import elevaite``).

Written from elevAIte's published engine, its workflow-core-sdk (repository
``ottobonilla95/elevaite-test``, folder ``python_packages/workflow-core-sdk/workflow_core_sdk/``):

- ``schemas/workflows.py``: ``WorkflowConfig`` (``name``, ``steps``) and ``StepBase``
  (``step_id``, ``step_type``, ``name``, ``dependencies``, ``input_mapping``, ``parameters``,
  ``config``, ``step_order``, ``critical``, ``timeout_seconds``, ``max_retries`` = 3,
  ``retry_strategy``, ``retry_delay_seconds``, ``conditions``, ``position``), ``TriggerParameters``
  and ``CronSchedule``, ``InputStepConfig``, ``MergeStepConfig``, ``PromptStepConfig``;
- ``execution/context_impl.py``: step ids of unnamed steps (slugified ``name``), the
  dependency graph, ``get_step_input_data`` (``input_mapping`` paths ``"<step>.<field>..."``);
- ``execution/engine_impl.py``: ``_create_retry_config`` (``max_attempts = max_retries + 1``)
  and ``_should_execute_step`` (``conditions`` gate a step; its dependants wait for it);
- ``steps/``: ``trigger_steps.py``, ``input_steps.py``, ``data_steps.py`` (``data_input``,
  ``data_processing``, ``data_merge``, ``delay``), ``merge_steps.py``, ``output_steps.py``,
  ``prompt_steps.py``, ``ai_steps.py`` (``agent_execution``: ``agent_name``, ``system_prompt``,
  ``query`` with ``{{var}}``/``{var}`` placeholders), ``tool_steps.py`` (``tool_name``,
  ``param_mapping``, ``static_params``; output ``{"result": ...}``), ``human_steps.py``
  (``prompt``, ``approver_role``, ``timeout_seconds``; decision ``approved``/``denied``),
  ``flow_steps.py`` (``subflow``: ``workflow_id``, ``input_mapping``, ``output_mapping``);
- ``step_registry.py``: the built-in step types, RAG ones included (``file_reader``,
  ``text_chunking``, ``embedding_generation``, ``vector_storage``, ``vector_search``, ``ingestion``).

The dependency graph becomes stepgraph's successor graph (SPEC §3): one ``trigger`` entry
(added when the document has none), then the steps in dependency order; steps that become
ready together run as the branches of a ``parallel``; a step with ``conditions`` runs behind a
``condition`` step; an approval's decision routes to ``next_steps``/``else_steps``. Each step's
output keeps the shape elevAIte gave it, so ``input_mapping`` paths still find their fields.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from ..exceptions import StepgraphError
from ..loader import read_document
from .elevaite_expr import (
    Comparison, agent_id, parse_conditions, render_condition, schedule_parameters, slug_id, tool_name, workflow_name,
)
from .skeleton import AgentSkeleton

__all__ = [
    "ConversionWarning", "ElevaiteConversion", "ElevaiteImportError", "convert_elevaite",
    "read_elevaite_documents", "import_elevaite_files", "write_conversion",
]

_RAG = ("file_reader", "text_chunking", "embedding_generation", "vector_storage", "vector_search", "ingestion")
_RETRYABLE = ("agent_execution", "agent", "tool_execution", "subflow")
_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MAX_AGENT_SECONDS = 900


class ElevaiteImportError(StepgraphError):
    """A document that cannot be read as an elevAIte workflow at all (no steps, a dependency cycle, …)."""


@dataclass(frozen=True)
class ConversionWarning:
    """A construct the converter could not carry over.

    Attributes
    ----------
    step_id:
        The step's id in the converted workflow (``None`` for the document itself).
    construct:
        What it is, e.g. ``"step_type vector_search"`` or ``"conditions"``.
    message:
        What happened to it.
    action:
        What to do about it.
    """

    step_id: str | None
    construct: str
    message: str
    action: str

    def to_dict(self) -> dict[str, Any]:
        """``{"step_id", "construct", "message", "action"}``."""
        return {"step_id": self.step_id, "construct": self.construct, "message": self.message, "action": self.action}

    def __str__(self) -> str:
        where = f"step '{self.step_id}'" if self.step_id else "workflow"
        return f"{where}: {self.construct}: {self.message}; {self.action}"


@dataclass
class ElevaiteConversion:
    """One converted document.

    Attributes
    ----------
    source_name:
        The document's ``name`` in elevAIte.
    workflow:
        The stepgraph workflow document (JSON-ready).
    agents:
        Agent folders to write, by agent id.
    warnings:
        Constructs that could not be converted (the document still validates; each unconverted
        step became a pass-through ``data_transform`` noted here).
    notes:
        Decisions a reader should know of (defaults chosen, behaviour that differs slightly).
    subflows:
        Names of the workflows its ``subflow`` steps start.
    """

    source_name: str
    workflow: dict[str, Any]
    agents: dict[str, AgentSkeleton] = field(default_factory=dict)
    warnings: list[ConversionWarning] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    subflows: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The converted workflow's name."""
        return str(self.workflow["name"])

    @property
    def complete(self) -> bool:
        """True when every construct was converted (no warnings)."""
        return not self.warnings


@dataclass
class _Src:
    """One elevAIte step as read."""

    orig: str
    new: str
    raw: dict
    type: str
    deps: list
    index: int
    display: str | None

    def cfg(self, key: str, default: Any = None) -> Any:
        """A setting from ``config``, else from ``parameters`` (elevAIte reads both, depending on the step)."""
        for block in ("config", "parameters"):
            value = self.raw.get(block) or {}
            if isinstance(value, dict) and key in value:
                return value[key]
        return default


class _Stage:
    """A piece of the converted sequence: ``entry`` step id; ``connect(target)`` wires its exits."""

    def __init__(self, entry: str, connect: Callable[[str | None], None]):
        self.entry = entry
        self.connect = connect


class _Converter:
    def __init__(self, document: dict, workflow_names: dict[str, str]):
        self.doc = document
        self.workflow_names = workflow_names
        self.warnings: list[ConversionWarning] = []
        self.notes: list[str] = []
        self.agents: dict[str, AgentSkeleton] = {}
        self.subflows: list[str] = []
        self.out: dict[str, dict] = {}
        self.order: list[str] = []  # new ids in output order
        self.par_of: dict[str, str] = {}  # orig id -> parallel step id (new)
        self.used: set[str] = {"trigger"}

    # ------------------------------------------------------------------ helpers

    def warn(self, step: str | None, construct: str, message: str, action: str) -> None:
        self.warnings.append(ConversionWarning(step, construct, message, action))

    def unique(self, base: str) -> str:
        candidate, n = base[:64], 2
        while candidate in self.used:
            suffix = f"_{n}"
            candidate, n = base[: 64 - len(suffix)] + suffix, n + 1
        self.used.add(candidate)
        return candidate

    def emit(self, step: dict) -> dict:
        self.out[step["step_id"]] = step
        self.order.append(step["step_id"])
        return step

    # ------------------------------------------------------------------ reading

    def read(self) -> None:
        raw_steps = self.doc.get("steps")
        if not isinstance(raw_steps, list) or not raw_steps:
            raise ElevaiteImportError(f"elevAIte document {self.doc.get('name')!r}: 'steps' must be a non-empty list")
        self.src: dict[str, _Src] = {}
        seen: set[str] = set()
        for index, raw in enumerate(raw_steps):
            if not isinstance(raw, dict) or not isinstance(raw.get("step_type"), str):
                raise ElevaiteImportError(f"elevAIte document {self.doc.get('name')!r}: steps[{index}] is not an object with a step_type")
            stype = raw["step_type"]
            display = raw.get("name") or raw.get("step_name")
            orig = raw.get("step_id")
            if not orig:  # elevAIte's own rule (ExecutionContext._normalize_steps)
                orig = "trigger" if stype == "trigger" else slug_id(display or f"{stype}_{index + 1}")
                base, n = orig, 2
                while orig in seen:
                    orig, n = f"{base}_{n}", n + 1
            if orig in seen:
                raise ElevaiteImportError(f"elevAIte document {self.doc.get('name')!r}: step_id {orig!r} appears twice")
            seen.add(orig)
            deps = raw.get("dependencies", raw.get("depends_on")) or []
            if not isinstance(deps, list):
                raise ElevaiteImportError(f"step {orig!r}: dependencies must be a list of step ids")
            first_trigger = stype == "trigger" and not any(s.type == "trigger" for s in self.src.values())
            new = "trigger" if first_trigger else self.unique(slug_id(display or orig))
            self.src[orig] = _Src(orig, new, raw, stype, [str(d) for d in deps], index, display)
        for s in self.src.values():
            unknown = [d for d in s.deps if d not in self.src]
            for dep in unknown:
                self.warn(s.new, "dependencies", f"names unknown step {dep!r}", "the dependency was dropped; check the document")
            s.deps = [d for d in s.deps if d in self.src and d != s.orig]

    def topo(self) -> list[str]:
        """Dependency order, ties broken by ``step_order`` then document order (elevAIte's sequential order)."""
        pending = {k: set(s.deps) for k, s in self.src.items()}
        key = lambda k: (self.src[k].raw.get("step_order") if isinstance(self.src[k].raw.get("step_order"), int) else 10**9, self.src[k].index)  # noqa: E731
        order: list[str] = []
        while pending:
            ready = sorted((k for k, deps in pending.items() if not deps), key=key)
            if not ready:
                raise ElevaiteImportError(
                    f"elevAIte document {self.doc.get('name')!r}: the dependencies form a cycle among {sorted(pending)}")
            order.append(ready[0])
            del pending[ready[0]]
            for deps in pending.values():
                deps.discard(ready[0])
        return order

    # ------------------------------------------------------------------ references

    def is_trigger(self, orig: str) -> bool:
        return self.src[orig].type == "trigger"

    def adapt(self, s: _Src, path: list[str]) -> list[str] | None:
        """An elevAIte output path of step ``s`` as a path into the converted step's output."""
        if s.type == "tool_execution":
            if not path:
                return []
            return path[1:] if path[0] == "result" else None
        if s.type == "human_approval":
            names = {"decision": "decision", "decided_by": "approver", "comment": "comment"}
            if not path:
                return []
            return [names[path[0]], *path[1:]] if path[0] in names else None
        if s.type == "subflow":
            if not path:
                return []
            return path[1:] if path[0] == "subflow_output" else None
        return path

    def ref(self, orig: str, path: list[str], user: str) -> str | None:
        """``{{...}}`` for output ``path`` of elevAIte step ``orig``, read by step ``user`` (new id)."""
        s = self.src[orig]
        if not all(_SEGMENT.match(p) for p in path):
            return None
        if self.is_trigger(orig):
            return "{{" + ".".join(["trigger", *path]) + "}}"
        adapted = self.adapt(s, path)
        if adapted is None:
            self.warn(user, "input_mapping", f"reads '{'.'.join([orig, *path])}', a field the converted {s.type} step does not output",
                      f"read steps.{s.new}.output instead (a tool step's value is its 'result')")
            return None
        base = ["steps", self.par_of[orig], "output", s.new] if orig in self.par_of else ["steps", s.new, "output"]
        return "{{" + ".".join([*base, *adapted]) + "}}"

    def resolve(self, spec: Any, user: _Src, inputs: dict[str, str] | None = None) -> str | None:
        """A template for an elevAIte dotted path (``input_mapping`` value, ``param_mapping`` path, variable source)."""
        if not isinstance(spec, str) or not spec:
            return None
        parts = spec.split(".")
        head, rest = parts[0], parts[1:]
        if inputs is not None and head in inputs and inputs[head]:
            inner = inputs[head][2:-2]
            return "{{" + ".".join([inner, *rest]) + "}}" if all(_SEGMENT.match(p) for p in rest) else None
        if head in self.src:
            if head not in self.ancestors(user.orig):
                self.notes.append(f"step '{user.new}' reads step '{self.src[head].new}', which is not among its dependencies; "
                                  "it reads null when that step has not run yet")
            return self.ref(head, rest, user.new)
        if head in ("trigger", "input") and all(_SEGMENT.match(p) for p in rest):
            return "{{" + ".".join([head, *rest]) + "}}"
        return None

    def ancestors(self, orig: str) -> set[str]:
        found: set[str] = set()
        stack = list(self.src[orig].deps)
        while stack:
            dep = stack.pop()
            if dep not in found:
                found.add(dep)
                stack.extend(self.src[dep].deps)
        return found

    def inputs(self, s: _Src) -> dict[str, str]:
        """The step's ``input_mapping`` as ``{key: template}`` (unresolvable entries are warned about and left out)."""
        mapping = s.raw.get("input_mapping")
        if not mapping and s.type != "subflow":  # a subflow's config.input_mapping maps the child's input
            mapping = s.cfg("input_mapping")
        result: dict[str, str] = {}
        for key, spec in (mapping or {}).items():
            template = self.resolve(spec, s)
            if template is None:
                self.warn(s.new, "input_mapping", f"'{key}': {spec!r} names no step output of the document",
                          "map it by hand in the step's parameters")
                continue
            result[str(key)] = template
        return result

    def placeholders(self, text: Any, s: _Src, names: dict[str, str]) -> Any:
        """``{{var}}``/``{var}`` placeholders (elevAIte's query and prompt syntax) as stepgraph templates."""
        if not isinstance(text, str):
            return text

        def swap(match: re.Match) -> str:
            name = match.group(1) or match.group(2)
            if name in names:
                return names[name]
            if name in ("current_message", "messages", "attachments"):
                return "{{trigger." + name + "}}"
            if match.group(1) and "." in name:
                template = self.resolve(name, s)
                if template:
                    return template
            self.warn(s.new, "placeholder", f"{match.group(0)!r} names no mapped input", "map the value in input_mapping or write it out")
            return match.group(0)

        return _PLACEHOLDER.sub(swap, text)

    # ------------------------------------------------------------------ conditions

    def condition_operand(self, left: str) -> str | None:
        parts = left.split(".")
        head, rest = parts[0], parts[1:]
        if head in self.src:
            if rest and rest[0] == "output":
                rest = rest[1:]
            elif rest and rest[0] in ("status", "error", "execution_time_ms"):
                return None
            if not self.is_trigger(head):
                adapted = self.adapt(self.src[head], rest)
                if adapted is None or not all(_SEGMENT.match(p) for p in rest):
                    return None
            return self.ref(head, rest, "")
        if head == "input" and all(_SEGMENT.match(p) for p in rest):
            return "{{" + left + "}}"
        return None

    def condition_value(self, left: str, value: Any) -> Any:
        head = left.split(".")[0]
        if head in self.src and self.src[head].type == "human_approval" and left.endswith("decision") and value == "denied":
            return "rejected"  # stepgraph's word for elevAIte's 'denied'
        return value

    def routing(self, s: _Src) -> tuple[str, str] | None:
        """``(approval orig id, 'approved'|'denied')`` when ``s`` runs only on an approval's decision."""
        if s.raw.get("conditions") in (None, "", [], {}):
            return None
        try:
            tree = parse_conditions(s.raw["conditions"])
        except ValueError:
            return None
        if not isinstance(tree, Comparison):
            return None
        parts = tree.left.split(".")
        if parts[0] not in s.deps or self.src[parts[0]].type != "human_approval":
            return None
        if [p for p in parts[1:] if p != "output"] != ["decision"] or tree.right not in ("approved", "denied"):
            return None
        if tree.op == "==":
            return parts[0], tree.right
        if tree.op == "!=":
            return parts[0], "denied" if tree.right == "approved" else "approved"
        return None

    # ------------------------------------------------------------------ structure

    def gated(self, orig: str) -> bool:
        return self.src[orig].raw.get("conditions") not in (None, "", [], {}) and self.routing(self.src[orig]) is None

    def region(self, seeds: list[str], remaining: list[str], base: set[str]) -> list[str]:
        """``seeds`` and the steps of ``remaining`` that depend only on them (and on ``base``), in order."""
        members = set(seeds)
        for orig in remaining:
            deps = set(self.src[orig].deps)
            if orig not in members and deps & members and deps <= base | members:
                members.add(orig)
        return [o for o in remaining if o in members]

    def build(self, members: list[str], done: set[str], ungated: frozenset = frozenset()) -> list[_Stage]:
        stages: list[_Stage] = []
        remaining = list(members)
        done = set(done)
        while remaining:
            ready = [o for o in remaining if set(self.src[o].deps) <= done] or [remaining[0]]
            special = lambda o: (self.gated(o) and o not in ungated) or self.src[o].type == "human_approval"  # noqa: E731
            plain = [o for o in ready if not special(o)]
            if len(plain) >= 2:
                stages.append(self.parallel_stage(plain))
                taken = plain
            elif plain:
                stages.append(self.single_stage(plain[0]))
                taken = plain
            elif self.src[ready[0]].type == "human_approval" and not (self.gated(ready[0]) and ready[0] not in ungated):
                stage, taken = self.approval_stage(ready[0], remaining, done)
                stages.append(stage)
            else:
                stage, taken = self.condition_stage(ready[0], remaining, done, ungated)
                stages.append(stage)
            done |= set(taken)
            remaining = [o for o in remaining if o not in taken]
        return stages

    def single_stage(self, orig: str) -> _Stage:
        step = self.convert(self.src[orig])

        def connect(target: str | None) -> None:
            if target:
                step["next_steps"] = [target]

        return _Stage(step["step_id"], connect)

    def parallel_stage(self, origs: list[str]) -> _Stage:
        par_id = self.unique("fan_out")
        par = self.emit({"step_id": par_id, "step_type": "parallel", "parameters": {},
                         "next_steps": [self.src[o].new for o in origs]})
        for orig in origs:
            self.par_of[orig] = par_id
            self.convert(self.src[orig])

        def connect(target: str | None) -> None:
            if target:
                par["parameters"]["join"] = target

        return _Stage(par_id, connect)

    def condition_stage(self, orig: str, remaining: list[str], done: set[str], ungated: frozenset) -> tuple[_Stage, list[str]]:
        s = self.src[orig]
        region = self.region([orig], remaining, done)
        cond_id = self.unique(f"if_{s.new}")
        try:
            condition = render_condition(parse_conditions(s.raw["conditions"]), self.condition_operand, self.condition_value)
        except ValueError as exc:
            self.warn(s.new, "conditions", f"{exc}", "write the condition by hand in step '" + cond_id + "' (it is 'true' for now)")
            condition = "true"
        cond = self.emit({"step_id": cond_id, "step_type": "condition", "parameters": {"condition": condition},
                          "name": f"conditions of {s.display or s.orig}"})
        inner = self.build(region, done, ungated | {orig})
        self.warn_outside(region, remaining, f"the conditions of step '{s.new}'")

        def connect(target: str | None) -> None:
            cond["next_steps"] = [self.link(inner, target)]
            if target:
                cond["else_steps"] = [target]

        return _Stage(cond_id, connect), region

    def approval_stage(self, orig: str, remaining: list[str], done: set[str]) -> tuple[_Stage, list[str]]:
        approval = self.convert(self.src[orig])
        base = done | {orig}
        rest = [o for o in remaining if o != orig]
        routed = {"approved": [], "denied": []}
        for o in rest:
            route = self.routing(self.src[o])
            if route and route[0] == orig and set(self.src[o].deps) <= base:
                routed[route[1]].append(o)
        approved = self.region(routed["approved"], rest, base) if routed["approved"] else []
        denied = self.region(routed["denied"], [o for o in rest if o not in approved], base) if routed["denied"] else []
        taken = [orig, *approved, *denied]
        approved_stages = self.build(approved, base, frozenset(routed["approved"]))
        denied_stages = self.build(denied, base, frozenset(routed["denied"]))
        self.warn_outside(approved + denied, [o for o in rest if o not in taken], f"the decision of approval '{approval['step_id']}'")

        def connect(target: str | None) -> None:
            yes = self.link(approved_stages, target)
            no = self.link(denied_stages, target)
            if yes:
                approval["next_steps"] = [yes]
            if no:
                approval["else_steps"] = [no]
            else:
                self.notes.append(f"approval '{approval['step_id']}': a rejection fails the run with APPROVAL_REJECTED "
                                  "(elevAIte completed with decision 'denied'); add a step to else_steps to go on instead")

        return _Stage(approval["step_id"], connect), taken

    def warn_outside(self, region: list[str], remaining: list[str], what: str) -> None:
        for orig in remaining:
            if orig in region:
                continue
            inside = [self.src[d].new for d in self.src[orig].deps if d in region]
            if inside:
                self.warn(self.src[orig].new, "dependencies",
                          f"depends on {inside}, which run only on {what}, and on other steps; elevAIte skips it when they do not run, here it runs after them either way",
                          "add a condition step before it if it must not run then")

    def link(self, stages: list[_Stage], continuation: str | None) -> str | None:
        for i, stage in enumerate(stages):
            stage.connect(stages[i + 1].entry if i + 1 < len(stages) else continuation)
        return stages[0].entry if stages else continuation

    # ------------------------------------------------------------------ steps

    def retry(self, s: _Src, step: dict) -> None:
        if s.type not in _RETRYABLE:
            return
        retries = s.raw.get("max_retries", 3)  # StepBase.max_retries defaults to 3
        if not isinstance(retries, int) or retries < 0:
            self.warn(s.new, "max_retries", f"{retries!r} is not a whole number", "set retry.max_attempts by hand")
            return
        strategy = s.raw.get("retry_strategy", "exponential_backoff")
        if strategy == "none" or retries == 0:
            return
        attempts = retries + 1
        if attempts > 100:
            self.warn(s.new, "max_retries", f"{retries} retries exceed stepgraph's 100 attempts", "it became 100 attempts")
            attempts = 100
        delay = s.raw.get("retry_delay_seconds", 1.0)
        retry = {"max_attempts": attempts, "backoff_seconds": min(max(float(delay), 0.0), 86_400.0),
                 "backoff_rate": 1.0 if strategy in ("fixed_delay", "linear_backoff") else 2.0}
        if strategy == "linear_backoff":
            self.notes.append(f"step '{s.new}': linear_backoff became a fixed delay (Step Functions backs off geometrically)")
        step["retry"] = retry

    def convert(self, s: _Src) -> dict:
        step: dict[str, Any] = {"step_id": s.new}
        if s.display:
            step["name"] = str(s.display)
        handler = getattr(self, "step_" + s.type, None)
        if s.type in _RAG:
            handler = self.step_unconverted
        if handler is None:
            handler = self.step_unconverted
        step.update(handler(s))
        if s.raw.get("critical") is False:
            self.warn(s.new, "critical: false", "a failure of this step fails the run here (elevAIte went on)",
                      "give the step a retry, or make the tool or agent return an error value instead of failing")
        self.retry(s, step)
        return self.emit(step)

    def transform(self, output: Any) -> dict:
        return {"step_type": "data_transform", "parameters": {"output": output}}

    def step_unconverted(self, s: _Src) -> dict:
        actions = {t: f"write a tool in tools/ that does what elevAIte's {t} step did and replace this step by a tool_call" for t in _RAG}
        self.warn(s.new, f"step_type {s.type}", "has no stepgraph equivalent; it became a data_transform that passes its inputs on",
                  actions.get(s.type, "replace it by a tool_call, an agent_execution or an api_call step"))
        return self.transform({"unconverted_step_type": s.type, "input": self.inputs(s)})

    def step_trigger(self, s: _Src) -> dict:
        params = s.raw.get("parameters") or {}
        return self.trigger_parameters(params, s.new, str(params.get("kind", "webhook")))

    def trigger_parameters(self, params: dict, step_id: str, kind: str) -> dict:
        schedule = params.get("schedule")
        if isinstance(schedule, dict) and schedule.get("enabled", True):
            parameters, problems = schedule_parameters(schedule)
            for problem in problems:
                self.warn(step_id, "schedule", problem, "check the trigger's cron/rate")
            return {"step_type": "trigger", "parameters": parameters}
        if kind in ("manual", "form", "file", "gmail", "slack"):
            if kind in ("gmail", "slack", "file"):
                self.warn(step_id, f"trigger kind {kind}", "has no stepgraph trigger; it became an api trigger",
                          "start the workflow from your own listener with StartExecution or stepgraph invoke")
            kind = "api"
        if kind == "webhook":
            self.notes.append("webhook trigger: stepgraph's webhook accepts only HMAC-signed deliveries (X-Stepgraph-Signature)")
        if kind not in ("chat", "api", "webhook", "schedule"):
            kind = "api"
        return {"step_type": "trigger", "parameters": {"kind": kind}}

    def step_input(self, s: _Src) -> dict:
        kind = str(s.cfg("kind", "manual"))
        if s.cfg("text") is not None:
            return self.transform({"kind": kind, "step_id": s.new, "text": s.cfg("text"), "source": "config"})
        return self.transform({"kind": kind, "step_id": s.new, "data": "{{trigger}}"})

    def step_data_input(self, s: _Src) -> dict:
        kind = s.cfg("input_type", "static")
        if kind == "static":
            return self.transform({"data": s.cfg("data", {}), "input_type": "static", "success": True})
        source = s.cfg("source", "default")
        if source == "subflow_input":
            return self.transform({"data": "{{input}}", "input_type": "dynamic", "source": source, "success": True})
        self.notes.append(f"step '{s.new}': a dynamic data_input from {source!r} (a stand-in in elevAIte) became the execution input")
        return self.transform({"data": "{{input}}", "input_type": "dynamic", "source": source, "success": True})

    def step_data_processing(self, s: _Src) -> dict:
        kind = s.cfg("processing_type", "identity")
        options = s.cfg("options", {}) or {}
        data = self.inputs(s)
        metadata = options.get("metadata") or {}
        if kind == "identity" or (kind == "transform" and options.get("transformation", "identity") == "identity"):
            result: Any = {**data, **metadata}
        elif kind == "filter" and options.get("filter_key"):
            key = options["filter_key"]
            result = {key: data[key], **metadata} if key in data else dict(metadata)
        elif kind == "count":  # elevAIte counts the keys of the step's input (its mapped inputs)
            result = {"count": len(data), **metadata}
        else:
            self.warn(s.new, f"data_processing {kind}", "has no stepgraph equivalent (elevAIte's is a keyword stand-in or a per-field transform)",
                      "replace it by an agent_execution or a tool_call; for now it passes its inputs on")
            result = {**data, **metadata}
        return self.transform({"result": result, "processing_type": kind, "success": True})

    def jsonata_ref(self, orig: str) -> str:
        s = self.src[orig]
        if self.is_trigger(orig):
            return "$trigger"
        return f"$steps.{self.par_of[orig]}.{s.new}" if orig in self.par_of else f"$steps.{s.new}"

    def step_data_merge(self, s: _Src) -> dict:
        strategy = s.cfg("merge_strategy", "combine")
        sources = self.inputs(s)
        names = list(s.deps) or sorted(self.ancestors(s.orig), key=lambda o: self.src[o].index)
        if "data_sources" not in sources:
            self.notes.append(f"step '{s.new}': data_merge without data_sources merges its dependencies' outputs "
                              "(elevAIte merged every output so far)")
        if strategy == "list":
            return self.transform({"result": {"merged_data": [self.ref(o, [], s.new) for o in names]}, "success": True})
        parts = ", ".join(f"($v := {self.jsonata_ref(o)}; $type($v) = 'object' ? $v : {{{json.dumps(o)}: $v}})" for o in names)
        return {"step_type": "data_transform",
                "parameters": {"jsonata": f'{{"result": $merge([{parts}]), "success": true}}'}}

    def step_merge(self, s: _Src) -> dict:
        mode = s.cfg("mode", "first_available")
        combine = s.cfg("combine_mode", "object")
        deps = s.deps
        if mode == "first_available" or combine == "first":
            self.notes.append(f"step '{s.new}': merge 'first_available' waits for every dependency here and takes the first listed")
            first = deps[0] if deps else None
            return self.transform({"mode": mode, "source_step": first,
                                   "data": self.ref(first, [], s.new) if first else None,
                                   "completed_count": len(deps), "total_dependencies": len(deps)})
        # keyed by the elevAIte step ids, as elevAIte does, so paths like "<merge>.data.<dep>.x" still resolve
        data: Any = [self.ref(o, [], s.new) for o in deps] if combine == "array" else {o: self.ref(o, [], s.new) for o in deps}
        return self.transform({"mode": mode, "data": data, "sources": list(deps),
                               "completed_count": len(deps), "total_dependencies": len(deps)})

    def step_output(self, s: _Src) -> dict:
        params = s.raw.get("parameters") or s.raw.get("config") or {}
        deps = s.deps
        if len(deps) == 1:
            data: Any = self.ref(deps[0], [], s.new)
        else:
            data = {o: self.ref(o, [], s.new) for o in deps}  # nested under the elevAIte step ids, as elevAIte does
        return self.transform({"step_id": s.new, "label": params.get("label", "Output"),
                               "format": params.get("format", "auto"), "data": data, "success": True})

    def step_delay(self, s: _Src) -> dict:
        return {"step_type": "delay", "parameters": {"seconds": s.cfg("delay_seconds", 1.0)}}

    def step_prompt(self, s: _Src) -> dict:
        params = s.raw.get("parameters") or s.raw.get("config") or {}
        names = dict(self.inputs(s))
        for var in params.get("variables") or []:
            name = var.get("name")
            template = self.resolve(var.get("source"), s) if var.get("source") else None
            if template is None and var.get("default_value") is not None:
                template = str(var["default_value"])
            if name and template is not None:
                names[name] = template
            elif name:
                self.warn(s.new, "prompt variable", f"{name!r}: source {var.get('source')!r} names no step output", "set its source by hand")
        overrides = {k: params[k] for k in ("provider", "model_name", "temperature", "max_tokens") if params.get(k) is not None}
        return self.transform({
            "step_type": "prompt",
            "system_prompt": self.placeholders(params.get("system_prompt"), s, names),
            "query_template": self.placeholders(params.get("query_template"), s, names),
            "override_agent_prompt": params.get("override_agent_prompt", True),
            "model_overrides": overrides,
            "variables": {k: v for k, v in names.items()},
        })

    def step_agent(self, s: _Src) -> dict:
        return self.step_agent_execution(s)

    def step_agent_execution(self, s: _Src) -> dict:
        inputs = self.inputs(s)
        name = s.cfg("agent_name") or s.cfg("agent_template_id") or s.cfg("agent_id") or s.display or s.orig
        if s.cfg("a2a_agent_id"):
            self.warn(s.new, "a2a_agent_id", "an external A2A agent has no stepgraph equivalent; a local agent skeleton stands in",
                      f"make agents/{agent_id(str(name))}/main.py call the A2A agent")
        if s.cfg("agent_id") and not s.cfg("agent_name"):
            self.notes.append(f"step '{s.new}': elevAIte agent {s.cfg('agent_id')!r} lives in its database; agents/{agent_id(str(name))}/ is a skeleton to fill in")
        if s.cfg("interactive"):
            self.warn(s.new, "interactive", "a multi-turn chat inside the step has no stepgraph equivalent; the step answers once",
                      "split the conversation into chat executions of the workflow")
        aid = agent_id(str(name))
        prompt = next((d for d in s.deps if self.src[d].type == "prompt"), None)
        payload: dict[str, Any] = dict(inputs)
        query = s.cfg("query") or None
        if query:
            payload["query"] = self.placeholders(query, s, inputs)
        elif "query" not in payload:
            if prompt:
                payload["query"] = self.ref(prompt, ["query_template"], s.new)
            else:
                payload["query"] = "{{trigger.current_message}}"
        if prompt:
            payload["system_prompt"] = self.ref(prompt, ["system_prompt"], s.new)
        elif s.cfg("system_prompt"):
            payload["system_prompt"] = self.placeholders(s.cfg("system_prompt"), s, inputs)
        skeleton = self.agents.setdefault(aid, AgentSkeleton(aid, str(name)))
        skeleton.steps.append(s.new)
        skeleton.system_prompt = skeleton.system_prompt or s.cfg("system_prompt")
        skeleton.model = skeleton.model or {k: s.cfg(k) for k in ("provider", "model_name", "temperature", "max_tokens") if s.cfg(k) is not None}
        skeleton.tools = skeleton.tools or [t if isinstance(t, str) else t.get("name", str(t)) for t in s.cfg("tools", []) or []]
        params: dict[str, Any] = {"agent_id": aid, "payload": payload}
        timeout = s.raw.get("timeout_seconds")
        if isinstance(timeout, int) and timeout > 0:
            if timeout > _MAX_AGENT_SECONDS:
                self.warn(s.new, "timeout_seconds", f"{timeout} s exceeds an agent step's {_MAX_AGENT_SECONDS} s", f"it became {_MAX_AGENT_SECONDS} s")
            params["timeout_seconds"] = min(timeout, _MAX_AGENT_SECONDS)
        return {"step_type": "agent_execution", "parameters": params}

    def step_tool_execution(self, s: _Src) -> dict:
        inputs = self.inputs(s)
        name = s.cfg("tool_name")
        if not name:
            self.warn(s.new, "tool_id", f"names elevAIte's database tool {s.cfg('tool_id')!r}, not a tool by name",
                      "register the tool in tools/ and put its name in parameters.tool")
            name = f"tool_{str(s.cfg('tool_id') or s.new)[:8]}"
        tool = tool_name(str(name))
        if tool != name:
            self.notes.append(f"step '{s.new}': tool {name!r} is called '{tool}' (the tools registry's name rule)")
        arguments: dict[str, Any] = dict(s.cfg("static_params", {}) or {})
        for param, path in (s.cfg("param_mapping", {}) or {}).items():
            template = self.resolve(path, s, inputs)
            if template is None:
                kept = "its static_params value is used" if param in arguments else "the argument is left out"
                self.warn(s.new, "param_mapping", f"'{param}': {path!r} names no input or step output ({kept})",
                          "fix the path: it starts with an input_mapping key or a step id")
                continue
            arguments[str(param)] = template
        return {"step_type": "tool_call", "parameters": {"tool": tool, "arguments": arguments},
                **({"timeout_seconds": s.raw["timeout_seconds"]} if isinstance(s.raw.get("timeout_seconds"), int) and s.raw["timeout_seconds"] > 0 else {})}

    def step_human_approval(self, s: _Src) -> dict:
        role = s.cfg("approver_role")
        params: dict[str, Any] = {"approvers": [str(role)] if role else ["approver"]}
        if not role:
            self.notes.append(f"approval '{s.new}': no approver_role; approvers is ['approver'] — put real names or e-mail addresses there")
        if s.cfg("prompt") is not None:
            params["message"] = self.placeholders(s.cfg("prompt"), s, self.inputs(s))
        timeout = s.cfg("timeout_seconds")
        if isinstance(timeout, (int, float)) and timeout > 0:
            params["timeout_hours"] = round(min(timeout / 3600, 8760), 6)
        if s.cfg("require_comment"):
            self.warn(s.new, "require_comment", "stepgraph approvals take an optional comment; a decision without one is accepted",
                      "ask approvers for a comment in the message")
        return {"step_type": "human_approval", "parameters": params}

    def step_subflow(self, s: _Src) -> dict:
        cfg = s.raw.get("config") or {}
        target = str(cfg.get("workflow_id") or "")
        name = self.workflow_names.get(target) or workflow_name(target or "subflow")
        if target not in self.workflow_names:
            self.notes.append(f"step '{s.new}': subflow {target!r} was not among the imported documents; it names workflow '{name}'")
        self.subflows.append(name)
        inputs = self.inputs(s)
        mapping = cfg.get("input_mapping") or {}
        if mapping:
            child_input: dict[str, Any] = {}
            for key, path in mapping.items():
                template = self.resolve(path, s, inputs)
                if template is None:
                    self.warn(s.new, "subflow input_mapping", f"'{key}': {path!r} names no input of the step", "fix the path")
                    continue
                child_input[str(key)] = template
        else:
            child_input = inputs
        if cfg.get("output_mapping"):
            self.warn(s.new, "subflow output_mapping", "the step's output is the child's result, not a mapped selection",
                      "add a data_transform after the step that picks the fields")
        if cfg.get("inherit_context") is False:
            self.notes.append(f"step '{s.new}': inherit_context false has no equivalent; the child gets the session of the parent")
        return {"step_type": "subflow", "parameters": {"workflow": name, "input": child_input}}

    # ------------------------------------------------------------------ document

    def run(self) -> ElevaiteConversion:
        self.read()
        order = self.topo()
        triggers = [o for o in order if self.is_trigger(o)]
        for extra in triggers[1:]:
            self.warn(self.src[extra].new, "trigger", "a second trigger step; stepgraph workflows have one",
                      "split the document into one workflow per trigger")
        if triggers:
            trigger = self.convert(self.src[triggers[0]])
            done = {triggers[0]}
        else:
            first_input = next((o for o in order if self.src[o].type == "input"), None)
            params = dict(self.src[first_input].raw.get("parameters") or {}) if first_input else {}
            kind = str(params.get("kind", "api")) if first_input else "api"
            trigger = self.emit({"step_id": "trigger", **self.trigger_parameters(params, "trigger", kind)})
            self.notes.append("the document has no trigger step; a '" + trigger["parameters"]["kind"] + "' trigger was added as the entry")
            done = set()
        rest = [o for o in order if o not in triggers]
        for orig in rest:  # entries (no dependencies) run after the trigger
            if not self.src[orig].deps and triggers:
                self.src[orig].deps = [triggers[0]]
        stages = self.build(rest, done)
        entry = self.link(stages, None)
        if entry:
            trigger["next_steps"] = [entry]
        name = workflow_name(str(self.doc.get("name") or "imported-workflow"))
        steps = [self.out[i] for i in self.order]
        workflow: dict[str, Any] = {"name": name}
        description = self.doc.get("description")
        workflow["description"] = (f"{description} " if description else "") + f"(imported from elevAIte workflow {self.doc.get('name')!r})"
        workflow["steps"] = steps
        return ElevaiteConversion(str(self.doc.get("name")), workflow, self.agents, self.warnings, _unique(self.notes), self.subflows)


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def convert_elevaite(document: dict, *, workflow_names: dict[str, str] | None = None) -> ElevaiteConversion:
    """Convert one elevAIte ``WorkflowConfig`` document into a stepgraph workflow document.

    Parameters
    ----------
    document:
        The decoded elevAIte document: ``{"name", "description", "steps": [...]}``.
    workflow_names:
        elevAIte workflow ids and names → converted names, for ``subflow`` steps' ``workflow_id``.

    Returns
    -------
    ElevaiteConversion
        The workflow, the agent skeletons it needs, and every construct that was not converted.

    Raises
    ------
    ElevaiteImportError
        When the document has no steps, a step without a ``step_type``, repeated step ids, or a
        dependency cycle.

    Examples
    --------
    >>> doc = {"name": "Hello", "steps": [{"step_id": "in", "step_type": "data_input",
    ...        "config": {"input_type": "static", "data": {"x": 1}}}]}
    >>> conversion = convert_elevaite(doc)
    >>> [s["step_type"] for s in conversion.workflow["steps"]]
    ['trigger', 'data_transform']
    """
    if not isinstance(document, dict):
        raise ElevaiteImportError("an elevAIte workflow document is a JSON object with name and steps")
    return _Converter(document, workflow_names or {}).run()


def read_elevaite_documents(path: str | Path) -> list[dict]:
    """The elevAIte workflow documents of a file: one ``WorkflowConfig``, a list of them, a
    ``{"workflows": [...]}`` seed file, or a stored record ``{"name", "configuration": {...}}``.

    Raises
    ------
    ProjectError
        When the file cannot be read or decoded.
    ElevaiteImportError
        When it holds no workflow document.
    """
    data = read_document(path)
    items = data if isinstance(data, list) else data.get("workflows") if isinstance(data, dict) and isinstance(data.get("workflows"), list) else [data]
    documents = []
    for item in items:
        if isinstance(item, dict) and "steps" not in item and isinstance(item.get("configuration"), dict):
            item = {"name": item.get("name"), "description": item.get("description"), **item["configuration"]}
        if not isinstance(item, dict) or "steps" not in item:
            raise ElevaiteImportError(f"{path}: not an elevAIte workflow document (no 'steps')")
        documents.append(item)
    return documents


def write_conversion(conversion: ElevaiteConversion, out_dir: str | Path, *, overwrite_agents: bool = False) -> list[Path]:
    """Write ``<out_dir>/workflows/<name>.json`` and the ``<out_dir>/agents/<id>/`` skeletons.

    An agent folder that exists already is kept (it may hold the real agent).

    Returns
    -------
    list[Path]
        Every file written.
    """
    root = Path(out_dir)
    (root / "workflows").mkdir(parents=True, exist_ok=True)
    target = root / "workflows" / f"{conversion.name}.json"
    target.write_text(json.dumps(conversion.workflow, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    written = [target]
    for skeleton in conversion.agents.values():
        written += skeleton.write(root / "agents", overwrite=overwrite_agents)
    return written


def import_elevaite_files(paths: Iterable[str | Path], out_dir: str | Path | None = None) -> list[ElevaiteConversion]:
    """Convert every elevAIte document of ``paths`` (subflows resolved across them); write them when ``out_dir`` is given.

    Raises
    ------
    ProjectError, ElevaiteImportError
        When a file cannot be read or a document cannot be converted at all.
    """
    documents = [doc for path in paths for doc in read_elevaite_documents(path)]
    names: dict[str, str] = {}
    for doc in documents:
        converted = workflow_name(str(doc.get("name") or "imported-workflow"))
        for key in ("workflow_id", "template_id", "name", "id"):
            if doc.get(key):
                names.setdefault(str(doc[key]), converted)
    conversions = [convert_elevaite(doc, workflow_names=names) for doc in documents]
    if out_dir is not None:
        for conversion in conversions:
            write_conversion(conversion, out_dir)
    return conversions
