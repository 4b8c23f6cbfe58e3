"""The state of a run in progress: what a display needs, updated by the runner alone.

The runner calls :meth:`Progress.start` and :meth:`Progress.finish`; a display (the plain log
lines of :meth:`Progress.line`, or a live one) only reads. The ETA divides the wall time so far
by the jobs ended and multiplies by the jobs left, so it reflects however many run at once;
before the first job ends it is the dry-run estimate when there is one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from seqbench.specs import JobConfig


def fmt_duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


@dataclass
class Progress:
    total: int
    estimate: float | None = None  # seconds for the whole run, from the store's history
    done: int = 0
    failed: int = 0
    running: dict[str, tuple[JobConfig, float]] = field(default_factory=dict)  # config hash -> (job, started)
    t0: float = field(default_factory=time.perf_counter)

    @property
    def ended(self) -> int:
        return self.done + self.failed

    def start(self, job: JobConfig, at: float) -> None:
        self.running[job.hash()] = (job, at)

    def finish(self, job: JobConfig, ok: bool) -> None:
        self.running.pop(job.hash(), None)
        self.done += ok
        self.failed += not ok

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def eta(self) -> float | None:
        """Seconds left, or ``None`` while nothing has ended and there is no estimate."""
        if self.ended:
            return self.elapsed() / self.ended * (self.total - self.ended)
        return None if self.estimate is None else max(0.0, self.estimate - self.elapsed())

    def line(self) -> str:
        """``[ended/total done, F failed, R running, ETA 1m05s]``: "done" counts every job that ended, as before."""
        eta = self.eta()
        return (f"[{self.ended}/{self.total} done, {self.failed} failed, {len(self.running)} running"
                f"{', ETA ' + fmt_duration(eta) if eta is not None else ''}]")
