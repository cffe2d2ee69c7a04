"""Importing a package from a folder by path (the project's ``tools``), without touching ``sys.path``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

__all__ = ["import_package"]


def import_package(name: str, folder: str | Path) -> ModuleType:
    """Import the package in ``folder`` (holding ``__init__.py``) as top-level module ``name``.

    The package is loaded with :mod:`importlib` and registered in ``sys.modules`` under ``name``;
    its submodules import through the package's own search location, so ``sys.path`` is never
    changed. A module ``name`` already imported from the same folder is returned as is; one from
    another folder is replaced, with its submodules (and put back if this import fails).

    Parameters
    ----------
    name : str
        The module name (``"tools"``).
    folder : str or Path
        The package's folder.

    Returns
    -------
    module

    Raises
    ------
    ModuleNotFoundError
        When ``folder/__init__.py`` does not exist.
    Exception
        Whatever the package raises while importing.
    """
    package = Path(folder).resolve()
    init = package / "__init__.py"
    if not init.is_file():
        raise ModuleNotFoundError(f"no package {name!r} in {package}", name=name)
    cached = sys.modules.get(name)
    cached_file = getattr(cached, "__file__", None)
    if cached is not None and cached_file and Path(cached_file).resolve() == init:
        return cached
    spec = importlib.util.spec_from_file_location(name, init, submodule_search_locations=[str(package)])
    if spec is None or spec.loader is None:  # pragma: no cover - a file path always has a loader
        raise ModuleNotFoundError(f"cannot import {init}", name=name)

    def own(module_name: str) -> bool:
        return module_name == name or module_name.startswith(name + ".")

    saved = {n: m for n, m in sys.modules.items() if own(n)}
    for n in saved:
        del sys.modules[n]
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        for n in [n for n in sys.modules if own(n)]:
            del sys.modules[n]
        sys.modules.update(saved)
        raise
    return module
