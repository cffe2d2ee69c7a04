"""Expressions and templates of the workflow format (SPEC §4), compiled to JSONata.

Two forms exist:

* a **template**: any string; every ``{{ expr }}`` in it is replaced by the value of ``expr``.
  A string that is exactly one ``{{ expr }}`` keeps the value's JSON type.
* a **condition**: one boolean expression such as
  ``{{input.priority}} == 'high' and {{input.amount}} > 100``; ``{{ }}`` around a reference is
  optional and acts like parentheses.

Grammar (conditions and the inside of ``{{ }}``)::

    expr       := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := operand (("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "contains") operand)?
    operand    := literal | reference | "(" expr ")" | "{{" expr "}}"
    reference  := root ("." name | "[" integer "]" | "[" string "]")*
    root       := input | trigger | context | steps | execution | workflow | item | index
    literal    := 'string' | "string" | number | true | false | null

Everything compiles to a JSONata expression evaluated by Step Functions itself (JSONata query
language), so conditions, transforms and delays cost no Lambda invocation. A reference to a
missing field evaluates to ``null`` and never fails the execution; an ordering comparison
(``<`` …) between values that are not both numbers or both strings is ``false``.

Where each root lives is a *reader*'s answer (:class:`stepgraph.compiler.document.Reader`):
compiled workflows read step outputs from Step Functions variables; an expression compiled on
its own reads a state document ``{"input", "trigger", "steps", "last", "item", "index"}`` as
``$states.input``.
"""

from __future__ import annotations

import json
import math
import re
import reprlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

__all__ = [
    "ExpressionError",
    "Reference",
    "compile_condition",
    "compile_expression",
    "compile_template",
    "template_arguments",
    "template_references",
    "condition_references",
    "has_template",
    "jsonata",
]


#: Roots an expression may start with (SPEC §4).
ROOTS = ("input", "trigger", "context", "steps", "execution", "workflow", "item", "index", "secrets")
EXECUTION_FIELDS = {"id": "Id", "name": "Name", "start_time": "StartTime"}


_BRIEF = reprlib.Repr()
_BRIEF.maxstring = _BRIEF.maxother = 120
_BRIEF.maxlist = _BRIEF.maxtuple = _BRIEF.maxdict = _BRIEF.maxset = 10


def brief_repr(value: Any) -> str:
    """``repr(value)`` shortened for messages: a 200 KB value is not repeated whole."""
    return _BRIEF.repr(value)


class ExpressionError(ValueError):
    """A malformed expression or template. ``position`` is the 0-based offset of the problem."""

    def __init__(self, message: str, text: str, position: int | None = None):
        self.text = text
        self.position = position
        where = f" at offset {position}" if position is not None else ""
        shown = text
        if len(text) > 120:  # show the neighbourhood of the problem, not the whole text
            start = max(0, min(position or 0, len(text)) - 60)
            shown = ("..." if start else "") + text[start : start + 120] + ("..." if start + 120 < len(text) else "")
        super().__init__(f"{message}{where} in {shown!r}")


@dataclass(frozen=True)
class Reference:
    """A reference such as ``steps.agent.output.response``.

    Attributes
    ----------
    root:
        One of :data:`ROOTS`.
    path:
        The segments after the root: ``str`` for field names, ``int`` for array indexes.
    """

    root: str
    path: tuple[str | int, ...]

    def __str__(self) -> str:
        parts = [self.root]
        for seg in self.path:
            parts.append(f"[{seg}]" if isinstance(seg, int) else f".{seg}")
        return "".join(parts)


