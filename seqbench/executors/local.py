"""Local executor: every job in its own freshly spawned process.

A crash, a hang past the time limit, an out-of-memory kill or a non-finite loss ends that
job alone with a status; the parent (the only writer of the store) carries on.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import sys
from collections.abc import Mapping
from multiprocessing.connection import Connection
from pathlib import Path

from seqbench.specs import JobConfig, JobResult


def _die_with_parent() -> None:
    """Linux: have the kernel kill this worker if the parent dies (e.g. SIGKILL), so a
    killed run leaves no orphan still burning CPU."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def _worker(config: JobConfig, artifacts_dir: str | None, peaks: dict[str, float], conn: Connection) -> None:
    _die_with_parent()
    from seqbench.manager import get_registry
    from seqbench.train import run_job

    registry = get_registry()
    try:
        model, task = registry.model(config.model), registry.task(config.task)
    except KeyError as exc:
        conn.send(JobResult("error", f"plugin not found in worker: {exc}"))
        return
    conn.send(run_job(config, model, task, Path(artifacts_dir) if artifacts_dir else None, peaks))
    conn.close()


def execute(config: JobConfig, timeout: float | None, artifacts_dir: Path | None,
            peaks: Mapping[str, float] | None = None) -> JobResult:
    """Run one job in a spawned process and return its result, whatever happens to it.

    ``peaks``: the devices' peak FLOP/s the run measured (see :func:`seqbench.measure.peak_flops`).
    """
    ctx = mp.get_context("spawn")  # a clean interpreter: no inherited threads, CUDA or state
    receive, send = ctx.Pipe(duplex=False)
    args = (config, str(artifacts_dir) if artifacts_dir else None, dict(peaks or {}), send)
    process = ctx.Process(target=_worker, args=args, daemon=True)
    process.start()
    send.close()
    try:
        if receive.poll(timeout):
            try:
                result: JobResult = receive.recv()
                process.join(30)
                return result
            except EOFError:
                pass  # the worker died before it could answer
        else:
            process.kill()
            process.join()
            return JobResult("timeout", f"job exceeded its time limit of {timeout:g} s")
    finally:
        if process.is_alive():
            process.kill()
            process.join()
        receive.close()
    code = process.exitcode
    if code == -signal.SIGKILL:
        return JobResult("oom", "worker killed by SIGKILL (most likely out of memory)")
    if code is not None and code < 0:
        return JobResult("crashed", f"worker killed by signal {signal.Signals(-code).name}")
    return JobResult("crashed", f"worker exited with code {code} without a result")
