"""Forward and forward+backward of every registered model, on every device, at a fixed size.

Parametrised from the registry: each model meets one representative task (the first
runnable task, sorted by name, that accepts the model's first signature natively, else the
first that accepts it at all), so every model of a signature runs on the same task, batch
and preset. Timings synchronise CUDA inside the timed call.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from benchmarks.conftest import DEVICES, build_task
from seqbench.manager import Registry, get_registry
from seqbench.measure import sync
from seqbench.task import Task, to_device
from seqbench.testing import runnable_pairs


def representative_pairs(registry: Registry) -> list[tuple[str, str]]:
    runnable = runnable_pairs(registry)
    pairs = []
    for model in sorted(registry.models):
        tasks = [t for m, t in runnable if m == model]
        signature = registry.models[model].signatures[0]
        native = [t for t in tasks if registry.tasks[t].accepts[0] == signature]
        accepting = [t for t in tasks if signature in registry.tasks[t].accepts]
        if native or accepting:
            pairs.append((model, (native or accepting)[0]))
    return pairs


PAIRS = [pytest.param(m, t, id=f"{m}-{t}") for m, t in representative_pairs(get_registry())]


def prepared(registry: Registry, model: str, task_name: str, preset: str, device: str) -> tuple[Task, nn.Module, Any]:
    """The task, the model on ``device`` (baselines fitted) and one training batch."""
    task = build_task(registry, task_name, preset)
    torch.manual_seed(0)
    module = task.build_module(registry.model(model)).to(device)
    budget = task.budget
    fit = getattr(module, "fit", None)
    if callable(fit):
        fit(to_device(b, device) for b in task.eval_batches("train", budget.eval_batch_size))
    batch = to_device(next(iter(task.train_batches(budget.batch_size, torch.Generator().manual_seed(0)))), device)
    return task, module, batch


def _describe(benchmark: Any, task: Any, batch: Any, group: str, preset: str) -> None:
    """Group the benchmark and record what one call processes, so saved JSON is self-describing."""
    samples, units = task.count(batch)
    benchmark.group = group
    benchmark.extra_info.update(samples=samples, units=units, unit=task.spec.unit, preset=preset,
                                threads=torch.get_num_threads())


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("model", "task_name"), PAIRS)
def test_forward(benchmark: Any, registry: Registry, preset: str, model: str, task_name: str, device: str) -> None:
    task, module, batch = prepared(registry, model, task_name, preset, device)
    module.eval()
    dev = torch.device(device)
    _describe(benchmark, task, batch, f"forward-{task_name}-{device}", preset)

    def forward() -> None:
        with torch.no_grad():
            task.predict(module, batch)
        sync(dev)

    benchmark(forward)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("model", "task_name"), PAIRS)
def test_forward_backward(benchmark: Any, registry: Registry, preset: str, model: str, task_name: str,
                          device: str) -> None:
    task, module, batch = prepared(registry, model, task_name, preset, device)
    if not any(p.requires_grad for p in module.parameters()):
        pytest.skip(f"{model} has no trainable parameters (a fitted baseline)")
    module.train()
    dev = torch.device(device)
    _describe(benchmark, task, batch, f"forward-backward-{task_name}-{device}", preset)

    def forward_backward() -> None:
        module.zero_grad(set_to_none=True)
        task.loss(module, batch).backward()
        sync(dev)

    benchmark(forward_backward)
