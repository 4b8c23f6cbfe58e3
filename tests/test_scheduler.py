"""The local scheduler's rules without real jobs (issue 14): measurement windows pause every
other job process and hold back new ones, first come first served; one job per CUDA device;
the default number of jobs; the measurement-window client; the progress state."""

from __future__ import annotations

import threading
from multiprocessing import Pipe
from pathlib import Path

import pytest

from seqbench.executors import gate, local
from seqbench.executors.local import _Schedule, default_jobs
from seqbench.progress import RunState
from seqbench.specs import Budget, JobConfig, JobResult


def job(model: str, device: str = "cpu") -> JobConfig:
    return JobConfig(model, "lm-hmm", device, 0, "smoke", Budget(steps=1, batch_size=2), 1e-3)


class FakeProcess:
    """Stands in for a JobProcess: records signals and what the scheduler sends it."""

    def __init__(self) -> None:
        self.job: JobConfig | None = None
        self.paused = False
        self.sent: list[str] = []
        self.deadline: float | None = None
        self.dispatched = self.started_at = 0.0
        self.running = False
        self.channel = self

    def dispatch(self, job: JobConfig, *_: object) -> None:
        self.job = job

    def send(self, message: tuple[str, object]) -> None:
        self.sent.append(message[0])

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        self.paused = False

    def stop(self) -> None:
        pass


@pytest.fixture
def schedule(monkeypatch: pytest.MonkeyPatch) -> _Schedule:
    monkeypatch.setattr(local, "JobProcess", FakeProcess)
    monkeypatch.setattr(local, "oom_kills", lambda: None)
    return _Schedule(3, 60.0, lambda _: None, {})


def test_measurement_pauses_everyone_else_first_come_first_served(schedule: _Schedule) -> None:
    pending = [job("a"), job("b"), job("c"), job("d")]
    started = [e.job.model for e in schedule._dispatch(pending)]
    assert started == ["a", "b", "c"] and len(schedule.spares) == 1
    a, b, c = schedule.running
    for p in (a, b, c):
        p.deadline = 100.0
    schedule.waiting.append(b)  # type: ignore[arg-type]
    schedule._grant()
    schedule.waiting.append(c)  # type: ignore[arg-type]  # asks while b measures: waits
    assert schedule.measuring is b and b.sent == ["go"] and c.sent == []
    assert a.paused and c.paused and not b.paused and schedule.spares[0].paused
    assert schedule._clocked() == [b]  # only the measuring job's time limit runs
    schedule._release()
    assert schedule.measuring is c and c.sent == ["go"] and not c.paused
    assert a.paused and b.paused  # paused again for c's window
    assert a.deadline is not None and a.deadline > 100.0  # the pause does not count against it
    finished = schedule._end(c, JobResult("crashed", "died inside its window"))  # type: ignore[arg-type]
    assert finished.job.model == "c" and schedule.measuring is None
    assert not a.paused and not b.paused and not schedule.spares[0].paused


def test_one_job_per_cuda_device(schedule: _Schedule) -> None:
    pending = [job("a", "cuda"), job("b", "cuda:0"), job("c", "cuda:1"), job("d", "cpu")]
    started = [e.job.model for e in schedule._dispatch(pending)]
    assert started == ["a", "c", "d"] and [j.model for j in pending] == ["b"]


def test_default_jobs() -> None:
    assert default_jobs(None, cpus=8) == 1  # a job without --threads uses every core
    assert default_jobs(1, cpus=2) == 2
    assert default_jobs(3, cpus=8) == 2
    assert default_jobs(4, cpus=2) == 1


def test_measurement_window_asks_and_reports() -> None:
    mine, theirs = Pipe()
    gate.attach(mine)
    log: list[str] = []

    def scheduler() -> None:
        log.append(theirs.recv()[0])
        theirs.send(("go", None))
        log.append(theirs.recv()[0])

    thread = threading.Thread(target=scheduler)
    thread.start()
    try:
        with pytest.raises(ValueError), gate.measurement_window():
            log.append("timing")
            raise ValueError("the window closes on errors too")
    finally:
        gate.attach(None)
        thread.join(5)
    assert log == ["measure", "timing", "measured"]
    with gate.measurement_window():  # no scheduler: a no-op
        pass


def test_progress_line_and_eta() -> None:
    progress = RunState(4, estimate=100.0)
    assert "ETA 1m" in progress.line()  # from the estimate before any job ends
    progress.start(job("a"), 0.0)
    progress.start(job("b"), 0.0)
    assert progress.snapshot().running == ("a x lm-hmm on cpu, seed 0", "b x lm-hmm on cpu, seed 0")
    progress.finish(job("a"), ok=True)
    progress.finish(job("b"), ok=False)
    line = progress.line()
    assert line.startswith("[2/4 done, 1 failed, 0 running, ETA ") and progress.eta() is not None
    shown = progress.snapshot()  # what the live display reads
    assert (shown.total, shown.done, shown.failed, shown.running) == (4, 1, 1, ())


def test_dry_run_prints_plan_estimate_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from seqbench.cli import main

    out = tmp_path / "results"
    code = main(["run", "--dry-run", "--preset", "smoke", "--models", "lstm,window-mlp,unigram", "--tasks",
                 "lm-hmm,traffic-*", "--output", str(out), "--jobs", "2"])
    text = capsys.readouterr().out
    assert code == 0 and not out.exists()
    assert "lstm x lm-hmm on cpu, seed 0, smoke: ~1.0 s (default)" in text
    assert "skipped:" in text and "unigram x traffic-" in text and "no shared signature" in text
    assert "estimated wall time:" in text and "with 2 job(s) at once on local" in text and "smoke 1 s" in text


def test_estimate_uses_the_store_history(tmp_path: Path) -> None:
    from seqbench.estimate import estimate
    from seqbench.manager import load_registry
    from seqbench.plan import make_plan
    from seqbench.runner import run_plan

    registry = load_registry(include_entry_points=False)
    plan = make_plan(registry, ["lstm", "gru"], ["lm-hmm"], ["cpu"], [0], "smoke")

    def slow_lstm(config: JobConfig, *_: object) -> JobResult:
        import time

        time.sleep(0.3 if config.model == "lstm" else 0.0)
        return JobResult("ok", "", {"perplexity": 10.0, "cross_entropy": 2.3}, {"params": 1.0})

    run_plan(registry, plan, tmp_path, None, executor=slow_lstm, log=lambda _: None)
    guess = estimate(plan.jobs, tmp_path / "seqbench.sqlite", 1)
    seconds = {j.model: (s, known) for j, s, known in guess.per_job}
    assert seconds["lstm"][1] and 0.3 <= seconds["lstm"][0] < 5.0 and seconds["gru"][0] < 0.3
    assert guess.wall == pytest.approx(seconds["lstm"][0] + seconds["gru"][0])
