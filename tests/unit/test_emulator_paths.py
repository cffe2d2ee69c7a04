"""The local engine reads plain variable paths without JSONata (stepgraph/local/expressions.py):
whenever it does, the value is the one jsonata-python gives for the same expression."""

from __future__ import annotations

import jsonata
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonata.utils import Utils

from stepgraph.local.expressions import _NOT_PLAIN, _follow, _path_plan

KEYS = st.sampled_from(["a", "b", "item", "Value"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=12,
)
EXPRESSIONS = st.lists(KEYS, min_size=0, max_size=3).flatmap(
    lambda keys: st.sampled_from([f"$x{''.join('.' + k for k in keys)}",
                                  f"($v := $x{''.join('.' + k for k in keys)}; $exists($v) ? $v : null)",
                                  f"$x{''.join('.`' + k + '`' for k in keys)}"]))


@settings(max_examples=300, deadline=None)
@given(value=JSON, expression=EXPRESSIONS)
def test_a_path_read_directly_equals_what_jsonata_returns(value, expression):
    plan = _path_plan(expression)
    assert plan and plan[0] == "x"
    direct = _follow(plan, {"x": value})
    if direct is _NOT_PLAIN:
        return
    compiled = jsonata.Jsonata(expression)
    assert direct == Utils.convert_nulls(compiled.evaluate(None, {"x": value}))


def test_only_plain_paths_get_a_plan():
    assert _path_plan("$states.context.Map.Item.Value") == ("states", "context", "Map", "Item", "Value")
    assert _path_plan("$input.`my key`") == ("input", "my key")
    for expression in ("$states.input.a[0]", "$x.a & 'b'", "$count($x)", "($v := $x; $exists($v) ? $v : 1)", "$x.*"):
        assert _path_plan(expression) == ()
