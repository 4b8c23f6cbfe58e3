"""The tables built from pytest-benchmark JSON (fast; no timing)."""

from __future__ import annotations

from typing import Any

from benchmarks.tables import latency_table, reference_table

MACHINE = {"machine_info": {"cpu": {"brand_raw": "Test CPU"}}}


def _bench(group: str, params: dict[str, Any], extra: dict[str, Any], median: float,
           rounds: int = 3) -> dict[str, Any]:
    return {"group": group, "params": params, "extra_info": extra, "stats": {"median": median, "rounds": rounds}}


def test_reference_table_turns_medians_into_samples_per_second() -> None:
    extra = {"samples": 32, "params": 12_530, "reference_params": 12_500, "threads": 2}
    text = reference_table({**MACHINE, "benchmarks": [
        _bench("reference-tcn-copy-memory", {"phase": "train", "device": "cpu"}, extra, 0.5),
        _bench("reference-tcn-copy-memory", {"phase": "inference", "device": "cpu"}, extra, 0.1)]})
    assert text.startswith("Machine: Test CPU; median of 3 rounds.")
    assert "| tcn-copy-memory | cpu | 32 | 12,530 | 12,500 | 64 | 320 | 2 |" in text


def test_latency_table_has_a_column_per_length_and_marks_gaps() -> None:
    def bench(model: str, length: int, median: float) -> dict[str, Any]:
        return _bench(f"latency-lm-T{length}", {"model": model, "device": "cpu"}, {"length": length}, median,
                      rounds=int(0.1 / median))

    text = latency_table({**MACHINE, "benchmarks": [bench("rnn", 64, 0.001), bench("rnn", 128, 0.002),
                                                    bench("tcn", 64, 0.0005)]})
    assert text.startswith("Machine: Test CPU; median of 50–200 rounds.")
    assert "| model | device | T=64 | T=128 |" in text
    assert "| rnn | cpu | 1 | 2 |" in text and "| tcn | cpu | 0.5 | — |" in text