# --------------------------------------------------------------------------------------------
# Lexer
# --------------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<open>\{\{) | (?P<close>\}\})
  | (?P<op>==|!=|<=|>=|<|>)
  | (?P<punct>[()\[\].])
  | (?P<string>'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*")
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_-]*)
    """,
    re.VERBOSE,
)
#: A field name right after ``.``: step ids are ``[A-Za-z0-9_-]{1,64}`` (SPEC §3), so a name there
#: may start with a digit or ``-`` (``steps.2nd-pass.output``).
_FIELD_AFTER_DOT = re.compile(r"[A-Za-z0-9_-]+")
_KEYWORDS = {"and", "or", "not", "in", "contains", "true", "false", "null"}


@dataclass(frozen=True)
class _Token:
    kind: str
    value: str
    pos: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        if tokens and tokens[-1].kind == "punct" and tokens[-1].value == ".":
            field = _FIELD_AFTER_DOT.match(text, pos)
            if field:
                tokens.append(_Token("name", field.group(), pos))
                pos = field.end()
                continue
        match = _TOKEN.match(text, pos)
        if not match:
            raise ExpressionError(f"unexpected character {text[pos]!r}", text, pos)
        kind = match.lastgroup or ""
        value = match.group()
        if kind != "ws":
            if kind == "name" and value in _KEYWORDS:
                kind = "keyword"
            tokens.append(_Token(kind, value, pos))
        pos = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


# --------------------------------------------------------------------------------------------
# Parser -> small AST of tuples
# --------------------------------------------------------------------------------------------
# ("lit", value) | ("ref", Reference) | ("not", node) | ("bool", "and"|"or", left, right)
# | ("cmp", op, left, right)


#: Deepest tree an expression may parse to (parentheses, ``not``, chains of ``and``/``or``): far
#: beyond a readable condition, and well inside Python's recursion limit for the recursive
#: parser and code generator.
MAX_EXPRESSION_DEPTH = 100


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0
        self.depth = 0

    def nest(self, tok: _Token) -> None:
        """Count one level of nesting; refuse an expression nested beyond MAX_EXPRESSION_DEPTH."""
        self.depth += 1
        if self.depth > MAX_EXPRESSION_DEPTH:
            raise ExpressionError(f"expression nests deeper than {MAX_EXPRESSION_DEPTH} levels", self.text, tok.pos)

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, kind: str, value: str | None = None) -> _Token:
        tok = self.take()
        if tok.kind != kind or (value is not None and tok.value != value):
            wanted = value or {"close": "}}", "open": "{{"}.get(kind, kind)
            found = tok.value or "end of expression"
            raise ExpressionError(f"expected {wanted!r} but found {brief_repr(found)}", self.text, tok.pos)
        return tok

    def parse(self) -> tuple:
        if self.peek().kind == "end":
            raise ExpressionError("empty expression", self.text, 0)
        node = self.parse_or()
        tok = self.peek()
        if tok.kind != "end":
            raise ExpressionError(f"unexpected {brief_repr(tok.value)}", self.text, tok.pos)
        if _tree_depth(node) > MAX_EXPRESSION_DEPTH:  # a long chain of `and`/`or` is a deep tree
            raise ExpressionError(f"expression nests deeper than {MAX_EXPRESSION_DEPTH} levels "
                                  "(too many 'and'/'or' in a row)", self.text)
        return node

    def parse_or(self) -> tuple:
        node = self.parse_and()
        while self.peek().kind == "keyword" and self.peek().value == "or":
            self.take()
            node = ("bool", "or", node, self.parse_and())
        return node

    def parse_and(self) -> tuple:
        node = self.parse_not()
        while self.peek().kind == "keyword" and self.peek().value == "and":
            self.take()
            node = ("bool", "and", node, self.parse_not())
        return node

    def parse_not(self) -> tuple:
        if self.peek().kind == "keyword" and self.peek().value == "not":
            self.nest(self.take())
            node = ("not", self.parse_not())
            self.depth -= 1
            return node
        return self.parse_comparison()

    def parse_comparison(self) -> tuple:
        left = self.parse_operand()
        tok = self.peek()
        if tok.kind == "op" or (tok.kind == "keyword" and tok.value in ("in", "contains")):
            self.take()
            right = self.parse_operand()
            return ("cmp", tok.value, left, right)
        return left

    def parse_operand(self) -> tuple:
        tok = self.take()
        if tok.kind == "open":
            self.nest(tok)
            node = self.parse_or()
            self.expect("close")
            self.depth -= 1
            return node
        if tok.kind == "punct" and tok.value == "(":
            self.nest(tok)
            node = self.parse_or()
            self.expect("punct", ")")
            self.depth -= 1
            return node
        if tok.kind == "string":
            return ("lit", _unquote(tok.value, self.text, tok.pos))
        if tok.kind == "number":
            number = float(tok.value)
            if not math.isfinite(number):
                raise ExpressionError(f"number {tok.value} is too large", self.text, tok.pos)
            return ("lit", int(number) if number.is_integer() and re.fullmatch(r"-?\d+", tok.value) else number)
        if tok.kind == "keyword" and tok.value in ("true", "false", "null"):
            return ("lit", {"true": True, "false": False, "null": None}[tok.value])
        if tok.kind == "name":
            return ("ref", self.parse_reference(tok))
        found = tok.value or "end of expression"
        raise ExpressionError(f"expected a value or a reference but found {brief_repr(found)}", self.text, tok.pos)

    def parse_reference(self, first: _Token) -> Reference:
        if first.value not in ROOTS:
            raise ExpressionError(
                f"unknown root {brief_repr(first.value)}; a reference starts with one of {', '.join(ROOTS)}",
                self.text,
                first.pos,
            )
        path: list[str | int] = []
        while True:
            tok = self.peek()
            if tok.kind == "punct" and tok.value == ".":
                self.take()
                name = self.take()
                if name.kind not in ("name", "keyword", "number"):
                    raise ExpressionError("expected a field name after '.'", self.text, name.pos)
                path.append(name.value)
            elif tok.kind == "punct" and tok.value == "[":
                self.take()
                key = self.take()
                if key.kind == "number" and re.fullmatch(r"-?\d+", key.value):
                    path.append(int(key.value))
                elif key.kind == "string":
                    path.append(_unquote(key.value, self.text, key.pos))
                else:
                    raise ExpressionError("expected an integer index or a quoted key inside [ ]", self.text, key.pos)
                self.expect("punct", "]")
            else:
                break
        return Reference(first.value, tuple(path))


_SINGLE_QUOTED = re.compile(r'\\(.)|"', re.DOTALL)


def _to_json_escape(match: re.Match[str]) -> str:
    if match.group(0) == '"':
        return '\\"'
    return "'" if match.group(1) == "'" else match.group(0)


def _tree_depth(node: tuple) -> int:
    """Depth of a parsed expression, counted without recursion."""
    deepest = 0
    stack = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        if current[0] == "not":
            stack.append((current[1], depth + 1))
        elif current[0] in ("bool", "cmp"):
            stack.extend(((current[2], depth + 1), (current[3], depth + 1)))
    return deepest


def _unquote(token: str, text: str, pos: int) -> str:
    body = token[1:-1]
    if token[0] == "'":
        # to JSON string syntax: \' becomes ', a bare " becomes \", other escapes stay as they are
        body = _SINGLE_QUOTED.sub(_to_json_escape, body)
    try:
        # strict=False: a literal may hold a raw tab or newline
        return json.loads(f'"{body}"', strict=False)
    except json.JSONDecodeError as exc:
        raise ExpressionError(f"bad escape in string literal ({exc.msg})", text, pos) from exc


def _parse(text: str) -> tuple:
    return _Parser(text).parse()


def _walk_refs(node: tuple) -> Iterator[Reference]:
    kind = node[0]
    if kind == "ref":
        yield node[1]
    elif kind == "not":
        yield from _walk_refs(node[1])
    elif kind in ("bool", "cmp"):
        yield from _walk_refs(node[2])
        yield from _walk_refs(node[3])


# --------------------------------------------------------------------------------------------
# Code generation
# --------------------------------------------------------------------------------------------


def jsonata(value: Any) -> str:
    """Return a JSONata literal for a JSON value (strings, numbers, booleans, null, containers)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _field(name: str | int) -> str:
    if isinstance(name, int):
        return f"[{name}]"
    if "`" in name or not name.isprintable():
        # JSONata cannot escape a backtick inside `...`, and a raw line break would split the
        # {% %} expression over lines: look such a key up from the context item instead
        return f".$lookup($, {jsonata(name)})"
    return "." + "`" + name + "`"


