"""Stacked frame predictors at one resolution: PredRNN and its stacked-ConvLSTM baseline.

Wang et al., "PredRNN: recurrent neural networks for predictive learning using
spatiotemporal LSTMs", NIPS 2017. Besides each layer's own temporal cell state C, a
spatiotemporal memory M flows upwards through the layers within a time step and then from
the top layer back to the bottom layer of the next step (the zigzag), so low-level detail
reaches the top of the stack and the next prediction without a detour through time.

The paper's ConvLSTM baseline (Shi et al., NIPS 2015) is the same stack without M: every
layer at the patch resolution, one frame predicted per step. That is ``convlstm-stacked``
here (``convlstm`` is Shi 2017's encoder-forecaster), so the two differ only in the cell.

Both predict one frame per step and, past the observed frames, feed their own prediction
back (the paper's test-time mode; the FRAMES contract gives no future frames, so training
uses the same mode rather than scheduled sampling).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from seqbench import hookimpl
from seqbench.signatures import FRAMES, FrameProblem
from seqbench.specs import ModelSpec, Preset
from seqbench_plugins.models.convrnn import ConvLSTMCell
from seqbench_plugins.models.frame_layout import patch_size


@dataclass(frozen=True)
class StackConfig:
    hidden: tuple[int, ...]  # channels per layer
    base: int  # largest side after cutting frames into patches (Wang 2017: 4x4 patches)
    kernel: int


SIZES: dict[Preset, StackConfig] = {
    "smoke": StackConfig(hidden=(8, 8), base=8, kernel=3),
    "quick": StackConfig(hidden=(16, 16), base=16, kernel=3),  # PredRNN (32, 32) took ~7 min/pair on 1 thread
    "paper": StackConfig(hidden=(128, 64, 64, 64), base=16, kernel=5),  # Wang 2017, Moving MNIST
}
CONVLSTM_SIZES: dict[Preset, StackConfig] = {
    **SIZES, "paper": StackConfig(hidden=(128, 128, 128, 128), base=16, kernel=5),  # 4 x 128 as the PredRNN code's
}


class STLSTMCell(nn.Module):
    """ST-LSTM (Wang 2017, eq. 3): a standard ConvLSTM path for C, a second gated path for M
    driven by the input and the incoming M, and an output gate that sees both memories."""

    def __init__(self, in_channels: int, hidden: int, kernel: int) -> None:
        super().__init__()
        pad = kernel // 2
        self.hidden = hidden
        self.x2 = nn.Conv2d(in_channels, 7 * hidden, kernel, padding=pad)  # g i f g' i' f' o
        self.h2 = nn.Conv2d(hidden, 4 * hidden, kernel, padding=pad, bias=False)  # g i f o
        self.m2 = nn.Conv2d(hidden, 3 * hidden, kernel, padding=pad, bias=False)  # g' i' f'
        self.cm2o = nn.Conv2d(2 * hidden, hidden, kernel, padding=pad, bias=False)
        self.fuse = nn.Conv2d(2 * hidden, hidden, 1, bias=False)  # the 1x1 conv over [C, M]

    def forward(self, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, m: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        xg, xi, xf, xg2, xi2, xf2, xo = self.x2(x).chunk(7, dim=1)
        hg, hi, hf, ho = self.h2(h).chunk(4, dim=1)
        mg, mi, mf = self.m2(m).chunk(3, dim=1)
        c = torch.sigmoid(xf + hf + 1.0) * c + torch.sigmoid(xi + hi) * torch.tanh(xg + hg)
        m = torch.sigmoid(xf2 + mf + 1.0) * m + torch.sigmoid(xi2 + mi) * torch.tanh(xg2 + mg)
        both = torch.cat([c, m], dim=1)
        o = torch.sigmoid(xo + ho + self.cm2o(both))
        return o * torch.tanh(self.fuse(both)), c, m


class StackedPredictor(nn.Module):
    """Frames -> patches -> a stack of recurrent layers -> 1x1 conv -> next frame, per step.
    Subclasses say what the stack's state is (``begin``) and how one step runs (``layers``)."""

    def __init__(self, problem: FrameProblem, config: StackConfig) -> None:
        super().__init__()
        self.problem = problem
        self.patch = patch_size(problem, config.base)
        self.channels = problem.channels * self.patch**2
        self.side = (problem.height // self.patch, problem.width // self.patch)
        self.hidden = config.hidden
        self.out = nn.Conv2d(config.hidden[-1], self.channels, 1)

    def begin(self, frames: torch.Tensor) -> Any:
        raise NotImplementedError

    def layers(self, x: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        raise NotImplementedError

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        t_in = frames.shape[1]
        self.problem.check_input(frames)
        state = self.begin(frames)
        outputs = []
        prediction = frames[:, 0]
        for t in range(t_in + self.problem.out_frames - 1):
            x = F.pixel_unshuffle(frames[:, t] if t < t_in else prediction, self.patch)
            top, state = self.layers(x, state)
            prediction = F.pixel_shuffle(self.out(top), self.patch)
            if t >= t_in - 1:
                outputs.append(prediction)
        return torch.stack(outputs, dim=1)


class PredRNN(StackedPredictor):
    def __init__(self, problem: FrameProblem, config: StackConfig) -> None:
        super().__init__(problem, config)
        hid = config.hidden
        self.cells = nn.ModuleList(
            STLSTMCell(self.channels if i == 0 else hid[i - 1], hid[i], config.kernel) for i in range(len(hid))
        )
        # M passes between layers of different widths (and from the top layer back to the
        # bottom one, hid[-1] -> hid[0]) through 1x1 convolutions; index -1 wraps for layer 0.
        self.m_adapt = nn.ModuleList(
            nn.Identity() if hid[i - 1] == hid[i] else nn.Conv2d(hid[i - 1], hid[i], 1, bias=False)
            for i in range(len(hid))
        )

    def begin(self, frames: torch.Tensor) -> Any:
        hs = [frames.new_zeros(frames.shape[0], hidden, *self.side) for hidden in self.hidden]
        return hs, [torch.zeros_like(h) for h in hs], hs[-1].clone()

    def layers(self, x: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        hs, cs, m = state
        for i, cell in enumerate(self.cells):
            m = self.m_adapt[i](m)  # the zigzag: M from the layer below, or from the top at t-1
            hs[i], cs[i], m = cell(x, hs[i], cs[i], m)
            x = hs[i]
        return x, (hs, cs, m)


class StackedConvLSTM(StackedPredictor):
    """Shi 2015's ConvLSTM (with peepholes) stacked at one resolution, as PredRNN's baseline.

    At the PredRNN code base's Moving MNIST setting (4 x 128, 5x5, 4x4 patches) this has
    12,070,928 parameters where that code reports 15.08 M: its ConvLSTM cell also builds an
    output convolution (2h -> h, 5x5) and a 1x1 fusion (2h -> h) that its forward never calls
    (3,407,872 parameters at that size), and has no peepholes (393,216 here) or biases.
    """

    def __init__(self, problem: FrameProblem, config: StackConfig) -> None:
        super().__init__(problem, config)
        hid = config.hidden
        self.cells = nn.ModuleList(
            ConvLSTMCell(self.channels if i == 0 else hid[i - 1], hid[i], config.kernel, *self.side)
            for i in range(len(hid))
        )

    def begin(self, frames: torch.Tensor) -> Any:
        return [cast(ConvLSTMCell, cell).init_state(frames, *self.side) for cell in self.cells]

    def layers(self, x: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        for i, cell in enumerate(self.cells):
            x, state[i] = cell(x, state[i])
        return x, state


def build_predrnn(problem: FrameProblem, preset: Preset) -> nn.Module:
    return PredRNN(problem, SIZES[preset])


def build_convlstm_stacked(problem: FrameProblem, preset: Preset) -> nn.Module:
    return StackedConvLSTM(problem, CONVLSTM_SIZES[preset])


@hookimpl
def seqbench_register_models() -> list[ModelSpec]:
    tags = ("nowcasting", "recurrent", "convolutional")
    return [
        ModelSpec("predrnn", (FRAMES,), build_predrnn, "PredRNN: stacked ST-LSTM with zigzag memory",
                  "Wang et al., NIPS 2017", tags=tags),
        ModelSpec("convlstm-stacked", (FRAMES,), build_convlstm_stacked,
                  "ConvLSTM layers stacked at one resolution (PredRNN's baseline)",
                  "Shi et al., NIPS 2015; Wang et al., NIPS 2017", tags=tags),
    ]
