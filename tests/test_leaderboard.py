"""Leaderboards: ranking, ties, reference ratios, failed rows, files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from seqbench.reporters.leaderboard import accuracy_table, seqbench_write_reports, throughput_table
from seqbench.results import Results, TaskMeta

T = TaskMeta("t", "ppl", (("ppl", "min"), ("ce", "min")), "tokens")
U = TaskMeta("u", "mse", (("mse", "min"), ("ssim", "max")), "frames")


def _rows() -> pd.DataFrame:
    rows = []
    for model, values, baseline in (("a", [10.0, 10.2], False), ("b", [10.1, 10.3], False), ("c", [20.0, 20.0], True)):
        for seed, v in enumerate(values):
            rows.append({"model": model, "task": "t", "device": "cpu", "seed": seed, "preset": "smoke",
                         "status": "ok", "message": "", "baseline": baseline, "later_status": "",
                         "later_message": "", "metric.ppl": v, "metric.ce": v / 10, "best_possible.ppl": 8.0,
                         "measure.params": 100.0, "measure.infer_samples_per_s": 50.0 + seed, "artifacts": []})
    rows.append({**rows[0], "model": "d", "status": "timeout", "message": "too slow", "metric.ppl": None})
    return pd.DataFrame(rows)


def _results(frame: pd.DataFrame, *tasks: TaskMeta) -> Results:
    return Results(frame, frame, {t.name: t for t in tasks or (T,)}, "7 attempts, latest #7")


def test_ranks_ties_and_reference() -> None:
    table = accuracy_table(_results(_rows())).set_index("model")
    assert list(table.index) == ["a", "b", "c"]
    assert table.loc["a", "rank"] == table.loc["b", "rank"] == 1  # overlapping mean ± std: a tie
    assert table.loc["a", "tied"] and table.loc["b", "tied"] and not table.loc["c", "tied"]
    assert table.loc["c", "rank"] == 3 and table.loc["c", "kind"] == "baseline"
    assert abs(table.loc["a", "ratio_to_best_possible"] - 10.1 / 8.0) < 1e-9
    assert table.loc["a", "n"] == 2 and abs(table.loc["a", "ce"] - 1.01) < 1e-9


def test_higher_is_better_ranks_descending() -> None:
    higher = TaskMeta("t", "ppl", (("ppl", "max"), ("ce", "min")), "tokens")  # direction read from the store
    table = accuracy_table(_results(_rows(), higher))
    assert table.iloc[0]["model"] == "c"


def test_reports_written(tmp_path: Path) -> None:
    paths = seqbench_write_reports(_results(_rows()), tmp_path)
    assert {p.name for p in paths} == {"leaderboard.md", "leaderboard.csv", "throughput.csv", "jobs.csv"}
    text = (tmp_path / "leaderboard.md").read_text()
    assert "≈1" in text and "10.10 ± 0.14" in text and "Best possible (oracle): **8.000**" in text
    assert "timeout" in text and "too slow" in text
    assert throughput_table(_results(_rows())).loc[0, "measure.infer_samples_per_s"] == 50.5
    assert pd.read_csv(tmp_path / "leaderboard.csv")["model"].tolist() == ["a", "b", "c"]


def test_parity_failure_is_flagged(tmp_path: Path) -> None:
    rows = _rows()
    rows["measure.parity_ok"] = 1.0
    rows.loc[rows["model"] == "b", "measure.parity_ok"] = 0.0
    table = accuracy_table(_results(rows)).set_index("model")
    assert table.loc["b", "parity_failed"] and not table.loc["a", "parity_failed"]
    seqbench_write_reports(_results(rows), tmp_path)
    text = (tmp_path / "leaderboard.md").read_text()
    assert "b ⚠ parity" in text and "a ⚠ parity" not in text and "CPU–CUDA parity" in text


def test_secondary_columns_are_the_tasks_own(tmp_path: Path) -> None:
    other = _rows().assign(task="u", **{"metric.mse": 1.0, "metric.ssim": 0.5})
    other = other.drop(columns=["metric.ppl", "metric.ce", "best_possible.ppl"])
    seqbench_write_reports(_results(pd.concat([_rows(), other], ignore_index=True), T, U), tmp_path)
    sections = (tmp_path / "leaderboard.md").read_text().split("\n## ")
    t_header = next(s for s in sections if s.startswith("t ")).split("| rank")[1].split("\n")[0]
    u_header = next(s for s in sections if s.startswith("u ")).split("| rank")[1].split("\n")[0]
    assert "ce" in t_header and "ssim" not in t_header
    assert "ssim" in u_header and " ce " not in u_header


def test_throughput_names_the_machine_and_threads(tmp_path: Path) -> None:
    from seqbench.report import machine

    rows = _rows()
    rows["measure.threads"] = 1.0
    rows["machine"] = machine({"cpu": "AMD EPYC", "cpu_id": "AuthenticAMD, cpu family 25, model 17, AVX512"}, "cpu")
    seqbench_write_reports(_results(rows), tmp_path)
    text = (tmp_path / "leaderboard.md").read_text()
    assert "Measured on AMD EPYC (AuthenticAMD, cpu family 25, model 17, AVX512), 1 CPU thread per job." in text
    assert machine({"cuda_devices": ["H100", "A100"]}, "cuda:1") == "A100"
    assert machine({"cpu": "Xeon"}, "cpu") == "Xeon"  # runs recorded before cpu_id existed


def test_later_failures_are_marked_and_unranked_tasks_named(tmp_path: Path) -> None:
    rows = _rows()
    rows.loc[rows["model"] == "a", ["later_status", "later_message"]] = ["timeout", "exceeded 1 s"]
    orphan = rows.iloc[:1].assign(task="gone")  # rows of a task with no recorded metadata
    seqbench_write_reports(_results(pd.concat([rows, orphan], ignore_index=True)), tmp_path)
    text = (tmp_path / "leaderboard.md").read_text()
    assert "| a †" in text and "failed attempts after a success" in text and "exceeded 1 s" in text
    assert "## tasks not ranked" in text and "gone" in text and "store state: 7 attempts, latest #7" in text
    assert set(pd.read_csv(tmp_path / "leaderboard.csv")["store_state"]) == {"7 attempts, latest #7"}


def test_numbers_are_readable_in_markdown_and_full_in_csv(tmp_path: Path) -> None:
    rows = _rows()
    rows["metric.ppl"] = rows["metric.ppl"] + 0.0012345
    rows["metric.ratio"] = rows["metric.ppl"] / 8.0  # the task reports the oracle ratio itself
    rows["measure.params"] = 237_600.0
    rows["measure.flops_per_sample"] = 6.662e8
    rows["measure.infer_samples_per_s"] = 152_234.5
    rows["measure.infer_units_per_s"] = 6.35e8
    task = TaskMeta("t", "ppl", (("ppl", "min"), ("ce", "min"), ("ratio", "min")), "tokens")
    seqbench_write_reports(_results(rows, task), tmp_path)
    text = (tmp_path / "leaderboard.md").read_text()
    assert "238 K" in text and "666 M" in text and "152,000" in text and "635 M" in text and "e+0" not in text
    header = next(line for line in text.splitlines() if line.startswith("| rank"))
    assert "× best possible" in header and "ratio" not in header.replace("× best possible", "")  # shown once
    assert "seeds" in header and "infer samples/s" in text
    csv = pd.read_csv(tmp_path / "leaderboard.csv")
    assert abs(csv.loc[csv["model"] == "a", "mean"].iloc[0] - 10.1012345) < 1e-9  # full precision kept


def test_metric_units_are_named_in_the_headers(tmp_path: Path) -> None:
    task = TaskMeta("t", "ppl", (("ppl", "min"), ("ce", "min")), "tokens", metric_units=(("ce", "nats"),))
    seqbench_write_reports(_results(_rows(), task), tmp_path)
    header = next(line for line in (tmp_path / "leaderboard.md").read_text().splitlines() if line.startswith("| rank"))
    assert "ce (nats)" in header and "ppl (mean ± std)" in header  # a unitless primary keeps its plain header
    task = TaskMeta("t", "ppl", (("ppl", "min"), ("ce", "min")), "tokens", metric_units=(("ppl", "%"),))
    seqbench_write_reports(_results(_rows(), task), tmp_path)
    assert "ppl (%; mean ± std)" in (tmp_path / "leaderboard.md").read_text()
