"""Shared fixtures: fault-injection plugins installed through real entry points."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from seqbench.manager import Registry, get_registry, load_registry

FIXTURES = Path(__file__).parent / "fixtures"
ENTRY_POINTS = {
    "faulty-good": "faulty_plugins:good",
    "faulty-raises": "faulty_plugins:raises",
    "faulty-invalid": "faulty_plugins:invalid",
    "faulty-duplicate": "faulty_plugins:duplicate",
    "faulty-unknown-hook": "faulty_plugins:unknown_hook",
    "faulty-missing": "no_such_module_anywhere",
}


def install_fake_distribution(site: Path, name: str, entry_points: dict[str, str], module: Path | None) -> None:
    """Write a minimal installed distribution (a ``*.dist-info``) into ``site``: the same
    metadata pip writes, so importlib.metadata finds its entry points exactly as in a
    real install."""
    info = site / f"{name.replace('-', '_')}-0.3.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.3.1\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[seqbench]\n{lines}\n")
    if module is not None:
        shutil.copy(module, site / module.name)


@pytest.fixture
def faulty_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A site folder with the faulty plugins installed, on sys.path and on PYTHONPATH
    (so spawned job processes and subprocess CLIs see them too)."""
    site = tmp_path / "site"
    install_fake_distribution(site, "faulty-plugins", ENTRY_POINTS, FIXTURES / "faulty_plugins.py")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    get_registry.cache_clear()  # the CLI's process-wide registry must see the new distribution
    yield site
    sys.modules.pop("faulty_plugins", None)
    get_registry.cache_clear()


@pytest.fixture
def faulty_registry(faulty_site: Path) -> Registry:
    return load_registry()
