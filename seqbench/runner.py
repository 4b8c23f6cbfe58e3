"""One run: plan -> execute (a process per job) -> record (a transaction per job) -> report."""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from seqbench import environment
from seqbench.executors.local import execute
from seqbench.manager import Registry
from seqbench.plan import Plan
from seqbench.specs import JobConfig, JobResult
from seqbench.store import Store

STORE_NAME = "seqbench.sqlite"


@dataclass
class RunSummary:
    run_id: str
    done: int
    failed: int
    resumed: int
    skipped: int
    reports: list[Path]


def _fmt(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


def run_plan(
    registry: Registry,
    plan: Plan,
    output: Path,
    timeout: float | None,
    resume: bool = False,
    argv: list[str] | None = None,
    executor: Callable[[JobConfig, float | None, Path | None, Mapping[str, float]], JobResult] = execute,
    log: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
) -> RunSummary:
    from seqbench.report import write_reports

    output.mkdir(parents=True, exist_ok=True)
    run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
    with Store(output / STORE_NAME) as store:
        cpu_threads = {job.options.threads for job in plan.jobs if job.device == "cpu" and job.options.threads}
        env = environment.capture(registry, cpu_threads)
        store.start_run(run_id, argv or sys.argv, env)
        finished = store.succeeded() if resume else set()
        todo = [job for job in plan.jobs if job.hash() not in finished]
        resumed = len(plan.jobs) - len(todo)
        if resumed:
            log(f"resume: {resumed} job(s) already succeeded with an identical config; not redone")
        for skip in plan.skipped:
            where = f" on {skip.device}, seed {skip.seed}" if skip.device else ""
            log(f"skipped {skip.model} x {skip.task}{where}: {skip.reason}")
            if skip.config is not None:
                store.record(run_id, skip.config, JobResult("skipped", skip.reason), time.time())
        failed = 0
        t0 = time.perf_counter()
        for i, job in enumerate(todo):
            eta = (time.perf_counter() - t0) / i * (len(todo) - i) if i else None
            log(f"[{i}/{len(todo)} done{', ETA ' + _fmt(eta) if eta is not None else ''}] "
                f"{job.model} x {job.task} on {job.device}, seed {job.seed} ...")
            started = time.time()
            result = executor(job, timeout, output / "artifacts" / job.task, env["peak_flops"])
            store.record(run_id, job, result, started)
            registry.pm.hook.seqbench_job_finished(config=job, result=result, output_dir=output)
            if result.status != "ok":
                failed += 1
                log(f"    {result.status}: {result.message}")
            else:
                primary = registry.tasks[job.task].primary.name
                value = result.metrics.get(primary, float("nan"))
                log(f"    ok in {time.time() - started:.1f} s; {primary} = {value:.4g}")
        store.finish_run(run_id)
        log(f"[{len(todo)}/{len(todo)} done] in {_fmt(time.perf_counter() - t0)}; {failed} failed")
        reports = write_reports(registry, store, output)
    return RunSummary(run_id, len(todo) - failed, failed, resumed, len(plan.skipped), reports)
