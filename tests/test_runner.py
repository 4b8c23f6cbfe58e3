"""The run pipeline in-process (a fake executor): observers, resume, skipped rows, exit counts."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seqbench import hookimpl
from seqbench.manager import load_registry
from seqbench.plan import make_plan
from seqbench.runner import run_plan
from seqbench.specs import JobConfig, JobResult
from seqbench.store import Store


class Observer:
    def __init__(self) -> None:
        self.jobs: list[tuple[str, str]] = []
        self.reports: list[str] = []

    @hookimpl
    def seqbench_job_finished(self, config: JobConfig, result: JobResult, output_dir: Path) -> None:
        self.jobs.append((config.model, result.status))

    @hookimpl
    def seqbench_write_reports(self, results: object, output_dir: Path) -> list[Path]:
        path = output_dir / "custom.txt"
        path.write_text("mine")
        return [path]

    @hookimpl
    def seqbench_reports_written(self, paths: list[Path], output_dir: Path) -> None:
        self.reports = sorted(p.name for p in paths)


def fake_executor(config: JobConfig, timeout: float | None, artifacts: Path | None, peaks: object) -> JobResult:
    if config.model == "gru" and config.seed == 1:
        return JobResult("error", "injected")
    return JobResult("ok", "", {"perplexity": 10.0 + config.seed, "cross_entropy": 2.3}, {"params": 1.0})


def test_observers_reporters_resume(tmp_path: Path) -> None:
    registry = load_registry(include_entry_points=False)
    observer = Observer()
    registry.pm.register(observer)
    plan = make_plan(registry, ["lstm", "gru"], ["lm-hmm"], ["cpu"], [0, 1], "smoke")
    summary = run_plan(registry, plan, tmp_path, None, executor=fake_executor, log=lambda _: None)
    assert (summary.done, summary.failed) == (3, 1)
    assert sorted(observer.jobs) == [("gru", "error"), ("gru", "ok"), ("lstm", "ok"), ("lstm", "ok")]
    assert {"custom.txt", "leaderboard.md", "leaderboard.csv"} <= set(observer.reports)

    observer.jobs.clear()
    again = run_plan(registry, plan, tmp_path, None, resume=True, executor=fake_executor, log=lambda _: None)
    assert again.resumed == 3 and observer.jobs == [("gru", "error")]  # only the failed job is retried
    with Store(tmp_path / "seqbench.sqlite") as store:
        assert len(store.frame()) == 4


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA path")
def test_skipped_device_rows_are_recorded(tmp_path: Path) -> None:
    registry = load_registry(include_entry_points=False)
    plan = make_plan(registry, ["lstm"], ["lm-hmm"], ["cpu", "cuda"], [0], "smoke")
    summary = run_plan(registry, plan, tmp_path, None, executor=fake_executor, log=lambda _: None)
    assert (summary.done, summary.failed, summary.skipped) == (1, 0, 1)
    with Store(tmp_path / "seqbench.sqlite") as store:
        rows = store.frame().set_index("device")
    assert rows.loc["cuda", "status"] == "skipped" and "CUDA is not available" in rows.loc["cuda", "message"]
    assert rows.loc["cpu", "status"] == "ok"