def _reader(reader: Any) -> Any:
    if reader is not None:
        return reader
    from .compiler.document import DocumentReader

    return DocumentReader()


def _ref_path(ref: Reference, workflow_name: str, reader: Any) -> str:
    """JSONata path for a reference; may evaluate to undefined. ``reader`` says where each root lives."""
    segs = ref.path
    if ref.root == "input":
        base = reader.input()
    elif ref.root == "trigger":
        base = reader.trigger()
    elif ref.root == "context":
        base = reader.input() + ".`context`"
    elif ref.root == "steps":
        base = reader.step(str(segs[0]))
        segs = tuple(segs[2:]) if len(segs) >= 2 and segs[1] == "output" else tuple(segs[1:])
    elif ref.root == "item":
        base = reader.item()
    elif ref.root == "index":
        base = reader.index()
    elif ref.root == "execution":
        if not segs or segs[0] not in EXECUTION_FIELDS:
            raise ValueError(f"execution.{segs[0] if segs else ''} is not one of execution.id, .name, .start_time")
        base = f"$states.context.Execution.{EXECUTION_FIELDS[str(segs[0])]}"
        segs = segs[1:]
    elif ref.root == "workflow":
        if list(segs) != ["name"]:
            raise ValueError("the only workflow field is workflow.name")
        return jsonata(workflow_name)
    elif ref.root == "secrets":
        # a secret's value never enters the state machine: api_call headers hand its name to
        # the Lambda, which resolves it at call time (stepgraph.steps.api_call)
        raise ValueError("secrets.<name> is only resolved inside an api_call step's headers")
    else:  # pragma: no cover - the parser rejects other roots
        raise ValueError(ref.root)
    return base + "".join(_field(s) for s in segs)


