"""Lambda code assets bundled without Docker, keyed by their inputs so an unchanged asset is not rebuilt.

A handler folder that needs more than its own files (extra folders such as
``stepgraph_runtime``, or a ``requirements.txt``) is bundled locally: pip installs the
requirements for Lambda's platform, then the folder and the extras are copied over them.
Two things keep a repeated ``cdk synth`` from redoing that work:

* **The asset hash is computed from the inputs** (``AssetHashType.CUSTOM``,
  :func:`asset_fingerprint`): the handler folder's and the extras' files (names, contents,
  executable bits, with the same exclusions as the copy), the requirements' cache key and
  :data:`BUNDLE_FORMAT`. CDK names the bundle ``cdk.out/asset.<hash>`` and skips bundling
  when that folder exists (``AssetStaging.bundle`` in aws-cdk-lib ``core/lib/asset-staging.ts``).
  Any change to an input gives a new hash, hence a new bundle.
* **Installed requirements are cached** (:func:`installed_requirements`) in
  ``<cache>/lambda-requirements/<key>/``, where ``<key>`` (:func:`requirements_key`) hashes the
  requirements file's text, pip's platform arguments (:data:`PIP_PLATFORM_ARGS`), the
  interpreter and pip version that install, and :data:`BUNDLE_FORMAT`. A fresh checkout (no
  cache) installs once; editing ``requirements.txt`` gives a new key, hence a new install.
  ``<cache>`` is ``$STEPGRAPH_CACHE_DIR``, else ``$XDG_CACHE_HOME/stepgraph``, else
  ``~/.cache/stepgraph`` (:func:`cache_root`); deleting it is always safe. With an empty
  cache, ``build_stacks`` starts every install at once, in the background
  (:func:`prefetch_requirements`), so they run side by side while the stacks are built.

The bundle's content is what an uncached bundling writes: the cached folder *is* the
``pip install --target`` output, hard-linked (or, across file systems, copied) into the bundle
before the handler's files are copied. What the key cannot see: a requirement that is not
pinned (or a transitive dependency, such as boto3's ``urllib3``) resolves once per key, at the
first install, and stays at that version until the requirements file changes or the cache is
deleted; pip's own configuration (index URLs, constraints files, ``PIP_*`` variables) is not
part of the key either. Pin every line to deploy the same versions from every machine, and
delete the cache after changing pip's configuration.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable, Mapping

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

__all__ = [
    "BUNDLE_FORMAT",
    "CACHE_DIR_ENV",
    "PIP_PLATFORM_ARGS",
    "asset_fingerprint",
    "cache_root",
    "installed_requirements",
    "lambda_code",
    "pip_install",
    "prefetch_requirements",
    "requirements_key",
]

#: Environment variable that moves the cache (default ``$XDG_CACHE_HOME/stepgraph`` or ``~/.cache/stepgraph``).
CACHE_DIR_ENV = "STEPGRAPH_CACHE_DIR"
#: pip's target platform: Lambda's arm64 (``manylinux2014_aarch64``), CPython 3.12, wheels only,
#: no ``.pyc`` files.
PIP_PLATFORM_ARGS = (
    "--no-compile", "--only-binary=:all:", "--platform", "manylinux2014_aarch64",
    "--implementation", "cp", "--python-version", "3.12",
)
#: Version of what bundling writes for given inputs; bump it when that changes (exclusions,
#: layout, pip arguments' meaning), so every key and asset hash changes with it.
BUNDLE_FORMAT = "1"
#: Files never copied into a bundle (and not part of its fingerprint).
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "tests")

#: ``install(requirements, target)``: put the requirements' packages into the empty folder ``target``.
Installer = Callable[[Path, Path], None]


def cache_root() -> Path:
    """The stepgraph cache folder: ``$STEPGRAPH_CACHE_DIR``, else ``$XDG_CACHE_HOME/stepgraph``, else ``~/.cache/stepgraph``.

    Examples
    --------
    >>> os.environ[CACHE_DIR_ENV] = "/tmp/sg-cache"; cache_root()
    PosixPath('/tmp/sg-cache')
    >>> del os.environ[CACHE_DIR_ENV]
    """
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stepgraph"


def _installer_identity() -> str:
    # A --target install writes the installing interpreter into console scripts' shebangs and
    # pip's version into INSTALLER/RECORD: the key names both, so a cached folder is exactly
    # what this interpreter and pip would write now.
    try:
        pip_version = importlib.metadata.version("pip")
    except importlib.metadata.PackageNotFoundError:
        pip_version = "none"
    return f"{sys.executable}\0pip {pip_version}"


def requirements_key(requirements: Path, *, pip_args: tuple[str, ...] = PIP_PLATFORM_ARGS) -> str:
    """The cache key of one requirements file installed for Lambda: 64 hex digits.

    sha256 of :data:`BUNDLE_FORMAT`, ``pip_args``, the installing interpreter and pip
    version, and the file's bytes. The file's path does not count (two folders with the same
    requirements share one install); files it includes (``-r``, ``-c``) are not read.

    Raises
    ------
    FileNotFoundError
        ``requirements`` does not exist.

    Examples
    --------
    >>> requirements_key(Path("lambdas/invoke_agent/requirements.txt"))  # doctest: +SKIP
    '3f1c…'
    """
    digest = hashlib.sha256()
    for part in (f"stepgraph-bundle {BUNDLE_FORMAT}", "\0".join(pip_args), _installer_identity()):
        digest.update(part.encode() + b"\0\0")
    digest.update(Path(requirements).read_bytes())
    return digest.hexdigest()


def pip_install(requirements: Path, target: Path) -> None:
    """Install ``requirements`` into ``target`` for Lambda's platform (:data:`PIP_PLATFORM_ARGS`) with this interpreter's pip.

    Raises
    ------
    RuntimeError
        pip failed; the message holds its error output.
    """
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *PIP_PLATFORM_ARGS,
               "--target", str(target), "--requirement", str(requirements)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"pip could not install {requirements} for Lambda:\n{done.stderr}")


#: Installs started by ``prefetch_requirements`` and not yet claimed, by cache folder.
_PREFETCHED: dict[Path, Future] = {}


def _cache_target(requirements: Path, cache_dir: Path | None) -> Path:
    cache_dir = Path(cache_dir) if cache_dir is not None else cache_root() / "lambda-requirements"
    return cache_dir / requirements_key(requirements)


def _install_into(target: Path, requirements: Path, install: Installer) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{target.name[:16]}-", dir=target.parent))
    try:
        install(requirements, building)
        try:
            building.rename(target)
        except OSError:
            if not target.is_dir():  # not a concurrent install that finished first
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target


def installed_requirements(requirements: Path, *, cache_dir: Path | None = None, install: Installer = pip_install) -> Path:
    """The folder holding ``requirements`` installed for Lambda, installing them on first use.

    The folder is ``<cache_dir>/<requirements_key(requirements)>``. When it is missing,
    ``install`` writes into a fresh temporary folder beside it, which is then renamed into
    place: a folder under its key is always complete, and concurrent synths (pytest-xdist)
    that install the same key keep one result. An install that :func:`prefetch_requirements`
    started for the same folder is waited for instead. Never modify the returned folder.

    Parameters
    ----------
    requirements:
        A pip requirements file.
    cache_dir:
        Where installs are kept. Default ``cache_root() / "lambda-requirements"``.
    install:
        ``install(requirements, target)``. Default :func:`pip_install` (needs PyPI).

    Returns
    -------
    pathlib.Path
        The installed packages (what ``pip install --target`` wrote).

    Raises
    ------
    RuntimeError
        The install failed (nothing is cached then).
    """
    requirements = Path(requirements)
    target = _cache_target(requirements, cache_dir)
    started = _PREFETCHED.pop(target, None)
    if started is not None:
        return started.result()
    if target.is_dir():
        return target
    return _install_into(target, requirements, install)


def prefetch_requirements(files: Iterable[Path], *, cache_dir: Path | None = None,
                          install: Installer = pip_install) -> list[Path]:
    """Start installing, in background threads, the requirements files that are not cached yet.

    A synth from an empty cache then runs its pip installs side by side, while the stacks are
    built, instead of one after the other at bundling time. :func:`installed_requirements`
    waits for a started install and raises its error there; an install nothing waits for is
    simply cached (its error, if any, is dropped).

    Parameters
    ----------
    files:
        Requirements files (missing ones are skipped).
    cache_dir, install:
        As for :func:`installed_requirements`.

    Returns
    -------
    list[pathlib.Path]
        The requirements files whose install was started.
    """
    started = []
    for requirements in files:
        requirements = Path(requirements)
        if not requirements.is_file():
            continue
        target = _cache_target(requirements, cache_dir)
        if target.is_dir() or target in _PREFETCHED:
            continue
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stepgraph-pip")
        _PREFETCHED[target] = pool.submit(_install_into, target, requirements, install)
        pool.shutdown(wait=False)
        started.append(requirements)
    return started


def _files(path: Path) -> list[tuple[str, Path]]:
    """(posix path relative to ``path``, file) of what ``shutil.copytree(path, …, ignore=IGNORE)`` copies, sorted."""
    if not path.is_dir():
        return [("", path)]
    found = []
    for folder, dirs, names in os.walk(path, followlinks=True):  # copytree follows links too
        ignored = IGNORE(folder, dirs + names)
        dirs[:] = sorted(d for d in dirs if d not in ignored)
        base = Path(folder).relative_to(path)
        found += [((base / name).as_posix(), Path(folder) / name) for name in names if name not in ignored]
    return sorted(found)


def asset_fingerprint(source: Path, extras: Mapping[str, Path], *, requirements: str | None) -> str:
    """The asset hash of one locally bundled Lambda folder: 64 hex digits, from its inputs only.

    sha256 over :data:`BUNDLE_FORMAT`, ``requirements`` (a :func:`requirements_key`, or ``None``)
    and, for the folder and then each extra by its path inside the asset, every file that the
    bundling copies: its path inside the asset, whether it is executable and its content's sha256.

    Parameters
    ----------
    source:
        The handler folder (copied to the asset's root).
    extras:
        Path inside the asset → file or folder copied there.
    requirements:
        The requirements' cache key, or ``None`` when nothing is installed.

    Examples
    --------
    >>> asset_fingerprint(Path("lambdas/chain"), {"stepgraph_runtime": Path("stepgraph_runtime")},
    ...                   requirements=None)  # doctest: +SKIP
    '9c0e…'
    """
    digest = hashlib.sha256(f"stepgraph-bundle {BUNDLE_FORMAT}\0requirements {requirements}\0".encode())
    for prefix, path in [("", Path(source)), *sorted((relative, Path(p)) for relative, p in extras.items())]:
        for relative, file in _files(path):
            name = "/".join(part for part in (prefix, relative) if part)
            executable = bool(file.stat().st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
            digest.update(f"{name}\0{int(executable)}\0".encode())
            digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def _link_or_copy(source: str, target: str) -> None:
    """Hard-link a cached file into a bundle (same content, mode and mtime, no copy), else copy it.

    Bundles and the cache then share files, as uv's environments share its cache: neither is
    ever written to in place (CDK only zips a bundle; a cache folder never changes once
    renamed into place). A cache on another file system is copied from (``copy2``).
    """
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def _copy_over(source: str, target: str) -> None:
    """``copy2`` onto a bundle file that may be a hard link into the cache: replace it, never write through it."""
    if os.path.lexists(target):
        os.unlink(target)
    shutil.copy2(source, target)


@jsii.implements(cdk.ILocalBundling)
class _LocalBundle:
    """Local bundling (no Docker): installed requirements, then the handler folder, then the extras."""

    def __init__(self, source: Path, extras: Mapping[str, Path], requirements: Path | None):
        self.source = source
        self.extras = dict(extras)
        self.requirements = requirements

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_: object) -> bool:
        out = Path(output_dir)
        if self.requirements is not None:
            shutil.copytree(installed_requirements(self.requirements), out, dirs_exist_ok=True, symlinks=True,
                            copy_function=_link_or_copy)
        shutil.copytree(self.source, out, dirs_exist_ok=True, ignore=IGNORE, copy_function=_copy_over)
        for relative, path in self.extras.items():
            target = out / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if path.is_dir():
                shutil.copytree(path, target, dirs_exist_ok=True, ignore=IGNORE, copy_function=_copy_over)
            else:
                _copy_over(str(path), str(target))
        return True


def lambda_code(code_path: Path, extras: Mapping[str, Path] | None = None) -> lambda_.Code:
    """The code asset of a Lambda folder, bundled without Docker when it needs more than its own files.

    Without extras and without ``requirements.txt``: ``Code.from_asset`` of the folder (less
    ``__pycache__``, ``*.pyc``, ``tests``). Otherwise a bundle of the folder's pinned
    requirements (pip, wheels for arm64 / CPython 3.12; needs PyPI on the first install of a
    requirements file, see the module docstring), the folder and ``extras``, whose asset hash
    is :func:`asset_fingerprint` (unchanged inputs: no bundling at the next synth).

    Parameters
    ----------
    code_path:
        The handler's folder.
    extras:
        Path inside the asset → file or folder copied there. Default: none.

    Raises
    ------
    FileNotFoundError
        An extra does not exist.

    Examples
    --------
    >>> code = lambda_code(Path("lambdas/chain"), {"stepgraph_runtime": Path("stepgraph_runtime")})  # doctest: +SKIP
    """
    code_path = Path(code_path)
    extras = {relative: Path(path) for relative, path in (extras or {}).items()}
    requirements = code_path / "requirements.txt"
    if not extras and not requirements.is_file():
        return lambda_.Code.from_asset(str(code_path), exclude=["__pycache__", "*.pyc", "tests"])
    missing = [str(path) for path in extras.values() if not path.exists()]
    if missing:
        raise FileNotFoundError(f"files to bundle with {code_path} do not exist: {missing}")
    requirements_file = requirements if requirements.is_file() else None
    key = requirements_key(requirements_file) if requirements_file is not None else None
    return lambda_.Code.from_asset(
        str(code_path),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        asset_hash=asset_fingerprint(code_path, extras, requirements=key),
        bundling=cdk.BundlingOptions(
            # Never pulled: the local bundling always succeeds, so synth needs no Docker.
            image=cdk.DockerImage.from_registry("public.ecr.aws/sam/build-python3.12"),
            local=_LocalBundle(code_path, extras, requirements_file),
        ),
    )
