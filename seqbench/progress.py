"""How far a run has got, as one small frozen value the runner publishes and displays consume.

The runner makes a new :class:`Progress` when a job starts and when it ends; a display (see
:mod:`seqbench.progress_display`) only reads it, so how jobs are scheduled and how progress is
shown stay independent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace


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
