"""Exceptions raised by stepgraph: one base class, ``Error``-suffixed subclasses."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ErrorCode

__all__ = ["StepgraphError", "ProjectError", "WorkflowValidationError", "ValidationIssue"]


class StepgraphError(Exception):
    """Base class of every error stepgraph raises on purpose."""


class ProjectError(StepgraphError):
    """The project layout is wrong: an agent folder, a workflow file or a setting cannot be read."""


@dataclass(frozen=True)
class ValidationIssue:
    """One problem found in a workflow document.

    Attributes
    ----------
    message:
        A sentence saying what is wrong and, where it helps, how to fix it.
    step_id:
        The step the problem belongs to, or ``None`` for a document-level problem.
    path:
        JSON path of the offending value inside the document, e.g. ``steps[2].parameters.agent_id``.
    code:
        Always ``VALIDATION_ERROR`` (SPEC §7); kept so an issue serializes like a runtime error.
    """

    message: str
    step_id: str | None = None
    path: str = ""
    code: str = ErrorCode.VALIDATION_ERROR.value

    def __str__(self) -> str:
        where = f"step '{self.step_id}'" if self.step_id else "workflow"
        at = f" ({self.path})" if self.path else ""
        return f"{where}{at}: {self.message}"

    def to_dict(self) -> dict[str, str | None]:
        """Return ``{"code", "step", "path", "message"}`` for JSON output."""
        return {"code": self.code, "step": self.step_id, "path": self.path, "message": self.message}


class WorkflowValidationError(StepgraphError):
    """A workflow document has one or more problems; ``issues`` lists every one of them.

    ``code`` is ``VALIDATION_ERROR``, the code of SPEC §7.
    """

    code = ErrorCode.VALIDATION_ERROR.value

    def __init__(self, issues: list[ValidationIssue] | tuple[ValidationIssue, ...], source: str | None = None):
        self.issues = tuple(issues)
        self.source = source
        head = f"{source}: " if source else ""
        lines = "\n".join(f"  - {issue}" for issue in self.issues)
        super().__init__(f"{head}invalid workflow for {len(self.issues)} reason(s):\n{lines}")
