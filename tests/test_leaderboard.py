"""Leaderboards: ranking, ties, reference ratios, failed rows, files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from seqbench.reporters.leaderboard import accuracy_table, seqbench_write_reports, throughput_table


def _rows() -> pd.DataFrame:
    rows = []
    for model, values, baseline in (("a", [10.0, 10.2], False), ("b", [10.1, 10.3], False), ("c", [20.0, 20.0], True)):
        for seed, v in enumerate(values):
            rows.append({"model": model, "task": "t", "device": "cpu", "seed": seed, "preset": "smoke",
                         "status": "ok", "message": "", "primary": "ppl", "goal": "min", "unit": "tokens",
                         "baseline": baseline, "metric_order": "ppl,ce", "metric.ppl": v, "metric.ce": v / 10,
                         "reference.ppl": 8.0, "measure.params": 100.0, "measure.infer_samples_per_s": 50.0 + seed,
                         "artifacts": []})
    rows.append({**rows[0], "model": "d", "status": "timeout", "message": "too slow", "metric.ppl": None})
    return pd.DataFrame(rows)


def test_ranks_ties_and_reference() -> None:
    table = accuracy_table(_rows()).set_index("model")
    assert list(table.index) == ["a", "b", "c"]
    assert table.loc["a", "rank"] == table.loc["b", "rank"] == 1  # overlapping mean ± std: a tie
    assert table.loc["a", "tied"] and table.loc["b", "tied"] and not table.loc["c", "tied"]
    assert table.loc["c", "rank"] == 3 and table.loc["c", "kind"] == "baseline"
    assert abs(table.loc["a", "ratio_to_best_possible"] - 10.1 / 8.0) < 1e-9
    assert table.loc["a", "n"] == 2 and abs(table.loc["a", "ce"] - 1.01) < 1e-9


def test_higher_is_better_ranks_descending() -> None:
    rows = _rows()
    rows["goal"] = "max"
    table = accuracy_table(rows)
    assert table.iloc[0]["model"] == "c"


def test_reports_written(tmp_path: Path) -> None:
    paths = seqbench_write_reports(_rows(), tmp_path)
    assert {p.name for p in paths} == {"leaderboard.md", "leaderboard.csv", "throughput.csv", "jobs.csv"}
    text = (tmp_path / "leaderboard.md").read_text()
    assert "≈1" in text and "10.1 ± 0.1414" in text and "Best possible (oracle): **8**" in text
    assert "timeout" in text and "too slow" in text
    assert throughput_table(_rows()).loc[0, "measure.infer_samples_per_s"] == 50.5
    assert pd.read_csv(tmp_path / "leaderboard.csv")["model"].tolist() == ["a", "b", "c"]


def test_parity_failure_is_flagged(tmp_path: Path) -> None:
    rows = _rows()
    rows["measure.parity_ok"] = 1.0
    rows.loc[rows["model"] == "b", "measure.parity_ok"] = 0.0
    table = accuracy_table(rows).set_index("model")
    assert table.loc["b", "parity_failed"] and not table.loc["a", "parity_failed"]
    seqbench_write_reports(rows, tmp_path)
    text = (tmp_path / "leaderboard.md").read_text()
    assert "b ⚠ parity" in text and "a ⚠ parity" not in text and "CPU–CUDA parity" in text


def test_secondary_columns_are_the_tasks_own(tmp_path: Path) -> None:
    other = _rows().assign(task="u", primary="mse", metric_order="mse,ssim", **{"metric.mse": 1.0, "metric.ssim": 0.5})
    other = other.drop(columns=["metric.ppl", "metric.ce", "reference.ppl"])
    seqbench_write_reports(pd.concat([_rows(), other], ignore_index=True), tmp_path)
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
    seqbench_write_reports(rows, tmp_path)
    text = (tmp_path / "leaderboard.md").read_text()
    assert "Measured on AMD EPYC (AuthenticAMD, cpu family 25, model 17, AVX512), 1 CPU thread per job." in text
    assert machine({"cuda_devices": ["H100", "A100"]}, "cuda:1") == "A100"
    assert machine({"cpu": "Xeon"}, "cpu") == "Xeon"  # runs recorded before cpu_id existed
