"""Unit tests for stepgraph.expressions: the compiled JSONata is evaluated for real (jsonata-python).

Every expression is evaluated the way Step Functions evaluates a ``{% %}`` field: ``$states.input``
is the state document ``{"input", "trigger", "steps", "last"}`` (plus ``item``/``index`` in a loop
body) and ``$states.context`` holds the execution's ``Id``, ``Name`` and ``StartTime``.
"""

from __future__ import annotations

import json
from typing import Any

import jsonata
import pytest

from stepgraph.expressions import (
    ExpressionError,
    Reference,
    compile_condition,
    compile_expression,
    compile_template,
    condition_references,
    has_template,
    template_arguments,
    template_references,
)
from stepgraph.model import freeze

CONTEXT = {
    "Execution": {
        "Id": "arn:aws:states:us-east-1:123456789012:execution:orders:run-42",
        "Name": "run-42",
        "StartTime": "2025-01-02T03:04:05.678Z",
    }
}

EXECUTION_INPUT = {
    "priority": "high",
    "amount": 150,
    "ratio": 0.25,
    "zero": 0,
    "tags": ["vip", "new"],
    "numbers": [1, 2, 3],
    "single": [{"id": "o-1"}],
    "customer": {"id": "c-7", "name": "Zoë"},
    "message": "please refund my order",
    "empty": "",
    "nothing": None,
    "flag": True,
    "context": {"customer_id": "c-7", "locale": "fr"},
    "session_id": "s-1",
}


def state_document(**overrides: Any) -> dict[str, Any]:
    """The state document a compiled state reads as ``$states.input``."""
    document: dict[str, Any] = {
        "input": EXECUTION_INPUT,
        "trigger": {"kind": "chat", "current_message": "hi"},
        "steps": {
            "trigger": {"kind": "chat", "current_message": "hi"},
            "classify-intent": {"intent": "refund", "score": 0.9, "labels": ["a", "b"]},
            "approval": {"decision": "approved", "approver": "lead@example.com"},
        },
        "last": {"decision": "approved"},
    }
    document.update(overrides)
    return document


def evaluate(expression: str, document: dict[str, Any] | None = None, context: dict[str, Any] | None = None) -> Any:
    """Evaluate a compiled JSONata expression with ``$states`` bound as Step Functions binds it."""
    states = {"input": state_document() if document is None else document, "context": CONTEXT if context is None else context}
    result = jsonata.Jsonata("($states := " + json.dumps(states) + "; " + expression + ")").evaluate(None)
    # jsonata-python returns its own list subclass; compare plain JSON values
    return json.loads(json.dumps(result))


def condition(text: str, document: dict[str, Any] | None = None) -> Any:
    return evaluate(compile_condition(text, workflow_name="orders"), document)


def render(template: Any, document: dict[str, Any] | None = None) -> Any:
    return evaluate(compile_template(template, workflow_name="orders"), document)


