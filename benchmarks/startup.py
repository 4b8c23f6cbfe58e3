"""Job start-up: from dispatch to the moment the job process has its job and starts it.

Issue 14's target: median < 0.5 s on CPU. Each round starts a job process the way the local
executor does (ahead of need: it imports torch, seqbench and every plugin and says "ready"),
then dispatches a smoke job to it and times dispatch -> "started" (the job's own clock, which
is followed at once by building the task and the model, the job's own work). The import time
each process paid before "ready" is what a cold start (a fresh interpreter per job, seqbench
<= 0.1) added to every job; it is reported beside the warm figure.

    python -m benchmarks.startup [--rounds 10] [--model lstm] [--task lm-hmm]
"""

from __future__ import annotations

import argparse
import statistics
import time

from seqbench.executors.process import JobProcess
from seqbench.specs import JobConfig, RunOptions


def _next(process: JobProcess, expected: str, limit: float = 300.0) -> tuple[float, object]:
    if not process.channel.poll(limit):
        raise TimeoutError(f"job process sent no {expected!r} within {limit:g} s")
    kind, value = process.channel.recv()
    if kind != expected:
        raise RuntimeError(f"job process sent {kind!r}, expected {expected!r}: {value}")
    return time.perf_counter(), value


def round_trip(job: JobConfig) -> tuple[float, float]:
    """(import seconds before "ready", dispatch -> "started" seconds) for one warm job process."""
    process = JobProcess()
    try:
        ready, _ = _next(process, "ready")
        process.dispatch(job, None, {}, None)
        started, _ = _next(process, "started")
        _next(process, "result")
        return ready - process.spawned, started - process.dispatched
    finally:
        process.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--model", default="lstm")
    parser.add_argument("--task", default="lm-hmm")
    args = parser.parse_args()
    from seqbench.manager import get_registry

    registry = get_registry()
    budget = registry.tasks[args.task].budgets["smoke"]
    job = JobConfig(args.model, args.task, "cpu", 0, "smoke", budget, budget.lr, RunOptions(threads=1, measure=False))
    imports, startups = [], []
    for _ in range(args.rounds):
        imported, started = round_trip(job)
        imports.append(imported)
        startups.append(started)
    print(f"{args.model} x {args.task} (smoke, cpu, 1 thread), {args.rounds} rounds")
    print(f"  warm start-up, dispatch -> started: median {statistics.median(startups) * 1000:.1f} ms "
          f"(min {min(startups) * 1000:.1f}, max {max(startups) * 1000:.1f})")
    print(f"  imports a cold start paid per job:  median {statistics.median(imports):.2f} s "
          f"(min {min(imports):.2f}, max {max(imports):.2f})")


if __name__ == "__main__":
    main()
