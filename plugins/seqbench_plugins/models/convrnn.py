"""ConvLSTM and ConvGRU in the encoder-forecaster structure for precipitation nowcasting.

Shi et al., "Convolutional LSTM network: a machine learning approach for precipitation
nowcasting", NIPS 2015 (ConvLSTM: the gates are convolutions, with peephole connections);
Shi et al., "Deep learning for precipitation nowcasting: a benchmark and a new model",
NIPS 2017 (ConvGRU baseline, and the encoder-forecaster with down- and up-sampling between
recurrent levels used here for every cell type, so that ConvLSTM, ConvGRU and TrajGRU
differ only in their recurrent cell).

Encoder: frame -> stem -> RNN_1 -> strided conv -> RNN_2 -> ... Forecaster (its own
weights): starts from the encoder states, has no input at the top level, and runs top-down
RNN_n -> deconv -> ... -> RNN_1 -> output head, once per future frame. Two layouts:

* default: frames cut into power-of-two patches (space-to-depth, as Shi 2015's 4x4
  patches), a 3x3 stem, 3x3 stride-2 convs that keep the channels, so every level halves
  the side; the head is a 3x3 conv then depth-to-space.
* ``ConvRNNConfig.strided``: Shi 2017's HKO-7 layout, one ``Resample`` per level (the stem
  conv, then each conv between levels, with its own kernel, stride and channels) mirrored
  by transposed convs that keep the channels of the level they leave, as the authors'
  code does; the head is deconv + 3x3 conv + 1x1 conv.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from seqbench import hookimpl
from seqbench.signatures import FRAMES, FrameProblem
from seqbench.specs import ModelSpec, Preset
from seqbench_plugins.models.frame_layout import Resample, level_sides, patch_size

State = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


Links = int | tuple[int, ...]


@dataclass(frozen=True)
class ConvRNNConfig:
    hidden: tuple[int, ...]  # state channels per level, finest first
    base: int  # default layout: largest side of level 1 (frames are cut into patches until they fit)
    kernel: int  # state-to-state kernel of ConvGRU / ConvLSTM
    stem: int  # default layout: channels of the stem convolution
    links: Links = 13  # TrajGRU: number of flow fields L, for every level or one per level (finest first)
    flow_hidden: int = 16  # TrajGRU: channels of the flow-generating network
    # TrajGRU forecaster's L per level when it differs from the encoder's (HKO-7: encoder
    # 13 / 13 / 9, forecaster 9 / 13 / 13, finest first); None: the same as ``links``.
    forecaster_links: Links | None = None
    # One Resample per level (the first is the stem): the HKO-7 layout. None: the default
    # layout, and then ``base`` and ``stem`` apply; with it they are ignored.
    strided: tuple[Resample, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("links", "forecaster_links", "strided"):
            value = getattr(self, name)
            if isinstance(value, tuple) and len(value) != len(self.hidden):
                raise ValueError(f"ConvRNNConfig.{name} must have one entry per level ({len(self.hidden)} for "
                                 f"hidden={self.hidden}), got {len(value)}: {value}")
        if min(self.level_links() + self.level_links(forecaster=True)) < 1:
            raise ValueError(f"ConvRNNConfig.links must be >= 1, got {self.links} / {self.forecaster_links}")

    def level_links(self, forecaster: bool = False) -> tuple[int, ...]:
        """TrajGRU's L at every level, finest first, for the encoder or the forecaster."""
        links = self.links if not forecaster or self.forecaster_links is None else self.forecaster_links
        return links if isinstance(links, tuple) else (links,) * len(self.hidden)


SIZES: dict[Preset, ConvRNNConfig] = {
    "smoke": ConvRNNConfig(hidden=(8, 8), base=8, kernel=5, stem=8, links=5, flow_hidden=4),
    "quick": ConvRNNConfig(hidden=(16, 32, 32), base=16, kernel=5, stem=16, links=13, flow_hidden=8),
    # Shi 2017's MovingMNIST++ network (the authors' trajgru_1_64_1_96_1_96_L13 /
    # convgru_1_64_1_96_1_96_K5 configurations): 3x3 stem to 16 channels, 64 / 96 / 96 states
    # on 64 / 32 / 16 grids, 3x3/2 convs down and 4x4/2 deconvs up, 5x5 state-to-state
    # kernels, L = 13, 32-channel flow network. 4.00 M (TrajGRU) and 4.77 M (ConvGRU)
    # parameters, as in the paper's Table 1.
    "paper": ConvRNNConfig(hidden=(64, 96, 96), base=0, kernel=5, stem=0, links=13, flow_hidden=32,
                           strided=(Resample(16, 3, 1, 1), Resample(96, 3, 2, 1, 4), Resample(96, 3, 2, 1, 4))),
}


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
Cells = CellFactory | Sequence[CellFactory]  # one factory for every level, or one per level (finest first)


