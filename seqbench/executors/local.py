"""Local executor: every job in its own process, up to ``--jobs N`` at once, started warm.

A CPU job is forked from the run's job server, which imported torch and the plugins once
(:mod:`seqbench.executors.forkserver`); a CUDA job gets a spawned job process started ahead of
time (:mod:`seqbench.executors.process`), as does every job once the server is gone.

A crash, a hang past the time limit, an out-of-memory kill or a non-finite loss ends that
job alone with a status; the parent (the only writer of the store) carries on. The time
limit counts from the moment the job process reports it has its job (it was started ahead
of time and imported torch and the plugins while earlier jobs ran, see
:mod:`seqbench.executors.process`); start-up has its own, generous limit.

Throughput and latency are never timed while another job computes: a job that reaches its
measurement window asks the scheduler, which pauses (SIGSTOP) every other job process and
holds back new ones until the window closes, then resumes them (their time limits are
extended by the pause). Requests are served first come, first served, and nothing new starts
while one waits, so a measurement cannot starve. One job per CUDA device at a time.

A worker killed by SIGKILL is ``oom`` only when the kernel's OOM-kill counter moved while it
ran; any other SIGKILL (an operator, a cluster scheduler) is ``killed``. (With several jobs at
once an OOM kill of one job in the same moment makes a concurrent external kill read as
``oom`` too.) An allocation that fails inside the job is ``oom`` as well (see
:func:`seqbench.train.run_job`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable, Generator, Mapping, Sequence
from multiprocessing.connection import wait
from pathlib import Path

from seqbench.executors.base import Event, Finished, Started
from seqbench.executors.forked import ForkedJob
from seqbench.executors.forkserver import ForkServer
from seqbench.executors.process import JobProcess
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
    """The status of a worker that ended without sending a result (``code`` None: unknown)."""
    if code is None:
        return JobResult("crashed", "the job server died while the job ran (its exit status is unknown)")
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


def default_jobs(threads: int | None, cpus: int | None = None) -> int:
    """Jobs at once when ``--jobs`` is not given: as many as the cores hold at ``threads`` each.

    Without ``--threads`` a job uses every core (torch's default), so one at a time, as before.
    """
    if cpus is None:
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, cpus // threads) if threads else 1


def _gpu(job: JobConfig) -> str | None:
    if not job.device.startswith("cuda"):
        return None
    return job.device if ":" in job.device else "cuda:0"


class LocalExecutor:
    """Up to ``jobs`` job processes at once on this machine, each started warm and used once."""

    def __init__(self, jobs: int = 1, fork: bool = True) -> None:
        if jobs < 1:
            raise ValueError(f"--jobs must be at least 1, got {jobs}")
        self.jobs, self.fork = jobs, fork

    def describe(self) -> dict[str, object]:
        return {"name": "local", "jobs": self.jobs, "fork_server": self.fork}

    def run(self, jobs: Sequence[JobConfig], timeout: float | None, artifacts: Callable[[JobConfig], Path | None],
            peaks: Mapping[str, float]) -> Generator[Event, None, None]:
        return _Schedule(self.jobs, timeout, artifacts, peaks, self.fork).run(list(jobs))


Job = JobProcess | ForkedJob


class _Schedule:
    def __init__(self, width: int, timeout: float | None, artifacts: Callable[[JobConfig], Path | None],
                 peaks: Mapping[str, float], fork: bool = False) -> None:
        self.width, self.timeout, self.artifacts, self.peaks, self.fork = width, timeout, artifacts, peaks, fork
        self.server: ForkServer | None = None
        self.spares: deque[JobProcess] = deque()  # spawned ahead of need, for jobs the server does not fork
        self.running: list[Job] = []
        self.waiting: deque[Job] = deque()  # asked for a measurement window
        self.measuring: Job | None = None
        self.paused_at = 0.0
        self.pending: list[JobConfig] = []

    def run(self, pending: list[JobConfig]) -> Generator[Event, None, None]:
        self.pending = pending
        try:
            if self.fork and any(_gpu(job) is None for job in pending):
                self.server = ForkServer(compiling=any(job.options.compile for job in pending))
            self._top_up(pending)
            while pending or self.running:
                if self.measuring is None and not self.waiting:
                    yield from self._dispatch(pending)
                ready = wait([p.channel for p in self.running], self._wait_time())
                for process in [p for p in self.running if p.channel in ready]:
                    finished = self._receive(process)
                    if finished is not None:
                        yield finished
                for process in self._overdue():
                    yield self._end(process, self._timed_out(process))
        finally:  # also on KeyboardInterrupt / GeneratorExit: never leave a worker behind
            for process in [*self.running, *self.spares]:
                process.stop()
            if self.server is not None:
                self.server.close()

    def _forks(self, job: JobConfig) -> bool:
        """CPU jobs are forked from the server while it lives; CUDA jobs never (fork after CUDA init is unsafe)."""
        return _gpu(job) is None and self.server is not None and self.server.alive

    def _top_up(self, pending: list[JobConfig]) -> None:
        """Keep enough spawned processes importing for the jobs the server will not fork."""
        while len(self.spares) < min(self.width, sum(not self._forks(j) for j in pending)):
            self.spares.append(JobProcess())

    def _process_for(self, job: JobConfig) -> Job:
        if self._forks(job):
            assert self.server is not None
            forked = ForkedJob(self.server)
            if not forked.never_forked():
                return forked
            forked.stop()  # the server is gone: spawn
        return self.spares.popleft() if self.spares else JobProcess()

    def _dispatch(self, pending: list[JobConfig]) -> Generator[Event, None, None]:
        busy = {_gpu(p.job) for p in self.running if p.job is not None}
        while len(self.running) < self.width:
            job = next((j for j in pending if _gpu(j) is None or _gpu(j) not in busy), None)
            if job is None:
                return
            pending.remove(job)
            busy.add(_gpu(job))
            process = self._process_for(job)
            process.dispatch(job, self.artifacts(job), self.peaks, oom_kills())
            process.deadline = process.dispatched + STARTUP_LIMIT
            self.running.append(process)
            self._top_up(pending)
            yield Started(job, process.started_at)

    def _wait_time(self) -> float:
        deadlines = [p.deadline for p in self._clocked() if p.deadline is not None]
        if not deadlines:
            return 5.0
        return min(5.0, max(0.0, min(deadlines) - time.perf_counter()))

    def _clocked(self) -> list[Job]:
        """Processes whose clock runs: all of them, or only the one measuring while the others are paused."""
        return [self.measuring] if self.measuring is not None else self.running

    def _overdue(self) -> list[Job]:
        now = time.perf_counter()
        return [p for p in self._clocked() if p.deadline is not None and now > p.deadline]

    def _timed_out(self, process: Job) -> JobResult:
        if not process.running:
            return JobResult("timeout", f"job process did not start within {STARTUP_LIMIT:g} s")
        return JobResult("timeout", f"job exceeded its time limit of {self.timeout:g} s")

    def _receive(self, process: Job) -> Finished | None:
        try:
            kind, _value = message = process.channel.recv()
        except (EOFError, OSError):  # the worker died before it could answer
            process.process.wait()
            if isinstance(process, ForkedJob) and process.never_forked():
                self._requeue(process)  # the server died with the job in its queue: it never ran
                return None
            return self._end(process, exit_status(process.process.returncode, process.kills_before, oom_kills()))
        if kind == "started":  # the job's own clock starts now
            process.running = True
            process.deadline = time.perf_counter() + self.timeout if self.timeout else None
        elif kind == "measure":
            self.waiting.append(process)
            self._grant()
        elif kind == "measured":
            self._release()
        elif kind == "result":
            try:
                process.process.wait(30)
            except subprocess.TimeoutExpired:
                pass  # the result is in; stop() ends the process
            return self._end(process, message[1])
        return None

    def _grant(self) -> None:
        """Give the machine to the first job waiting to measure: pause everyone else."""
        if self.measuring is not None or not self.waiting:
            return
        self.measuring = self.waiting.popleft()
        self.paused_at = time.perf_counter()
        for other in [*self.running, *self.spares]:
            if other is not self.measuring:
                other.pause()
        self.measuring.channel.send(("go", None))

    def _release(self) -> None:
        """The window closed: resume everyone, with their clocks moved on by the pause."""
        if self.measuring is None:
            return
        paused = time.perf_counter() - self.paused_at
        for other in [*self.running, *self.spares]:
            if other is not self.measuring:
                if other.deadline is not None:
                    other.deadline += paused
                other.resume()
        self.measuring = None
        self._grant()

    def _requeue(self, process: ForkedJob) -> None:
        if process in self.waiting:
            self.waiting.remove(process)
        self.running.remove(process)
        process.stop()
        assert process.job is not None
        self.pending.insert(0, process.job)
        self._top_up(self.pending)

    def _end(self, process: Job, result: JobResult) -> Finished:
        if process is self.measuring:
            self._release()  # it died inside its window
        if process in self.waiting:
            self.waiting.remove(process)
        self.running.remove(process)
        process.stop()
        assert process.job is not None
        return Finished(process.job, process.started_at, result)


def execute(config: JobConfig, timeout: float | None, artifacts_dir: Path | None,
            peaks: Mapping[str, float] | None = None) -> JobResult:
    """Run one job in a new spawned process (a job server pays off over several jobs) and return its
    result, whatever happens to it.

    ``peaks``: the devices' peak FLOP/s the run measured (see :func:`seqbench.measure.peak_flops`).
    """
    for event in LocalExecutor(1, fork=False).run([config], timeout, lambda _: artifacts_dir, dict(peaks or {})):
        if isinstance(event, Finished):
            return event.result
    raise AssertionError("the executor ended without a result")
