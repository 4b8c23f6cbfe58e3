"""Each specialised model at the configuration its reference implementation uses.

Parameter counts of the reference implementations (``reference_params``) are the
published / reference-code figures; where seqbench's count differs, ``note`` says why:

* TCN (Bai et al. 2018, copy memory: 1 input channel, 10-way linear read-out, 12,530
  here; adding problem: 2 inputs, 1 output, 96,001 here): the same architecture and head.
* ConvLSTM (15.08 M in the reference PredRNN code base: 4 stacked ConvLSTM layers x 128 at
  one resolution, 16x16 after 4x4 patches). seqbench's ConvLSTM is Shi et al.'s
  encoder-forecaster: the same 4 x 128 hidden, 5x5 kernels and 4x4 patches, but each level
  halves the spatial side (16, 8, 4, 2) and the forecaster has its own cells, so the
  count differs (``ConvRNNConfig`` has no single-resolution stacked mode).
* PredRNN (23.84 M): 4 ST-LSTM layers x 128, 5x5 kernels, 4x4 patches: the same layout.
* DCRNN (372,353): 207 sensors, K = 2 random-walk hops each way, 2 layers x 64, input 2.
* TrajGRU (HKO-7: three stages, L = 13 / 13 / 9): ``ConvRNNConfig.links`` is one L for
  every stage, so all three stages use L = 13 here (the third stage has 4 links more than
  the reference); frames 240x240 cut into 4x4 patches (60 / 30 / 15 per stage) instead of
  the reference's strided 7x7 stem convolution.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from seqbench.signatures import FrameProblem, GraphProblem, SeqProblem


@dataclass(frozen=True)
class Reference:
    name: str
    build: Callable[[], nn.Module]
    make_input: Callable[[int], tuple[torch.Tensor, torch.Tensor]]  # batch -> (inputs, targets)
    batch: int
    reference_params: int | None
    note: str = ""


class SeqRegressor(nn.Module):
    """A CAUSAL_SEQ backbone with a linear read-out, as the TCN tasks use it."""

    def __init__(self, backbone: nn.Module, out: int) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(int(backbone.output_size), out)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def _tcn(channels: int, levels: int, kernel: int, inputs: int, outputs: int, length: int) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        from seqbench_plugins.models.tcn import TCN, TCNConfig

        config = TCNConfig(channels=channels, levels=levels, kernel=kernel, dropout=0.0)
        return SeqRegressor(TCN(SeqProblem(inputs, length), config), outputs)

    return build


def _frames(c: int, size: int, t_in: int, t_out: int) -> Callable[[int], tuple[torch.Tensor, torch.Tensor]]:
    return lambda b: (torch.rand(b, t_in, c, size, size), torch.rand(b, t_out, c, size, size))


def _convlstm() -> nn.Module:
    from seqbench_plugins.models.convrnn import ConvLSTMCell, ConvRNNConfig, EncoderForecaster

    config = ConvRNNConfig(hidden=(128, 128, 128, 128), base=16, kernel=5, stem=16)
    return EncoderForecaster(FrameProblem(1, 64, 64, 10, 10), config,
                             lambda i, h, y, x: ConvLSTMCell(i, h, config.kernel, y, x))


def _predrnn() -> nn.Module:
    from seqbench_plugins.models.predrnn import PredRNN, PredRNNConfig

    return PredRNN(FrameProblem(1, 64, 64, 10, 10), PredRNNConfig(hidden=(128, 128, 128, 128), base=16, kernel=5))


def _trajgru() -> nn.Module:
    from seqbench_plugins.models.convrnn import ConvGRUCell, ConvRNNConfig, EncoderForecaster
    from seqbench_plugins.models.trajgru import TrajectoryH2H

    config = ConvRNNConfig(hidden=(64, 192, 192), base=64, kernel=5, stem=16, links=13, flow_hidden=32)

    def cell(in_channels: int, hidden: int, height: int, width: int) -> ConvGRUCell:
        return ConvGRUCell(in_channels, hidden, TrajectoryH2H(in_channels, hidden, config.links, config.flow_hidden))

    return EncoderForecaster(FrameProblem(1, 240, 240, 5, 20), config, cell)


def _metr_la() -> np.ndarray:
    from seqbench_plugins.tasks.traffic_data import shipped_graph

    return np.asarray(shipped_graph("metr-la").adjacency)


def _dcrnn() -> nn.Module:
    from seqbench_plugins.models.dcrnn import DCRNN, DCRNNConfig

    return DCRNN(GraphProblem(207, 2, 1, 12, 12, _metr_la()), DCRNNConfig(hidden=64, layers=2, hops=2, decay=2000.0))


REFERENCES = [
    Reference("tcn-copy-memory", _tcn(10, 8, 8, 1, 10, 1020),
              lambda b: (torch.rand(b, 1020, 1), torch.rand(b, 1020, 10)), 32, 12_500),
    Reference("tcn-adding", _tcn(30, 8, 7, 2, 1, 600),
              lambda b: (torch.rand(b, 600, 2), torch.rand(b, 600, 1)), 32, 96_000),
    Reference("convlstm-moving-mnist", _convlstm, _frames(1, 64, 10, 10), 4, 15_080_000),
    Reference("predrnn-moving-mnist", _predrnn, _frames(1, 64, 10, 10), 4, 23_840_000),
    Reference("dcrnn-metr-la", _dcrnn, lambda b: (torch.rand(b, 12, 207, 2), torch.rand(b, 12, 207, 1)), 16, 372_353),
    Reference("trajgru-hko7", _trajgru, _frames(1, 240, 5, 20), 2, None),
]


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
