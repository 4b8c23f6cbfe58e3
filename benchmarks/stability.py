"""Stability: the same job measured ``repeats`` times; coefficient of variation of the median rate.

Each repeat is a fresh ``measure_job`` on the same trained module (inference and train
throughput as the leaderboard reports them). Right after each repeat, a control -- a fixed
256x256 matrix product timed by the same ``measure.time_blocks`` -- shows how much the
machine itself drifted meanwhile: a job CV near the control's is the machine's noise, not
the harness's. Acceptance: the job's CV < 3% on an idle machine.

    OMP_NUM_THREADS=1 python -m benchmarks.stability [--model lstm] [--task lm-hmm] [--preset quick]
"""

from __future__ import annotations

import argparse
import statistics

import torch

from seqbench import measure
from seqbench.manager import get_registry
from seqbench.specs import JobConfig, TaskContext

CPU = torch.device("cpu")


def control_rate(min_time: float) -> float:
    """Median calls/s of a fixed matrix product: the machine's own speed just now."""
    a = torch.randn(256, 256, generator=torch.Generator().manual_seed(0))
    return measure.rate(measure.time_blocks(lambda: a @ a, CPU, min_time), 1)[0]


def cv(values: list[float]) -> float:
    return statistics.stdev(values) / statistics.mean(values)


def stability(model: str, task_name: str, preset: str = "quick", repeats: int = 5) -> dict[str, float]:
    registry = get_registry()
    spec = registry.task(task_name)
    budget = spec.budgets[preset]  # type: ignore[index]
    config = JobConfig(model, task_name, "cpu", 0, preset, budget, budget.lr)  # type: ignore[arg-type]
    task = spec.build(TaskContext(preset))  # type: ignore[arg-type]
    torch.manual_seed(0)
    module = task.build_module(registry.model(model))
    runs, control = [], []
    for _ in range(repeats):
        runs.append(measure.measure_job(task, module, config, CPU))
        control.append(control_rate(measure.MIN_TIME[preset]))
    out: dict[str, float] = {}
    for key in ("infer_samples_per_s", "train_samples_per_s"):
        values = [r[key] for r in runs if key in r]
        if len(values) > 1:
            out[f"{key}_median"] = statistics.median(values)
            out[f"{key}_cv"] = cv(values)
    if repeats > 1:
        out["control_cv"] = cv(control)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="lstm")
    parser.add_argument("--task", default="lm-hmm")
    parser.add_argument("--preset", default="quick")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{args.model} x {args.task}, {args.preset}, {args.repeats} repeats, threads={torch.get_num_threads()}")
    for key, value in stability(args.model, args.task, args.preset, args.repeats).items():
        print(f"{key:28s} {value:.4g}" + ("  (CV)" if key.endswith("_cv") else ""))


if __name__ == "__main__":
    main()
