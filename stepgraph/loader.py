"""Workflow file (JSON or YAML) → :class:`~stepgraph.model.Workflow`, checking the document's shape.

Shape problems (wrong types, unknown step types, bad ids) are collected, not raised one by one;
:func:`load_workflow` then runs :mod:`stepgraph.validation` and raises once with every problem.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection

import yaml

from .exceptions import ProjectError, ValidationIssue, WorkflowValidationError
from .expressions import brief_repr
from .model import ChainTarget, RetryPolicy, Step, Workflow, freeze
from .steps import StepType

__all__ = ["parse_workflow", "load_workflow", "read_document", "ParsedWorkflow", "NAME_PATTERN"]

#: Workflow names and step ids: 1–64 of ``[A-Za-z0-9_-]`` (SPEC §3).
NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")  # \Z: "$" would accept a trailing newline
_STEP_KEYS = {"step_id", "step_type", "parameters", "next_steps", "else_steps", "retry", "timeout_seconds", "name", "description"}
_DOC_KEYS = {"name", "description", "steps", "on_complete", "version", "metadata"}
_CHAIN_WHEN = ("completed", "failed", "any")
#: Deepest nesting of objects and arrays a step's parameters may have. Far beyond any real
#: template, and low enough that the recursive passes over parameters (freezing, validation,
#: compilation, ``json.dumps``) stay clear of Python's recursion limit.
MAX_PARAMETER_DEPTH = 64
#: Largest workflow document read, in bytes (SPEC §13: 1 MiB). Checked before parsing.
MAX_DOCUMENT_BYTES = 1_048_576


class _AliasRefusedError(yaml.YAMLError):
    """A YAML alias met while composing; carries the anchor's name and where the alias is."""

    def __init__(self, anchor: str, mark: Any):
        super().__init__(anchor)
        self.anchor = anchor
        self.where = f"line {mark.line + 1}, column {mark.column + 1}"


