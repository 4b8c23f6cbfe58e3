"""End to end: the `seqbench` command on temporary output folders."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from seqbench.cli import main
from seqbench.manager import Registry
from seqbench.plan import make_plan
from seqbench.runner import run_plan
from seqbench.store import Store

SEQBENCH = [sys.executable, "-m", "seqbench.cli"]


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SEQBENCH, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_run_smoke_writes_store_and_leaderboards(tmp_path: Path) -> None:
    out = tmp_path / "results"
    proc = _cli("run", "--preset", "smoke", "--models", "lstm,unigram", "--tasks", "lm-hmm", "--seeds", "2",
                "--output", str(out))
    assert proc.returncode == 0, proc.stderr
    for name in ("leaderboard.md", "leaderboard.csv", "throughput.csv", "jobs.csv", "seqbench.sqlite"):
        assert (out / name).is_file()
    assert "[2/4 done, 0 failed, 1 running, ETA" in proc.stderr and "lstm x lm-hmm on cpu, seed 1" in proc.stderr
    board = (out / "leaderboard.md").read_text()
    assert "## lm-hmm (smoke)" in board and "Best possible (oracle)" in board and "baseline" in board
    with Store(out / "seqbench.sqlite") as store:
        frame = store.frame()
        env = next(iter(store.environments().values()))
    assert len(frame) == 4 and set(frame.status) == {"ok"}
    assert {"torch", "python", "cpu", "threads", "git_commit", "seqbench", "plugins", "cuda"} <= set(env)
    assert (frame["measure.infer_samples_per_s"] > 0).all()
    assert _cli("leaderboard", "--output", str(out)).returncode == 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA path")
def test_cuda_without_cuda_skips_every_pair_and_exits_0(tmp_path: Path) -> None:
    proc = _cli("run", "--device", "cuda", "--preset", "smoke", "--models", "lstm,gru", "--tasks", "lm-hmm",
                "--output", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("CUDA is not available") == 2
    assert "0 job(s) ok, 0 failed, 0 resumed, 2 skipped" in proc.stdout
    assert "skipped" in (tmp_path / "leaderboard.md").read_text()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--models", "lstmm"], "did you mean 'lstm'"),
        (["run", "--tasks", "nope*"], "matches nothing"),
        (["run", "--seeds", "x"], "--seeds expects a count"),
        (["run", "--seeds", "0"], "--seeds must be at least 1"),
        (["run", "--device", "tpu"], "unknown device 'tpu'"),
        (["run", "--data", "ptb"], "--data expects KEY=PATH"),
        (["run", "--amp", "bf16"], "--amp is for CUDA devices"),
        (["leaderboard", "--output", "/nonexistent/x"], "no results store at /nonexistent/x"),
    ],
)
def test_bad_input_is_one_clear_line(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_failing_jobs_end_alone_with_a_status(faulty_registry: Registry, tmp_path: Path) -> None:
    models = ["faulty-crash", "faulty-hang", "faulty-oom", "faulty-error", "faulty-nan", "faulty-fine"]
    plan = make_plan(faulty_registry, models, ["lm-hmm"], ["cpu"], [0], "smoke")
    summary = run_plan(faulty_registry, plan, tmp_path, timeout=20, log=lambda _: None)
    assert (summary.done, summary.failed) == (1, 5)
    with Store(tmp_path / "seqbench.sqlite") as store:
        status = dict(zip(store.frame()["model"], store.frame()["status"], strict=True))
    assert status == {"faulty-crash": "crashed", "faulty-hang": "timeout", "faulty-oom": "oom",
                      "faulty-error": "error", "faulty-nan": "diverged", "faulty-fine": "ok"}
    board = (tmp_path / "leaderboard.md").read_text()
    assert "boom in forward" in board and "exceeded its time limit of 20 s" in board
    assert main(["run", "--models", "faulty-error", "--tasks", "lm-hmm", "--preset", "smoke",
                 "--output", str(tmp_path / "x")]) == 1  # exit status says a job failed


def test_sigkill_then_resume_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    args = ["run", "--preset", "smoke", "--models", "lstm,gru,unigram", "--tasks", "lm-hmm", "--seeds", "2",
            "--no-measure", "--output", str(tmp_path)]
    proc = subprocess.Popen([*SEQBENCH, *args], stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.stderr is not None
    for line in proc.stderr:  # kill in the middle of the third job (forked smoke jobs take a fraction of a second)
        if "[2/6 done" in line:
            break
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(tmp_path / "seqbench.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        before = dict(db.execute("SELECT config_hash, finished FROM attempts"))
    assert 2 <= len(before) < 6
    done = _cli(*args, "--resume")
    assert done.returncode == 0, done.stderr
    assert f"resume: {len(before)} job(s) already succeeded" in done.stderr
    with sqlite3.connect(tmp_path / "seqbench.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        after = dict(db.execute("SELECT config_hash, finished FROM attempts"))
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 2
    assert len(after) == 6
    assert all(after[h] == t for h, t in before.items())  # finished jobs were not redone
