"""ConvLSTM and ConvGRU in the encoder-forecaster structure for precipitation nowcasting.

Shi et al., "Convolutional LSTM network: a machine learning approach for precipitation
nowcasting", NIPS 2015 (ConvLSTM: the gates are convolutions, with peephole connections);
Shi et al., "Deep learning for precipitation nowcasting: a benchmark and a new model",
NIPS 2017 (ConvGRU baseline, and the encoder-forecaster with down- and up-sampling between
recurrent levels used here for every cell type, so that ConvLSTM, ConvGRU and TrajGRU
differ only in their recurrent cell).

Encoder: frame -> patches (space-to-depth, as Shi 2015's 4x4 patches) -> stem conv -> RNN_1
-> strided conv -> RNN_2 -> ... Forecaster (its own weights): starts from the encoder
states, has no input at the top level, and runs top-down RNN_n -> deconv -> ... -> RNN_1
-> output conv -> depth-to-space, once per future frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from seqbench import hookimpl
from seqbench.signatures import FRAMES, FrameProblem
from seqbench.specs import ModelSpec, Preset

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


@dataclass(frozen=True)
class ConvRNNConfig:
    hidden: tuple[int, ...]  # state channels per level, finest first; each level halves the side
    base: int  # largest side of level 1: frames are cut into patches until they fit
    kernel: int  # state-to-state kernel of ConvGRU / ConvLSTM
    stem: int  # channels of the stem convolution
    links: int = 13  # TrajGRU: number of flow fields L
    flow_hidden: int = 16  # TrajGRU: channels of the flow-generating network


SIZES: dict[Preset, ConvRNNConfig] = {
    "smoke": ConvRNNConfig(hidden=(8, 8), base=8, kernel=5, stem=8, links=5, flow_hidden=4),
    "quick": ConvRNNConfig(hidden=(16, 32, 32), base=16, kernel=5, stem=16, links=13, flow_hidden=8),
    # Shi 2017 MovingMNIST++ sizes (64 / 96 / 96 channels, L = 13, 5x5 kernels).
    "paper": ConvRNNConfig(hidden=(64, 96, 96), base=32, kernel=5, stem=16, links=13, flow_hidden=32),
}


def patch_size(problem: FrameProblem, base: int) -> int:
    """Smallest power-of-two patch that brings the frame's larger side down to ``base``."""
    p = 1
    while max(problem.height, problem.width) // p > base:
        p *= 2
    if problem.height % p or problem.width % p:
        raise ValueError(f"frame size {problem.height}x{problem.width} is not divisible into {p}x{p} patches")
    return p


class ConvCell(nn.Module):
    """A convolutional recurrent cell: ``forward(x or None, state) -> (h, state)``."""

    hidden: int

    def init_state(self, x_like: torch.Tensor, height: int, width: int) -> State:
        raise NotImplementedError


class ConvGRUCell(ConvCell):
    """GRU with convolutional gates as written in Shi 2017: the reset gate multiplies the
    state-to-state term. ``h2h(x, h)`` returns the three state contributions (z, r, h~)."""

    def __init__(self, in_channels: int, hidden: int, h2h: nn.Module) -> None:
        super().__init__()
        self.hidden = hidden
        self.i2h = nn.Conv2d(in_channels, 3 * hidden, 3, padding=1) if in_channels else None
        self.h2h = h2h

    def init_state(self, x_like: torch.Tensor, height: int, width: int) -> State:
        return x_like.new_zeros(x_like.shape[0], self.hidden, height, width)

    def forward(self, x: torch.Tensor | None, state: State) -> tuple[torch.Tensor, State]:
        assert isinstance(state, torch.Tensor)
        hz, hr, hh = self.h2h(x, state).chunk(3, dim=1)
        if self.i2h is not None and x is not None:
            xz, xr, xh = self.i2h(x).chunk(3, dim=1)
            hz, hr, hh_in = hz + xz, hr + xr, xh
        else:
            hh_in = torch.zeros_like(hh)
        z, r = torch.sigmoid(hz), torch.sigmoid(hr)
        candidate = F.leaky_relu(hh_in + r * hh, 0.2)  # Shi 2017 uses leaky ReLU, not tanh
        h = (1 - z) * candidate + z * state
        return h, h


