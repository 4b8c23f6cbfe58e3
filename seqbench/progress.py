"""How far a run has got, as one small frozen value the runner publishes and displays consume.

The runner keeps a :class:`RunState` (jobs in flight, by config hash, with their start times,
which it needs to record interrupted jobs) and publishes a frozen :class:`Progress` snapshot of
it when a job starts and when it ends; a display (see :mod:`seqbench.progress_display`) only
reads the snapshot, so how jobs are scheduled and how progress is shown stay independent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from seqbench.specs import JobConfig


@dataclass(frozen=True)
class Progress:
    """``total`` jobs to run; ``done`` ok, ``failed`` not ok; ``running`` the labels of the jobs
    in flight, oldest first; ``started`` the run's ``time.monotonic()`` start."""

    total: int
    done: int = 0
    failed: int = 0
    running: tuple[str, ...] = ()
    started: float = field(default_factory=time.monotonic)

    @property
    def finished(self) -> int:
        return self.done + self.failed

    @property
    def current(self) -> str:
        return self.running[-1] if self.running else ""

    def elapsed(self, now: float | None = None) -> float:
        return (time.monotonic() if now is None else now) - self.started

    def eta(self, now: float | None = None) -> float | None:
        """Seconds left at the mean pace of the jobs finished so far (``None`` before the first)."""
        if not self.finished:
            return None
        return self.elapsed(now) / self.finished * (self.total - self.finished)

    def start(self, label: str) -> Progress:
        return replace(self, running=(*self.running, label))

    def end(self, label: str, ok: bool) -> Progress:
        running = list(self.running)
        if label in running:
            running.remove(label)
        return replace(self, running=tuple(running), done=self.done + ok, failed=self.failed + (not ok))


def label(model: str, task: str, device: str, seed: int) -> str:
    return f"{model} x {task} on {device}, seed {seed}"


def duration(seconds: float | None) -> str:
    """``1h 02m``, ``3m 07s``, ``12s``; ``–`` when unknown."""
    if seconds is None:
        return "–"
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


@dataclass
class RunState:
    """The runner's own, mutable view of a run (several jobs may be in flight with ``--jobs``).

    The ETA divides the wall time so far by the jobs ended and multiplies by the jobs left, so
    it reflects however many run at once; before the first job ends it is the dry-run estimate
    when there is one.
    """

    total: int
    estimate: float | None = None  # seconds for the whole run, from the store's history
    done: int = 0
    failed: int = 0
    running: dict[str, tuple[JobConfig, float]] = field(default_factory=dict)  # config hash -> (job, started)
    t0: float = field(default_factory=time.monotonic)

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
        return time.monotonic() - self.t0

    def eta(self) -> float | None:
        """Seconds left, or ``None`` while nothing has ended and there is no estimate."""
        if self.ended:
            return self.elapsed() / self.ended * (self.total - self.ended)
        return None if self.estimate is None else max(0.0, self.estimate - self.elapsed())

    def line(self) -> str:
        """``[ended/total done, F failed, R running, ETA 1m05s]``: "done" counts every job that ended."""
        eta = self.eta()
        return (f"[{self.ended}/{self.total} done, {self.failed} failed, {len(self.running)} running"
                f"{', ETA ' + duration(eta) if eta is not None else ''}]")

    def snapshot(self) -> Progress:
        """The frozen value a display reads."""
        labels = tuple(label(j.model, j.task, j.device, j.seed) for j, _ in self.running.values())
        return Progress(self.total, self.done, self.failed, labels, self.t0)
