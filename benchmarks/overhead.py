"""Harness overhead: seqbench's measured inference throughput / a bare hand-written loop.

For each generic backbone (every model declaring CAUSAL_SEQ) on its representative task,
in one process: seqbench's path (``measure.time_blocks`` over ``task.predict``, the rate
``measure_job`` reports) against ``for _ in range(n): module(inputs)`` timed by hand over
the same module and batch. The two run as ``pairs`` adjacent pairs, the order alternating
(AB, BA, ...) so that load which drifts during the run hits both sides alike; the figure is
the median of the per-pair ratios, with its interquartile range. Acceptance: every median
>= 0.97 on an idle machine.

    OMP_NUM_THREADS=1 python -m benchmarks.overhead [--preset quick] [--pairs 15] [--min-time 0.5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from benchmarks.conftest import build_task
from benchmarks.test_models import representative_pairs
from seqbench import measure
from seqbench.manager import get_registry
from seqbench.signatures import CAUSAL_SEQ
from seqbench.task import to_device


@dataclass(frozen=True)
class Overhead:
    model: str
    task: str
    ratio: float  # median over pairs of seqbench rate / bare-loop rate
    iqr: float  # interquartile range of the per-pair ratios
    pairs: int


def bare_rate(fn: Callable[[], object], device: torch.device, calls: int, samples: int) -> float:
    """Samples/s of a plain loop of ``calls`` calls, one warm-up call first."""
    fn()
    measure.sync(device)
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    measure.sync(device)
    return calls * samples / (time.perf_counter() - start)


def paired_ratios(harness: Callable[[], float], bare: Callable[[], float], pairs: int) -> list[float]:
    ratios = []
    for i in range(pairs):
        if i % 2 == 0:
            h = harness()
            b = bare()
        else:
            b = bare()
            h = harness()
        ratios.append(h / b)
    return ratios


def overhead(model: str, task_name: str, preset: str, pairs: int, min_time: float, dev: torch.device) -> Overhead:
    registry = get_registry()
    task = build_task(registry, task_name, preset)
    torch.manual_seed(0)
    module = task.build_module(registry.model(model)).to(dev).eval()
    batch = to_device(next(iter(task.train_batches(task.budget.batch_size, torch.Generator().manual_seed(0)))), dev)
    samples, _ = task.count(batch)
    inputs = batch[0]
    calls = [1]  # the bare loop makes as many calls as seqbench's last measurement timed

    def harness() -> float:
        per_call = measure.time_blocks(lambda: task.predict(module, batch), dev, min_time,
                                       min_blocks=measure.MIN_BLOCKS["quick"])
        calls[0] = max(1, round(sum(per_call) / statistics.median(per_call)))
        return measure.rate(per_call, samples)[0]

    with torch.no_grad():
        ratios = paired_ratios(harness, lambda: bare_rate(lambda: module(inputs), dev, calls[0], samples), pairs)
    q = statistics.quantiles(ratios, n=4, method="inclusive")
    return Overhead(model, task_name, statistics.median(ratios), q[2] - q[0], pairs)


def overhead_ratios(preset: str = "quick", pairs: int = 15, min_time: float = 0.5,
                    device: str = "cpu") -> list[Overhead]:
    registry = get_registry()
    return [overhead(model, task, preset, pairs, min_time, torch.device(device))
            for model, task in representative_pairs(registry) if CAUSAL_SEQ in registry.models[model].signatures]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--pairs", type=int, default=15)
    parser.add_argument("--min-time", type=float, default=0.5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    print(f"threads={torch.get_num_threads()} preset={args.preset} pairs={args.pairs} min_time={args.min_time}s")
    for o in overhead_ratios(args.preset, args.pairs, args.min_time, args.device):
        verdict = "ok" if o.ratio >= 0.97 else "BELOW 0.97"
        print(f"{o.model:12s} {o.task:10s} seqbench / bare loop = {o.ratio:.3f} (IQR {o.iqr:.3f}, "
              f"{o.pairs} pairs)  {verdict}")


if __name__ == "__main__":
    main()
