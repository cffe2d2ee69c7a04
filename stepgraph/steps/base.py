"""The step-kind contract: what one module under ``stepgraph/steps/`` declares about its step type.

A *kind* is one class that owns everything about one ``step_type`` (SPEC §3): its parameters
(typed, with defaults written once, in their declaration), its checks, its place in the graph
(how many next steps, sub-graphs), its compilation to Amazon States Language states, its
picture, and, where it runs as a Lambda, the handler it calls. ``validation``, the compiler,
``render``, the stacks and the local engine iterate over the registry
(:mod:`stepgraph.steps`) and name no step type themselves — the shape of aws-cdk's
``aws-stepfunctions/lib/states/*.ts``, where each state class owns its props,
``validateState()`` and ``toStateJson()``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Collection, Mapping

from ..exceptions import ValidationIssue
from ..expressions import brief_repr

if TYPE_CHECKING:  # pragma: no cover - typing only
    from ..compiler.scope import ScopeCompiler
    from ..handlers import HandlerSpec
    from ..graph import Scope
    from ..model import Step
    from ..render import Pen

__all__ = [
    "ParamSpec",
    "param",
    "Params",
    "NoParams",
    "Checker",
    "SubScope",
    "StepKind",
    "article",
    "is_int",
    "is_num",
    "is_str",
    "is_map",
    "is_expression",
    "is_str_list",
]

#: Names a ``{{secrets.<name>}}`` reference may use (a subset of Secrets Manager's names).
SECRET_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
#: Longest Lambda invocation, in seconds: a Task backed by a Lambda lasts at most 15 minutes
#: (AWS Lambda quotas, "Function timeout").
MAX_LAMBDA_SECONDS = 900


def article(word: str) -> str:
    """``a`` or ``an`` before ``word`` (``an agent_execution``, ``a condition``)."""
    return "an" if word[:1] in "aeiou" else "a"


def is_int(v: Any) -> bool:
    """A JSON integer (``True`` is not one)."""
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v: Any) -> bool:
    """A JSON number (``True`` is not one)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def is_str(v: Any) -> bool:
    """A string with something else than white space in it."""
    return isinstance(v, str) and bool(v.strip())


def is_map(v: Any) -> bool:
    """A JSON object (frozen by the loader into a read-only mapping)."""
    return isinstance(v, Mapping)


def is_expression(v: Any) -> bool:
    """A string that is one ``{{ expression }}``."""
    return isinstance(v, str) and v.strip().startswith("{{") and v.strip().endswith("}}")


def is_str_list(v: Any) -> bool:
    """A list (frozen into a tuple) of non-blank strings."""
    return isinstance(v, tuple) and all(is_str(x) for x in v)


@dataclass(frozen=True)
class ParamSpec:
    """How one parameter is read and checked.

    Attributes
    ----------
    what:
        The phrase a problem message ends with: ``parameter 'x' must be <what>, not ...``.
    check:
        Test of a present value; ``None`` when the kind's own :meth:`StepKind.check` does it.
    required:
        A missing value is a problem (``missing required parameter 'x' (<what>)``).
    role:
        ``value`` (a literal), ``template`` (``{{ }}`` substituted anywhere in strings, SPEC §4),
        ``expression`` (exactly one expression, e.g. a loop's ``items``) or ``predicate`` (a boolean expression, a condition).
        Validation reads the references of every non-``value`` parameter, and a loop body's
        per-item document carries what they read.
    step_ref:
        The value is a step id of the same workflow (validation reports unknown ids).
    secrets:
        The template may read ``{{secrets.<name>}}`` (Secrets Manager, resolved at call time by
        the step's Lambda; nowhere else may a template name a secret).
    """

    what: str
    check: Callable[[Any], bool] | None = None
    required: bool = False
    role: str = "value"
    step_ref: bool = False
    secrets: bool = False


def param(default: Any = None, *, what: str, check: Callable[[Any], bool] | None = None,
          required: bool = False, role: str = "value", step_ref: bool = False, secrets: bool = False) -> Any:
    """Declare a parameter as a field of a kind's :class:`Params` dataclass.

    ``default`` is the value when the document leaves the parameter out — written here and
    nowhere else (CDK's ``@default``). A required parameter's default is never used.
    """
    return field(default=default, metadata={"spec": ParamSpec(what=what, check=check, required=required, role=role, step_ref=step_ref,
                                                                secrets=secrets)})


