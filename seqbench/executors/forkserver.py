"""Warm CPU job processes: one job server per run forks a child per job (issue 14).

The server is spawned once per run (as the spawned worker is, with the same guard: it ignores
Ctrl-C and dies with the run). It imports torch, seqbench, every plugin and what the training
path would import lazily (``torch._dynamo``, the FLOP counter, ...), and never touches CUDA or
runs a tensor operation, so no CUDA context and no OpenMP thread team exists to be forked
(the idle pools of OpenBLAS and of pandas' Arrow have at-fork handlers; a fork copies only
the forking thread). Then, for each CPU job, the scheduler sends it
one end of a fresh socket pair (``SCM_RIGHTS``) and the server forks: the child restores the
default signal handlers (Ctrl-C stays the run's), dies with the server (``PR_SET_PDEATHSIG``),
sets its thread count, reads its job from that channel and runs :func:`seqbench.executors.worker.run`,
exactly what a spawned job process runs, with the same messages. A job starts in milliseconds
and pays none of the seconds of CPU the imports cost, which on a small machine competed with
the job running beside it.

Isolation is the fork's: each child starts from the server's pristine state and exits after
its one job (nothing it changes reaches the server or the next job). The server keeps each
dead child as a zombie until the scheduler has read its exit status (``("exit", pid, code)``)
and asks for it to be reaped, so the scheduler never signals a reused pid. CUDA jobs keep the
spawned process. If the server dies, its running jobs die with it (``crashed``); jobs it had
not forked yet and every later job run in spawned processes, with a warning.
"""

from __future__ import annotations

import gc
import importlib
import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections import deque
from multiprocessing.connection import Connection

from seqbench.executors.forked import Forked
from seqbench.executors.worker import GUARD

BOOTSTRAP = GUARD + "from seqbench.executors.forkserver import serve\nserve(int(sys.argv[2]), sys.argv[3] == '1')\n"
# Imported by the training path on first use; ``torch._dynamo`` even without --compile (the
# optimizers consult it). Costs the server a few seconds once instead of every job.
WARM = ("seqbench.train", "seqbench.measure", "torch.optim", "torch._dynamo", "torch.utils.flop_counter")
COMPILE = ("torch._inductor.compile_fx",)  # only when a job of the run uses --compile


def serve(control_fd: int, compiling: bool) -> None:
    """The job server's life: warm up, say ("ready", t), then fork a child per ("fork", fd) request."""
    control = socket.socket(fileno=control_fd)
    import torch

    threads = torch.get_num_threads()  # what a fresh interpreter would use (OMP_NUM_THREADS, else the cores)
    from seqbench.manager import get_registry

    registry = get_registry()
    for name in (*WARM, *(COMPILE if compiling else ())):
        try:
            importlib.import_module(name)
        except ImportError:
            pass  # a torch build without it: the job imports what it needs itself
    gc.freeze()  # the children's collections leave the server's objects (and their shared pages) alone
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)  # SIGCHLD wakes the select below
    signal.signal(signal.SIGCHLD, lambda *_: None)
    live: set[int] = set()
    control.send(pickle.dumps(("ready", time.time())))
    while True:
        ready, _, _ = select.select([control.fileno(), wake_r], [], [])
        if wake_r in ready:
            os.read(wake_r, 4096)
        for pid in sorted(live):  # report exits, keep the zombie until asked (no pid reuse)
            info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            if info is not None:
                live.discard(pid)
                code = info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
                control.send(pickle.dumps(("exit", pid, code)))
        if control.fileno() not in ready:
            continue
        message, fds, _, _ = socket.recv_fds(control, 4096, 1)
        if not message:
            return  # the run closed the channel: it is over (PDEATHSIG ends any child left)
        kind, arg = pickle.loads(message)
        if kind == "reap" and arg not in live:
            os.waitpid(arg, 0)
        elif kind == "fork":
            server = os.getpid()
            pid = os.fork()
            if pid == 0:
                _child(fds[0], (control.fileno(), wake_r, wake_w), registry, threads, server)
            os.close(fds[0])  # the child's end is the child's alone: its death must close the channel
            live.add(pid)
            control.send(pickle.dumps(("forked", pid)))


def _child(fd: int, server_fds: tuple[int, ...], registry: object, threads: int, server: int) -> None:
    """In the forked child: become a job process, run the one job, exit (never return to the server loop)."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP, signal.SIGPIPE, signal.SIGUSR1):
            signal.signal(number, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the run's: it stops this job
        for server_fd in server_fds:
            os.close(server_fd)
        if sys.platform.startswith("linux"):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the server
        if os.getppid() != server:  # the server died before the request took effect
            return
        conn = Connection(fd)
        config, artifacts_dir, peaks = conn.recv()
        import torch

        torch.set_num_threads(config.options.threads or threads)
        from seqbench.executors.worker import run

        run(conn, registry, config, artifacts_dir, peaks)  # type: ignore[arg-type]
        code = 0
    except BaseException:  # shown as a spawned process would show it; the scheduler sees the exit code
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


class ForkServer:
    """The run's job server (scheduler side): started once, asked for one forked child per CPU job."""

    def __init__(self, compiling: bool = False) -> None:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", BOOTSTRAP, str(os.getpid()), str(theirs.fileno()), "1" if compiling else "0"],
                stdin=subprocess.DEVNULL, pass_fds=(theirs.fileno(),), close_fds=True)
        finally:
            theirs.close()
        self.control = mine
        self.alive, self.ready_at = True, 0.0
        self.awaiting: deque[Forked] = deque()  # fork requests not yet answered, in order
        self.children: dict[int, Forked] = {}

    def fork(self, channel_end: socket.socket) -> Forked:
        """Ask for a child holding ``channel_end`` (a handle already ``lost`` when the server is gone)."""
        handle = Forked(self)
        if self.alive:
            try:
                socket.send_fds(self.control, [pickle.dumps(("fork", None))], [channel_end.fileno()])
            except OSError:
                self._died()
            else:
                self.awaiting.append(handle)
                return handle
        handle.lost = True
        return handle

    def pump(self, timeout: float | None) -> bool:
        """Handle one message from the server if one comes within ``timeout``; whether one came."""
        if not self.alive or not select.select([self.control], [], [], timeout)[0]:
            return False
        try:
            message = self.control.recv(4096)
        except OSError:
            message = b""
        if not message:
            self._died()
            return True
        kind, *args = pickle.loads(message)
        if kind == "ready":
            self.ready_at = args[0]
        elif kind == "forked":
            handle = self.awaiting.popleft()
            handle.pid = args[0]
            self.children[args[0]] = handle
        elif kind == "exit":
            self.children.pop(args[0]).returncode = args[1]
        return True

    def reap(self, pid: int) -> None:
        if self.alive:
            try:
                self.control.send(pickle.dumps(("reap", pid)))
            except OSError:
                self._died()

    def _died(self) -> None:
        self.alive = False
        for handle in [*self.awaiting, *self.children.values()]:
            handle.lost = True
        self.awaiting.clear()
        self.children.clear()
        warnings.warn("the job server died; the run's remaining CPU jobs start in fresh processes (slower)",
                      RuntimeWarning, stacklevel=2)

    def close(self) -> None:
        self.control.close()  # the server exits at EOF; its children (if any are left) die with it
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