#: Fields of an offload reference itself, which a native state may read.
_REFERENCE_FIELDS = ("offloaded", "preview")


def _value(ref: Reference, workflow_name: str, reader: Any = None) -> str:
    """JSONata for a reference that yields ``null`` for a missing field (SPEC §4).

    Reading *into* a step output that a Lambda moved to S3 (an offload reference, see
    ``lambdas/shared/stepgraph_offload.py``) fails the state with a clear message instead: the
    value is not in Step Functions, so a condition or transform cannot see its fields.
    """
    reader = _reader(reader)
    path = _ref_path(ref, workflow_name, reader)
    if ref.root == "workflow":
        return path
    fields = ref.path[2:] if ref.root == "steps" and len(ref.path) >= 2 and ref.path[1] == "output" else ()
    if ref.root == "steps" and fields and fields[0] not in _REFERENCE_FIELDS:
        step_id = str(ref.path[0])
        message = jsonata(f"{ref} reads into the output of step '{step_id}', which is held in S3 (")
        tail = jsonata(" bytes, more than a Step Functions state carries): only agent_execution, tool_call and "
                       "api_call steps receive it whole; read it there")
        return (f"($b := {reader.step(step_id)}; $type($b) = 'object' and $exists($b.offloaded.s3_uri) ? "
                f"$error({message} & $string($b.offloaded.size_bytes) & {tail}) : "
                f"($v := {path}; $exists($v) ? $v : null))")
    return f"($v := {path}; $exists($v) ? $v : null)"


def _gen(node: tuple, workflow_name: str, reader: Any = None) -> str:
    kind = node[0]
    if kind == "lit":
        return jsonata(node[1])
    if kind == "ref":
        return _value(node[1], workflow_name, reader)
    if kind == "not":
        return f"$not({_truthy(node[1], workflow_name, reader)})"
    if kind == "bool":
        return f"({_truthy(node[2], workflow_name, reader)} {node[1]} {_truthy(node[3], workflow_name, reader)})"
    if kind == "cmp":
        op, left, right = node[1], _gen(node[2], workflow_name, reader), _gen(node[3], workflow_name, reader)
        if op in ("==", "!="):
            jop = "=" if op == "==" else "!="
            return f"($l := {left}; $r := {right}; $l {jop} $r)"
        if op in ("<", "<=", ">", ">="):
            return (
                f"($l := {left}; $r := {right}; "
                f"($type($l) = $type($r) and $type($l) in ['number', 'string']) ? $l {op} $r : false)"
            )
        if op in ("in", "contains"):
            needle, haystack = (left, right) if op == "in" else (right, left)
            return (
                f"($n := {needle}; $h := {haystack}; "
                "$type($h) = 'string' ? ($type($n) = 'string' ? $contains($h, $n) : false) : "
                "$type($h) = 'array' ? ($n in $h) : "
                "$type($h) = 'object' ? ($type($n) = 'string' ? $n in $keys($h) : false) : false)"
            )
    raise ValueError(f"unknown node {node!r}")  # pragma: no cover