@dataclass(frozen=True)
class Params:
    """Base of the typed parameters of a kind; subclasses declare fields with :func:`param`."""

    @classmethod
    def specs(cls) -> dict[str, ParamSpec]:
        """Parameter name → its :class:`ParamSpec`, in declaration order."""
        return {f.name: f.metadata["spec"] for f in dataclasses.fields(cls) if "spec" in f.metadata}

    @classmethod
    def names_with_role(cls, *roles: str) -> tuple[str, ...]:
        """Names of the parameters whose role is one of ``roles``."""
        return tuple(name for name, spec in cls.specs().items() if spec.role in roles)

    @classmethod
    def read(cls, parameters: Mapping[str, Any]):
        """The typed parameters of a step: present values, and each declared default for the rest."""
        known = cls.specs()
        return cls(**{k: v for k, v in parameters.items() if k in known})


@dataclass(frozen=True)
class NoParams(Params):
    """A kind without parameters."""


class Checker:
    """Collects the problems of one step (SPEC §7: each with the step id and a JSON path).

    Parameters
    ----------
    step:
        The step being checked.
    issues:
        The list problems are appended to.
    agents, tools, workflows:
        Names the project knows; ``None`` skips the check that needs them.
    """

    def __init__(self, step: "Step", issues: list[ValidationIssue], *, agents: Collection[str] | None = None,
                 tools: Collection[str] | None = None, workflows: Collection[str] | None = None):
        self.step = step
        self.issues = issues
        self.agents = agents
        self.tools = tools
        self.workflows = workflows
        self.path = f"steps[{step.index}]"

    def add(self, message: str, field_name: str | None = None, *, path: str | None = None) -> None:
        """Report a problem of the step, of one of its parameters, or at an explicit ``path``."""
        where = path if path is not None else (f"{self.path}.parameters.{field_name}" if field_name else self.path)
        self.issues.append(ValidationIssue(message, self.step.step_id, where))

    def known(self, allowed: Collection[str]) -> None:
        """Report parameters the kind does not declare."""
        unknown = sorted(set(self.step.parameters) - set(allowed))
        if unknown:
            self.add(f"unknown parameters {brief_repr(unknown)} for {article(self.step.step_type)} "
                     f"{self.step.step_type} step; known: {sorted(allowed)}")

    def require(self, name: str, test: Callable[[Any], bool], what: str) -> bool:
        """Report a missing or malformed required parameter; ``True`` when it is fine."""
        if name not in self.step.parameters:
            self.add(f"missing required parameter '{name}' ({what})", name)
            return False
        return self.optional(name, test, what)

    def optional(self, name: str, test: Callable[[Any], bool], what: str) -> bool:
        """Report a present but malformed parameter; ``True`` when it is absent or fine."""
        if name in self.step.parameters and not test(self.step.parameters[name]):
            self.add(f"parameter '{name}' must be {what}, not {brief_repr(self.step.parameters[name])}", name)
            return False
        return True

    def valid(self, name: str) -> bool:
        """``True`` when a parameter is present and passes its declared check."""
        if name not in self.step.parameters:
            return False
        spec = type_params(self.step).specs().get(name)
        return spec is None or spec.check is None or bool(spec.check(self.step.parameters[name]))


def type_params(step: "Step") -> type[Params]:
    """The :class:`Params` class of a step's kind."""
    from . import kind_of

    return kind_of(step).params_type


@dataclass(frozen=True)
class SubScope:
    """A sub-graph a step owns: a loop's body or one branch of a parallel step (SPEC §3).

    Attributes
    ----------
    kind:
        ``body`` (a Map's item processor) or ``branch`` (one of a Parallel's branches).
    entry:
        The step id where the sub-graph starts.
    boundary:
        Where a branch ends (the parallel's ``join``), or ``None``.
    """

    kind: str
    entry: str
    boundary: str | None = None


