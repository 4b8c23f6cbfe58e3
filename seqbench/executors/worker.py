"""The job process: started by :mod:`seqbench.executors.local` as ``python -c BOOTSTRAP``.

:data:`BOOTSTRAP` runs before anything is imported but the standard library: it asks the
kernel to SIGKILL this process when its parent dies (Linux ``PR_SET_PDEATHSIG``) and then
checks the parent is still the one that started it, which covers the few milliseconds of
interpreter start-up before the request took effect. Only then are torch and the plugins
imported (seconds): a parent killed during that window no longer leaves an orphan running a
whole job beside the resumed run.

Warm start (issue 14): the process imports torch, seqbench and every plugin (the registry is
loaded) *before* it reads its job, so the scheduler starts it ahead of time and the job pays
none of that. CUDA is not touched until the job runs. Each process still runs exactly one job
and exits: nothing a job does can leak into the next.

CPU jobs are normally forked from the run's job server instead (:mod:`seqbench.executors.forkserver`),
which runs the very same :func:`run` in each child; this spawned process is what CUDA jobs use
(forking after CUDA initialised is unsafe) and the fallback when the server is gone.
"""

from __future__ import annotations

import pickle
import sys
import time
import warnings
from collections.abc import Mapping
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING

from seqbench.errors import DataWarning

if TYPE_CHECKING:
    from seqbench.manager import Registry
    from seqbench.specs import JobConfig

# Before any import but the standard library: ignore Ctrl-C, die with the parent (see above).
GUARD = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops this job
if sys.platform.startswith("linux"):
    import ctypes
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
if os.getppid() != int(sys.argv[1]):  # the parent died before the request took effect
    os._exit(0)
"""
BOOTSTRAP = GUARD + "from seqbench.executors.worker import main\nmain(int(sys.argv[2]))\n"


def main(channel_fd: int) -> None:
    """Import everything and send ("ready", t); then read (config, artifacts dir, the run's peak FLOP/s)
    from stdin and :func:`run` the job."""
    conn = Connection(channel_fd)
    from seqbench.manager import get_registry

    registry = get_registry()  # the warm part: plugins imported while the previous job runs
    conn.send(("ready", time.time()))  # informational: the scheduler may dispatch before this
    config, artifacts_dir, peaks = pickle.loads(sys.stdin.buffer.read())
    run(conn, registry, config, artifacts_dir, peaks)


def run(conn: Connection, registry: Registry, config: JobConfig, artifacts_dir: str | None,
        peaks: Mapping[str, float]) -> None:
    """Run one job and report it on ``conn``: ("started", t) once the job can start (the parent's clock for
    the time limit starts there), ("first_step", t) after its first optimizer step, then ("result", JobResult).
    Measurement windows go through the same duplex channel. Spawned and forked job processes both run this."""
    from dataclasses import replace
    from pathlib import Path

    from seqbench.executors import gate
    from seqbench.specs import JobResult
    from seqbench.train import run_job

    gate.attach(conn)
    try:
        model, task = registry.model(config.model), registry.task(config.task)
    except KeyError as exc:
        conn.send(("result", JobResult("error", f"plugin not found in the job process: {exc}")))
        return
    conn.send(("started", time.time()))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        result = run_job(config, model, task, Path(artifacts_dir) if artifacts_dir else None, peaks)
    notes = []
    for w in caught:  # a task's notes about its data go into the row; other warnings are shown as usual
        if issubclass(w.category, DataWarning):
            notes.append(str(w.message))
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    if notes:
        result = replace(result, message="; ".join([m for m in (result.message, *notes) if m]))
    conn.send(("result", result))
    conn.close()
