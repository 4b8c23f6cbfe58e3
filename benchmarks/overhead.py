"""Harness overhead: seqbench's measured inference throughput / a bare hand-written loop.

For each generic backbone (every model declaring CAUSAL_SEQ) on its representative task,
in one process: seqbench's path (``measure.time_blocks`` over ``task.predict``, the rates
``measure_job`` reports) against ``for _ in range(n): module(inputs)`` timed by hand, each
repeated ``rounds`` times alternately so drifting load hits both alike. Acceptance: every
ratio >= 0.97 on an idle machine.

    OMP_NUM_THREADS=1 python -m benchmarks.overhead [--preset quick] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from benchmarks.conftest import build_task
from benchmarks.test_models import representative_pairs
from seqbench import measure
from seqbench.manager import get_registry
from seqbench.signatures import CAUSAL_SEQ
from seqbench.task import to_device


def overhead_ratios(preset: str = "quick", rounds: int = 5, min_time: float = 1.0,
                    device: str = "cpu") -> dict[str, float]:
    registry = get_registry()
    dev = torch.device(device)
    out: dict[str, float] = {}
    for model, task_name in representative_pairs(registry):
        if CAUSAL_SEQ not in registry.models[model].signatures:
            continue
        task = build_task(registry, task_name, preset)
        torch.manual_seed(0)
        module = task.build_module(registry.model(model)).to(dev).eval()
        batch = to_device(next(iter(task.train_batches(task.budget.batch_size, torch.Generator().manual_seed(0)))),
                          dev)
        samples, _ = task.count(batch)
        inputs = batch[0]
        harness, bare = [], []
        with torch.no_grad():
            for _ in range(rounds):
                per_call = measure.time_blocks(lambda: task.predict(module, batch), dev, min_time,  # noqa: B023
                                               min_blocks=measure.MIN_BLOCKS["quick"])
                harness.append(measure.rate(per_call, samples)[0])
                n = max(1, round(min_time / statistics.median(per_call)))
                module(inputs)
                measure.sync(dev)
                start = time.perf_counter()
                for _ in range(n):
                    module(inputs)
                measure.sync(dev)
                bare.append(n * samples / (time.perf_counter() - start))
        out[model] = statistics.median(harness) / statistics.median(bare)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=1.0)
    args = parser.parse_args()
    for model, ratio in overhead_ratios(args.preset, args.rounds, args.min_time).items():
        print(f"{model:12s} seqbench / bare loop = {ratio:.3f}  {'ok' if ratio >= 0.97 else 'BELOW 0.97'}")


if __name__ == "__main__":
    main()
