"""The two-store comparison of issue 14 (fast; builds two small stores, times nothing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.compare_runs import compare
from seqbench.specs import Budget, JobConfig, JobResult
from seqbench.store import Store


def _store(folder: Path, rates: list[float], ppl: float, wall: float) -> Path:
    folder.mkdir()
    path = folder / "seqbench.sqlite"
    with Store(path) as store:
        store.start_run("r", ["run"], {})
        for seed, rate in enumerate(rates):
            job = JobConfig("lstm", "lm-hmm", "cpu", seed, "quick", Budget(steps=3, batch_size=2), 1e-3)
            store.record("r", job, JobResult("ok", "", {"ppl": ppl + seed}, {"infer_samples_per_s": rate}), 0.0)
        store.finish_run("r")
        store.db.execute("UPDATE runs SET started = 0, finished = ?", (wall,))
    return path


def test_speed_up_identical_metrics_and_agreement_within_the_seed_range(tmp_path: Path) -> None:
    a = _store(tmp_path / "a", [100.0, 110.0, 90.0], 3.0, 600.0)
    b = _store(tmp_path / "b", [105.0, 95.0, 100.0], 3.0, 300.0)
    text = compare(a, b, ("jobs 1", "jobs 2"))
    assert "3 jobs in both stores. Wall time: jobs 1 10.0 min, jobs 2 5.0 min, speed-up 2.00x." in text
    assert "Metrics identical in 3 of 3 jobs." in text
    assert "| lm-hmm | lstm | 100 [90.0–110] | 100 [95.0–105] | 1.00 | yes |" in text


def test_changed_metrics_and_rates_outside_the_spread_are_named(tmp_path: Path) -> None:
    a = _store(tmp_path / "a", [100.0, 101.0, 99.0], 3.0, 60.0)
    b = _store(tmp_path / "b", [50.0, 51.0, 49.0], 3.5, 60.0)
    text = compare(a, b, ("A", "B"))
    assert "Metrics identical in 0 of 3 jobs; they differ in: " in text and "lstm x lm-hmm seed 2" in text
    assert "| 0.50 | no |" in text and "0 of 1 within the run-to-run spread." in text
    assert "training samples/s" not in text  # nothing was timed that way


def test_stores_without_common_jobs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no results store"):
        compare(tmp_path / "missing.sqlite", tmp_path / "missing.sqlite", ("A", "B"))
