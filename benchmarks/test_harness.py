"""Harness overhead and stability as benchmarks (``slow``: they need an idle machine), plus a smoke."""

from __future__ import annotations

import pytest

from benchmarks.overhead import overhead_ratios
from benchmarks.stability import stability


def test_overhead_smoke() -> None:
    figures = overhead_ratios("smoke", pairs=2, min_time=0.01)
    assert figures and all(o.ratio > 0 and o.iqr >= 0 and o.pairs == 2 for o in figures)
    assert {o.model for o in figures} >= {"lstm", "gru", "rnn", "tcn", "transformer"}


@pytest.mark.slow
def test_harness_overhead_at_most_3_percent() -> None:
    figures = overhead_ratios("quick")
    assert all(o.ratio >= 0.97 for o in figures), figures


@pytest.mark.slow
def test_measurement_is_stable() -> None:
    figures = stability("lstm", "lm-hmm", "quick", repeats=5)
    assert figures["infer_samples_per_s_cv"] < 0.03 and figures["train_samples_per_s_cv"] < 0.03, figures