def _truthy(node: tuple, workflow_name: str, reader: Any = None) -> str:
    """Coerce to boolean the way JSONata's ``$boolean`` does, with ``null``/missing as false."""
    if node[0] in ("cmp", "bool", "not"):
        return _gen(node, workflow_name, reader)
    return f"$boolean({_gen(node, workflow_name, reader)})"


def _strip_braces(text: str) -> str:
    """``{{ x }}`` or plain ``x`` → ``x``: conditions may be written either way."""
    return text.strip()


def compile_condition(text: str, *, workflow_name: str = "", reader: Any = None) -> str:
    """Compile a condition to a JSONata boolean expression (without ``{% %}``).

    Parameters
    ----------
    text:
        The condition, e.g. ``"{{input.priority}} == 'high' and {{input.amount}} > 100"``.
    workflow_name:
        Value of ``workflow.name`` references.
    reader:
        Where the roots live (:class:`stepgraph.compiler.document.Reader`); by default a state
        document ``{"input", "trigger", "steps", "last", "item", "index"}`` read as ``$states.input``.

    Returns
    -------
    str
        A JSONata expression that is ``true`` or ``false`` for every input.

    Raises
    ------
    ExpressionError
        When the condition is malformed.

    Examples
    --------
    >>> compile_condition("{{input.n}} > 1").startswith("($l := ")
    True
    """
    if not isinstance(text, str):
        raise ExpressionError("a condition must be a string", repr(text))
    node = _parse(_strip_braces(text))
    try:
        return _truthy(node, workflow_name, reader)
    except ValueError as exc:
        raise ExpressionError(str(exc), text) from exc


def compile_expression(text: str, *, workflow_name: str = "", reader: Any = None) -> str:
    """Compile one expression (the inside of ``{{ }}``, braces optional) to JSONata.

    Raises
    ------
    ExpressionError
        When the expression is malformed.
    """
    node = _parse(_strip_braces(text))
    try:
        return _gen(node, workflow_name, reader)
    except ValueError as exc:
        raise ExpressionError(str(exc), text) from exc


