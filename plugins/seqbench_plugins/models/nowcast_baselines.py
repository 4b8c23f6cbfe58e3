"""Nowcasting baselines: persistence and optical-flow extrapolation (no training).

* ``last-frame``: persistence, the last observed frame repeated -- the reference every
  nowcasting paper reports (Shi et al. 2015, 2017).
* ``flow-extrapolation``: the classic operational nowcast (e.g. ROVER of the Hong Kong
  Observatory, used as baseline by Shi et al. 2015; rainymotion, pySTEPS). A dense motion
  field is estimated from the last observed frames by regularised block matching, assumed
  stationary, and the last frame is advected along it by semi-Lagrangian backward warping.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from seqbench import hookimpl
from seqbench.signatures import FRAMES, FrameProblem
from seqbench.specs import ModelSpec, Preset
from seqbench_plugins.models.trajgru import warp


class LastFrame(nn.Module):
    def __init__(self, problem: FrameProblem) -> None:
        super().__init__()
        self.out_frames = problem.out_frames

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return frames[:, -1:].expand(-1, self.out_frames, -1, -1, -1).contiguous()


@dataclass(frozen=True)
class FlowConfig:
    radius: int  # largest displacement searched per frame, in pixels
    window: int  # side of the matching window (odd)
    pairs: int  # consecutive frame pairs whose matching costs are summed
    smooth: int  # side of the box filter that spreads the motion field (odd)
    penalty: float  # cost per squared pixel of displacement: textureless areas stay still


SIZES: dict[Preset, FlowConfig] = {
    "smoke": FlowConfig(radius=2, window=5, pairs=2, smooth=5, penalty=1e-3),
    "quick": FlowConfig(radius=4, window=9, pairs=3, smooth=17, penalty=1e-3),
    "paper": FlowConfig(radius=6, window=11, pairs=3, smooth=33, penalty=1e-3),
}


class FlowExtrapolation(nn.Module):
    """Block-matching motion estimate + constant-motion semi-Lagrangian advection."""

    shifts: torch.Tensor  # (S, 2) candidate displacements (dx, dy)

    def __init__(self, problem: FrameProblem, config: FlowConfig) -> None:
        super().__init__()
        self.problem, self.config = problem, config
        r = config.radius
        shifts = [(dx, dy) for dy in range(-r, r + 1) for dx in range(-r, r + 1)]
        self.register_buffer("shifts", torch.tensor(shifts, dtype=torch.float32), persistent=False)

    def motion(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, 2, H, W) displacement per frame, in pixels, estimated from the last frames."""
        cfg = self.config
        b, t, _, h, w = frames.shape
        pairs = min(cfg.pairs, t - 1)
        if pairs < 1:
            return frames.new_zeros(b, 2, h, w)
        r = cfg.radius
        cost = frames.new_zeros(b, len(self.shifts), h, w)
        for k in range(pairs):
            before, after = frames[:, t - 2 - k], frames[:, t - 1 - k]
            padded = F.pad(before, (r, r, r, r))
            # after(x) should equal before(x - d): compare with every shifted copy at once.
            diffs = [
                ((after - padded[..., r - dy : r - dy + h, r - dx : r - dx + w]) ** 2).sum(1)
                for dx, dy in self.shifts.long().tolist()
            ]
            cost = cost + torch.stack(diffs, 1)
        cost = F.avg_pool2d(cost, cfg.window, stride=1, padding=cfg.window // 2, count_include_pad=False)
        cost = cost + cfg.penalty * (self.shifts**2).sum(1).view(1, -1, 1, 1)
        flow = self.shifts[cost.argmin(dim=1)].permute(0, 3, 1, 2)  # (B, 2, H, W)
        # Backward advection needs the motion where echoes are going, i.e. in empty areas
        # too: normalised convolution spreads the motion of textured areas (weight = local
        # intensity) into their surroundings, falling back to the frame's mean motion.
        weight = F.avg_pool2d(frames[:, -1].sum(1, keepdim=True), cfg.window, stride=1, padding=cfg.window // 2)
        mean_motion = (weight * flow).sum((2, 3), keepdim=True) / weight.sum((2, 3), keepdim=True).clamp_min(1e-6)
        floor = 0.05 * weight.mean((2, 3), keepdim=True) + 1e-6
        spread, pad = cfg.smooth, cfg.smooth // 2
        numerator = F.avg_pool2d(weight * flow, spread, stride=1, padding=pad) + floor * mean_motion
        return numerator / (F.avg_pool2d(weight, spread, stride=1, padding=pad) + floor)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        flow = self.motion(frames)
        last = frames[:, -1]
        # Semi-Lagrangian backward trajectories: the value at x, k frames ahead, comes from
        # x - k v(x) in the last frame. Sampling the last frame once per lead time (rather
        # than warping the previous forecast again) avoids compounding interpolation blur.
        outputs = [warp(last, -k * flow) for k in range(1, self.problem.out_frames + 1)]
        return torch.stack(outputs, dim=1)


def build_last_frame(problem: FrameProblem, preset: Preset) -> nn.Module:
    return LastFrame(problem)


def build_flow(problem: FrameProblem, preset: Preset) -> nn.Module:
    return FlowExtrapolation(problem, SIZES[preset])


@hookimpl
def seqbench_register_models() -> list[ModelSpec]:
    return [
        ModelSpec("last-frame", (FRAMES,), build_last_frame, "persistence: last observed frame repeated",
                  "Shi et al., NIPS 2015", baseline=True, tags=("nowcasting", "baseline")),
        ModelSpec("flow-extrapolation", (FRAMES,), build_flow,
                  "block-matching motion field + semi-Lagrangian advection of the last frame",
                  "Shi et al., NIPS 2015 (ROVER baseline)", baseline=True, tags=("nowcasting", "baseline")),
    ]