# ----------------------------------------------------------------------------- conditions


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{input.priority}} == 'high'", True),
        ("{{input.priority}} == 'low'", False),
        ("{{input.priority}} != 'low'", True),
        ('{{input.priority}} == "high"', True),
        ("input.priority == 'high'", True),  # braces are optional in a condition
        ("{{ input.priority }} == 'high'", True),
        ("{{input.flag}} == true", True),
        ("{{input.nothing}} == null", True),
        ("{{input.flag}} == 1", False),  # a boolean is not a number
        ("{{input.amount}} == '150'", False),  # nor is a string
    ],
)
def test_evaluate_condition_compares_with_equality(text: str, expected: bool) -> None:
    # GIVEN a condition with == or != WHEN it is compiled and evaluated THEN it yields the boolean
    assert condition(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{input.amount}} > 100", True),
        ("{{input.amount}} >= 150", True),
        ("{{input.amount}} > 150", False),
        ("{{input.amount}} < 150.5", True),
        ("{{input.amount}} <= 149", False),
        ("{{input.ratio}} < 0.3", True),
        ("{{input.amount}} > -1", True),
        ("{{input.amount}} == 1.5e2", True),
        ("{{input.amount}} == 150.0", True),
        ("'apple' < 'banana'", True),
        ("{{input.priority}} >= 'high'", True),
        ("{{input.amount}} > '100'", False),  # number vs string: ordering is false, not an error
        ("{{input.flag}} > 0", False),  # boolean vs number
        ("{{input.tags}} > 0", False),  # array vs number
    ],
)
def test_evaluate_condition_orders_numbers_and_strings_only(text: str, expected: bool) -> None:
    assert condition(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # `and` binds tighter than `or`: false or (true and true)
        ("{{input.priority}} == 'low' or {{input.amount}} > 100 and {{input.flag}} == true", True),
        # ... and (false or true) and false would be false
        ("({{input.priority}} == 'low' or {{input.amount}} > 100) and {{input.flag}} == false", False),
        ("{{input.priority}} == 'low' or ({{input.amount}} > 100 and {{input.flag}} == false)", False),
        ("true or false and false", True),
        ("(true or false) and false", False),
        # `not` binds looser than a comparison and tighter than `and`
        ("not {{input.priority}} == 'low'", True),
        ("not {{input.priority}} == 'high' and true", False),
        ("not ({{input.priority}} == 'high' or true)", False),
        ("not not true", True),
        ("not {{input.missing}}", True),
        ("((({{input.amount}} == 150)))", True),
        ("{{ {{input.amount}} == 150 }}", True),  # {{ }} groups like parentheses
    ],
)
def test_evaluate_condition_respects_precedence_and_parentheses(text: str, expected: bool) -> None:
    assert condition(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # strings: substring
        ("'refund' in {{input.message}}", True),
        ("{{input.message}} contains 'refund'", True),
        ("{{input.message}} contains 'cancel'", False),
        ("'' in {{input.message}}", True),
        ("5 in {{input.message}}", False),  # a number is never a substring
        # arrays: membership
        ("'vip' in {{input.tags}}", True),
        ("{{input.tags}} contains 'new'", True),
        ("'gold' in {{input.tags}}", False),
        ("2 in {{input.numbers}}", True),
        ("'2' in {{input.numbers}}", False),
        ("{{steps.classify-intent.output.labels}} contains 'b'", True),
        # objects: key membership
        ("'name' in {{input.customer}}", True),
        ("{{input.customer}} contains 'id'", True),
        ("'Zoë' in {{input.customer}}", False),  # values are not keys
        ("1 in {{input.customer}}", False),
        # anything else: false
        ("'a' in {{input.amount}}", False),
        ("'a' in {{input.missing}}", False),
        ("{{input.missing}} in {{input.tags}}", False),
        ("{{input.missing}} contains 'x'", False),
    ],
)
def test_evaluate_condition_in_and_contains_on_strings_arrays_objects(text: str, expected: bool) -> None:
    assert condition(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{input.missing}} == null", True),
        ("{{input.missing.deeper.still}} == null", True),
        ("{{input.missing}} != null", False),
        ("{{input.missing}} == 'high'", False),
        ("{{input.missing}} < 3", False),
        ("{{input.missing}} >= 3", False),
        ("3 > {{input.missing}}", False),
        ("{{input.nothing}} < 3", False),
        ("{{input.tags[7]}} == null", True),
        ("{{steps.not-run-yet.output.x}} == null", True),
        ("{{context.missing}} == null", True),
        ("{{input.missing}}", False),
        ("{{input.missing}} or {{input.flag}}", True),
        ("{{input.missing}} and true", False),
    ],
)
def test_evaluate_condition_sees_missing_fields_as_null(text: str, expected: bool) -> None:
    # GIVEN a reference to a field the input lacks WHEN evaluated THEN it is null, never an error
    assert condition(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{input.flag}}", True),
        ("{{input.priority}}", True),
        ("{{input.empty}}", False),
        ("{{input.amount}}", True),
        ("{{input.zero}}", False),
        ("{{input.tags}}", True),
        ("{{input.nothing}}", False),
        ("{{input.customer}}", True),
    ],
)
def test_evaluate_condition_coerces_a_bare_reference_to_boolean(text: str, expected: bool) -> None:
    assert condition(text) is expected


