"""One job process, started warm (see :mod:`seqbench.executors.worker`) and driven by the parent.

The parent spawns it ahead of need; it imports torch and the plugins and then blocks on stdin.
:meth:`JobProcess.dispatch` writes the job there. The duplex channel carries the job's messages
(``started``, ``measure``, ``measured``, ``first_step``, ``result``) and the scheduler's ``go``.
CPU jobs are forked from the run's job server instead (:mod:`seqbench.executors.forkserver`).
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from multiprocessing.connection import Connection
from pathlib import Path

from seqbench.executors.worker import BOOTSTRAP
from seqbench.specs import JobConfig


class JobProcess:
    """A pre-started job process; runs at most one job, then is gone.

    :class:`seqbench.executors.forkserver.ForkedJob` has the same attributes and methods
    (``process`` is then a stand-in for ``subprocess.Popen``): the scheduler treats both alike.
    """

    def __init__(self) -> None:
        parent_end, child_end = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", BOOTSTRAP, str(os.getpid()), str(child_end.fileno())],
                stdin=subprocess.PIPE, pass_fds=(child_end.fileno(),), close_fds=True,
            )
        finally:
            child_end.close()
        self.spawned = time.perf_counter()
        self.channel = Connection(parent_end.detach())
        self.job: JobConfig | None = None
        self.dispatched = 0.0  # perf_counter at dispatch
        self.started_at = time.time()  # wall clock at dispatch (the row's "started")
        self.running = False  # the job said "started": its own time limit applies
        self.deadline: float | None = None  # perf_counter
        self.kills_before: int | None = None

    def dispatch(self, job: JobConfig, artifacts_dir: Path | None, peaks: Mapping[str, float] | None,
                 kills_before: int | None) -> None:
        """Hand the job to the process (it reads it once its imports are done)."""
        self.job, self.kills_before = job, kills_before
        self.dispatched, self.started_at = time.perf_counter(), time.time()
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(pickle.dumps((job, str(artifacts_dir) if artifacts_dir else None,
                                                   dict(peaks or {}))))
            self.process.stdin.close()
        except BrokenPipeError:
            pass  # died already; its exit status says how

    def signal(self, signum: int) -> None:
        if self.process.poll() is None:
            try:
                self.process.send_signal(signum)
            except ProcessLookupError:
                pass

    def pause(self) -> None:
        self.signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.signal(signal.SIGCONT)

    def stop(self) -> None:
        """Kill and reap the process (also when it is paused) and close the channel."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        if self.process.stdin is not None and not self.process.stdin.closed:
            try:
                self.process.stdin.close()
            except BrokenPipeError:
                pass
        self.channel.close()
