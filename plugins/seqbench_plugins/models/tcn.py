"""Temporal convolutional network: dilated causal convolutions with residual blocks.

Bai, Kolter & Koltun, "An empirical evaluation of generic convolutional and recurrent
networks for sequence modeling", arXiv:1803.01271, 2018. Each residual block is two
(weight-normalised dilated causal conv -> ReLU -> dropout) layers plus a 1x1 convolution
on the skip path when the width changes; dilation doubles per block, so the receptive
field is 1 + 2 (k - 1) (2^L - 1). Declares ``CAUSAL_SEQ``.

The paper sizes each task's TCN so that its receptive field covers the span the task needs
(8 levels for copy memory at T = 1000 and the adding problem at T = 600). Here the preset
fixes channels and kernel, and ``levels`` is a minimum: when the task states how far back
it needs to see (``SeqProblem.memory``), the TCN adds levels, each doubling the dilation,
until the receptive field covers it (``levels_for``). The paper's own configurations
already cover their tasks, so their parameter counts do not change (12,530 for copy
memory, 96,001 for adding; ``benchmarks/reference.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from seqbench import hookimpl
from seqbench.signatures import CAUSAL_SEQ, SeqProblem
from seqbench.specs import ModelSpec, Preset


@dataclass(frozen=True)
class TCNConfig:
    channels: int
    levels: int
    kernel: int
    dropout: float


SIZES: dict[Preset, TCNConfig] = {
    "smoke": TCNConfig(channels=32, levels=2, kernel=3, dropout=0.0),
    "quick": TCNConfig(channels=96, levels=4, kernel=3, dropout=0.1),  # receptive field 1 + 2 (3 - 1)(2^4 - 1) = 61
    "paper": TCNConfig(channels=450, levels=3, kernel=3, dropout=0.1),  # Bai et al., char-level PTB
}


def receptive_field(kernel: int, levels: int) -> int:
    """Inputs an output sees: two convolutions per level, dilation 2^i at level i."""
    return 1 + 2 * (kernel - 1) * (2**levels - 1)


def levels_for(memory: int, kernel: int, levels: int) -> int:
    """The fewest levels, at least ``levels``, whose receptive field covers ``memory`` inputs."""
    while receptive_field(kernel, levels) < memory:
        levels += 1
    return levels


class CausalConv(nn.Module):
    """Conv1d padded on both sides then chomped on the right, so output t sees inputs <= t."""

    def __init__(self, c_in: int, c_out: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.chomp = (kernel - 1) * dilation
        conv = nn.Conv1d(c_in, c_out, kernel, padding=self.chomp, dilation=dilation)
        nn.init.normal_(conv.weight, 0.0, 0.01)  # the paper's initialisation
        self.conv = weight_norm(conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return out[:, :, : -self.chomp] if self.chomp else out


class TemporalBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int, dilation: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(
            CausalConv(c_in, c_out, kernel, dilation), nn.ReLU(), nn.Dropout(dropout),
            CausalConv(c_out, c_out, kernel, dilation), nn.ReLU(), nn.Dropout(dropout),
        )
        self.downsample = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else None
        if self.downsample is not None:
            nn.init.normal_(self.downsample.weight, 0.0, 0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = x if self.downsample is None else self.downsample(x)
        return torch.relu(self.net(x) + skip)


class TCN(nn.Module):
    """(B, T, F) -> (B, T, channels); causal, no streaming state."""

    def __init__(self, problem: SeqProblem, config: TCNConfig) -> None:
        super().__init__()
        levels = levels_for(problem.memory, config.kernel, config.levels)
        widths = [problem.input_size] + [config.channels] * levels
        self.blocks = nn.Sequential(*(
            TemporalBlock(widths[i], widths[i + 1], config.kernel, 2**i, config.dropout) for i in range(levels)
        ))
        self.receptive_field = receptive_field(config.kernel, levels)
        self.output_size = config.channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise ValueError(f"TCN expects (batch, time, features), got shape {tuple(x.shape)}")
        return self.blocks(x.transpose(1, 2)).transpose(1, 2)


def build(problem: SeqProblem, preset: Preset) -> nn.Module:
    return TCN(problem, SIZES[preset])


@hookimpl
def seqbench_register_models() -> list[ModelSpec]:
    return [ModelSpec("tcn", (CAUSAL_SEQ,), build, "temporal convolutional network (dilated causal, weight norm)",
                      "Bai, Kolter & Koltun 2018", tags=("backbone", "convolutional"))]
