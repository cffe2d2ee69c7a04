"""The execution HTTP API stack: API Gateway, Cognito, the API and approvals-decider functions (SPEC §9)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from constructs import Construct

from .components.http_api import HttpApi
from .naming import state_machine_name
from .settings import Settings
from .workflows_stack import WorkflowsStack

__all__ = ["ApiStack"]


class ApiStack(cdk.Stack):
    """The deployed API over the workflows stack's state machines (see ``stacks.components.http_api``).

    Parameters
    ----------
    scope, construct_id:
        Where the stack goes.
    workflows:
        The workflows stack: its state machines, approvals table and agent invoker.
    project:
        ``stepgraph.load_project(root)``: the root (bundled), agent ids and tools.
    settings:
        Deployment settings (prefix, retention, removal policy). Default ``Settings()``.
    **kwargs:
        Passed to ``cdk.Stack``.

    Attributes
    ----------
    http:
        The ``HttpApi`` construct (``http.api``, ``http.user_pool`` …).
    """

    def __init__(self, scope: Construct, construct_id: str, *, workflows: WorkflowsStack, project: Any,
                 settings: Settings | None = None, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        settings = settings or Settings()
        self.add_dependency(workflows)
        from stepgraph.project import registered_tools

        root = Path(project.root)
        self.http = HttpApi(
            self, "Http", project_root=root,
            state_machines={name: m.state_machine for name, m in workflows.state_machines.items()},
            state_machine_names={name: state_machine_name(settings.stack_prefix, name) for name in workflows.state_machines},
            approvals_table=workflows.approvals_table,
            invoker_role=workflows.invoker.role, invoker_function=workflows.invoker.function,
            agents=sorted(project.agents), tools=sorted(project.tools or registered_tools(root)),
            name_prefix=settings.stack_prefix.lower(), log_retention=settings.retention,
            removal_policy=settings.cdk_removal_policy,
        )
        cdk.CfnOutput(self, "ApiUrl", value=self.http.api.url,
                      description="Base URL of the execution API (routes under api/); send a Cognito ID token as a bearer token")
        cdk.CfnOutput(self, "ConsoleUrl", value=self.http.console_url,
                      description="The web console: sign in with a user of the pool (hosted UI)")
        cdk.CfnOutput(self, "UserPoolId", value=self.http.user_pool.user_pool_id,
                      description="Cognito user pool of the API's users (create approvers here; self sign-up is closed)")
        cdk.CfnOutput(self, "UserPoolClientId", value=self.http.user_pool_client.user_pool_client_id,
                      description="App client for signing in (SRP) to obtain an ID token")
