"""Harness overhead and stability as benchmarks (``slow``: they need an idle machine), plus a smoke."""

from __future__ import annotations

import pytest

from benchmarks.overhead import overhead_ratios
from benchmarks.stability import stability


def test_overhead_smoke() -> None:
    ratios = overhead_ratios("smoke", rounds=1, min_time=0.01)
    assert ratios and all(r > 0 for r in ratios.values())


@pytest.mark.slow
def test_harness_overhead_at_most_3_percent() -> None:
    ratios = overhead_ratios("quick", rounds=5)
    assert all(r >= 0.97 for r in ratios.values()), ratios


@pytest.mark.slow
def test_measurement_is_stable() -> None:
    figures = stability("lstm", "lm-hmm", "quick", repeats=5)
    assert figures["infer_samples_per_s_cv"] < 0.03 and figures["train_samples_per_s_cv"] < 0.03, figures
