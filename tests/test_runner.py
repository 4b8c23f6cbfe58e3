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


def test_rerun_that_fails_keeps_the_good_result_ranked(tmp_path: Path) -> None:
    registry = load_registry(include_entry_points=False)
    plan = make_plan(registry, ["lstm"], ["lm-hmm"], ["cpu"], [0], "smoke")
    run_plan(registry, plan, tmp_path, None, executor=fake_executor, log=lambda _: None)
    timeout = JobResult("timeout", "job exceeded its time limit of 1 s")
    again = run_plan(registry, plan, tmp_path, 1, executor=lambda *_: timeout, log=lambda _: None)
    assert again.failed == 1
    with Store(tmp_path / "seqbench.sqlite") as store:
        assert list(store.attempts()["status"]) == ["ok", "timeout"]
        row = store.frame().iloc[0]
    assert (row["status"], row["later_status"]) == ("ok", "timeout")
    board = (tmp_path / "leaderboard.md").read_text()
    assert "| 1      | lstm †" in board and "time limit of 1 s" in board


def test_verbose_prints_the_traceback_and_notes_are_shown(tmp_path: Path) -> None:
    registry = load_registry(include_entry_points=False)
    plan = make_plan(registry, ["lstm", "gru"], ["lm-hmm"], ["cpu"], [0], "smoke")
    results = {"lstm": JobResult("error", "ValueError: bad", traceback="Traceback (most recent call last):\n"
                                 "  File \"x.py\", line 1\nValueError: bad\n"),
               "gru": JobResult("ok", "metr-la.h5: 5 of the graph's 207 sensors", {"perplexity": 3.0})}
    lines: list[str] = []
    run_plan(registry, plan, tmp_path, None, executor=lambda c, *_: results[c.model], log=lines.append, verbose=True)
    text = "\n".join(lines)
    assert "    Traceback (most recent call last):\n      File \"x.py\", line 1\n    ValueError: bad" in text
    assert "perplexity = 3; note: metr-la.h5: 5 of the graph's 207 sensors" in text
    assert "## notes on successful jobs" in (tmp_path / "leaderboard.md").read_text()
    with Store(tmp_path / "seqbench.sqlite") as store:
        assert str(store.attempts().set_index("model").loc["lstm", "traceback"]).endswith("ValueError: bad\n")


def test_interrupt_records_the_job_in_flight(tmp_path: Path) -> None:
    registry = load_registry(include_entry_points=False)
    plan = make_plan(registry, ["lstm", "gru"], ["lm-hmm"], ["cpu"], [0], "smoke")

    def interrupted(config: JobConfig, *_: object) -> JobResult:
        if config.model == "gru":
            raise KeyboardInterrupt
        return fake_executor(config, None, None, {})

    summary = run_plan(registry, plan, tmp_path, None, executor=interrupted, log=lambda _: None)
    assert summary.interrupted and (summary.done, summary.failed) == (1, 0)
    with Store(tmp_path / "seqbench.sqlite") as store:
        assert dict(zip(store.attempts()["model"], store.attempts()["status"], strict=True)) == {
            "lstm": "ok", "gru": "interrupted"}
        assert store.db.execute("SELECT outcome FROM runs").fetchone()[0] == "interrupted"
    assert "interrupted" in (tmp_path / "leaderboard.md").read_text()


def test_results_rank_from_the_store_alone(tmp_path: Path) -> None:
    """Metadata recorded at run start ranks a task whose plugin is gone, in its own direction."""
    from seqbench.report import results

    registry = load_registry(include_entry_points=False)
    plan = make_plan(registry, ["lstm", "gru"], ["lm-hmm"], ["cpu"], [0, 1], "smoke")
    run_plan(registry, plan, tmp_path, None, executor=fake_executor, log=lambda _: None)
    with Store(tmp_path / "seqbench.sqlite") as store:
        store.db.execute("UPDATE tasks SET task='gone-task', goals='[[\"perplexity\", \"max\"]]'")
        store.db.execute("UPDATE attempts SET task='gone-task'")
        data = results(store, registry)
    from seqbench.reporters.leaderboard import accuracy_table

    assert data.tasks["gone-task"].goal == "max"
    table = accuracy_table(data)
    assert table.iloc[0]["model"] == "lstm" and table.iloc[0]["mean"] == 10.5  # higher first, as recorded
