"""Small reusable constructs the stacks are made of."""

from .agent_runtime import AgentRuntime, model_resource_arns
from .alarm_topic import AlarmTopic
from .chain_subscriptions import ChainSubscriptions, subscription_filter
from .dead_letter_queue import DeadLetterQueue
from .encrypted_topic import EncryptedTopic, grant_publish
from .logged_bucket import LoggedBucket
from .nova_act_workflow import NOVA_ACT_RUN_ACTIONS, NovaActWorkflow, nova_act_export_prefix
from .nag import MatchingAcknowledgments, acknowledge, acknowledge_matching
from .powertools_function import PowertoolsFunction, powertools_layer, powertools_parameter_name
from .record_backstop import RecordBackstop, execution_arns
from .schedule_trigger import ScheduleTrigger, schedule_expression, schedule_trigger_input
from .webhook_trigger import WebhookTrigger
from .workflow_state_machine import (
    MissingSubstitutionError,
    WorkflowResources,
    WorkflowStateMachine,
    definition_substitutions,
    has_distributed_map,
    results_prefix,
)

__all__ = (
    "AgentRuntime",
    "AlarmTopic",
    "ChainSubscriptions",
    "DeadLetterQueue",
    "EncryptedTopic",
    "LoggedBucket",
    "MatchingAcknowledgments",
    "MissingSubstitutionError",
    "NOVA_ACT_RUN_ACTIONS",
    "NovaActWorkflow",
    "PowertoolsFunction",
    "RecordBackstop",
    "ScheduleTrigger",
    "WebhookTrigger",
    "WorkflowResources",
    "WorkflowStateMachine",
    "acknowledge",
    "acknowledge_matching",
    "definition_substitutions",
    "execution_arns",
    "grant_publish",
    "has_distributed_map",
    "model_resource_arns",
    "nova_act_export_prefix",
    "powertools_layer",
    "powertools_parameter_name",
    "results_prefix",
    "schedule_expression",
    "schedule_trigger_input",
    "subscription_filter",
)
