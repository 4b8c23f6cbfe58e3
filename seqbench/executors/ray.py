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


def _job(config: JobConfig, timeout: float | None, artifacts_dir: str | None,
         peaks: Mapping[str, float]) -> JobResult:
    from seqbench.executors.local import execute

    return execute(config, timeout, Path(artifacts_dir) if artifacts_dir else None, peaks)


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
        refs: dict[Any, tuple[JobConfig, float]] = {}
        try:
            for job in jobs:
                where = artifacts(job)
                ref = remote.options(**self.resources(job)).remote(job, timeout, str(where) if where else None,
                                                                   dict(peaks))
                refs[ref] = (job, time.time())
                yield Started(job, refs[ref][1])
            while refs:
                done, _ = ray.wait(list(refs), num_returns=1)
                for ref in done:
                    job, started = refs.pop(ref)
                    try:
                        result = ray.get(ref)
                    except ray.exceptions.RayError as exc:  # lost more often than RETRIES, or Ray itself failed
                        result = JobResult("crashed", f"Ray task failed: {type(exc).__name__}: {exc}"[:2000])
                    yield Finished(job, started, result)
        finally:
            for ref in refs:
                ray.cancel(ref, force=True)
