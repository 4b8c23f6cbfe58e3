"""Masked traffic metrics (Li et al., DCRNN, ICLR 2018): MAE, RMSE, MAPE at 15/30/60 minutes.

Zeros in the target are missing readings and are excluded. Sums and counts are
accumulated over the *whole* split and divided once at the end: averaging per-batch means
instead (a known bug of a popular port) weights entries of small or sparse batches more.

The accumulators are torchmetrics' (1.9) ``MeanAbsoluteError``, ``MeanSquaredError(squared=
False)`` (RMSE) and ``MeanAbsolutePercentageError`` (times 100: a percentage), fed only the
valid entries of each horizon, with float64 states. Two differences from calling them
directly: the mask (torchmetrics has no missing-value convention), and a horizon with no
valid entry in the whole split scores 0 rather than torchmetrics' ``0/0 = nan`` (which the
harness would take for a diverged model). MAPE divides by ``max(|target|, 1.17e-6)`` in
torchmetrics; every valid target is a speed far above that, so it is the plain MAPE.
"""

from __future__ import annotations

import torch
from torchmetrics import Metric
from torchmetrics.regression import MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredError

from seqbench.specs import MetricSpec

STEP_MINUTES = 5
HORIZONS = (3, 6, 12)  # steps ahead: 15, 30, 60 minutes


def metric_specs(out_steps: int = 12) -> tuple[MetricSpec, ...]:
    """Primary first: 60-minute MAE, the DCRNN paper's headline number."""
    specs = []
    for h in sorted(HORIZONS, key=lambda h: -h):
        if h > out_steps:
            continue
        m = h * STEP_MINUTES
        specs += [
            MetricSpec(f"mae@{m}min", "min", f"masked MAE {m} minutes ahead", "mph"),
            MetricSpec(f"rmse@{m}min", "min", f"masked RMSE {m} minutes ahead", "mph"),
            MetricSpec(f"mape@{m}min", "min", f"masked MAPE {m} minutes ahead", "%"),
        ]
    specs += [
        MetricSpec("mae@all", "min", "masked MAE over all horizons", "mph"),
        MetricSpec("rmse@all", "min", "masked RMSE over all horizons", "mph"),
        MetricSpec("mape@all", "min", "masked MAPE over all horizons", "%"),
    ]
    return tuple(specs)


def _errors() -> dict[str, Metric]:
    """Fresh MAE, RMSE and MAPE accumulators with float64 states."""
    metrics: dict[str, Metric] = {
        "mae": MeanAbsoluteError(), "rmse": MeanSquaredError(squared=False), "mape": MeanAbsolutePercentageError()}
    return {name: metric.set_dtype(torch.float64) for name, metric in metrics.items()}


class MaskedHorizonMetrics:
    """Accumulates masked errors at 15, 30 and 60 minutes and over all horizons, over a whole split."""

    def __init__(self, out_steps: int) -> None:
        self.out_steps = out_steps
        rows = [(f"{h * STEP_MINUTES}min", slice(h - 1, h)) for h in HORIZONS if h <= out_steps]
        self.horizons = dict([*rows, ("all", slice(0, out_steps))])
        self.errors = {label: _errors() for label in self.horizons}
        self.valid = dict.fromkeys(self.horizons, 0)

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """``pred`` and ``target`` (B, T_out, N) in the data's units; target 0 = missing."""
        if pred.shape != target.shape or pred.shape[1] != self.out_steps:
            raise ValueError(f"prediction {tuple(pred.shape)} vs target {tuple(target.shape)}, "
                             f"expected both (B, {self.out_steps}, N)")
        pred, target = pred.detach().double().cpu(), target.detach().double().cpu()
        for label, steps in self.horizons.items():
            p, t = pred[:, steps], target[:, steps]
            valid = t != 0
            self.valid[label] += int(valid.sum())
            for metric in self.errors[label].values():
                metric.update(p[valid], t[valid])

    def compute(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for label, errors in self.errors.items():
            for name, metric in errors.items():
                value = float(metric.compute()) if self.valid[label] else 0.0
                out[f"{name}@{label}"] = 100.0 * value if name == "mape" else value
        return out
