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

What comes from torchmetrics (1.9) and what does not, and why:

* ``mse_pixel`` / ``mae_pixel`` are torchmetrics' ``MeanSquaredError`` / ``MeanAbsoluteError``
  (states in float64, so sums over a whole split do not lose digits); the per-frame ``mse`` /
  ``mae`` are the same figures times the pixels of a frame. ``ssim`` is torchmetrics'
  ``StructuralSimilarityIndexMeasure`` (mean over frames).
* ``csi_R`` is *not* torchmetrics' ``CriticalSuccessIndex``, although the definition
  (hits / (hits + misses + false alarms) after thresholding both sides at R) is the same:
  where a threshold is neither reached nor forecast anywhere in the split, torchmetrics
  returns 0 (a ``0/0`` it maps to zero) and we return 1, a perfect forecast of "no rain that
  heavy" (small splits often have no 30 mm/h pixel at all). HSS also needs the fourth count,
  correct negatives, which torchmetrics does not keep; one contingency table serves both.
* ``b_mse`` / ``b_mae`` (HKO-7's balanced errors) have no torchmetrics counterpart.
"""

from __future__ import annotations

import torch
from torchmetrics.functional.image import structural_similarity_index_measure
from torchmetrics.regression import MeanAbsoluteError, MeanSquaredError

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
    """Accumulates over batches of (prediction, truth), each (B, T, C, H, W) in [0, 1]."""

    def __init__(self, radar: bool) -> None:
        self.radar = radar
        self.frames = 0
        self.pixels = 0
        self.mse = MeanSquaredError().set_dtype(torch.float64)
        self.mae = MeanAbsoluteError().set_dtype(torch.float64)
        self.sums = {"ssim": 0.0, "bse": 0.0, "bae": 0.0}
        # contingency counts per threshold: hits, misses, false alarms, correct negatives
        self.table = torch.zeros(len(THRESHOLDS), 4, dtype=torch.float64)

    def update(self, prediction: torch.Tensor, truth: torch.Tensor) -> None:
        if prediction.shape != truth.shape:
            raise ValueError(f"prediction shape {tuple(prediction.shape)} != target shape {tuple(truth.shape)}")
        pred, true = prediction.detach().double().clamp(0, 1), truth.double()
        b, t, c, h, w = true.shape
        self.frames += b * t
        self.pixels += b * t * c * h * w
        flat_pred, flat_true = pred.reshape(-1), true.reshape(-1)  # torchmetrics views them flat: needs contiguity
        self.mse.update(flat_pred, flat_true)
        self.mae.update(flat_pred, flat_true)
        # The standard 11x11 Gaussian window (sigma 1.5), shrunk only for frames smaller than it.
        kernel = min(11, min(h, w) - (1 - min(h, w) % 2))
        ssim = structural_similarity_index_measure(
            pred.reshape(b * t, c, h, w).float(), true.reshape(b * t, c, h, w).float(),
            data_range=1.0, reduction="none", kernel_size=kernel, sigma=1.5 * kernel / 11,
        )
        self.sums["ssim"] += float(torch.as_tensor(ssim).double().sum())
        if self.radar:
            self._update_radar(pred, true)

    def _update_radar(self, pred: torch.Tensor, true: torch.Tensor) -> None:
        true_rate, pred_rate = pixel_to_rainrate(true), pixel_to_rainrate(pred)
        weight = balance_weights(true_rate)
        err = pred - true
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
        pixels_per_frame = self.pixels / self.frames
        mse_pixel, mae_pixel = float(self.mse.compute()), float(self.mae.compute())
        out = {
            "mse": mse_pixel * pixels_per_frame,
            "mae": mae_pixel * pixels_per_frame,
            "mse_pixel": mse_pixel,
            "mae_pixel": mae_pixel,
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
