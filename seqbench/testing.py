"""The plugin author's kit: contract checks, pair runners and a pytest plugin.

Installed with seqbench as a pytest plugin (entry point ``pytest11``), so a plugin's own
tests get the ``seqbench_registry`` fixture with no conftest, and call the checks::

    from seqbench.testing import assert_pair_runs, check_backbone, check_task, compatible_tasks

    def test_backbone_contract(seqbench_registry):
        check_backbone(seqbench_registry.model("my-model"))   # shape, causality, step == forward

    def test_task_contract(seqbench_registry):
        check_task(seqbench_registry.task("my-task"))          # problems, batches, metric names

    def test_runs_everywhere(seqbench_registry):
        for task in compatible_tasks("my-model", seqbench_registry):
            assert_pair_runs("my-model", task)
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

try:
    import pytest
except ModuleNotFoundError:  # `seqbench validate` uses these helpers where pytest is not installed
    pytest = None  # type: ignore[assignment]

from seqbench.checks import (
    CheckFailed,
    check_backbone,
    check_causal,
    check_masking,
    check_metrics,
    check_model_spec,
    check_output_shape,
    check_step_matches_forward,
    check_task_spec,
)
from seqbench.manager import Registry, get_registry
from seqbench.plan import pair_reason
from seqbench.specs import JobConfig, JobResult, Preset, RunOptions
from seqbench.task_checks import check_problems, check_task

__all__ = [
    "CheckFailed", "assert_pair_runs", "check_backbone", "check_causal", "check_masking", "check_metrics",
    "check_model_spec", "check_output_shape", "check_problems", "check_step_matches_forward", "check_task",
    "check_task_spec", "compatible_tasks", "run_pair", "runnable_pairs",
]


def runnable_pairs(registry: Registry | None = None) -> list[tuple[str, str]]:
    """Every (model, task) pair that can run here with no user data, sorted."""
    registry = registry or get_registry()
    return sorted(
        (m, t)
        for t, task in registry.tasks.items()
        for m, model in registry.models.items()
        if pair_reason(model, task, {}) is None
    )


def compatible_tasks(model: str, registry: Registry | None = None) -> list[str]:
    return [t for m, t in runnable_pairs(registry) if m == model]


def run_pair(
    model: str,
    task: str,
    preset: Preset = "smoke",
    device: str = "cpu",
    seed: int = 0,
    artifacts_dir: Path | None = None,
    measure: bool = False,
    registry: Registry | None = None,
) -> JobResult:
    """Run one job in this process, exactly as the executor would in a worker."""
    from seqbench.train import run_job

    registry = registry or get_registry()
    model_spec, task_spec = registry.model(model), registry.task(task)
    budget = task_spec.budgets[preset]
    config = JobConfig(model, task, device, seed, preset, budget, model_spec.lr or budget.lr,
                       RunOptions(measure=measure), model_config=model_spec.config_json(preset))
    return run_job(config, model_spec, task_spec, artifacts_dir)


def assert_pair_runs(model: str, task: str, preset: Preset = "smoke", device: str = "cpu",
                     registry: Registry | None = None) -> JobResult:
    """Run the pair and assert it succeeds with exactly the declared metrics, all finite."""
    registry = registry or get_registry()
    result = run_pair(model, task, preset, device, registry=registry)
    if result.status != "ok":
        raise CheckFailed(f"{model} x {task}: {result.status}: {result.message}")
    check_metrics(registry.task(task), result.metrics, f"{model} x {task}")
    for name, value in result.metrics.items():
        assert math.isfinite(value), f"{model} x {task}: metric {name} = {value}"
    return result


# -- the pytest plugin ----------------------------------------------------------------------


if pytest is not None:

    @pytest.fixture(scope="session")
    def seqbench_registry() -> Iterator[Registry]:
        """Every installed plugin (built-ins and entry points), discovered once per session."""
        yield get_registry()