def _per_level(cells: Cells, levels: int) -> list[CellFactory]:
    if callable(cells):
        return [cells] * levels
    if len(cells) != levels:
        raise ValueError(f"expected one cell factory per level ({levels}), got {len(cells)}")
    return list(cells)


def _act() -> nn.LeakyReLU:
    return nn.LeakyReLU(0.2)


class EncoderForecaster(nn.Module):
    """Shi 2017's encoder-forecaster over any recurrent cell made by ``cell`` (and
    ``forecaster_cell`` for the forecaster, if given); see the module docstring for the layouts."""

    def __init__(self, problem: FrameProblem, config: ConvRNNConfig, cell: Cells,
                 forecaster_cell: Cells | None = None) -> None:
        super().__init__()
        self.problem = problem
        hid, n, strided = config.hidden, len(config.hidden), config.strided
        encoder_cells = _per_level(cell, n)
        forecaster_cells = _per_level(cell if forecaster_cell is None else forecaster_cell, n)
        self.patch = 1 if strided else patch_size(problem, config.base)
        c = problem.channels * self.patch**2
        # The default layout in Resample terms: 3x3 stem, then 3x3 stride-2 convs that keep
        # the channels and 4x4 stride-2 deconvs that invert them on even sides.
        resamples = strided or (Resample(config.stem, 3, 1, 1), *(Resample(h, 3, 2, 1, 4) for h in hid[:-1]))
        self.sides = sides = level_sides(problem, self.patch, resamples)
        # Input channels of each level's forecaster cell (the top one has no input): the
        # deconv out of level i + 1 keeps that level's channels, in both layouts (the authors'
        # HKO-7 code: upsample num_filter = NUM_FILTER[i + 1], not NUM_FILTER[i]).
        forecaster_in = (*hid[1:], 0)
        # Modules are made in the same order as before the strided layout existed, so a
        # seeded default-layout model still starts from the same weights.
        self.stem = nn.Sequential(resamples[0].conv(c), _act())
        self.encoder = nn.ModuleList(
            encoder_cells[i](resamples[i].channels, hid[i], *sides[i]) for i in range(n)
        )
        self.down = nn.ModuleList(nn.Sequential(resamples[i + 1].conv(hid[i]), _act()) for i in range(n - 1))
        self.forecaster = nn.ModuleList(forecaster_cells[i](forecaster_in[i], hid[i], *sides[i]) for i in range(n))
        self.up = nn.ModuleList(
            nn.Sequential(resamples[i + 1].deconv(hid[i + 1], forecaster_in[i]), _act()) for i in range(n - 1)
        )
        head = resamples[0].channels
        self.out: nn.Module = nn.Conv2d(hid[0], c, 3, padding=1) if not strided else nn.Sequential(
            resamples[0].deconv(hid[0], head), _act(), nn.Conv2d(head, head, 3, padding=1), _act(),
            nn.Conv2d(head, c, 1))

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


def convgru_cell(kernel: int) -> CellFactory:
    return lambda i, h, *_: ConvGRUCell(i, h, ConvH2H(h, kernel))


def convlstm_cell(kernel: int) -> CellFactory:
    return lambda i, h, y, x: ConvLSTMCell(i, h, kernel, y, x)


def build_convgru(problem: FrameProblem, preset: Preset) -> nn.Module:
    return EncoderForecaster(problem, SIZES[preset], convgru_cell(SIZES[preset].kernel))


def build_convlstm(problem: FrameProblem, preset: Preset) -> nn.Module:
    return EncoderForecaster(problem, SIZES[preset], convlstm_cell(SIZES[preset].kernel))


@hookimpl
def seqbench_register_models() -> list[ModelSpec]:
    return [
        ModelSpec("convlstm", (FRAMES,), build_convlstm, "ConvLSTM (peepholes) encoder-forecaster",
                  "Shi et al., NIPS 2015", tags=("nowcasting", "recurrent", "convolutional")),
        ModelSpec("convgru", (FRAMES,), build_convgru, "ConvGRU encoder-forecaster with down/up-sampling",
                  "Shi et al., NIPS 2017", tags=("nowcasting", "recurrent", "convolutional")),
    ]
