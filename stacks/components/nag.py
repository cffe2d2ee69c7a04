"""Acknowledging cdk-nag findings, each with a written reason (cdk-nag v3).

cdk-nag v3 runs as a CDK policy-validation plugin and takes acknowledgments through CDK's own
``Validations.of(construct).acknowledge(...)``, one exact id per finding: a multi-finding
rule such as ``AwsSolutions-IAM5`` reports ``AwsSolutions-IAM5[Resource::<resource>]``. When
the resource is a reference to another stack, its text is only known once CDK has resolved
cross-stack references, inside ``synth``. ``acknowledge_matching`` covers those: it records a
pattern on the construct, and ``MatchingAcknowledgments`` (a validation plugin registered
before cdk-nag) turns every IAM finding that matches into an exact acknowledgment, reading
the synthesized template.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterable, Iterator

import aws_cdk as cdk
import jsii
from constructs import IConstruct

__all__ = ["acknowledge", "acknowledge_matching", "MatchingAcknowledgments", "flatten_reference", "iam_findings"]

#: Metadata type under which ``acknowledge_matching`` records its patterns.
PATTERN_METADATA = "stepgraph:acknowledge-matching"

_IAM_TYPES = ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::Role")


def acknowledge(scope: IConstruct, rule_id: str, reason: str, *, findings: Iterable[str] = ()) -> None:
    """Acknowledge a cdk-nag rule on ``scope`` and everything under it, with a written reason.

    Parameters
    ----------
    scope:
        The construct whose findings are acknowledged (a resource, a construct, a stack).
    rule_id:
        E.g. ``"AwsSolutions-L1"``.
    reason:
        Why the finding is acceptable; it lands in ``validation-report.json``.
    findings:
        Finding ids of a multi-finding rule (``"Resource::*"``, ``"Action::s3:*"``). Default:
        none, acknowledge the rule itself.

    Examples
    --------
    >>> acknowledge(role, "AwsSolutions-IAM5", "X-Ray takes no resource", findings=["Resource::*"])  # doctest: +SKIP
    """
    ids = [f"{rule_id}[{finding}]" for finding in findings] or [rule_id]
    for ack_id in ids:
        cdk.Validations.of(scope).acknowledge(cdk.Acknowledgment(id=ack_id, reason=reason))


def acknowledge_matching(scope: IConstruct, rule_id: str, reason: str, *, pattern: str) -> None:
    """Acknowledge every finding of an IAM rule under ``scope`` whose id matches ``pattern``.

    For findings that name a resource of another stack (known only at synth). Needs
    ``MatchingAcknowledgments`` among the app's validation plugins (``build_stacks`` adds it).

    Parameters
    ----------
    scope:
        The construct (its IAM policies and roles, and those below it).
    rule_id:
        ``"AwsSolutions-IAM5"``.
    reason:
        Why the findings are acceptable.
    pattern:
        A regular expression the whole finding id must match, e.g.
        ``r"Resource::.*/results/customer-support/\\*"``.
    """
    re.compile(pattern)  # fail at the call, not at synth
    scope.node.add_metadata(PATTERN_METADATA, {"rule": rule_id, "pattern": pattern, "reason": reason})


def flatten_reference(value: Any) -> str:
    """Render a resolved CloudFormation value the way cdk-nag names it in a finding.

    ``Fn::Join`` joins, ``Fn::Sub``'s ``${x}`` becomes ``<x>``, ``Fn::GetAtt`` becomes
    ``<Logical.Attr>``, ``Ref`` becomes ``<Name>``, ``Fn::ImportValue`` its export name, and
    anything else its JSON (cdk-nag's ``flattenCfnReference``).

    Examples
    --------
    >>> flatten_reference({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::b/*"]]})
    'arn:<AWS::Partition>:s3:::b/*'
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if isinstance(value, dict):
        if "Fn::Join" in value:
            delimiter, items = value["Fn::Join"]
            return delimiter.join(flatten_reference(item) for item in items)
        if "Fn::Sub" in value:
            return flatten_reference(value["Fn::Sub"])
        if "Fn::GetAtt" in value:
            resource, attribute = value["Fn::GetAtt"]
            return f"<{flatten_reference(resource)}.{flatten_reference(attribute)}>"
        if "Fn::ImportValue" in value:
            return flatten_reference(value["Fn::ImportValue"])
        if "Ref" in value:
            return f"<{flatten_reference(value['Ref'])}>"
    return json.dumps(value, separators=(",", ":"))


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _statements(resource_type: str, properties: dict) -> Iterator[dict]:
    documents = []
    if resource_type == "AWS::IAM::Role":
        documents = [p.get("PolicyDocument", {}) for p in properties.get("Policies", []) or []]
    else:
        documents = [properties.get("PolicyDocument", {})]
    for document in documents:
        for statement in _as_list(document.get("Statement", [])):
            if isinstance(statement, dict):
                yield statement


def iam_findings(resource_type: str, properties: dict) -> set[str]:
    """Return the ``Action::``/``Resource::`` wildcard findings an IAM resource can raise.

    Parameters
    ----------
    resource_type:
        ``AWS::IAM::Policy``, ``AWS::IAM::ManagedPolicy`` or ``AWS::IAM::Role``.
    properties:
        The resource's synthesized ``Properties``.

    Returns
    -------
    set[str]
        Finding ids such as ``"Resource::arn:<AWS::Partition>:s3:::b/*"``.
    """
    findings: set[str] = set()
    for statement in _statements(resource_type, properties):
        if statement.get("Effect") != "Allow":
            continue
        for action in _as_list(statement.get("Action", [])):
            if isinstance(action, str) and "*" in action:
                findings.add(f"Action::{action}")
        for resource in _as_list(statement.get("Resource", [])):
            flat = flatten_reference(resource)
            if "*" in flat:
                findings.add(f"Resource::{flat}")
    return findings


def _walk(root: IConstruct) -> Iterator[IConstruct]:
    yield root
    for child in root.node.children:
        yield from _walk(child)


@jsii.implements(cdk.IPolicyValidationPlugin)
class MatchingAcknowledgments:
    """Validation plugin that turns ``acknowledge_matching`` patterns into exact acknowledgments.

    It reports nothing itself. Register it before cdk-nag::

        cdk.Validations.of(app).add_plugins(MatchingAcknowledgments(), AwsSolutionsChecks(app))
    """

    @property
    def name(self) -> str:
        """Name shown in the validation report."""
        return "StepgraphAcknowledgments"

    @property
    def version(self) -> str | None:
        """Not versioned separately."""
        return None

    @property
    def rule_ids(self) -> list[str] | None:
        """It has no rules of its own."""
        return None

    def validate(self, context: cdk.IPolicyValidationContext) -> cdk.PolicyValidationPluginReport:
        """Acknowledge the matching findings; always succeed."""
        templates = {
            stack.stack_construct_path: json.loads(Path(stack.template_path).read_text(encoding="utf-8"))
            for stack in context.stack_templates
        }
        for scope in _walk(context.app_construct):
            patterns = [entry.data for entry in scope.node.metadata if entry.type == PATTERN_METADATA]
            if not patterns:
                continue
            for construct in _walk(scope):
                if not isinstance(construct, cdk.CfnResource) or construct.cfn_resource_type not in _IAM_TYPES:
                    continue
                stack = cdk.Stack.of(construct)
                template = templates.get(stack.node.path)
                if template is None:
                    continue
                logical_id = stack.resolve(stack.get_logical_id(construct))
                properties = template.get("Resources", {}).get(logical_id, {}).get("Properties", {})
                for finding in sorted(iam_findings(construct.cfn_resource_type, properties)):
                    for entry in patterns:
                        if re.fullmatch(entry["pattern"], finding):
                            acknowledge(construct, entry["rule"], entry["reason"], findings=[finding])
        return cdk.PolicyValidationPluginReport(success=True, violations=[])
