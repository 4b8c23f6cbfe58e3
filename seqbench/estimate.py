"""``seqbench run --dry-run``: how long the planned jobs will take, before anything runs.

Each job's time is the median wall time of the successful attempts of the same model x task x
preset x device in the store (any seed); a job with no such history gets the preset's stated
default. The store is opened read-only and never created, so a dry run changes nothing.
"""

from __future__ import annotations

import sqlite3
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from seqbench.specs import JobConfig, Preset

# Seconds per job without history: a smoke job is dominated by the harness (since the fork
# server, issue 14, about 1 s: ~0.5 s of CPU and a start-up well under a second; the 121-job
# smoke matrix's < 3 minutes allows 1.5 s), a quick one by its training budget on a laptop CPU,
# a paper one by a GPU's hours.
DEFAULT_SECONDS: dict[Preset, float] = {"smoke": 1.0, "quick": 180.0, "paper": 3600.0}


@dataclass(frozen=True)
class Estimate:
    per_job: tuple[tuple[JobConfig, float, bool], ...]  # (job, seconds, from history?)
    wall: float  # seconds for the run with ``width`` jobs at once

    @property
    def from_history(self) -> int:
        return sum(known for _, _, known in self.per_job)


def history(store: Path) -> dict[tuple[str, str, str, str], float]:
    """Median seconds of the successful attempts per (model, task, preset, device); empty without a store."""
    if not store.is_file():
        return {}
    try:
        db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT model, task, preset, device, finished - started FROM attempts "
                              "WHERE status = 'ok'").fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        return {}  # not a store this seqbench reads: `seqbench run` itself says so
    seconds: dict[tuple[str, str, str, str], list[float]] = {}
    for model, task, preset, device, took in rows:
        seconds.setdefault((model, task, preset, device), []).append(float(took))
    return {key: statistics.median(values) for key, values in seconds.items()}


def estimate(jobs: Sequence[JobConfig], store: Path, width: int) -> Estimate:
    """Per-job seconds and the run's wall time with ``width`` jobs overlapping."""
    known = history(store)
    per_job = []
    for job in jobs:
        took = known.get((job.model, job.task, job.preset, job.device))
        per_job.append((job, took if took is not None else DEFAULT_SECONDS[job.preset], took is not None))
    total = sum(seconds for _, seconds, _ in per_job)
    longest = max((seconds for _, seconds, _ in per_job), default=0.0)
    return Estimate(tuple(per_job), max(total / max(1, width), longest))