def test_evaluate_condition_survives_an_input_that_is_not_an_object() -> None:
    # GIVEN a state document whose execution input is a string WHEN a field of it is read
    document = state_document(input="just text")
    # THEN the field is missing (null), not an error
    assert condition("{{input.priority}} == null", document) is True
    assert condition("{{input.amount}} > 1", document) is False


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{steps.classify-intent.output.intent}} == 'refund'", True),
        ("{{steps.classify-intent.output.score}} > 0.5", True),
        ("{{steps.approval.output.decision}} == 'approved' and {{input.amount}} > 100", True),
        ("{{steps.trigger.output.kind}} == 'chat'", True),
        ("{{steps['classify-intent'].output.intent}} == 'refund'", True),
        ("{{trigger.kind}} == 'chat'", True),
        ("{{trigger.current_message}} == 'hi'", True),
        ("{{context.customer_id}} == 'c-7'", True),
        ("{{input.context.locale}} == 'fr'", True),
        ("{{input.tags[0]}} == 'vip'", True),
        ("{{input.tags[-1]}} == 'new'", True),
        ("{{input.single[0].id}} == 'o-1'", True),
        ("{{input.customer['name']}} == 'Zoë'", True),
    ],
)
def test_evaluate_condition_reads_every_root(text: str, expected: bool) -> None:
    # GIVEN step outputs stored flat (steps.<id> IS the output) WHEN steps.<id>.output.x is read
    # THEN it finds the value; ids with '-' work
    assert condition(text) is expected


def test_evaluate_condition_reads_step_ids_that_start_with_a_digit_or_dash() -> None:
    # GIVEN step ids allowed by SPEC §3 ([A-Za-z0-9_-]{1,64}) that do not start with a letter
    document = state_document(steps={"2nd-pass": {"ok": True}, "-draft": {"n": 3}, "123": {"n": 4}})
    # WHEN they are referenced THEN they parse and read the step's output
    assert condition("{{steps.2nd-pass.output.ok}} == true", document) is True
    assert condition("{{steps.-draft.output.n}} == 3", document) is True
    assert condition("{{steps.123.output.n}} == 4", document) is True


def test_evaluate_condition_reads_item_and_index_in_a_loop_body() -> None:
    document = state_document(item={"sku": "A-1", "qty": 2}, index=3)
    assert condition("{{item.sku}} == 'A-1' and {{item.qty}} >= 2 and {{index}} == 3", document) is True


def test_evaluate_condition_reads_execution_and_workflow_fields() -> None:
    assert condition("{{execution.name}} == 'run-42'") is True
    assert condition("{{execution.id}} contains ':execution:orders:'") is True
    assert condition("{{execution.start_time}} == '2025-01-02T03:04:05.678Z'") is True
    assert condition("{{workflow.name}} == 'orders'") is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{input.customer.name}} == 'Zoë'", True),
        ("{{input.customer.name}} == \"Zo\\u00eb\"", True),
        ("'it\\'s' == \"it's\"", True),
        ("'say \"hi\"' == \"say \\\"hi\\\"\"", True),
        ("'say \\\"hi\\\"' == 'say \"hi\"'", True),
        ("'back\\\\slash' contains '\\\\'", True),
        ("'日本語' contains '本'", True),
        ("'}} and {{' contains '}}'", True),
        ("'tab\there' contains '\t'", True),
    ],
)
def test_evaluate_condition_handles_quotes_escapes_and_unicode_in_literals(text: str, expected: bool) -> None:
    assert condition(text) is expected


