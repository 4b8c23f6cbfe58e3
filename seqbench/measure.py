"""Throughput and memory measurement of one trained job (first version).

Warm-up is excluded; timed blocks repeat until a minimum measuring time; the median
block rate and its interquartile range are reported. CUDA timing synchronises.
"""

from __future__ import annotations

import copy
import resource
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from seqbench.specs import JobConfig
from seqbench.task import Task, to_device

MIN_TIME = {"smoke": 0.2, "quick": 1.0, "paper": 2.0}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_blocks(fn: Callable[[], object], device: torch.device, min_time: float, warmup: int = 2) -> list[float]:
    """Seconds per call of ``fn``, one value per timed block, warm-up excluded."""
    for _ in range(warmup):
        fn()
    _sync(device)
    per_call: list[float] = []
    number = 1
    spent = 0.0
    while spent < min_time or len(per_call) < 5:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        _sync(device)
        elapsed = time.perf_counter() - start
        per_call.append(elapsed / number)
        spent += elapsed
        if elapsed < min_time / 20:  # blocks too short to time well: grow them
            number *= 2
    return per_call


def _rate(per_call: list[float], amount: int) -> tuple[float, float]:
    rates = sorted(amount / t for t in per_call)
    q = statistics.quantiles(rates, n=4) if len(rates) > 1 else [rates[0]] * 3
    return statistics.median(rates), q[2] - q[0]


def measure_job(task: Task, module: nn.Module, config: JobConfig, device: torch.device) -> dict[str, float]:
    """Train and inference throughput of ``module`` on one training-size batch."""
    budget = config.budget
    generator = torch.Generator().manual_seed(config.seed)
    batch = to_device(next(iter(task.train_batches(budget.batch_size, generator))), device)
    samples, units = task.count(batch)
    min_time = MIN_TIME[config.preset]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    out: dict[str, float] = {"batch_size": float(samples), "threads": float(torch.get_num_threads())}

    module.eval()
    with torch.no_grad():
        per_call = time_blocks(lambda: task.predict(module, batch), device, min_time)
    out["infer_samples_per_s"], out["infer_samples_per_s_iqr"] = _rate(per_call, samples)
    out["infer_units_per_s"] = out["infer_samples_per_s"] * units / samples

    trainable = [p for p in module.parameters() if p.requires_grad]
    if trainable:
        clone = copy.deepcopy(module).train()
        params = [p for p in clone.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(params, lr=config.lr)

        def step() -> None:
            loss = task.loss(clone, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        per_call = time_blocks(step, device, min_time)
        out["train_samples_per_s"], out["train_samples_per_s_iqr"] = _rate(per_call, samples)
        out["train_units_per_s"] = out["train_samples_per_s"] * units / samples
    if device.type == "cuda":
        out["peak_memory_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    else:  # peak resident set of this job's own process (Linux reports KiB)
        out["peak_memory_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out
