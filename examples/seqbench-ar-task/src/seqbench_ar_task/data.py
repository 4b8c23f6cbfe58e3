"""Seeded AR(2) sequences and the exact Bayes classifier that tells their processes apart.

Class k is the stationary Gaussian AR(2) process ``x_t = a1 x_{t-1} + a2 x_{t-2} + e_t`` with
complex poles ``r exp(+-i theta_k)`` (``a1 = 2 r cos theta_k``, ``a2 = -r^2``), i.e. a spectral
peak at frequency ``theta_k``. The noise variance of each class is chosen so that every class
has unit variance: amplitude gives nothing away, only the temporal structure (the
autocorrelation) separates the classes. Because the processes are known, the exact
log-likelihood of a sequence under each class (a bivariate normal for the first two values,
then the Gaussian one-step conditionals; Shumway & Stoffer, "Time Series Analysis and Its
Applications", 4th ed., sec. 3.5) gives the Bayes posterior, the best any model can do in
expectation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ARProcess:
    """One class: an AR(2) process with poles at radius ``radius`` and angle ``angle`` (radians)."""

    angle: float
    radius: float

    @property
    def coefficients(self) -> tuple[float, float]:
        return 2 * self.radius * math.cos(self.angle), -self.radius**2

    @property
    def noise_var(self) -> float:
        """Innovation variance that makes the stationary variance 1 (Box & Jenkins, eq. 3.2.21)."""
        a1, a2 = self.coefficients
        return (1 + a2) * ((1 - a2) ** 2 - a1**2) / (1 - a2)

    @property
    def lag1(self) -> float:
        """Stationary lag-1 autocorrelation (the Yule-Walker equations)."""
        a1, a2 = self.coefficients
        return a1 / (1 - a2)


def sample(processes: tuple[ARProcess, ...], n: int, length: int, rng: np.random.Generator) -> tuple[
        np.ndarray, np.ndarray]:
    """``n`` sequences of ``length`` values (float32, (n, length)) and their labels (int64, (n,)),
    each started from its process's stationary distribution (no burn-in needed)."""
    labels = rng.integers(0, len(processes), n)
    x = np.empty((n, length), np.float64)
    for k, process in enumerate(processes):
        rows = np.flatnonzero(labels == k)
        a1, a2 = process.coefficients
        rho = process.lag1
        first = rng.standard_normal((len(rows), 2))
        x[rows, 0] = first[:, 0]
        x[rows, 1] = rho * first[:, 0] + math.sqrt(1 - rho**2) * first[:, 1]
        noise = rng.standard_normal((len(rows), length)) * math.sqrt(process.noise_var)
        for t in range(2, length):
            x[rows, t] = a1 * x[rows, t - 1] + a2 * x[rows, t - 2] + noise[:, t]
    return x.astype(np.float32), labels.astype(np.int64)


def log_likelihoods(x: np.ndarray, processes: tuple[ARProcess, ...]) -> np.ndarray:
    """Exact log-likelihood of each sequence (rows of ``x``) under each process: (n, classes)."""
    x = x.astype(np.float64)
    out = np.empty((x.shape[0], len(processes)))
    for k, process in enumerate(processes):
        a1, a2 = process.coefficients
        rho, var = process.lag1, process.noise_var
        # (x0, x1) ~ N(0, [[1, rho], [rho, 1]]): x0 ~ N(0, 1), x1 | x0 ~ N(rho x0, 1 - rho^2)
        head = -0.5 * (x[:, 0] ** 2 + math.log(2 * math.pi))
        head += -0.5 * ((x[:, 1] - rho * x[:, 0]) ** 2 / (1 - rho**2) + math.log(2 * math.pi * (1 - rho**2)))
        resid = x[:, 2:] - a1 * x[:, 1:-1] - a2 * x[:, :-2]
        out[:, k] = head - 0.5 * (resid**2 / var + math.log(2 * math.pi * var)).sum(axis=1)
    return out


def bayes_scores(x: np.ndarray, labels: np.ndarray, processes: tuple[ARProcess, ...]) -> dict[str, float]:
    """Accuracy and cross-entropy (nats) of the exact posterior under a uniform prior."""
    ll = log_likelihoods(x, processes)
    log_post = ll - np.logaddexp.reduce(ll, axis=1, keepdims=True)
    return {"accuracy": float((ll.argmax(1) == labels).mean()),
            "cross_entropy": float(-log_post[np.arange(len(labels)), labels].mean())}