class _NoAliasLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses aliases (``*name``) instead of expanding them.

    Nested aliases expand exponentially ("billion laughs": a 500-byte file whose nine levels of
    nine aliases stand for 387 million strings ran for minutes through the passes over
    parameters), and JSON has no aliases, so a workflow document never needs one (SPEC §13).
    An anchor without alias is harmless and stays allowed.
    """

    def compose_node(self, parent: Any, index: Any) -> Any:  # PyYAML hook, called for every node
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _AliasRefusedError(event.anchor, event.start_mark)
        return super().compose_node(parent, index)


@dataclass
class ParsedWorkflow:
    """What :func:`parse_workflow` could read: the model, the problems, and ids of unreadable steps."""

    workflow: Workflow | None
    issues: list[ValidationIssue] = field(default_factory=list)
    unreadable_step_ids: frozenset[str] = frozenset()


def read_document(path: str | Path) -> Any:
    """Read a ``.json``, ``.yaml`` or ``.yml`` file.

    Raises
    ------
    ProjectError
        When the file is missing, has another extension, or does not parse.
    WorkflowValidationError
        When the file is larger than :data:`MAX_DOCUMENT_BYTES` (checked before reading it
        whole) or, in YAML, uses an alias (SPEC §13).
    """
    file = Path(path)
    if not file.is_file():
        raise ProjectError(f"{file}: no such workflow file")
    if file.suffix not in (".json", ".yaml", ".yml"):
        raise ProjectError(f"{file}: a workflow file ends in .json, .yaml or .yml")
    with file.open("rb") as handle:
        data = handle.read(MAX_DOCUMENT_BYTES + 1)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise WorkflowValidationError(
            [ValidationIssue(f"the document is larger than {MAX_DOCUMENT_BYTES:,} bytes (1 MiB), the most a workflow "
                             "document may be (SPEC §13); split it into chained workflows")],
            source=str(file),
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProjectError(f"{file}: not UTF-8 text: {exc}") from exc
    try:
        if file.suffix == ".json":
            return json.loads(text)
        return yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except _AliasRefusedError as exc:
        raise WorkflowValidationError(
            [ValidationIssue(f"YAML aliases are not allowed in workflow documents (SPEC §13: they can expand "
                             f"exponentially); *{exc.anchor} at {exc.where}: write the value out")],
            source=str(file),
        ) from exc
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ProjectError(f"{file}: not valid {file.suffix[1:].upper()}: {exc}") from exc
    except RecursionError as exc:
        raise ProjectError(f"{file}: nested too deeply to read") from exc


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _json_problem(value: Any) -> tuple[str, str] | None:
    """First value of ``value`` that is not plain JSON, as ``(relative path, sentence)``, or ``None``.

    Catches what YAML can produce and JSON cannot (dates, non-string keys, ``.inf``/``.nan``) and
    nesting deeper than :data:`MAX_PARAMETER_DEPTH`. Iterative, so any depth is safe to check.
    """
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, (dict, list)) and depth >= MAX_PARAMETER_DEPTH:
            return path, f"nests objects and arrays deeper than {MAX_PARAMETER_DEPTH} levels"
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    return path, f"has the key {brief_repr(key)}; object keys are strings (quote it in YAML)"
                stack.append((child, f"{path}.{key}", depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))
        elif isinstance(item, float) and not math.isfinite(item):
            return path, f"holds {brief_repr(item)}, which JSON cannot represent"
        elif item is not None and not isinstance(item, (str, int, float, bool)):
            return path, f"holds a {type(item).__name__} ({brief_repr(item)}); use a string (quote dates in YAML)"
    return None


def _id_list(raw: Any, key: str, step_id: str, path: str, issues: list[ValidationIssue]) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        issues.append(ValidationIssue(f"{key} must be a list of step ids", step_id, f"{path}.{key}"))
        return ()
    return tuple(raw)


def _retry(raw: Any, step_id: str, path: str, issues: list[ValidationIssue]) -> RetryPolicy | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        issues.append(ValidationIssue("retry must be an object {max_attempts, backoff_seconds, backoff_rate}", step_id, f"{path}.retry"))
        return None
    unknown = sorted(set(raw) - {"max_attempts", "backoff_seconds", "backoff_rate"}, key=str)
    if unknown:
        issues.append(ValidationIssue(f"retry has unknown keys {brief_repr(unknown)}", step_id, f"{path}.retry"))
    attempts = raw.get("max_attempts", 1)
    backoff = raw.get("backoff_seconds", 0)
    rate = raw.get("backoff_rate", 2.0)
    ok = True
    if not _is_int(attempts) or not 1 <= attempts <= 100:
        issues.append(ValidationIssue("retry.max_attempts must be an integer from 1 to 100 (attempts, the first included)", step_id, f"{path}.retry.max_attempts"))
        ok = False
    if not _is_number(backoff) or not 0 <= backoff <= 86_400:
        issues.append(ValidationIssue("retry.backoff_seconds must be a number from 0 to 86400", step_id, f"{path}.retry.backoff_seconds"))
        ok = False
    if not _is_number(rate) or not 1.0 <= rate <= 10.0:
        issues.append(ValidationIssue("retry.backoff_rate must be a number from 1.0 to 10.0 (Step Functions' BackoffRate range)", step_id, f"{path}.retry.backoff_rate"))
        ok = False
    return RetryPolicy(attempts, backoff, float(rate)) if ok else None


def _step(raw: Any, index: int, issues: list[ValidationIssue], unreadable: set[str]) -> Step | None:
    path = f"steps[{index}]"
    if not isinstance(raw, dict):
        issues.append(ValidationIssue("a step must be an object", None, path))
        return None
    step_id = raw.get("step_id")
    if not isinstance(step_id, str) or not NAME_PATTERN.match(step_id):
        issues.append(ValidationIssue(f"step_id must be 1-64 characters of [A-Za-z0-9_-], not {brief_repr(step_id)}", None, f"{path}.step_id"))
        return None
    unknown = sorted(set(raw) - _STEP_KEYS, key=str)
    if unknown:
        issues.append(ValidationIssue(f"unknown keys {brief_repr(unknown)}; a step has {sorted(_STEP_KEYS - {'name', 'description'})}", step_id, path))
    type_name = raw.get("step_type")
    try:
        step_type = StepType(type_name)
    except ValueError:
        known = ", ".join(t.value for t in StepType)
        issues.append(ValidationIssue(f"unknown step_type {brief_repr(type_name)}; known types: {known}", step_id, f"{path}.step_type"))
        unreadable.add(step_id)
        return None
    parameters = raw.get("parameters", {})
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        issues.append(ValidationIssue("parameters must be an object", step_id, f"{path}.parameters"))
        parameters = {}
    problem = _json_problem(parameters)
    if problem is not None:
        where, sentence = problem
        issues.append(ValidationIssue(f"parameters: a value {sentence}", step_id, f"{path}.parameters{where}"))
        unreadable.add(step_id)  # kept in the graph, its parameters are not checked further
        parameters = {}
    timeout = raw.get("timeout_seconds")
    if timeout is not None and (not _is_int(timeout) or not 1 <= timeout <= 31_536_000):
        issues.append(ValidationIssue("timeout_seconds must be a whole number of seconds from 1 to 31536000 (one year, Step Functions' limit)", step_id, f"{path}.timeout_seconds"))
        timeout = None
    return Step(
        step_id=step_id,
        step_type=step_type,
        parameters=freeze(parameters),
        next_steps=_id_list(raw.get("next_steps"), "next_steps", step_id, path, issues),
        else_steps=_id_list(raw.get("else_steps"), "else_steps", step_id, path, issues),
        retry=_retry(raw.get("retry"), step_id, path, issues),
        timeout_seconds=timeout,
        index=index,
    )


def parse_workflow(document: Any, *, source: str | None = None) -> ParsedWorkflow:
    """Read a workflow document (already decoded from JSON/YAML) into the model.

    Parameters
    ----------
    document:
        The decoded document, e.g. ``{"name": ..., "steps": [...]}`` (SPEC §3).
    source:
        File name for messages.

    Returns
    -------
    ParsedWorkflow
        ``workflow`` is ``None`` only when the document is not an object or has no usable name
        and steps; ``issues`` lists every shape problem found.
    """
    issues: list[ValidationIssue] = []
    if not isinstance(document, dict):
        return ParsedWorkflow(None, [ValidationIssue("a workflow document must be an object with name and steps")])
    name = document.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        issues.append(ValidationIssue(f"name must be 1-64 characters of [A-Za-z0-9_-], not {brief_repr(name)}", None, "name"))
        name = name if isinstance(name, str) and name else "invalid-name"
    unknown = sorted(set(document) - _DOC_KEYS, key=str)
    if unknown:
        issues.append(ValidationIssue(f"unknown top-level keys {brief_repr(unknown)}", None, ""))
    description = document.get("description", "")
    if not isinstance(description, str):
        issues.append(ValidationIssue("description must be a string", None, "description"))
        description = ""
    raw_steps = document.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        issues.append(ValidationIssue("steps must be a non-empty list", None, "steps"))
        raw_steps = []
    unreadable: set[str] = set()
    steps = tuple(s for s in (_step(raw, i, issues, unreadable) for i, raw in enumerate(raw_steps)) if s is not None)
    chains: list[ChainTarget] = []
    raw_chain = document.get("on_complete", [])
    if not isinstance(raw_chain, list):
        issues.append(ValidationIssue("on_complete must be a list of {workflow, when}", None, "on_complete"))
        raw_chain = []
    for i, entry in enumerate(raw_chain):
        if not isinstance(entry, dict) or not isinstance(entry.get("workflow"), str) or entry.get("when", "completed") not in _CHAIN_WHEN:
            issues.append(ValidationIssue(f"on_complete[{i}] must be {{\"workflow\": <name>, \"when\": one of {list(_CHAIN_WHEN)}}}", None, f"on_complete[{i}]"))
            continue
        chains.append(ChainTarget(entry["workflow"], entry.get("when", "completed")))
    workflow = Workflow(name=name, steps=steps, description=description, on_complete=tuple(chains), source=source)
    return ParsedWorkflow(workflow, issues, frozenset(unreadable))


def load_workflow(
    path: str | Path,
    *,
    agents: Collection[str] | None = None,
    tools: Collection[str] | None = None,
    workflows: Collection[str] | None = None,
) -> Workflow:
    """Read and validate a workflow file.

    Parameters
    ----------
    path:
        A ``.json``, ``.yaml`` or ``.yml`` workflow file.
    agents, tools, workflows:
        Known agent ids, tool names and workflow names (``subflow`` targets). ``None`` skips
        the "unknown agent/tool/workflow" check.

    Returns
    -------
    Workflow
        The validated workflow.

    Raises
    ------
    ProjectError
        When the file cannot be read or decoded.
    WorkflowValidationError
        With every problem found (``.issues``), when the document is invalid.

    Examples
    --------
    >>> wf = load_workflow("workflows/customer-support.json")  # doctest: +SKIP
    >>> wf.name
    'customer-support'
    """
    from .validation import validate_workflow

    parsed = parse_workflow(read_document(path), source=str(path))
    issues = list(parsed.issues)
    if parsed.workflow is not None:
        issues += validate_workflow(parsed.workflow, agents=agents, tools=tools, workflows=workflows,
                                    unreadable_step_ids=parsed.unreadable_step_ids)
    if issues or parsed.workflow is None:
        raise WorkflowValidationError(issues, source=str(path))
    return parsed.workflow
