"""Acknowledging cdk-nag findings, each with a written reason (cdk-nag v3).

cdk-nag v3 runs as a CDK policy-validation plugin and takes acknowledgments through CDK's own
``Validations.of(construct).acknowledge(...)``, one exact id per finding: a multi-finding
rule such as ``AwsSolutions-IAM5`` reports ``AwsSolutions-IAM5[Resource::<resource>]``. When
the resource is a reference to another stack, its text is only known once CDK has resolved
cross-stack references, inside ``synth``. ``acknowledge_matching`` covers those: it records a
pattern on the construct, and ``MatchingAcknowledgments`` (a validation plugin registered
before cdk-nag) turns every IAM finding that matches into an exact acknowledgment, reading
the synthesized templates and the cloud assembly's construct metadata.
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
#: Metadata type under which CDK records a ``CfnElement``'s logical id (cloud-assembly-schema
#: ``ArtifactMetadataEntryType.LOGICAL_ID``).
LOGICAL_ID_METADATA = "aws:cdk:logicalId"

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
    cdk.Validations.of(scope).acknowledge(*(cdk.Acknowledgment(id=ack_id, reason=reason) for ack_id in ids))


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


def _stack_metadata(template_path: Path) -> dict[str, list[dict]]:
    """Construct path (``/Stack/A/B``) → metadata entries of the stack whose template is ``template_path``.

    Read from the cloud assembly that ``synth`` wrote before it ran the validation plugins:
    ``manifest.json`` next to the template names the stack artifact, whose metadata is inline
    (``metadata``) or in its ``additionalMetadataFile`` (aws-cdk-lib ``cloud-assembly-schema``).
    """
    folder = template_path.parent
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for artifact in manifest.get("artifacts", {}).values():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        if artifact.get("properties", {}).get("templateFile") != template_path.name:
            continue
        if "additionalMetadataFile" in artifact:
            return json.loads((folder / artifact["additionalMetadataFile"]).read_text(encoding="utf-8"))
        return artifact.get("metadata", {})
    raise LookupError(f"{folder / 'manifest.json'} names no stack with the template {template_path.name}")


def _find(root: IConstruct, path: str, found: dict[str, IConstruct]) -> IConstruct:
    """The construct at ``path`` (``/Stack/A/B``) under ``root``; ``found`` memoizes paths (each step is a jsii call)."""
    if path in ("", "/"):
        return root
    if path not in found:
        parent, _, child = path.rpartition("/")
        found[path] = _find(root, parent, found).node.find_child(child)
    return found[path]


@jsii.implements(cdk.IPolicyValidationPlugin)
class MatchingAcknowledgments:
    """Validation plugin that turns ``acknowledge_matching`` patterns into exact acknowledgments.

    It reports nothing itself. Register it before cdk-nag::

        cdk.Validations.of(app).add_plugins(MatchingAcknowledgments(), AwsSolutionsChecks(app))

    It reads the cloud assembly (each stack's construct metadata: the patterns and the IAM
    resources' logical ids) and the synthesized templates, and visits only the constructs it
    acknowledges, so its cost does not grow with the size of the construct tree.
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
        """Acknowledge the matching findings; always succeed.

        Raises
        ------
        LookupError
            The cloud assembly does not describe a validated stack (not a ``synth`` output).
        """
        constructs: dict[str, IConstruct] = {}  # by path, found on first use
        for stack in context.stack_templates:
            template_path = Path(stack.template_path)
            metadata = _stack_metadata(template_path)
            patterns = {path: [entry["data"] for entry in entries if entry.get("type") == PATTERN_METADATA]
                        for path, entries in metadata.items()}
            patterns = {path: listed for path, listed in patterns.items() if listed}
            if not patterns:
                continue
            resources = json.loads(template_path.read_text(encoding="utf-8")).get("Resources", {})
            for path, entries in metadata.items():
                logical_ids = [entry["data"] for entry in entries if entry.get("type") == LOGICAL_ID_METADATA]
                resource = resources.get(logical_ids[0], {}) if logical_ids else {}
                if resource.get("Type") not in _IAM_TYPES:
                    continue
                scopes = [entry for scope, listed in patterns.items() if path == scope or path.startswith(scope + "/")
                          for entry in listed]
                acknowledgments = [
                    cdk.Acknowledgment(id=f"{entry['rule']}[{finding}]", reason=entry["reason"])
                    for finding in sorted(iam_findings(resource["Type"], resource.get("Properties", {})))
                    for entry in scopes if re.fullmatch(entry["pattern"], finding)
                ]
                if acknowledgments:
                    cdk.Validations.of(_find(context.app_construct, path, constructs)).acknowledge(*acknowledgments)
        return cdk.PolicyValidationPluginReport(success=True, violations=[])
