"""Ray executor (``pip install 'seqbench[ray]'``, ``seqbench run --executor ray [--address HOST:PORT|auto]``).

Each job is one Ray task. Inside it the job runs exactly as with the local executor, in its own
job process under its time limit (:func:`seqbench.executors.local.execute`), so a job's own
failure (crash, OOM, NaN, timeout) comes back as a result with a status and is never retried.
A task lost with its Ray worker or node is a Ray system failure, which Ray retries
(``max_retries``); exceptions are not retried. Results come back to the driver, which alone
writes the store, so resume, leaderboards and the store behave as with the local executor.

Resources: a job asks for its ``--threads`` CPUs (1 without) and ``num_gpus=1`` on CUDA. A job
that measures throughput asks for every CPU of the largest node, so nothing is packed beside it
on that node while it is timed (on a machine shared with non-Ray work that cannot be promised).

Progress counts a job as running only once its task has begun on a worker (each task tells a
small actor when it begins), not while it waits in Ray's queue; its row's start is that moment.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Mapping, Sequence
from pathlib import Path
from typing import Any

import ray

from seqbench.executors.base import Event, Finished, Started
from seqbench.specs import JobConfig, JobResult

RETRIES = 3  # a task lost with its worker or node is started again this many times at most


def _job(config: JobConfig, timeout: float | None, artifacts_dir: str | None, peaks: Mapping[str, float],
         starts: Any, index: int) -> tuple[float, JobResult]:
    """The Ray task: say it began (progress counts only jobs that run, not queued ones), run the job."""
    from seqbench.executors.local import execute

    began = time.time()
    starts.began.remote(index, began)
    return began, execute(config, timeout, Path(artifacts_dir) if artifacts_dir else None, peaks)


class _Starts:
    """A Ray actor collecting (job index, wall clock) as tasks begin; the driver takes them in batches."""

    def __init__(self) -> None:
        self.begun: list[tuple[int, float]] = []

    def began(self, index: int, at: float) -> None:
        self.begun.append((index, at))

    def take(self) -> list[tuple[int, float]]:
        begun, self.begun = self.begun, []
        return begun


class RayExecutor:
    def __init__(self, address: str | None = None, threads: int | None = None) -> None:
        self.address = address
        if not ray.is_initialized():
            # A local cluster when no address is given; the driver's working dir and env are the workers'.
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        self.threads = threads

    def node_cpus(self) -> int:
        return max((int(n["Resources"].get("CPU", 1)) for n in ray.nodes() if n.get("Alive")), default=1)

    def width(self) -> int:
        """Jobs the cluster runs at once when none measures (for the dry-run estimate)."""
        return max(1, int(ray.cluster_resources().get("CPU", 1)) // (self.threads or 1))

    def describe(self) -> dict[str, object]:
        return {"name": "ray", "address": self.address or "local", "ray": ray.__version__,
                "nodes": sum(1 for n in ray.nodes() if n.get("Alive")),
                "cpus": ray.cluster_resources().get("CPU", 0), "gpus": ray.cluster_resources().get("GPU", 0)}

    def resources(self, job: JobConfig) -> dict[str, Any]:
        cpus = self.node_cpus() if job.options.measure else (job.options.threads or 1)
        return {"num_cpus": cpus, "num_gpus": 1 if job.device.startswith("cuda") else 0,
                "max_retries": RETRIES, "retry_exceptions": False}

    def run(self, jobs: Sequence[JobConfig], timeout: float | None, artifacts: Callable[[JobConfig], Path | None],
            peaks: Mapping[str, float]) -> Generator[Event, None, None]:
        remote = ray.remote(_job)
        starts: Any = ray.remote(num_cpus=0)(_Starts).remote()  # an actor handle
        refs: dict[Any, int] = {}
        begun: dict[int, float] = {}  # index -> wall clock its task began (a retried task: its first start)
        try:
            for index, job in enumerate(jobs):
                where = artifacts(job)
                ref = remote.options(**self.resources(job)).remote(job, timeout, str(where) if where else None,
                                                                   dict(peaks), starts, index)
                refs[ref] = index
            while refs:
                done, _ = ray.wait(list(refs), num_returns=1, timeout=0.5)
                for index, at in ray.get(starts.take.remote()):
                    if index not in begun:
                        begun[index] = at
                        yield Started(jobs[index], at)
                for ref in done:
                    index = refs.pop(ref)
                    try:
                        began, result = ray.get(ref)
                    except ray.exceptions.RayError as exc:  # lost more often than RETRIES, or Ray itself failed
                        began = begun.get(index, time.time())
                        result = JobResult("crashed", f"Ray task failed: {type(exc).__name__}: {exc}"[:2000])
                    if index not in begun:  # ended before its start signal was taken
                        begun[index] = began
                        yield Started(jobs[index], began)
                    yield Finished(jobs[index], begun[index], result)
        finally:
            for ref in refs:
                ray.cancel(ref, force=True)
            ray.kill(starts)
