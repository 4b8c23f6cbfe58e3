"""One run: plan -> execute (a process per job, see :mod:`seqbench.executors`) -> record (a transaction per job, by
this process alone) -> report."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from seqbench import environment
from seqbench.errors import HarnessError
from seqbench.executors.base import Executor, JobFunction, Serial, Started
from seqbench.executors.local import LocalExecutor
from seqbench.lock import output_lock
from seqbench.manager import Registry
from seqbench.plan import Plan
from seqbench.progress import Progress, RunState, duration
from seqbench.specs import JobConfig, JobResult
from seqbench.store import Store, clean_stale_temporaries, io_fault

STORE_NAME = "seqbench.sqlite"


@dataclass
class RunSummary:
    run_id: str
    done: int
    failed: int
    resumed: int
    skipped: int
    reports: list[Path]
    interrupted: bool = False


def prepare_output(output: Path) -> None:
    """The output folder exists and is writable, or one line saying what to do."""
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise io_fault(output, exc) from exc
    if not os.access(output, os.W_OK | os.X_OK):
        raise HarnessError(f"{output}: the output folder is not writable; make it writable or pass another --output")


def run_plan(
    registry: Registry,
    plan: Plan,
    output: Path,
    timeout: float | None,
    resume: bool = False,
    argv: list[str] | None = None,
    executor: Executor | JobFunction | None = None,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
    verbose: bool = False,
    progress: Callable[[Progress], None] = lambda state: None,
    estimate: float | None = None,
) -> RunSummary:
    """Run ``plan`` into ``output``: holds the folder's lock throughout (see :mod:`seqbench.lock`).

    Ctrl-C (KeyboardInterrupt) stops the run cleanly: every job in flight is recorded as
    ``interrupted``, the reports are regenerated and the summary says ``interrupted``.
    ``executor``: an :class:`~seqbench.executors.base.Executor` (default: the local one, one job
    at a time) or a one-job function run serially in this process (tests). ``estimate``: the
    dry-run's wall-time estimate, the ETA until the first job ends.
    """
    runner = (LocalExecutor(1) if executor is None
              else cast(Executor, executor) if hasattr(executor, "run") else Serial(cast(JobFunction, executor)))
    from seqbench.report import record_specs, write_reports

    prepare_output(output)
    with output_lock(output), Store(output / STORE_NAME) as store:
        for stale in clean_stale_temporaries(output):
            log(f"removed {stale}, left behind by a run that was killed while writing it")
        run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        cpu_threads = {job.options.threads for job in plan.jobs if job.device == "cpu" and job.options.threads}
        peaks = any(job.options.measure for job in plan.jobs)
        env = environment.capture(registry, cpu_threads, peaks)
        env["executor"] = runner.describe()
        store.start_run(run_id, argv or sys.argv, env)
        configs = [*plan.jobs, *(s.config for s in plan.skipped if s.config is not None)]
        record_specs(registry, store, run_id, {c.task for c in configs}, {c.model for c in configs})
        finished = store.succeeded() if resume else set()
        todo = [job for job in plan.jobs if job.hash() not in finished]
        summary = RunSummary(run_id, 0, 0, len(plan.jobs) - len(todo), len(plan.skipped), [])
        if summary.resumed:
            log(f"resume: {summary.resumed} job(s) already succeeded with an identical config; not redone")
        for skip in plan.skipped:
            where = f" on {skip.device}, seed {skip.seed}" if skip.device else ""
            log(f"skipped {skip.model} x {skip.task}{where}: {skip.reason}")
            if skip.config is not None:
                store.record(run_id, skip.config, JobResult("skipped", skip.reason), time.time())
        state = RunState(len(todo), estimate)
        progress(state.snapshot())
        events = runner.run(todo, timeout, lambda job: output / "artifacts" / job.task, env["peak_flops"])
        try:
            for event in events:
                if isinstance(event, Started):
                    state.start(event.job, event.at)
                    progress(state.snapshot())
                    log(f"{state.line()} {_name(event.job)} ...")
                    continue
                job, result = event.job, event.result
                store.record(run_id, job, result, event.started)
                state.finish(job, result.status == "ok")
                progress(state.snapshot())
                registry.pm.hook.seqbench_job_finished(config=job, result=result, output_dir=output)
                _log_result(registry, job, result, event.started, log, verbose)
                summary.failed += result.status != "ok"
                summary.done += result.status == "ok"
        except KeyboardInterrupt:
            with _no_second_interrupt():  # a second Ctrl-C must not cut the cleanup short
                events.close()  # stops every job process still running
                for job, started in state.running.values():
                    store.record(run_id, job, JobResult("interrupted", "the run was interrupted while this job ran"),
                                 started)
                store.finish_run(run_id, "interrupted")
                summary.interrupted = True
                log(f"interrupted after {summary.done + summary.failed} of {len(todo)} job(s)")
                summary.reports = write_reports(registry, store, output)
            return summary
        store.finish_run(run_id)
        log(f"[{len(todo)}/{len(todo)} done] in {duration(state.elapsed())}; {summary.failed} failed")
        summary.reports = write_reports(registry, store, output)
    return summary


def _name(job: JobConfig) -> str:
    return f"{job.model} x {job.task} on {job.device}, seed {job.seed}"


@contextmanager
def _no_second_interrupt() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _log_result(registry: Registry, job: JobConfig, result: JobResult, started: float, log: Callable[[str], None],
                verbose: bool) -> None:
    who = _name(job)  # with --jobs N results arrive interleaved: each line names its job
    if result.status != "ok":
        log(f"    {result.status}: {who}: {result.message}")
        if verbose and result.traceback:
            log("    " + result.traceback.rstrip().replace("\n", "\n    "))
        return
    primary = registry.tasks[job.task].primary.name
    value = result.metrics.get(primary, float("nan"))
    note = f"; note: {result.message}" if result.message else ""
    log(f"    ok in {time.time() - started:.1f} s: {who}; {primary} = {value:.4g}{note}")
