"""Registry of the plain Python functions that ``tool_call`` steps run."""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar, overload

__all__ = (
    "REGISTRY",
    "RATE_LIMIT",
    "TIMEOUT",
    "DuplicateToolError",
    "InvalidToolError",
    "Tool",
    "ToolRegistryError",
    "ToolSignal",
    "UnknownToolError",
    "ENTRY_POINT_GROUP",
    "discover",
    "get_tool",
    "tool",
)

#: Names a tool may have: what ``tool_call`` steps write in ``parameters.tool``.
TOOL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

F = TypeVar("F", bound=Callable[..., Any])


# --------------------------------------------------------------------------- errors


class ToolRegistryError(Exception):
    """Base class of the errors the registry raises (misuse of ``@tool`` or ``get_tool``)."""


class InvalidToolError(ToolRegistryError, ValueError):
    """A tool's name does not match ``TOOL_NAME``, or the object cannot be called with keyword arguments."""


class DuplicateToolError(ToolRegistryError, ValueError):
    """Another function is already registered under the name."""


class UnknownToolError(ToolRegistryError, KeyError):
    """No tool is registered under the name; the message lists the registered ones.

    Parameters
    ----------
    name : str
        The name that was asked for.
    registered : list of str
        The names that exist.
    """

    def __init__(self, name: str, registered: list[str]) -> None:
        self.name = name
        self.registered = registered
        self.message = f"unknown tool {name!r} (registered tools: {', '.join(registered) or 'none'})"
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would repr() the message
        return self.message


class ToolSignal(Exception):
    """Base class of the errors a tool raises to fail its step with a code other than ``TOOL_ERROR``.

    The class *name* of each subclass is the error code a ``Retry``/``Catch`` matches; the
    ``tool_call`` Lambda lets them through unchanged. Any other exception a tool raises becomes
    ``TOOL_ERROR``.
    """


class RATE_LIMIT(ToolSignal):  # noqa: N801 - the class name is the Step Functions error code
    """The service behind the tool throttled it; the step is retried with back-off.

    Examples
    --------
    >>> raise RATE_LIMIT("orders API answered 429; Retry-After: 30")  # doctest: +SKIP
    """


class TIMEOUT(ToolSignal):  # noqa: N801 - the class name is the Step Functions error code
    """The tool gave up waiting (for a service, a lock, ...); the step may be retried."""


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Tool:
    """A registered tool.

    Attributes
    ----------
    name : str
        Registry key (``parameters.tool`` of a ``tool_call`` step).
    description : str
        One sentence for people and for agents choosing tools.
    function : callable
        The plain Python function, called with the step's rendered ``arguments`` as keywords.
    """

    name: str
    description: str
    function: Callable[..., Any] = field(repr=False)

    @property
    def signature(self) -> inspect.Signature:
        """The function's signature (what ``arguments`` must bind to)."""
        return inspect.signature(self.function)

    def __call__(self, **arguments: Any) -> Any:
        """Call the function with keyword arguments."""
        return self.function(**arguments)


#: Every registered tool by name; ``import tools`` fills it with the built-in tools.
REGISTRY: dict[str, Tool] = {}


def _register(function: Callable[..., Any], name: str | None, description: str) -> Tool:
    tool_name = name if name is not None else getattr(function, "__name__", "")
    if not isinstance(tool_name, str) or not TOOL_NAME.match(tool_name):
        raise InvalidToolError(
            f"invalid tool name {tool_name!r}: use 1-64 characters of [a-z0-9_] starting with a letter"
        )
    if not callable(function):
        raise InvalidToolError(f"tool {tool_name!r} is not callable: {function!r}")
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError) as exc:
        raise InvalidToolError(f"tool {tool_name!r} has no inspectable signature: {exc}") from exc
    positional_only = [
        p.name for p in signature.parameters.values()
        if p.kind is inspect.Parameter.POSITIONAL_ONLY and p.default is inspect.Parameter.empty
    ]
    if positional_only:
        raise InvalidToolError(
            f"tool {tool_name!r} has required positional-only parameters {positional_only}; "
            "tools are called with keyword arguments only"
        )
    if tool_name in REGISTRY:
        existing = REGISTRY[tool_name].function
        where = f"{getattr(existing, '__module__', '?')}.{getattr(existing, '__qualname__', '?')}"
        raise DuplicateToolError(f"a tool named {tool_name!r} is already registered ({where})")
    if not description:
        doc = inspect.getdoc(function) or ""
        description = doc.strip().splitlines()[0] if doc.strip() else ""
    registered = Tool(name=tool_name, description=description, function=function)
    REGISTRY[tool_name] = registered
    return registered


