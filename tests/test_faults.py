"""Fault injection: real processes, real signals, real files (issue 18).

The parent is killed with SIGKILL at three moments (a job process starting up, a job in
flight, just after a result was committed), a job process is killed from outside, the run
is interrupted with SIGINT, a rerun fails after a good run, two processes open a new store at
once, and every class of bad input gets its one line and exit status. Jobs use the smoke
preset and a tiny model on ``lm-hmm``; ``fault-gate`` (tests/fixtures/fault_plugins.py) tells
the test when a job is in flight and which process runs it.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import install_fake_distribution

from seqbench.executors.local import exit_status
from seqbench.manager import get_registry
from seqbench.procfs import alive, descendants
from seqbench.store import Store
from seqbench.train import JobResult

FIXTURE = Path(__file__).parent / "fixtures" / "fault_plugins.py"
RUN = ["run", "--preset", "smoke", "--models", "fault-gate", "--tasks", "lm-hmm", "--no-measure"]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """fault_plugins installed as a distribution with a ``seqbench`` entry point, seen by the
    CLI processes and their job processes; SEQBENCH_FAULT_DIR is where the model announces itself."""
    site = tmp_path / "site"
    install_fake_distribution(site, "fault-plugins", {"fault": "fault_plugins:plugin"}, FIXTURE)
    signals = tmp_path / "signals"
    signals.mkdir()
    monkeypatch.syspath_prepend(str(site))
    get_registry.cache_clear()
    yield {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1", "SEQBENCH_FAULT_DIR": str(signals)}
    sys.modules.pop("fault_plugins", None)
    get_registry.cache_clear()


def _default_sigint() -> None:
    # as started from a terminal: an ignored SIGINT would be inherited from this test process
    # (whatever an earlier test in it did), and Python keeps an inherited SIG_IGN
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "seqbench.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_default_sigint)


def _ignores_sigint(pid: int) -> bool:
    status = Path(f"/proc/{pid}/status").read_text()
    mask = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigIgn:")), 16)
    return bool(mask & (1 << (signal.SIGINT - 1)))


def _wait(condition: Callable[[], object], seconds: float = 300) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


def _read_until(proc: subprocess.Popen[str], text: str) -> None:
    assert proc.stderr is not None
    for line in proc.stderr:
        if text in line:
            return
    raise AssertionError(f"{text!r} never printed; exit {proc.wait()}")


def _announced(signals: Path, seen: set[int]) -> int | None:
    """The pid of a job process that has just entered its job (not one seen before)."""
    pids = {int(p.name.split("-")[1]) for p in signals.glob("running-*")} - seen
    return pids.pop() if pids else None


def _kill_parent(proc: subprocess.Popen[str]) -> list[int]:
    workers = descendants(proc.pid)
    proc.kill()
    proc.wait()
    return workers


def _attempts(out: Path) -> dict[int, list[str]]:
    db = sqlite3.connect(out / "seqbench.sqlite")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        rows = db.execute("SELECT seed, status FROM attempts ORDER BY attempt").fetchall()
    finally:
        db.close()
    found: dict[int, list[str]] = {}
    for seed, status in rows:
        found.setdefault(seed, []).append(status)
    return found


def test_parent_killed_at_three_moments_then_resume(env: dict[str, str], tmp_path: Path) -> None:
    out, signals = tmp_path / "out", Path(env["SEQBENCH_FAULT_DIR"])
    args = [*RUN, "--seeds", "3", "--output", str(out)]
    orphans: list[int] = []

    # 1. while the second job's process is starting up (importing torch, before its job began)
    proc = _start(args, env)
    _read_until(proc, "[1/3 done")
    _wait(lambda: descendants(proc.pid), 60)
    orphans += _kill_parent(proc)
    assert _attempts(out) == {0: ["ok"]}

    # 2. in the middle of a job
    (signals / "hang").write_text("")
    seen = {int(p.name[8:]) for p in signals.glob("running-*")}
    proc = _start([*args, "--resume"], env)
    _wait(lambda: _announced(signals, seen), 120)
    orphans += _kill_parent(proc)
    assert _attempts(out) == {0: ["ok"]}

    # 3. just after a job's result was committed
    (signals / "hang").unlink()
    proc = _start([*args, "--resume"], env)
    _read_until(proc, "ok in")
    orphans += _kill_parent(proc)
    assert _attempts(out) == {0: ["ok"], 1: ["ok"]}

    _wait(lambda: not any(alive(pid) for pid in orphans), 10)  # the kernel ended every job process at once
    done = subprocess.run([sys.executable, "-m", "seqbench.cli", *args, "--resume"], env=env, text=True,
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "resume: 2 job(s) already succeeded" in done.stderr
    assert _attempts(out) == {0: ["ok"], 1: ["ok"], 2: ["ok"]}  # nothing redone, nothing lost
    assert "| fault-gate" in (out / "leaderboard.md").read_text()


def test_failed_rerun_worker_kill_and_ctrl_c(env: dict[str, str], tmp_path: Path) -> None:
    out, signals = tmp_path / "out", Path(env["SEQBENCH_FAULT_DIR"])
    good = subprocess.run([sys.executable, "-m", "seqbench.cli", *RUN, "--seeds", "0,", "--output", str(out)],
                          env=env, text=True, capture_output=True, timeout=300)
    assert good.returncode == 0, good.stderr

    # the same command again: seed 0 fails (a failed rerun after a good one), seed 1's job
    # process is killed from outside, seed 2 is in flight when Ctrl-C comes
    (signals / "fail").write_text("")
    (signals / "hang").write_text("")
    seen = {int(p.name[8:]) for p in signals.glob("running-*")}
    proc = _start([*RUN, "--seeds", "3", "--output", str(out)], env)
    seen.add(int(_wait(lambda: _announced(signals, seen)) or 0))  # seed 0: fails at once
    worker = int(_wait(lambda: _announced(signals, seen)) or 0)  # seed 1
    seen.add(worker)
    os.kill(worker, signal.SIGKILL)
    seen.add(int(_wait(lambda: _announced(signals, seen)) or 0))  # seed 2
    workers = descendants(proc.pid)
    assert not _ignores_sigint(proc.pid), f"the run ignores SIGINT (this test process: {signal.getsignal(2)})"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert stderr.rstrip().endswith("interrupted: rerun with --resume") and "Traceback" not in stderr
    assert _attempts(out) == {0: ["ok", "error"], 1: ["killed"], 2: ["interrupted"]}
    _wait(lambda: not any(alive(pid) for pid in workers), 10)

    board = (out / "leaderboard.md").read_text()  # regenerated after the interruption
    assert "| fault-gate †" in board and "RuntimeError: injected failure" in board  # the good result still ranks
    assert "killed by SIGKILL from outside" in board and "interrupted" in board
    with Store(out / "seqbench.sqlite") as store:
        ranked = store.frame().set_index("seed")
    assert ranked.loc[0, "status"] == "ok" and ranked.loc[0, "later_status"] == "error"


def test_allocation_failure_in_the_job_is_oom(env: dict[str, str]) -> None:
    from seqbench.plan import make_plan
    from seqbench.train import run_job

    registry = get_registry()
    job = make_plan(registry, ["fault-alloc"], ["lm-hmm"], ["cpu"], [0], "smoke").jobs[0]
    result = run_job(job, registry.model("fault-alloc"), registry.task("lm-hmm"))
    assert result.status == "oom" and "can't allocate memory" in result.message
    assert "Traceback" in result.traceback and "fault_plugins.py" in result.traceback


def test_sigkill_is_oom_only_when_the_kernel_counted_an_oom_kill() -> None:
    assert exit_status(-signal.SIGKILL, 4, 5).status == "oom"
    assert exit_status(-signal.SIGKILL, 4, 4).status == "killed"
    assert exit_status(-signal.SIGKILL, None, None).status == "killed"
    assert exit_status(-signal.SIGSEGV, 4, 4) == JobResult("crashed", "worker killed by signal SIGSEGV")


def _open(path: str, barrier: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    Store(Path(path)).close()


def test_concurrent_first_opens(tmp_path: Path) -> None:
    ctx = mp.get_context("fork")
    failures = 0
    for trial in range(12):
        path = str(tmp_path / f"s{trial}.sqlite")
        barrier = ctx.Barrier(6)
        procs = [ctx.Process(target=_open, args=(path, barrier)) for _ in range(6)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
            failures += p.exitcode != 0
    assert failures == 0
