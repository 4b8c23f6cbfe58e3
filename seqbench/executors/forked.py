"""A CPU job forked from the run's job server, as the scheduler sees it (issue 14).

:class:`ForkedJob` has the attributes and methods of :class:`seqbench.executors.process.JobProcess`
and its ``process`` (:class:`Forked`) the parts of ``subprocess.Popen`` the scheduler uses, so
:mod:`seqbench.executors.local` treats forked and spawned job processes alike. The exit status
comes from the server (:mod:`seqbench.executors.forkserver`), which keeps the dead child unreaped
until :meth:`ForkedJob.stop` says so: a signal never reaches a reused pid.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING

from seqbench.specs import JobConfig

if TYPE_CHECKING:
    from seqbench.executors.forkserver import ForkServer


class Forked:
    """A forked child as the scheduler sees it: the parts of ``subprocess.Popen`` it uses."""

    def __init__(self, server: ForkServer) -> None:
        self.server = server
        self.pid: int | None = None  # known once the server answers ("forked", pid)
        self.returncode: int | None = None
        self.lost = False  # the server died first: the exit status is unknown

    def poll(self) -> int | None:
        while self.server.pump(0):
            pass
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        deadline = None if timeout is None else time.perf_counter() + timeout
        while self.returncode is None and not self.lost:
            left = None if deadline is None else deadline - time.perf_counter()
            if left is not None and left <= 0:
                raise subprocess.TimeoutExpired("forked job", timeout or 0.0)
            self.server.pump(left)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        while self.pid is None and not self.lost:
            self.server.pump(None)  # the fork request is in: its answer comes
        if self.pid is not None and self.returncode is None and not self.lost:
            try:
                os.kill(self.pid, signum)  # not reaped before we say so: the pid is still this child's
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ForkedJob:
    """One CPU job forked from the server: the same attributes and methods as :class:`JobProcess`."""

    def __init__(self, server: ForkServer) -> None:
        parent_end, child_end = socket.socketpair()
        try:
            handle = server.fork(child_end)
        finally:
            child_end.close()  # in flight to the server now (or not needed)
        self.channel = Connection(parent_end.detach())
        self.process = handle
        self.server = server
        self.job: JobConfig | None = None
        self.dispatched = time.perf_counter()
        self.started_at = time.time()
        self.running = False
        self.deadline: float | None = None
        self.kills_before: int | None = None

    def dispatch(self, job: JobConfig, artifacts_dir: Path | None, peaks: Mapping[str, float] | None,
                 kills_before: int | None) -> None:
        self.job, self.kills_before = job, kills_before
        self.dispatched, self.started_at = time.perf_counter(), time.time()
        try:
            self.channel.send((job, str(artifacts_dir) if artifacts_dir else None, dict(peaks or {})))
        except OSError:
            pass  # died already; its exit status says how

    def never_forked(self) -> bool:
        """The server died before forking it: the job never ran and may be started elsewhere."""
        return self.process.lost and self.process.pid is None

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def pause(self) -> None:
        self.signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.signal(signal.SIGCONT)

    def stop(self) -> None:
        """Kill the child (also when paused), wait for its exit status, let the server reap it."""
        if self.process.poll() is None and not self.process.lost:
            self.process.kill()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                pass
        if self.process.pid is not None and self.process.returncode is not None:
            self.server.reap(self.process.pid)
        self.channel.close()
