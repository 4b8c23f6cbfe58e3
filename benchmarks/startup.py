"""Job start-up: from dispatch to the job's first training step (issue 14's target: median < 0.5 s on CPU).

Each round times dispatch -> the job's ``first_step`` message (sent right after its first optimizer
step, with the job's wall clock) three ways:

* warm: forked from a job server that imported torch, seqbench and the plugins once (the local
  executor's way for CPU jobs, :mod:`seqbench.executors.forkserver`);
* pre-started: a spawned job process that finished its imports before the dispatch (CUDA jobs'
  way; on a busy machine those imports compete with the running job for the CPU);
* cold: a fresh interpreter started at dispatch (seqbench <= 0.1: every job paid its imports).

All three include building the task and the model, the job's own work before its first step.

    python -m benchmarks.startup [--rounds 10] [--model lstm] [--task lm-hmm]
"""

from __future__ import annotations

import argparse
import statistics

from seqbench.executors.forked import ForkedJob
from seqbench.executors.forkserver import ForkServer
from seqbench.executors.process import JobProcess
from seqbench.specs import JobConfig, RunOptions

LIMIT = 300.0  # seconds for any one message


def _until(process: JobProcess | ForkedJob, expected: str) -> object:
    """Read the job's messages until ``expected``; its value."""
    while True:
        if not process.channel.poll(LIMIT):
            raise TimeoutError(f"job process sent no {expected!r} within {LIMIT:g} s")
        kind, value = process.channel.recv()
        if kind == expected:
            return value
        if kind == "result":
            raise RuntimeError(f"the job ended before {expected!r}: {value}")


def first_step(process: JobProcess | ForkedJob, job: JobConfig) -> float:
    """Dispatch ``job`` and return the seconds to its first training step; the job runs to its end."""
    try:
        process.dispatch(job, None, {}, None)
        stepped = float(_until(process, "first_step"))  # type: ignore[arg-type]
        _until(process, "result")
        return stepped - process.started_at
    finally:
        process.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--model", default="lstm")
    parser.add_argument("--task", default="lm-hmm")
    args = parser.parse_args()
    from seqbench.manager import get_registry

    budget = get_registry().tasks[args.task].budgets["smoke"]
    job = JobConfig(args.model, args.task, "cpu", 0, "smoke", budget, budget.lr, RunOptions(threads=1, measure=False))
    server = ForkServer()
    times: dict[str, list[float]] = {"warm (fork server)": [], "pre-started (spawned, imports done)": [],
                                     "cold (fresh interpreter)": []}
    try:
        while not server.ready_at:  # the server's one-off imports are not a job's start-up
            if not server.pump(LIMIT) or not server.alive:
                raise RuntimeError("the job server did not start")
        for _ in range(args.rounds):
            times["warm (fork server)"].append(first_step(ForkedJob(server), job))
            spare = JobProcess()
            _until(spare, "ready")
            times["pre-started (spawned, imports done)"].append(first_step(spare, job))
            times["cold (fresh interpreter)"].append(first_step(JobProcess(), job))
    finally:
        server.close()
    print(f"{args.model} x {args.task} (smoke, cpu, 1 thread), dispatch -> first training step, {args.rounds} rounds")
    for name, seconds in times.items():
        print(f"  {name:<38} median {statistics.median(seconds):6.3f} s "
              f"(min {min(seconds):.3f}, max {max(seconds):.3f})")


if __name__ == "__main__":
    main()
