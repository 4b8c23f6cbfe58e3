"""Shared fixtures of the benchmark suites: devices (CUDA rows skipped with a reason when
absent), the registry, and one representative task per model signature, built once.

``pytest benchmarks/ --benchmark-only --benchmark-autosave`` saves JSON under
``.benchmarks/``; ``--benchmark-compare`` compares with the last saved run. Sizes come from
``--bench-preset`` (default ``smoke``: fast; ``quick``: the sizes rankings use).
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from seqbench.manager import Registry, get_registry
from seqbench.specs import TaskContext
from seqbench.task import Task

DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param("cuda", id="cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(),
                                                             reason="CUDA is not available on this machine")),
]
_TASKS: dict[tuple[str, str], Task] = {}


def pytest_addoption(parser: Any) -> None:
    parser.addoption("--bench-preset", default="smoke", choices=["smoke", "quick", "paper"],
                     help="preset whose model and batch sizes the suites time")


@pytest.fixture(scope="session")
def preset(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--bench-preset"))


@pytest.fixture(scope="session")
def registry() -> Registry:
    return get_registry()


def build_task(registry: Registry, name: str, preset: str) -> Task:
    """Tasks are built (data generated) once per session."""
    if (name, preset) not in _TASKS:
        _TASKS[name, preset] = registry.task(name).build(TaskContext(preset))  # type: ignore[arg-type]
    return _TASKS[name, preset]
