"""Nowcasting metrics, accumulated over a whole split (never averaged per batch).

Conventions (frames are in [0, 1]):

* ``mse`` / ``mae``: squared / absolute error **summed over the pixels of a frame**, then
  averaged over every predicted frame of every sequence -- the "per frame" figures Moving
  MNIST papers report (Srivastava et al. 2015; Shi et al. 2015; Wang et al. 2017).
* ``mse_pixel`` / ``mae_pixel``: the same errors averaged per pixel.
* ``ssim``: mean structural similarity per frame (torchmetrics, Gaussian 11x11 window,
  sigma 1.5, data range 1; a smaller window only for frames smaller than 11 pixels),
  averaged over every predicted frame.
* Radar only (Shi et al., NIPS 2017, HKO-7 benchmark): ``csi_R`` and ``hss_R`` at rain-rate
  thresholds R mm/h, from contingency counts summed over the whole split; ``b_mse`` /
  ``b_mae``, the balanced errors whose per-pixel weight grows with the true rain rate
  (1, 2, 5, 10, 30 for < 2, < 5, < 10, < 30, >= 30 mm/h), summed per frame like ``mse``.
"""

from __future__ import annotations

import torch
from torchmetrics.functional.image import structural_similarity_index_measure

from seqbench_plugins.tasks.nowcasting.data import pixel_to_rainrate

THRESHOLDS = (0.5, 2.0, 5.0, 10.0, 30.0)  # mm/h, HKO-7
BALANCE = ((2.0, 1.0), (5.0, 2.0), (10.0, 5.0), (30.0, 10.0), (float("inf"), 30.0))


def threshold_name(rate: float) -> str:
    return f"{rate:g}"


def balance_weights(rate: torch.Tensor) -> torch.Tensor:
    """HKO-7 balancing weight of every pixel from its true rain rate."""
    weight = torch.full_like(rate, BALANCE[-1][1])
    for upper, w in reversed(BALANCE[:-1]):
        weight = torch.where(rate < upper, torch.full_like(rate, w), weight)
    return weight


class FrameMetrics:
    """Accumulates sums over batches of (prediction, truth), each (B, T, C, H, W) in [0, 1]."""

    def __init__(self, radar: bool) -> None:
        self.radar = radar
        self.frames = 0
        self.pixels = 0
        self.sums: dict[str, float] = {"se": 0.0, "ae": 0.0, "ssim": 0.0, "bse": 0.0, "bae": 0.0}
        # contingency counts per threshold: hits, misses, false alarms, correct negatives
        self.table = torch.zeros(len(THRESHOLDS), 4, dtype=torch.float64)

    def update(self, prediction: torch.Tensor, truth: torch.Tensor) -> None:
        if prediction.shape != truth.shape:
            raise ValueError(f"prediction shape {tuple(prediction.shape)} != target shape {tuple(truth.shape)}")
        pred, true = prediction.detach().double().clamp(0, 1), truth.double()
        b, t, c, h, w = true.shape
        self.frames += b * t
        self.pixels += b * t * c * h * w
        err = pred - true
        self.sums["se"] += float((err**2).sum())
        self.sums["ae"] += float(err.abs().sum())
        # The standard 11x11 Gaussian window (sigma 1.5), shrunk only for frames smaller than it.
        kernel = min(11, min(h, w) - (1 - min(h, w) % 2))
        ssim = structural_similarity_index_measure(
            pred.reshape(b * t, c, h, w).float(), true.reshape(b * t, c, h, w).float(),
            data_range=1.0, reduction="none", kernel_size=kernel, sigma=1.5 * kernel / 11,
        )
        self.sums["ssim"] += float(torch.as_tensor(ssim).double().sum())
        if self.radar:
            true_rate, pred_rate = pixel_to_rainrate(true), pixel_to_rainrate(pred)
            weight = balance_weights(true_rate)
            self.sums["bse"] += float((weight * err**2).sum())
            self.sums["bae"] += float((weight * err.abs()).sum())
            for i, rate in enumerate(THRESHOLDS):
                yes_t, yes_p = true_rate >= rate, pred_rate >= rate
                self.table[i, 0] += float((yes_t & yes_p).sum())
                self.table[i, 1] += float((yes_t & ~yes_p).sum())
                self.table[i, 2] += float((~yes_t & yes_p).sum())
                self.table[i, 3] += float((~yes_t & ~yes_p).sum())

    def compute(self) -> dict[str, float]:
        if not self.frames:
            raise ValueError("no frames were evaluated (empty split)")
        out = {
            "mse": self.sums["se"] / self.frames,
            "mae": self.sums["ae"] / self.frames,
            "mse_pixel": self.sums["se"] / self.pixels,
            "mae_pixel": self.sums["ae"] / self.pixels,
            "ssim": self.sums["ssim"] / self.frames,
        }
        if self.radar:
            out["b_mse"] = self.sums["bse"] / self.frames
            out["b_mae"] = self.sums["bae"] / self.frames
            for i, rate in enumerate(THRESHOLDS):
                hits, misses, false, negatives = (float(v) for v in self.table[i])
                # A threshold never reached nor forecast is a perfect score, not 0/0.
                union = hits + misses + false
                out[f"csi_{threshold_name(rate)}"] = hits / union if union else 1.0
                denominator = (hits + misses) * (misses + negatives) + (hits + false) * (false + negatives)
                numerator = 2 * (hits * negatives - misses * false)
                out[f"hss_{threshold_name(rate)}"] = numerator / denominator if denominator else 1.0
        return out
