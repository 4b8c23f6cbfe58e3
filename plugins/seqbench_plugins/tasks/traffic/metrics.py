"""Masked traffic metrics (Li et al., DCRNN, ICLR 2018): MAE, RMSE, MAPE at 15/30/60 minutes.

Zeros in the target are missing readings and are excluded. Sums and counts are
accumulated over the *whole* split and divided once at the end: averaging per-batch means
instead (a known bug of a popular port) weights entries of small or sparse batches more.
"""

from __future__ import annotations

import torch

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
            MetricSpec(f"mae@{m}min", "min", f"masked MAE (mph) {m} minutes ahead"),
            MetricSpec(f"rmse@{m}min", "min", f"masked RMSE (mph) {m} minutes ahead"),
            MetricSpec(f"mape@{m}min", "min", f"masked MAPE (%) {m} minutes ahead"),
        ]
    specs += [
        MetricSpec("mae@all", "min", "masked MAE (mph) over all horizons"),
        MetricSpec("rmse@all", "min", "masked RMSE (mph) over all horizons"),
        MetricSpec("mape@all", "min", "masked MAPE (%) over all horizons"),
    ]
    return tuple(specs)


class MaskedHorizonMetrics:
    """Accumulates masked errors per horizon over a whole split."""

    def __init__(self, out_steps: int) -> None:
        self.out_steps = out_steps
        self.abs = torch.zeros(out_steps, dtype=torch.float64)
        self.sq = torch.zeros(out_steps, dtype=torch.float64)
        self.pct = torch.zeros(out_steps, dtype=torch.float64)
        self.count = torch.zeros(out_steps, dtype=torch.float64)

    def update(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        """``pred`` and ``target`` (B, T_out, N) in the data's units; target 0 = missing."""
        if pred.shape != target.shape or pred.shape[1] != self.out_steps:
            raise ValueError(f"prediction {tuple(pred.shape)} vs target {tuple(target.shape)}, "
                             f"expected both (B, {self.out_steps}, N)")
        pred, target = pred.detach().double().cpu(), target.detach().double().cpu()
        valid = target != 0
        err = torch.where(valid, pred - target, torch.zeros_like(pred))
        safe = torch.where(valid, target, torch.ones_like(target))
        self.abs += err.abs().sum((0, 2))
        self.sq += (err**2).sum((0, 2))
        self.pct += (err.abs() / safe.abs()).sum((0, 2))
        self.count += valid.sum((0, 2))

    def compute(self) -> dict[str, float]:
        out: dict[str, float] = {}
        rows = [(f"{h * STEP_MINUTES}min", slice(h - 1, h)) for h in HORIZONS if h <= self.out_steps]
        for label, index in [*rows, ("all", slice(0, self.out_steps))]:
            n = self.count[index].sum().clamp_min(1.0)
            out[f"mae@{label}"] = float(self.abs[index].sum() / n)
            out[f"rmse@{label}"] = float((self.sq[index].sum() / n).sqrt())
            out[f"mape@{label}"] = float(100.0 * self.pct[index].sum() / n)
        return out
