"""What every executor gives the runner: a stream of job events, in the order they happen.

The runner (the only writer of the store) records a :class:`Finished` event as it arrives, so
an executor never touches the store, and local and Ray runs leave identical rows.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from seqbench.specs import JobConfig, JobResult


@dataclass(frozen=True)
class Started:
    job: JobConfig
    at: float  # wall clock at dispatch


@dataclass(frozen=True)
class Finished:
    job: JobConfig
    started: float  # wall clock at dispatch, the row's "started"
    result: JobResult


Event = Started | Finished
JobFunction = Callable[[JobConfig, float | None, Path | None, Mapping[str, float]], JobResult]


class Executor(Protocol):
    """Runs jobs and reports them; ``describe()`` goes into the run's recorded environment."""

    def run(self, jobs: Sequence[JobConfig], timeout: float | None, artifacts: Callable[[JobConfig], Path | None],
            peaks: Mapping[str, float]) -> Generator[Event, None, None]: ...

    def describe(self) -> dict[str, object]: ...


class Serial:
    """A one-job function (tests' fakes, in-process runs) run one job at a time."""

    def __init__(self, function: JobFunction) -> None:
        self.function = function

    def run(self, jobs: Sequence[JobConfig], timeout: float | None, artifacts: Callable[[JobConfig], Path | None],
            peaks: Mapping[str, float]) -> Generator[Event, None, None]:
        import time

        for job in jobs:
            started = time.time()
            yield Started(job, started)
            yield Finished(job, started, self.function(job, timeout, artifacts(job), peaks))

    def describe(self) -> dict[str, object]:
        return {"name": "serial", "jobs": 1}
