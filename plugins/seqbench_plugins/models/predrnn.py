"""PredRNN: stacked spatiotemporal LSTM (ST-LSTM) cells with a zigzag memory.

Wang et al., "PredRNN: recurrent neural networks for predictive learning using
spatiotemporal LSTMs", NIPS 2017. Besides each layer's own temporal cell state C, a
spatiotemporal memory M flows upwards through the layers within a time step and then from
the top layer back to the bottom layer of the next step (the zigzag), so low-level detail
reaches the top of the stack and the next prediction without a detour through time.

The model predicts one frame per step and, past the observed frames, feeds its own
prediction back (the paper's test-time mode; the FRAMES contract gives no future frames,
so training uses the same mode rather than scheduled sampling).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from seqbench import hookimpl
from seqbench.signatures import FRAMES, FrameProblem
from seqbench.specs import ModelSpec, Preset
from seqbench_plugins.models.convrnn import patch_size


@dataclass(frozen=True)
class PredRNNConfig:
    hidden: tuple[int, ...]  # channels per layer
    base: int  # largest side after cutting frames into patches (Wang 2017: 4x4 patches)
    kernel: int


SIZES: dict[Preset, PredRNNConfig] = {
    "smoke": PredRNNConfig(hidden=(8, 8), base=8, kernel=3),
    "quick": PredRNNConfig(hidden=(16, 16), base=16, kernel=3),  # (32, 32) took ~7 min/pair on 1 CPU thread
    "paper": PredRNNConfig(hidden=(128, 64, 64, 64), base=16, kernel=5),  # Wang 2017, Moving MNIST
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


class PredRNN(nn.Module):
    def __init__(self, problem: FrameProblem, config: PredRNNConfig) -> None:
        super().__init__()
        self.problem = problem
        self.patch = patch_size(problem, config.base)
        channels = problem.channels * self.patch**2
        hid = self.hidden = config.hidden
        self.cells = nn.ModuleList(
            STLSTMCell(channels if i == 0 else hid[i - 1], hid[i], config.kernel) for i in range(len(hid))
        )
        # M passes between layers of different widths (and from the top layer back to the
        # bottom one, hid[-1] -> hid[0]) through 1x1 convolutions; index -1 wraps for layer 0.
        self.m_adapt = nn.ModuleList(
            nn.Identity() if hid[i - 1] == hid[i] else nn.Conv2d(hid[i - 1], hid[i], 1, bias=False)
            for i in range(len(hid))
        )
        self.out = nn.Conv2d(hid[-1], channels, 1)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        b, t_in, _, height, width = frames.shape
        p = self.problem
        p.check_input(frames)
        side = (height // self.patch, width // self.patch)
        hs = [frames.new_zeros(b, hidden, *side) for hidden in self.hidden]
        cs = [torch.zeros_like(h) for h in hs]
        m = hs[-1].clone()
        outputs = []
        prediction = frames[:, 0]
        for t in range(t_in + p.out_frames - 1):
            x = F.pixel_unshuffle(frames[:, t] if t < t_in else prediction, self.patch)
            for i, cell in enumerate(self.cells):
                m = self.m_adapt[i](m)  # the zigzag: M from the layer below, or from the top at t-1
                hs[i], cs[i], m = cell(x, hs[i], cs[i], m)
                x = hs[i]
            prediction = F.pixel_shuffle(self.out(x), self.patch)
            if t >= t_in - 1:
                outputs.append(prediction)
        return torch.stack(outputs, dim=1)


def build_predrnn(problem: FrameProblem, preset: Preset) -> nn.Module:
    return PredRNN(problem, SIZES[preset])


@hookimpl
def seqbench_register_models() -> list[ModelSpec]:
    return [
        ModelSpec("predrnn", (FRAMES,), build_predrnn, "PredRNN: stacked ST-LSTM with zigzag memory",
                  "Wang et al., NIPS 2017", tags=("nowcasting", "recurrent", "convolutional")),
    ]