class ConvH2H(nn.Module):
    """The location-invariant recurrent connection of ConvGRU: one k x k convolution."""

    def __init__(self, hidden: int, kernel: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(hidden, 3 * hidden, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor | None, h: torch.Tensor) -> torch.Tensor:
        return self.conv(h)


class ConvLSTMCell(ConvCell):
    """ConvLSTM of Shi 2015, eq. (3): gates from convolutions of input and state, with
    peephole terms W_c o C (element-wise weights over the whole grid)."""

    def __init__(self, in_channels: int, hidden: int, kernel: int, height: int, width: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.i2h = nn.Conv2d(in_channels, 4 * hidden, kernel, padding=kernel // 2) if in_channels else None
        self.h2h = nn.Conv2d(hidden, 4 * hidden, kernel, padding=kernel // 2, bias=False)
        self.peep = nn.Parameter(torch.zeros(3, hidden, height, width))

    def init_state(self, x_like: torch.Tensor, height: int, width: int) -> State:
        zeros = x_like.new_zeros(x_like.shape[0], self.hidden, height, width)
        return zeros, zeros.clone()

    def forward(self, x: torch.Tensor | None, state: State) -> tuple[torch.Tensor, State]:
        assert isinstance(state, tuple)
        h, c = state
        gates = self.h2h(h)
        if self.i2h is not None and x is not None:
            gates = gates + self.i2h(x)
        i, f, g, o = gates.chunk(4, dim=1)
        i = torch.sigmoid(i + self.peep[0] * c)
        f = torch.sigmoid(f + self.peep[1] * c + 1.0)  # forget bias 1: remember by default
        c = f * c + i * torch.tanh(g)
        o = torch.sigmoid(o + self.peep[2] * c)
        h = o * torch.tanh(c)
        return h, (h, c)


CellFactory = Callable[[int, int, int, int], ConvCell]  # (in_channels, hidden, height, width)


class EncoderForecaster(nn.Module):
    """Shi 2017's encoder-forecaster over any recurrent cell made by ``cell``."""

    def __init__(self, problem: FrameProblem, config: ConvRNNConfig, cell: CellFactory) -> None:
        super().__init__()
        self.problem = problem
        self.patch = patch_size(problem, config.base)
        c = problem.channels * self.patch**2
        height, width = problem.height // self.patch, problem.width // self.patch
        sides = [(height >> i, width >> i) for i in range(len(config.hidden))]
        if min(min(s) for s in sides) < 1:
            raise ValueError(f"frames {problem.height}x{problem.width} too small for {len(config.hidden)} levels")
        self.sides = sides
        hid = config.hidden
        self.stem = nn.Sequential(nn.Conv2d(c, config.stem, 3, padding=1), nn.LeakyReLU(0.2))
        self.encoder = nn.ModuleList(
            cell(config.stem if i == 0 else hid[i - 1], hid[i], *sides[i]) for i in range(len(hid))
        )
        self.down = nn.ModuleList(
            nn.Sequential(nn.Conv2d(hid[i], hid[i], 3, stride=2, padding=1), nn.LeakyReLU(0.2))
            for i in range(len(hid) - 1)
        )
        self.forecaster = nn.ModuleList(
            cell(0 if i == len(hid) - 1 else hid[i + 1], hid[i], *sides[i]) for i in range(len(hid))
        )
        self.up = nn.ModuleList(
            nn.Sequential(nn.ConvTranspose2d(hid[i + 1], hid[i + 1], 4, stride=2, padding=1), nn.LeakyReLU(0.2))
            for i in range(len(hid) - 1)
        )
        self.out = nn.Conv2d(hid[0], c, 3, padding=1)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        b, t_in, ch, height, width = frames.shape
        p = self.problem
        p.check_input(frames)
        x_all = F.pixel_unshuffle(frames.reshape(b * t_in, ch, height, width), self.patch)
        x_all = self.stem(x_all).view(b, t_in, -1, *self.sides[0])
        encoder, forecaster = cast(list[ConvCell], list(self.encoder)), cast(list[ConvCell], list(self.forecaster))
        states = [cell.init_state(frames, *side) for cell, side in zip(encoder, self.sides, strict=True)]
        for t in range(t_in):
            x: torch.Tensor | None = x_all[:, t]
            for i, cell in enumerate(encoder):
                h, states[i] = cell(x, states[i])
                x = self.down[i](h) if i < len(self.down) else None
        outputs = []
        for _ in range(p.out_frames):
            x = None
            for i in reversed(range(len(forecaster))):
                h, states[i] = forecaster[i](x, states[i])
                x = self.up[i - 1](h) if i > 0 else h
            assert x is not None
            outputs.append(F.pixel_shuffle(self.out(x), self.patch))
        return torch.stack(outputs, dim=1)


def build_convgru(problem: FrameProblem, preset: Preset) -> nn.Module:
    config = SIZES[preset]
    return EncoderForecaster(problem, config,
                             lambda i, h, *_: ConvGRUCell(i, h, ConvH2H(h, config.kernel)))


def build_convlstm(problem: FrameProblem, preset: Preset) -> nn.Module:
    config = SIZES[preset]
    return EncoderForecaster(problem, config, lambda i, h, y, x: ConvLSTMCell(i, h, config.kernel, y, x))


@hookimpl
def seqbench_register_models() -> list[ModelSpec]:
    return [
        ModelSpec("convlstm", (FRAMES,), build_convlstm, "ConvLSTM (peepholes) encoder-forecaster",
                  "Shi et al., NIPS 2015", tags=("nowcasting", "recurrent", "convolutional")),
        ModelSpec("convgru", (FRAMES,), build_convgru, "ConvGRU encoder-forecaster with down/up-sampling",
                  "Shi et al., NIPS 2017", tags=("nowcasting", "recurrent", "convolutional")),
    ]