class StepKind:
    """Base class of a step kind; one subclass per ``step_type``, registered in :mod:`stepgraph.steps`.

    Class attributes (the defaults suit a step that does one piece of work and goes on):

    - ``step_type``: the document's ``step_type`` string.
    - ``params_type``: the :class:`Params` dataclass of its parameters.
    - ``is_entry``: the step is the workflow's entry (exactly one per workflow).
    - ``max_next_steps``: how many ``next_steps`` it may have (``None``: any number).
    - ``takes_else``: it may have ``else_steps`` (one step).
    - ``does_work``: ``retry`` and ``timeout_seconds`` apply (it calls something that can fail).
    - ``next_label``/``else_label``: edge labels in pictures (``true``/``false`` …).
    - ``mermaid_shape``, ``graphviz_shape``, ``colours``: its box in pictures (Mermaid brackets,
      Graphviz node attributes; fill and stroke colours).
    - ``handler``: the Lambda handler of ``lambdas/`` its states call
      (:class:`stepgraph.handlers.HandlerSpec`), or ``None``; the stacks deploy it and the local
      engine runs it in-process.
    """

    step_type: ClassVar[str]
    params_type: ClassVar[type[Params]] = NoParams
    is_entry: ClassVar[bool] = False
    max_next_steps: ClassVar[int | None] = 1
    takes_else: ClassVar[bool] = False
    does_work: ClassVar[bool] = True
    next_label: ClassVar[str] = ""
    else_label: ClassVar[str] = ""
    mermaid_shape: ClassVar[tuple[str, str]] = ("[", "]")
    colours: ClassVar[tuple[str, str]] = ("#f3f4f6", "#4b5563")
    graphviz_shape: ClassVar[dict[str, str]] = {"shape": "box", "style": "filled"}
    handler: ClassVar["HandlerSpec | None"] = None

    # ------------------------------------------------------------------ parameters

    def params(self, step: "Step") -> Any:
        """The step's typed parameters (defaults filled in); valid only for a validated step."""
        return self.params_type.read(step.parameters)

    def check(self, step: "Step", c: Checker) -> None:
        """Report problems the declared parameter checks cannot see (override as needed)."""

    def validate(self, step: "Step", c: Checker) -> None:
        """Every problem of the step's parameters: unknown ones, declared checks, then :meth:`check`."""
        specs = self.params_type.specs()
        c.known(specs)
        for name, spec in specs.items():
            if spec.check is None:
                continue
            if spec.required:
                c.require(name, spec.check, spec.what)
            else:
                c.optional(name, spec.check, spec.what)
        self.check(step, c)

    # ------------------------------------------------------------------ graph

    def sub_scopes(self, step: "Step") -> list[SubScope]:
        """Sub-graphs the step owns (a loop body, parallel branches); none by default."""
        return []

    def successors(self, step: "Step") -> list[str]:
        """Ids the step hands control to within its own scope (sub-graph entries excluded)."""
        return list(step.next_steps) + list(step.else_steps)

    def edges(self, step: "Step") -> list[str]:
        """Every id the step leads to, sub-graph entries included (for cycle detection)."""
        return list(step.next_steps) + list(step.else_steps) + [s.entry for s in self.sub_scopes(step)]

    def reads_everything(self, step: "Step") -> bool:
        """True when the step may read any part of the state document (a loop item then carries it all)."""
        return False

    # ------------------------------------------------------------------ what it uses

    def agents_used(self, step: "Step") -> tuple[str, ...]:
        """Agent ids the step invokes."""
        return ()

    def tools_used(self, step: "Step") -> tuple[str, ...]:
        """Tool names the step calls."""
        return ()

    def secrets_used(self, step: "Step") -> tuple[str, ...]:
        """Names of the Secrets Manager secrets the step's Lambda reads at call time."""
        return ()

    def workflows_used(self, step: "Step") -> tuple[str, ...]:
        """Workflows the step runs as nested executions."""
        return ()

    def output_fields(self, step: "Step") -> dict[str, frozenset[Any] | None] | None:
        """The fields the step's output always has, each with the values it can take (``None``: any).

        ``None`` when the output's shape is not known before the run (an agent's answer, a
        tool's return value). Used for warnings about conditions that can never hold.
        """
        return None

    def deployment(self, step: "Step") -> Any:
        """A typed descriptor of what the stack deploys for the step (a schedule, a webhook), or ``None``."""
        return None

    # ------------------------------------------------------------------ compilation and picture

    def compile(self, step: "Step", scope: "Scope", ctx: "ScopeCompiler") -> dict[str, Any]:
        """The ASL states of the step, by state name (the first one named after the step)."""
        raise NotImplementedError(f"step kind {self.step_type} does not compile")

    def detail(self, step: "Step") -> str:
        """The one thing worth reading about the step in a picture, besides its id and type."""
        return ""

    def draw(self, step: "Step", pen: "Pen") -> None:
        """Draw the step's edges: by default one to its next step, labelled ``next_label``."""
        pen.link(step.next_steps[0] if step.next_steps else None, self.next_label, self.next_label or "normal")
