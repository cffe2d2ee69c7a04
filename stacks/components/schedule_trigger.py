"""A ``schedule`` trigger (SPEC §3): an EventBridge Scheduler schedule that starts a workflow."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from .dead_letter_queue import DeadLetterQueue

__all__ = ["ScheduleTrigger", "schedule_expression", "schedule_trigger_input"]


def schedule_expression(kind: str, expression: str) -> str:
    """Return an EventBridge Scheduler expression with its ``cron(...)``/``rate(...)`` wrapper.

    A workflow may write the expression with or without the wrapper (SPEC §3).

    Parameters
    ----------
    kind:
        ``"cron"`` or ``"rate"``.
    expression:
        The trigger's ``cron`` or ``rate`` parameter.

    Raises
    ------
    ValueError
        When ``kind`` is neither.

    Examples
    --------
    >>> schedule_expression("cron", "0 8 * * ? *")
    'cron(0 8 * * ? *)'
    >>> schedule_expression("rate", "rate(1 hour)")
    'rate(1 hour)'
    """
    if kind not in ("cron", "rate"):
        raise ValueError(f"a schedule is a 'cron' or a 'rate', not {kind!r}")
    body = expression.strip()
    if body.startswith(f"{kind}(") and body.endswith(")"):
        return body
    return f"{kind}({body})"


def schedule_trigger_input(kind: str, expression: str, timezone: str | None = None) -> dict[str, Any]:
    """The execution input a schedule sends: ``{"trigger": {"kind": "schedule", <kind>: ..., "scheduled_time"}}``.

    ``scheduled_time`` is Scheduler's context attribute ``<aws.scheduler.scheduled-time>``,
    which Scheduler replaces with the invocation's scheduled time (ISO-8601, UTC). The
    trigger's fixed ``input`` is not repeated here: the compiled trigger state merges it in.

    Examples
    --------
    >>> schedule_trigger_input("rate", "5 minutes")["trigger"]["rate"]
    'rate(5 minutes)'
    """
    trigger: dict[str, Any] = {
        "kind": "schedule",
        kind: schedule_expression(kind, expression),
        "scheduled_time": scheduler.ContextAttribute.scheduled_time,
    }
    if timezone:
        trigger["timezone"] = timezone
    return {"trigger": trigger}


class ScheduleTrigger(Construct):
    """An EventBridge Scheduler schedule that starts one workflow's state machine.

    The schedule runs at the exact times of its expression (flexible time window off), in
    ``timezone`` when given (UTC otherwise), and starts the state machine with
    ``schedule_trigger_input``. Scheduler assumes a role of its own (created by CDK's target,
    trusting ``scheduler.amazonaws.com`` for this account's default schedule group) that may
    call ``states:StartExecution`` on that state machine only and send to the dead-letter
    queue. A start that still fails after ``retry_attempts`` retries or ``max_event_age``
    lands in the dead-letter queue.

    Parameters
    ----------
    scope, construct_id:
        Where the construct goes.
    state_machine:
        The workflow's state machine.
    kind:
        ``"cron"`` or ``"rate"``.
    expression:
        The expression, with or without its wrapper.
    timezone:
        An IANA time zone name (``"Europe/Paris"``). Default: none (UTC).
    dead_letters:
        Where failed starts go.
    description:
        The schedule's description. Default: names the expression.
    retry_attempts:
        Scheduler's retries of a failed start. Default ``3``.
    max_event_age:
        How long Scheduler keeps retrying one invocation. Default 1 hour.

    Attributes
    ----------
    schedule:
        The schedule.
    expression:
        The wrapped expression.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        state_machine: sfn.IStateMachine,
        kind: str,
        expression: str,
        dead_letters: DeadLetterQueue,
        timezone: str | None = None,
        description: str | None = None,
        retry_attempts: int = 3,
        max_event_age: cdk.Duration | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.expression = schedule_expression(kind, expression)
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            description=description or f"{self.expression}{' ' + timezone if timezone else ''}",
            schedule=scheduler.ScheduleExpression.expression(
                self.expression, time_zone=cdk.TimeZone.of(timezone) if timezone else None
            ),
            time_window=scheduler.TimeWindow.off(),
            target=scheduler_targets.StepFunctionsStartExecution(
                state_machine,
                input=scheduler.ScheduleTargetInput.from_object(schedule_trigger_input(kind, expression, timezone)),
                dead_letter_queue=dead_letters.queue,
                retry_attempts=retry_attempts,
                max_event_age=max_event_age if max_event_age is not None else cdk.Duration.hours(1),
            ),
        )
