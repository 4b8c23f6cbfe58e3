"""Local executor: every job in its own freshly started Python process.

A crash, a hang past the time limit, an out-of-memory kill or a non-finite loss ends that
job alone with a status; the parent (the only writer of the store) carries on. The time
limit counts from the moment the job process reports it has imported torch and the plugins
(seconds under load, not the job's fault); start-up has its own, generous limit.

A worker killed by SIGKILL is ``oom`` only when the kernel's OOM-kill counter moved while it
ran; any other SIGKILL (an operator, a cluster scheduler) is ``killed``. An allocation that
fails inside the job is ``oom`` too (see :func:`seqbench.train.run_job`).
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
from collections.abc import Mapping
from multiprocessing.connection import Connection
from pathlib import Path

from seqbench.executors.worker import BOOTSTRAP
from seqbench.specs import JobConfig, JobResult

STARTUP_LIMIT = 300.0  # seconds for the job process to import torch and the plugins


def oom_kills() -> int | None:
    """The kernel's count of OOM kills (``oom_kill`` in /proc/vmstat, Linux >= 4.13; cgroup
    OOM kills included); ``None`` where it cannot be read."""
    try:
        for line in Path("/proc/vmstat").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
    except (OSError, ValueError):
        pass
    return None


def exit_status(code: int | None, kills_before: int | None, kills_after: int | None) -> JobResult:
    """The status of a worker that ended without sending a result."""
    if code == -signal.SIGKILL:
        if kills_before is not None and kills_after is not None and kills_after > kills_before:
            return JobResult("oom", "worker killed by the kernel's OOM killer (out of memory)")
        if kills_before is None or kills_after is None:
            return JobResult("killed", "worker killed by SIGKILL (the kernel's OOM-kill count is unreadable here, "
                                       "so an out-of-memory kill cannot be told from an external kill)")
        return JobResult("killed", "worker killed by SIGKILL from outside (not the kernel's OOM killer)")
    if code is not None and code < 0:
        return JobResult("crashed", f"worker killed by signal {signal.Signals(-code).name}")
    return JobResult("crashed", f"worker exited with code {code} without a result")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()


def execute(config: JobConfig, timeout: float | None, artifacts_dir: Path | None,
            peaks: Mapping[str, float] | None = None) -> JobResult:
    """Run one job in a new process and return its result, whatever happens to it.

    ``peaks``: the devices' peak FLOP/s the run measured (see :func:`seqbench.measure.peak_flops`).
    """
    receive_fd, send_fd = os.pipe()
    kills_before = oom_kills()
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", BOOTSTRAP, str(os.getpid()), str(send_fd)],
            stdin=subprocess.PIPE, pass_fds=(send_fd,), close_fds=True,
        )
    finally:
        os.close(send_fd)
    receive = Connection(receive_fd, writable=False)
    try:
        assert process.stdin is not None
        try:
            payload = (config, str(artifacts_dir) if artifacts_dir else None, dict(peaks or {}))
            process.stdin.write(pickle.dumps(payload))
            process.stdin.close()
        except BrokenPipeError:
            pass  # died at once; its exit status says how
        started = False
        limit: float | None = STARTUP_LIMIT
        while receive.poll(limit):
            try:
                kind, value = receive.recv()
            except EOFError:
                break  # the worker died before it could answer
            if kind == "result":
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    pass  # the result is in; the finally clause ends the process
                return value
            started, limit = True, timeout  # "started": the job's own clock starts now
        else:
            _stop(process)
            if not started:
                return JobResult("timeout", f"job process did not start within {STARTUP_LIMIT:g} s")
            return JobResult("timeout", f"job exceeded its time limit of {timeout:g} s")
        process.wait()
        return exit_status(process.returncode, kills_before, oom_kills())
    finally:
        _stop(process)  # also on KeyboardInterrupt: never leave a worker behind
        receive.close()