@overload
def tool(name: F) -> F: ...
@overload
def tool(name: str | None = None, description: str = "") -> Callable[[F], F]: ...


def tool(name: Any = None, description: str = "") -> Any:
    """Register a plain Python function as a tool ``tool_call`` steps can run.

    The function is returned unchanged, so it stays callable (and testable) as is. It is called
    with the step's rendered ``arguments`` as keyword arguments and must return a
    JSON-serialisable value. Raise ``RATE_LIMIT`` or ``TIMEOUT`` (from this package) to fail the
    step with those codes; any other exception fails it with ``TOOL_ERROR``.

    Parameters
    ----------
    name : str, optional
        Registry name; default the function's ``__name__``. 1-64 characters of ``[a-z0-9_]``
        starting with a letter. ``@tool`` without parentheses is accepted too.
    description : str, default ""
        What the tool does; default the first line of the function's docstring.

    Returns
    -------
    callable
        A decorator that registers the function and returns it unchanged.

    Raises
    ------
    InvalidToolError
        When the name is invalid or the function cannot be called with keyword arguments.
    DuplicateToolError
        When a tool with that name is already registered.

    Examples
    --------
    >>> @tool(description="Add two numbers")
    ... def add_numbers(a: float, b: float) -> float:
    ...     return a + b
    >>> get_tool("add_numbers")(a=1, b=2)
    3
    >>> _ = REGISTRY.pop("add_numbers")
    """
    if callable(name) and not isinstance(name, str):  # bare @tool
        _register(name, None, description)
        return name

    def decorator(function: F) -> F:
        _register(function, name, description)
        return function

    return decorator


def get_tool(name: str) -> Tool:
    """Return the tool registered under ``name``.

    Parameters
    ----------
    name : str
        The tool's registry name.

    Returns
    -------
    Tool
        The registered tool.

    Raises
    ------
    UnknownToolError
        (a ``KeyError``) When no tool has that name; the message lists the registered tools.

    Examples
    --------
    >>> get_tool("lookup_order").name
    'lookup_order'
    """
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise UnknownToolError(name, sorted(REGISTRY)) from None


#: Entry-point group through which installed packages contribute tools (``pyproject.toml``:
#: ``[project.entry-points."stepgraph.tools"]``). An entry point naming a module registers the
#: ``@tool`` functions it defines; one naming a function registers it under the entry point's name.
ENTRY_POINT_GROUP = "stepgraph.tools"


def discover() -> list[str]:
    """Import every module of this package and every ``stepgraph.tools`` entry point; their tools register.

    Modules whose names start with ``_`` are skipped. Returns the names of what was loaded
    (``tools.<module>`` and ``entry point <name>``), in the order loaded.

    Raises
    ------
    ToolRegistryError
        When an entry point cannot be loaded or registers an invalid or duplicate tool.
    """
    import importlib
    import pkgutil
    from importlib.metadata import entry_points

    loaded: list[str] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
            loaded.append(f"{__name__}.{info.name}")
    for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
        try:
            target = point.load()
        except Exception as exc:
            raise ToolRegistryError(f"entry point {point.name!r} ({point.value}) of group {ENTRY_POINT_GROUP} "
                                    f"failed to load: {type(exc).__name__}: {exc}") from exc
        if callable(target) and not inspect.ismodule(target) and point.name not in REGISTRY:
            _register(target, point.name, "")
        loaded.append(f"entry point {point.name}")
    return loaded


# Every module of tools/ registers its tools on import, no edit here needed (kept last: they
# import ``tool`` from this module).
discover()
