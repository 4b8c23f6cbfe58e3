"""pytest helpers for plugin authors (and seqbench's own conformance tests).

    from seqbench.testing import assert_pair_runs, check_model_spec

    def test_my_model_on_every_task():
        for task in compatible_tasks("my-model"):
            assert_pair_runs("my-model", task)
"""

from __future__ import annotations

import math
from pathlib import Path

from seqbench.manager import Registry, get_registry, validate_model, validate_task
from seqbench.plan import pair_reason
from seqbench.specs import JobConfig, JobResult, ModelSpec, Preset, RunOptions, TaskSpec
from seqbench.train import run_job


def check_model_spec(spec: ModelSpec) -> None:
    """Raise if ``spec`` is not a valid model spec."""
    validate_model(spec)


def check_task_spec(spec: TaskSpec) -> None:
    """Raise if ``spec`` is not a valid task spec."""
    validate_task(spec)


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
    registry = registry or get_registry()
    model_spec, task_spec = registry.model(model), registry.task(task)
    budget = task_spec.budgets[preset]
    config = JobConfig(model, task, device, seed, preset, budget, model_spec.lr or budget.lr,
                       RunOptions(measure=measure))
    return run_job(config, model_spec, task_spec, artifacts_dir)


def assert_pair_runs(model: str, task: str, preset: Preset = "smoke", device: str = "cpu") -> JobResult:
    """Run the pair and assert it succeeds with every declared metric finite."""
    registry = get_registry()
    result = run_pair(model, task, preset, device, registry=registry)
    assert result.status == "ok", f"{model} x {task}: {result.status}: {result.message}"
    for metric in registry.task(task).metrics:
        value = result.metrics.get(metric.name)
        assert value is not None and math.isfinite(value), f"{model} x {task}: metric {metric.name} = {value}"
    return result