def test_compile_condition_returns_a_boolean_for_every_input_shape() -> None:
    # GIVEN one condition and inputs of every JSON type at the referenced field
    compiled = compile_condition("{{input.v}} > 1 or {{input.v}} == 'x' or 'k' in {{input.v}}")
    for value in (None, True, 0, 2, -1.5, "", "x", [], [2], {}, {"k": 1}):
        document = state_document(input={"v": value})
        # WHEN evaluated THEN the result is a boolean, never undefined or an error
        assert isinstance(evaluate(compiled, document), bool), value


# ----------------------------------------------------------------------------- templates


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{input.amount}}", 150),
        ("{{ input.ratio }}", 0.25),
        ("{{input.flag}}", True),
        ("{{input.customer}}", {"id": "c-7", "name": "Zoë"}),
        ("{{input.tags}}", ["vip", "new"]),
        ("{{input.single}}", [{"id": "o-1"}]),  # a one-element array stays an array
        ("{{input.nothing}}", None),
        ("{{input.missing}}", None),
        ("{{input.missing.deeper}}", None),
        ("{{steps.classify-intent.output}}", {"intent": "refund", "score": 0.9, "labels": ["a", "b"]}),
        ("{{trigger}}", {"kind": "chat", "current_message": "hi"}),
        ("{{input.amount > 100}}", True),
        ("{{ 'a' in input.tags }}", False),
    ],
)
def test_render_template_whole_string_keeps_the_json_type(template: str, expected: Any) -> None:
    # GIVEN a string that is exactly one {{ expr }} WHEN rendered THEN the value keeps its JSON type
    assert render(template) == expected
    assert type(render(template)) is type(expected)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Hello {{input.customer.name}}!", "Hello Zoë!"),
        ("amount={{input.amount}}", "amount=150"),
        ("ratio={{input.ratio}}", "ratio=0.25"),
        ("flag={{input.flag}}", "flag=true"),
        ("context={{input.context}}", 'context={"customer_id":"c-7","locale":"fr"}'),
        ("tags={{input.tags}}", 'tags=["vip","new"]'),
        ("m={{input.missing}}", "m=null"),
        ("n={{input.nothing}}", "n=null"),
        ("{{input.priority}}/{{input.amount}}", "high/150"),
        ("{{input.priority}}{{input.priority}}", "highhigh"),
        ("{{input.amount}} > 100", "150 > 100"),
        ("{{execution.id}} {{execution.name}} {{execution.start_time}}",
         "arn:aws:states:us-east-1:123456789012:execution:orders:run-42 run-42 2025-01-02T03:04:05.678Z"),
        ("{{workflow.name}}-result", "orders-result"),
        ("line1 {{input.priority}}\nline2 \"quoted\" 'single' ünïcødé", "line1 high\nline2 \"quoted\" 'single' ünïcødé"),
        ("no template here", "no template here"),
        ("", ""),
        ("{% not jsonata %}", "{% not jsonata %}"),
        ("$states.input", "$states.input"),
    ],
)
def test_render_template_interpolates_strings_numbers_objects_and_null(template: str, expected: str) -> None:
    assert render(template) == expected


def test_render_template_interpolates_an_object_as_json_text() -> None:
    # GIVEN an object holding non-ASCII text WHEN interpolated THEN the text is its JSON
    # (jsonata-python escapes non-ASCII where Step Functions' JSONata does not: compare decoded)
    rendered = render("customer={{input.customer}}")
    assert rendered.startswith("customer=")
    assert json.loads(rendered[len("customer="):]) == {"id": "c-7", "name": "Zoë"}


