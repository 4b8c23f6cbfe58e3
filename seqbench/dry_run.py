"""What ``seqbench run --dry-run`` prints: the planned jobs, the skipped pairs with their reasons
and the estimated wall time (see :mod:`seqbench.estimate`)."""

from __future__ import annotations

from seqbench.estimate import DEFAULT_SECONDS, Estimate
from seqbench.plan import Plan
from seqbench.progress import duration


def show(plan: Plan, guess: Estimate, width: int, executor: str) -> None:
    print(f"{len(plan.jobs)} job(s) planned:")
    for job, seconds, known in guess.per_job:
        source = "history" if known else "default"
        print(f"  {job.model} x {job.task} on {job.device}, seed {job.seed}, {job.preset}: ~{seconds:.1f} s ({source})")
    print(f"{len(plan.skipped)} skipped:")
    for skip in plan.skipped:
        where = f" on {skip.device}, seed {skip.seed}" if skip.device else ""
        print(f"  {skip.model} x {skip.task}{where}: {skip.reason}")
    defaults = sorted({job.preset for job, _, known in guess.per_job if not known})
    stated = ", ".join(f"{p} {DEFAULT_SECONDS[p]:g} s" for p in defaults)
    note = f"; {len(plan.jobs) - guess.from_history} job(s) without history at the default per job ({stated})" \
        if defaults else ""
    print(f"estimated wall time: {duration(guess.wall)} with {width} job(s) at once on {executor} "
          f"({guess.from_history} job(s) timed from this output folder's store{note})")
