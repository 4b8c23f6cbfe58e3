"""TrajGRU: a GRU whose recurrent connections follow learned, location-variant trajectories.

Shi et al., "Deep learning for precipitation nowcasting: a benchmark and a new model",
NIPS 2017, section 3. ConvGRU connects every location to a fixed k x k neighbourhood of the
previous state; TrajGRU instead lets a small network gamma(x_t, h_{t-1}) generate L flow
fields, warps the previous state along each of them by bilinear sampling, and combines the
L warped states with 1x1 convolutions -- so the connection structure can follow rotation
and scaling, which a fixed kernel cannot. L may differ per level and between encoder and
forecaster (``ConvRNNConfig.links`` / ``forecaster_links``; HKO-7 uses 13 / 13 / 9 and
9 / 13 / 13). Everything else (the GRU equations, the encoder-forecaster with down- and
up-sampling, either layout) is shared with ConvGRU in ``convrnn``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from seqbench import hookimpl
from seqbench.signatures import FRAMES, FrameProblem
from seqbench.specs import ModelSpec, Preset
from seqbench_plugins.models.convrnn import SIZES, CellFactory, ConvGRUCell, ConvRNNConfig, EncoderForecaster


def warp(state: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Bilinearly sample ``state`` (B, C, H, W) at every location displaced by ``flow``
    (B, 2, H, W), in pixels (x then y); out-of-grid samples read zeros."""
    height, width = state.shape[-2:]
    ys = torch.arange(height, device=state.device, dtype=state.dtype)
    xs = torch.arange(width, device=state.device, dtype=state.dtype)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    x = grid_x + flow[:, 0]
    y = grid_y + flow[:, 1]
    # normalise to [-1, 1] with align_corners=True: pixel 0 -> -1, pixel W-1 -> +1
    grid = torch.stack([2 * x / max(width - 1, 1) - 1, 2 * y / max(height - 1, 1) - 1], dim=-1)
    return F.grid_sample(state, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


class TrajectoryH2H(nn.Module):
    """Location-variant state-to-state connection (Shi 2017, eq. 5).

    gamma: one hidden layer of 5x5 convolutions over the input and the state, then a 5x5
    convolution to 2L channels (the L flow fields U_l, V_l). The state warped along each
    field is concatenated and mixed by a 1x1 convolution into the three GRU terms.
    """

    def __init__(self, in_channels: int, hidden: int, links: int, flow_hidden: int) -> None:
        super().__init__()
        self.links = links
        self.i2f = nn.Conv2d(in_channels, flow_hidden, 5, padding=2) if in_channels else None
        self.h2f = nn.Conv2d(hidden, flow_hidden, 5, padding=2)
        self.flows = nn.Conv2d(flow_hidden, 2 * links, 5, padding=2)
        # Start from zero flow (every link reads its own location) so early training is a
        # stable 1x1 ConvGRU and the trajectories are learned from there.
        nn.init.zeros_(self.flows.weight)
        assert self.flows.bias is not None
        nn.init.zeros_(self.flows.bias)
        self.mix = nn.Conv2d(links * hidden, 3 * hidden, 1)

    def forward(self, x: torch.Tensor | None, h: torch.Tensor) -> torch.Tensor:
        b, c, height, width = h.shape
        f = self.h2f(h)
        if self.i2f is not None and x is not None:
            f = f + self.i2f(x)
        flows = self.flows(F.leaky_relu(f, 0.2)).view(b * self.links, 2, height, width)
        repeated = h.unsqueeze(1).expand(b, self.links, c, height, width).reshape(b * self.links, c, height, width)
        warped = warp(repeated, flows).view(b, self.links * c, height, width)
        return self.mix(warped)


def trajgru_cells(links: Sequence[int], flow_hidden: int) -> list[CellFactory]:
    """One TrajGRU cell factory per level, with that level's number of links L."""

    def at(level_links: int) -> CellFactory:
        def cell(in_channels: int, hidden: int, height: int, width: int) -> ConvGRUCell:
            return ConvGRUCell(in_channels, hidden, TrajectoryH2H(in_channels, hidden, level_links, flow_hidden))

        return cell

    return [at(n) for n in links]


def trajgru_encoder_forecaster(problem: FrameProblem, config: ConvRNNConfig) -> EncoderForecaster:
    """TrajGRU with ``config``'s per-level links, for the encoder and for the forecaster."""
    return EncoderForecaster(problem, config, trajgru_cells(config.level_links(), config.flow_hidden),
                             trajgru_cells(config.level_links(forecaster=True), config.flow_hidden))


def build_trajgru(problem: FrameProblem, preset: Preset) -> nn.Module:
    return trajgru_encoder_forecaster(problem, SIZES[preset])


@hookimpl
def seqbench_register_models() -> list[ModelSpec]:
    return [
        ModelSpec("trajgru", (FRAMES,), build_trajgru, "TrajGRU encoder-forecaster (learned warping links)",
                  "Shi et al., NIPS 2017", tags=("nowcasting", "recurrent", "convolutional")),
    ]
