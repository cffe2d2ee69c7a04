"""Reading synthesized CloudFormation templates in the infrastructure tests."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["as_list", "logical_id", "render", "resources_of_type", "role_statements", "environment"]


def as_list(value: Any) -> list:
    """A policy's ``Action``/``Resource`` as a list."""
    return value if isinstance(value, list) else [value]


def logical_id(stack, construct) -> str:
    """The logical id of ``construct``'s CloudFormation resource (its default child, or itself)."""
    resource = getattr(construct.node, "default_child", None) or construct
    return stack.resolve(resource.logical_id)


def render(value: Any) -> str:
    """A template value as text: ``{"Ref": "X"}`` -> ``<X>``, ``Fn::GetAtt`` -> ``<X.Attr>``,
    ``Fn::Join`` joined; anything else as compact JSON.

    Examples
    --------
    >>> render({"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":x"]]})
    'arn:<AWS::Partition>:x'
    """
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Ref" in value:
            return f"<{value['Ref']}>"
        if "Fn::GetAtt" in value:
            return f"<{'.'.join(value['Fn::GetAtt'])}>"
        if "Fn::Join" in value:
            delimiter, items = value["Fn::Join"]
            return delimiter.join(render(item) for item in items)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def resources_of_type(template: dict, resource_type: str) -> dict[str, dict]:
    """Every resource of one type, by logical id."""
    return {k: r for k, r in template["Resources"].items() if r["Type"] == resource_type}


def role_statements(template: dict, role_logical_id: str) -> list[dict]:
    """Every statement of the inline policies attached to one role."""
    return [
        statement
        for resource in resources_of_type(template, "AWS::IAM::Policy").values()
        if {"Ref": role_logical_id} in resource["Properties"]["Roles"]
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def environment(template: dict, function_logical_id: str) -> dict[str, Any]:
    """A Lambda function's environment variables."""
    return template["Resources"][function_logical_id]["Properties"].get("Environment", {}).get("Variables", {})