def has_template(value: Any) -> bool:
    """True when ``value`` (any JSON value) contains a ``{{ }}`` anywhere."""
    if isinstance(value, str):
        return "{{" in value
    if isinstance(value, Mapping):
        return any(has_template(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(has_template(v) for v in value)
    return False


def _template_spans(text: str) -> list[tuple[int, int, str]]:
    """Each ``{{ ... }}`` of a template string as ``(start, end, inside)``, in one linear pass.

    Each ``{{`` pairs with the first ``}}`` after it (as the regular expression
    ``\\{\\{(.*?)\\}\\}`` would, but without its quadratic backtracking over unclosed
    ``{{``: 20,000 of them took 22 s; SPEC §13 asks for linear scanning).

    Raises
    ------
    ExpressionError
        When a ``{{`` is never closed or a ``}}`` is never opened.
    """
    spans: list[tuple[int, int, str]] = []
    outside: list[str] = []
    pos = 0
    while True:
        start = text.find("{{", pos)
        if start < 0:
            break
        end = text.find("}}", start + 2)
        if end < 0:
            raise ExpressionError("unbalanced '{{' or '}}': a '{{' is never closed", text, start)
        outside.append(text[pos:start])
        spans.append((start, end + 2, text[start + 2 : end]))
        pos = end + 2
    outside.append(text[pos:])
    stripped = "".join(outside)
    if "{{" in stripped or "}}" in stripped:
        raise ExpressionError("unbalanced '{{' or '}}'", text)
    return spans


def _compile_string(text: str, workflow_name: str, reader: Any = None) -> str:
    matches = _template_spans(text)
    if not matches:
        return jsonata(text)
    if len(matches) == 1 and matches[0][:2] == (0, len(text)):
        return compile_expression(matches[0][2], workflow_name=workflow_name, reader=reader)
    parts: list[str] = []
    pos = 0
    for start, end, inside in matches:
        if start > pos:
            parts.append(jsonata(text[pos:start]))
        inner = compile_expression(inside, workflow_name=workflow_name, reader=reader)
        parts.append(f"($s := {inner}; $type($s) = 'string' ? $s : $string($s))")
        pos = end
    if pos < len(text):
        parts.append(jsonata(text[pos:]))
    return "(" + " & ".join(parts) + ")"


def compile_template(value: Any, *, workflow_name: str = "", reader: Any = None) -> str:
    """Compile a template value (any JSON value) to one JSONata expression.

    Strings are rendered per SPEC §4; objects and arrays are rendered member by member;
    other values stay literal.

    Raises
    ------
    ExpressionError
        When a ``{{ }}`` inside is malformed.

    Examples
    --------
    >>> compile_template({"n": 1})
    '{"n":1}'
    """
    if isinstance(value, str):
        return _compile_string(value, workflow_name, reader)
    if isinstance(value, dict):
        members = ",".join(f"{jsonata(str(k))}:{compile_template(v, workflow_name=workflow_name, reader=reader)}" for k, v in value.items())
        return "{" + members + "}"
    if isinstance(value, list):
        return "[" + ",".join(compile_template(v, workflow_name=workflow_name, reader=reader) for v in value) + "]"
    return jsonata(value)


def template_arguments(value: Any, *, workflow_name: str = "", reader: Any = None) -> Any:
    """Render a template value as a JSON tree whose templated strings are ``{% %}`` leaves.

    This keeps ``Arguments`` readable in the Step Functions console: only the strings that hold
    ``{{ }}`` become JSONata; everything else stays plain JSON. A plain string that happens to
    start with ``{%`` is wrapped so Step Functions does not take it for JSONata.
    """
    if isinstance(value, dict):
        return {k: template_arguments(v, workflow_name=workflow_name, reader=reader) for k, v in value.items()}
    if isinstance(value, list):
        return [template_arguments(v, workflow_name=workflow_name, reader=reader) for v in value]
    if isinstance(value, str) and ("{{" in value or value.lstrip().startswith("{%")):
        return "{% " + _compile_string(value, workflow_name, reader) + " %}"
    return value


def _visit_strings(value: Any, fn: Callable[[str], None]) -> None:
    # the model keeps parameters frozen: objects are MappingProxyType, arrays are tuples
    if isinstance(value, str):
        fn(value)
    elif isinstance(value, Mapping):
        for v in value.values():
            _visit_strings(v, fn)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _visit_strings(v, fn)


def template_references(value: Any) -> list[Reference]:
    """Every reference inside a template value.

    Raises
    ------
    ExpressionError
        When a ``{{ }}`` is malformed.
    """
    refs: list[Reference] = []

    def collect(text: str) -> None:
        for _start, _end, inside in _template_spans(text):
            refs.extend(_walk_refs(_parse(inside)))

    _visit_strings(value, collect)
    return refs


def condition_references(text: str) -> list[Reference]:
    """Every reference inside a condition.

    Raises
    ------
    ExpressionError
        When the condition is malformed.
    """
    return list(_walk_refs(_parse(_strip_braces(text))))


def condition_comparisons(text: str) -> list[tuple[str, Any, Any]]:
    """Every comparison of a condition as ``(operator, left, right)``.

    Each side is a :class:`Reference` or ``("literal", value)`` (or ``None`` for anything
    else, e.g. a nested expression). Used for warnings about comparisons that can never hold.

    Raises
    ------
    ExpressionError
        When the condition is malformed.
    """
    found: list[tuple[str, Any, Any]] = []

    def side(node: tuple) -> Any:
        if node[0] == "ref":
            return node[1]
        if node[0] == "lit":
            return ("literal", node[1])
        return None

    def walk(node: tuple) -> None:
        if node[0] == "cmp":
            found.append((node[1], side(node[2]), side(node[3])))
        elif node[0] == "not":
            walk(node[1])
        elif node[0] == "bool":
            walk(node[2])
            walk(node[3])

    walk(_parse(_strip_braces(text)))
    return found