def test_render_template_renders_objects_and_arrays_member_by_member() -> None:
    # GIVEN a template object with nested templates and literals
    template = {
        "reply": "Dear {{input.customer.name}}",
        "amount": "{{input.amount}}",
        "items": ["{{input.tags[0]}}", 2, None, {"deep": "{{steps.approval.output.decision}}"}],
        "static": {"n": 1, "b": False},
        "with space": "{{input.missing}}",
    }
    # WHEN rendered THEN every member is rendered and literals stay literal
    assert render(template) == {
        "reply": "Dear Zoë",
        "amount": 150,
        "items": ["vip", 2, None, {"deep": "approved"}],
        "static": {"n": 1, "b": False},
        "with space": None,
    }


def test_render_template_keeps_non_string_literals() -> None:
    assert render(42) == 42
    assert render(True) is True
    assert render(None) is None
    assert render([]) == []
    assert render({}) == {}


def test_template_arguments_wraps_only_templated_strings() -> None:
    # GIVEN an Arguments-like object WHEN rendered for the console
    rendered = template_arguments({"a": "{{input.amount}}", "b": "plain", "c": [1, "{% looks like jsonata %}"]})
    # THEN only strings with {{ }} (or that look like JSONata) become {% %} leaves
    assert rendered["b"] == "plain"
    assert rendered["c"][0] == 1
    assert rendered["a"].startswith("{% ") and rendered["a"].endswith(" %}")
    assert evaluate(rendered["a"][3:-3]) == 150
    assert evaluate(rendered["c"][1][3:-3]) == "{% looks like jsonata %}"


def test_render_template_reads_keys_with_backticks_spaces_and_line_breaks() -> None:
    document = state_document(input={"a`b": 1, "a b.c": 2, "two\nlines": 3})
    assert render("{{input['a`b']}}", document) == 1
    assert render("{{input['a b.c']}}", document) == 2
    assert render("{{input['two\\nlines']}}", document) == 3
    # the compiled expression stays on one line (statelint reads a {% %} value line by line)
    assert "\n" not in compile_template("{{input['two\\nlines']}}")


def test_compile_expression_accepts_braces_or_bare_references() -> None:
    assert evaluate(compile_expression("{{input.amount}}")) == 150
    assert evaluate(compile_expression("input.amount")) == 150
    assert evaluate(compile_expression(" input.tags ")) == ["vip", "new"]


# ----------------------------------------------------------------------------- references


def test_template_references_lists_every_reference_in_nested_values() -> None:
    # GIVEN a frozen template object (the model freezes parameters: mappings and tuples)
    value = freeze({"a": "{{input.x}} and {{steps.s-1.output.y[0]}}", "b": ["{{item.z}}", {"c": "{{execution.name}}"}]})
    # WHEN its references are listed THEN every nested string is visited
    assert template_references(value) == [
        Reference("input", ("x",)),
        Reference("steps", ("s-1", "output", "y", 0)),
        Reference("item", ("z",)),
        Reference("execution", ("name",)),
    ]


def test_template_references_raise_for_a_malformed_nested_string() -> None:
    with pytest.raises(ExpressionError):
        template_references(freeze({"a": ["ok {{input.x}}", {"b": "{{input.y"}]}))


def test_has_template_finds_nested_templates_in_frozen_values() -> None:
    assert has_template(freeze({"a": [{"b": "{{input.x}}"}]})) is True
    assert has_template(freeze({"a": [{"b": "plain"}], "n": 1})) is False


def test_condition_references_lists_references_in_order() -> None:
    refs = condition_references("{{steps.approval.output.decision}} == 'approved' and item['k'] in index")
    assert [str(r) for r in refs] == ["steps.approval.output.decision", "item.k", "index"]


