"""Local Lambda bundling: the requirements cache (key, reuse, invalidation) and input-keyed asset hashes.

No pip and no network: installs go through a fake installer that writes what it was asked
for, and the cache is a temporary folder (``STEPGRAPH_CACHE_DIR``).
"""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_lambda as lambda_

from stacks.components import local_bundle
from stacks.components.local_bundle import (
    PIP_PLATFORM_ARGS,
    asset_fingerprint,
    installed_requirements,
    lambda_code,
    prefetch_requirements,
    requirements_key,
)


class FakeInstaller:
    """Writes ``fakepkg/__init__.py`` holding the requirements' text; counts its calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, requirements: Path, target: Path) -> None:
        text = requirements.read_text()
        with self.lock:
            self.calls.append(text)
        (target / "fakepkg").mkdir()
        (target / "fakepkg" / "__init__.py").write_text(f"# {text}")


def _requirements(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "requirements.txt"
    path.write_text(text)
    return path


def test_requirements_key_follows_the_text_and_the_platform_not_the_path(tmp_path):
    first = _requirements(tmp_path / "a", "boto3==1.44.5\n")
    same = _requirements(tmp_path / "b", "boto3==1.44.5\n")
    other = _requirements(tmp_path / "c", "boto3==1.44.6\n")
    assert requirements_key(first) == requirements_key(same)
    assert requirements_key(first) != requirements_key(other)
    x86 = tuple("manylinux2014_x86_64" if arg == "manylinux2014_aarch64" else arg for arg in PIP_PLATFORM_ARGS)
    assert requirements_key(first, pip_args=x86) != requirements_key(first)


def test_requirements_are_installed_once_then_again_when_they_change(tmp_path):
    cache, install = tmp_path / "cache", FakeInstaller()
    requirements = _requirements(tmp_path / "fn", "boto3==1.44.5\n")

    first = installed_requirements(requirements, cache_dir=cache, install=install)
    again = installed_requirements(requirements, cache_dir=cache, install=install)
    assert again == first and install.calls == ["boto3==1.44.5\n"]

    requirements.write_text("boto3==1.44.6\n")
    changed = installed_requirements(requirements, cache_dir=cache, install=install)
    assert changed != first and install.calls[-1] == "boto3==1.44.6\n"
    assert (changed / "fakepkg" / "__init__.py").read_text() == "# boto3==1.44.6\n"
    assert (first / "fakepkg" / "__init__.py").read_text() == "# boto3==1.44.5\n"  # the old key is untouched


def test_a_failed_install_caches_nothing(tmp_path):
    cache = tmp_path / "cache"
    requirements = _requirements(tmp_path / "fn", "boto3==1.44.5\n")

    def broken(requirements: Path, target: Path) -> None:
        (target / "half-written").write_text("x")
        raise RuntimeError("pip could not install")

    with pytest.raises(RuntimeError, match="pip could not install"):
        installed_requirements(requirements, cache_dir=cache, install=broken)
    assert list(cache.iterdir()) == []  # neither the key's folder nor the temporary one
    install = FakeInstaller()
    installed_requirements(requirements, cache_dir=cache, install=install)
    assert install.calls == ["boto3==1.44.5\n"]


def test_an_install_that_finished_first_elsewhere_is_kept(tmp_path):
    cache = tmp_path / "cache"
    requirements = _requirements(tmp_path / "fn", "boto3==1.44.5\n")
    target = cache / requirements_key(requirements)

    def racing(requirements: Path, building: Path) -> None:
        (target / "winner").mkdir(parents=True)  # another synth renamed its install into place meanwhile
        (building / "loser").mkdir()

    assert installed_requirements(requirements, cache_dir=cache, install=racing) == target
    assert sorted(p.name for p in target.iterdir()) == ["winner"]
    assert sorted(p.name for p in cache.iterdir()) == [target.name]


def test_prefetched_installs_are_waited_for_and_their_errors_raised_where_used(tmp_path):
    cache, install = tmp_path / "cache", FakeInstaller()
    one = _requirements(tmp_path / "one", "boto3==1.44.5\n")
    two = _requirements(tmp_path / "two", "fastapi==0.165.0\n")
    assert prefetch_requirements([one, two, tmp_path / "missing.txt"], cache_dir=cache, install=install) == [one, two]
    assert prefetch_requirements([one], cache_dir=cache, install=install) == []  # already started
    assert (installed_requirements(one, cache_dir=cache, install=install) / "fakepkg").is_dir()
    assert (installed_requirements(two, cache_dir=cache, install=install) / "fakepkg").is_dir()
    assert sorted(install.calls) == ["boto3==1.44.5\n", "fastapi==0.165.0\n"]

    def broken(requirements: Path, target: Path) -> None:
        raise RuntimeError("pip could not install")

    three = _requirements(tmp_path / "three", "pyyaml==6.0.3\n")
    prefetch_requirements([three], cache_dir=cache, install=broken)
    with pytest.raises(RuntimeError, match="pip could not install"):
        installed_requirements(three, cache_dir=cache, install=install)


def _handler_folder(tmp_path: Path) -> tuple[Path, Path]:
    source = tmp_path / "fn"
    source.mkdir()
    (source / "handler.py").write_text("def lambda_handler(event, context):\n    return event\n")
    extra = tmp_path / "runtime"
    extra.mkdir()
    (extra / "__init__.py").write_text("VALUE = 1\n")
    return source, extra


def test_asset_fingerprint_follows_what_is_copied(tmp_path):
    source, extra = _handler_folder(tmp_path)

    def fingerprint(requirements: str | None = None) -> str:
        return asset_fingerprint(source, {"runtime": extra}, requirements=requirements)

    base = fingerprint()
    (source / "__pycache__").mkdir()
    (source / "__pycache__" / "handler.cpython-312.pyc").write_bytes(b"\0")
    (source / "tests").mkdir()
    (source / "tests" / "test_handler.py").write_text("x = 1\n")
    assert fingerprint() == base  # excluded from the copy, so from the hash

    assert fingerprint(requirements="0" * 64) != base
    (extra / "__init__.py").write_text("VALUE = 2\n")
    assert fingerprint() != base
    (extra / "__init__.py").write_text("VALUE = 1\n")
    assert fingerprint() == base
    (source / "handler.py").chmod(0o755)
    assert fingerprint() != base
    (source / "handler.py").chmod(0o644)
    (source / "helper.py").write_text("")
    assert fingerprint() != base


def test_unchanged_inputs_are_not_bundled_again_and_changed_ones_are(tmp_path, monkeypatch):
    source, extra = _handler_folder(tmp_path)
    requirements = _requirements(source, "stepgraph-fake==1.0\n")
    cache, outdir = tmp_path / "cache", tmp_path / "cdk.out"
    monkeypatch.setenv(local_bundle.CACHE_DIR_ENV, str(cache))
    bundles = []
    original = local_bundle._LocalBundle.try_bundle

    def counting(self, output_dir: str, *, image: cdk.DockerImage, **options: object) -> bool:
        bundles.append(output_dir)
        return original(self, output_dir, image=image, **options)

    monkeypatch.setattr(local_bundle._LocalBundle, "try_bundle", counting)

    def synth_assets() -> set[str]:
        # Staging (and bundling) happens when the function binds its code, into the app's outdir.
        stack = cdk.Stack(cdk.App(outdir=str(outdir)), "Bundled")
        lambda_.Function(stack, "Fn", runtime=lambda_.Runtime.PYTHON_3_12, handler="handler.lambda_handler",
                         code=lambda_code(source, {"runtime": extra}))
        return {p.name for p in outdir.glob("asset.*") if p.is_dir()}

    def cache_requirements() -> None:  # what pip would install, put into the cache beforehand
        installed_requirements(requirements, cache_dir=cache / "lambda-requirements", install=FakeInstaller())

    cache_requirements()
    first = synth_assets()
    assert len(first) == 1 and len(bundles) == 1
    asset = outdir / next(iter(first))
    assert (asset / "fakepkg" / "__init__.py").read_text() == "# stepgraph-fake==1.0\n"
    assert (asset / "handler.py").is_file() and (asset / "runtime" / "__init__.py").is_file()
    assert (asset / "requirements.txt").read_text() == "stepgraph-fake==1.0\n"  # copied with the folder, as before

    shutil.rmtree(cache)  # a re-bundle would now have to run pip
    assert synth_assets() == first and len(bundles) == 1  # same hash, bundle kept, nothing installed

    requirements.write_text("stepgraph-fake==2.0\n")
    cache_requirements()
    second = synth_assets() - first
    assert len(second) == 1 and len(bundles) == 2
    assert (outdir / next(iter(second)) / "fakepkg" / "__init__.py").read_text() == "# stepgraph-fake==2.0\n"

    (source / "handler.py").write_text("def lambda_handler(event, context):\n    return None\n")
    third = synth_assets() - first - second
    assert len(third) == 1 and len(bundles) == 3


def test_a_handler_file_over_an_installed_one_replaces_it_in_the_bundle_only(tmp_path, monkeypatch):
    source, _ = _handler_folder(tmp_path)
    requirements = _requirements(source, "stepgraph-fake==1.0\n")
    (source / "fakepkg").mkdir()
    (source / "fakepkg" / "__init__.py").write_text("# the handler's own\n")  # also a file pip installed
    cache = tmp_path / "cache"
    monkeypatch.setenv(local_bundle.CACHE_DIR_ENV, str(cache))
    installed = installed_requirements(requirements, cache_dir=cache / "lambda-requirements", install=FakeInstaller())

    stack = cdk.Stack(cdk.App(outdir=str(tmp_path / "cdk.out")), "Bundled")
    lambda_.Function(stack, "Fn", runtime=lambda_.Runtime.PYTHON_3_12, handler="handler.lambda_handler",
                     code=lambda_code(source))
    [asset] = [p for p in (tmp_path / "cdk.out").glob("asset.*") if p.is_dir()]
    assert (asset / "fakepkg" / "__init__.py").read_text() == "# the handler's own\n"  # copied last, as before
    assert (installed / "fakepkg" / "__init__.py").read_text() == "# stepgraph-fake==1.0\n"  # cache not written through
