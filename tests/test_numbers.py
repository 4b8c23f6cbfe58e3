"""Display formatting on the awkward cases (issue 16): zero spread, NaN, huge, tiny, negative."""

from __future__ import annotations

import math

import pytest

from seqbench.numbers import MISSING, mean_std, si, sig


@pytest.mark.parametrize(("mean", "std", "n", "expected"), [
    (9.995, 0.009047, 3, "9.995 ± 0.009"),
    (10.04, 0.01234, 3, "10.040 ± 0.012"),  # leading digit 1: two digits of the spread
    (70.36, 1.30, 3, "70.4 ± 1.3"),
    (11.48, 0.0, 3, "11.48 ± 0"),  # a deterministic baseline
    (0.7523, None, 3, "0.7523"),
    (0.7523, 0.05, 1, "0.7523"),  # one seed: no spread to show
    (-3.14159, 0.5, 3, "-3.1 ± 0.5"),
    (7.523e-4, 1.2e-5, 3, "(7.52 ± 0.12)e-4"),
    (123456.0, 789.0, 3, "123,500 ± 800"),
    (2.5e7, 3.0e5, 3, "(2.50 ± 0.03)e7"),
    (float("nan"), 0.1, 3, MISSING),
    (1.0, float("nan"), 3, "1.000"),
])
def test_mean_std(mean: float, std: float | None, n: int, expected: str) -> None:
    assert mean_std(mean, std, n) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (237_600, "238 K"), (6.662e8, "666 M"), (6.662e9, "6.66 G"), (999_600, "1.00 M"), (6208, "6.21 K"),
    (512, "512"), (0, "0"), (-2_400_000, "-2.40 M"), (0.5, "0.500"), (None, MISSING), (float("nan"), MISSING),
    (3.2e16, "32.0 P"),
])
def test_si(value: float | None, expected: str) -> None:
    assert si(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (2377.4, "2380"), (152_200.0, "152,000"), (0.09574, "0.0957"), (9.927e6, "9.93e6"), (3.826e-3, "0.00383"),
    (4.2e-5, "4.20e-5"), (-0.5, "-0.500"), (0.0, "0"), (math.inf, "inf"), (None, MISSING),
])
def test_sig(value: float | None, expected: str) -> None:
    assert sig(value) == expected