# ----------------------------------------------------------------------------- malformed


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "{{input.priority}",
        "{{input.priority",
        "input.priority}}",
        "{{}}",
        "{{foo.bar}} == 1",
        "$states.input == 1",
        "{{input.priority}} ==",
        "== 'high'",
        "{{input.amount}} > 1 and",
        "or true",
        "not",
        "{{input.a}} {{input.b}}",
        "(input.a == 1",
        "input.a == 1)",
        "input.",
        "input[",
        "input[name]",
        "input['a'",
        "input.a = 1",
        "input.a === 1",
        "input.a <> 1",
        "'bad \\q escape' == input.a",
        "\"bad \\x escape\" == input.a",
        "'unterminated == input.a",
        "input.a == 1e999",
        "execution.bogus == 1",
        "execution == 1",
        "workflow.id == 1",
        "input.a == 1 2",
        "input.a == @",
        "(" * 5000 + "true" + ")" * 5000,  # nested beyond the parser's depth limit
        "not " * 5000 + "true",
        "{{" * 3000 + "input.a" + "}}" * 3000,
        " and ".join(["true"] * 20000),  # a chain that deep would overflow the code generator
    ],
    ids=lambda text: text if len(text) < 40 else f"{text[:20]}...({len(text)} characters)",
)
def test_compile_condition_raises_expression_error_when_malformed(text: str) -> None:
    # GIVEN a malformed condition WHEN compiled THEN ExpressionError (a ValueError) is raised
    with pytest.raises(ExpressionError):
        compile_condition(text)


@pytest.mark.parametrize(
    "template",
    [
        "{{",
        "}}",
        "Hello {{ input.name",
        "Hello input.name }}",
        "{{input.a}} }}",
        "{{ }}",
        "{{ nope.x }}",
        "{{input.a}} and {{ steps. }}",
        "{{{input.a}}}",
        "{{ input.a == }}",
        "{{ execution.bogus }}",
        "{{ 'bad \\q' }}",
    ],
)
def test_compile_template_raises_expression_error_when_malformed(template: str) -> None:
    with pytest.raises(ExpressionError):
        compile_template(template)
    with pytest.raises(ExpressionError):
        compile_template({"nested": [template]})


def test_compile_condition_accepts_nesting_up_to_the_limit() -> None:
    # GIVEN conditions nested deeply, but within 100 levels WHEN evaluated THEN they still work
    assert condition("(" * 90 + "{{input.amount}} == 150" + ")" * 90) is True
    assert condition(" and ".join(["{{input.flag}}"] * 60)) is True
    assert condition("not " * 80 + "true") is True


def test_compile_condition_rejects_a_value_that_is_not_a_string() -> None:
    with pytest.raises(ExpressionError):
        compile_condition(5)  # type: ignore[arg-type]


def test_expression_error_reports_the_offset_of_the_problem() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_condition("{{input.a}} == 1 and {{nope.b}} == 2")
    assert caught.value.position == 23
    assert "unknown root 'nope'" in str(caught.value)


# ----------------------------------------------------------------------------- linear scanning (SPEC §13)


@pytest.mark.parametrize("text", ["{{" * 20_000, "{{ input.a }}" + "{{" * 20_000, "}}" * 20_000 + "{{ input.a }}"])
def test_template_with_20000_unbalanced_braces_is_rejected_in_well_under_a_second(text: str) -> None:
    import time

    started = time.perf_counter()
    with pytest.raises(ExpressionError, match="unbalanced"):
        template_references(text)
    with pytest.raises(ExpressionError, match="unbalanced"):
        compile_template(text)
    assert time.perf_counter() - started < 0.2


@pytest.mark.parametrize(("text", "references"), [
    ("{{input.a}} and {{ input.b }}", ["a", "b"]),
    ("{{{input.a}}", None),  # the inside is "{input.a": not an expression
    ("a }} b", None),
    ("{{input.a}}}}", None),
    ("{ {{input.a}} }", ["a"]),
])
def test_template_scanning_pairs_each_open_with_the_next_close(text: str, references: list[str] | None) -> None:
    if references is None:
        with pytest.raises(ExpressionError):
            template_references(text)
    else:
        assert [r.path[0] for r in template_references(text)] == references
