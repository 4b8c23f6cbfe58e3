"""Each specialised model at the configuration its reference implementation uses.

Parameter counts of the reference implementations (``reference_params``) are the
published / reference-code figures; where seqbench's count differs, ``note`` says why:

* TCN (Bai et al. 2018, copy memory: 1 input channel, 10-way linear read-out, 12,530
  here; adding problem: 2 inputs, 1 output, 96,001 here): the same architecture and head.
* ConvLSTM (15.08 M in the PredRNN code base: 4 ConvLSTM layers x 128 stacked at one
  resolution, 5x5 kernels, 16x16 after 4x4 patches): seqbench's ``convlstm-stacked`` has the
  same layout and 12,070,928 parameters. The reference cell also builds an output
  convolution (256 -> 128, 5x5) and a 1x1 fusion (256 -> 128) that its forward never calls:
  3,407,872 parameters; without them it has 11,675,648. seqbench's cell adds Shi 2015's
  peepholes (393,216) and gate biases (2,048; 16 in the read-out): 11,675,648 again without
  them (``test_convlstm_reference_arithmetic``).
* PredRNN (23.84 M): 4 ST-LSTM layers x 128, 5x5 kernels, 4x4 patches: the same layout.
* DCRNN (372,353): 207 sensors, K = 2 random-walk hops each way, 2 layers x 64, input 2.
* TrajGRU (12,753,909 in the HKO-7 reference code, Shi et al. 2017 / its PyTorch port,
  counted from its layer list; 12,542,485 here): the same three stages -- 7x7/5 stem to 8
  channels, TrajGRU 64, 5x5/3 conv to 192, TrajGRU 192, 3x3/2 conv, TrajGRU 192; deconvs
  4/2, 5/3, 7/5 + 3x3 and 1x1 convs back; L = 13 / 13 / 9 in the encoder and 9 / 13 / 13 in
  the forecaster (finest first), flow network 32 channels of 5x5 -- on 240x240 frames
  (sides 48 / 16 / 8 instead of 96 / 32 / 16 at 480x480), 5 -> 20. The 211,424 fewer are
  1,149,536 the reference builds but never calls (the input-to-state and input-to-flow convs
  of the top forecaster cell, which has no input) less 938,112 it lacks: its deconv out of
  level 2 maps 192 -> 64 channels and level 1's forecaster cell reads 64, where the
  authors' MXNet code (and seqbench) keep 192 (``upsample num_filter = NUM_FILTER[i + 1]``).
  Also different, without changing the count: the flow conv starts at zero here (the
  PyTorch default there), and the warp uses align_corners=True and +flow where the reference samples at -flow.
* RU-LSTM (19.4 M for one branch, Furnari & Farinella 2019, reference code ``RULSTM``:
  1024-d RGB features, hidden 1024, 2513 EPIC-55 actions, 14 steps, batch 128): 19,369,425
  here -- rolling and unrolling LSTMs of 8,396,800 each and the 1024 -> 2513 classifier;
  the same parameters, computed step by step (``seqbench_plugins.models.rulstm``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from seqbench.signatures import FrameProblem, GraphProblem, MultimodalProblem, SeqProblem


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
        # memory = the whole sequence: the paper's 8 levels already cover it, so none is added
        return SeqRegressor(TCN(SeqProblem(inputs, length, memory=length), config), outputs)

    return build


def _frames(c: int, size: int, t_in: int, t_out: int) -> Callable[[int], tuple[torch.Tensor, torch.Tensor]]:
    return lambda b: (torch.rand(b, t_in, c, size, size), torch.rand(b, t_out, c, size, size))


def _stack(name: str) -> Callable[[], nn.Module]:
    def build() -> nn.Module:
        from seqbench_plugins.models.predrnn import PredRNN, StackConfig, StackedConvLSTM

        config = StackConfig(hidden=(128, 128, 128, 128), base=16, kernel=5)
        return {"predrnn": PredRNN, "convlstm": StackedConvLSTM}[name](FrameProblem(1, 64, 64, 10, 10), config)

    return build


def _trajgru() -> nn.Module:
    from seqbench_plugins.models.convrnn import ConvRNNConfig
    from seqbench_plugins.models.frame_layout import Resample
    from seqbench_plugins.models.trajgru import trajgru_encoder_forecaster

    # HKO-7 (Shi et al. 2017): 7x7/5 stem to 8 channels, 5x5/3 conv to 192, 3x3/2 conv
    # (deconvs 7/5, 5/3, 4/2 back); sides 48 / 16 / 8 at 240x240. base / stem are unused here.
    strided = (Resample(8, 7, 5, 1), Resample(192, 5, 3, 1), Resample(192, 3, 2, 1, up_kernel=4))
    config = ConvRNNConfig(hidden=(64, 192, 192), base=240, kernel=5, stem=8, links=(13, 13, 9),
                           forecaster_links=(9, 13, 13), flow_hidden=32, strided=strided)
    return trajgru_encoder_forecaster(FrameProblem(1, 240, 240, 5, 20), config)


def _metr_la() -> np.ndarray:
    from seqbench_plugins.tasks.traffic.data import shipped_graph

    return np.asarray(shipped_graph("metr-la").adjacency)


def _dcrnn() -> nn.Module:
    from seqbench_plugins.models.dcrnn import DCRNN, DCRNNConfig

    return DCRNN(GraphProblem(207, 2, 1, 12, 12, _metr_la()), DCRNNConfig(hidden=64, layers=2, hops=2, decay=2000.0))


class RGBBranch(nn.Module):
    """RU-LSTM with one RGB branch, called on the feature tensor (B, 14, 1024) -> (B, 8, 2513)."""

    def __init__(self) -> None:
        super().__init__()
        from seqbench_plugins.models.rulstm import RULSTM, SIZES

        self.model = RULSTM(MultimodalProblem((("rgb", 1024),), 2513, 14), SIZES["paper"], ("rgb",), "single")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model({"rgb": x})


REFERENCES = [
    Reference("tcn-copy-memory", _tcn(10, 8, 8, 1, 10, 1020),
              lambda b: (torch.rand(b, 1020, 1), torch.rand(b, 1020, 10)), 32, 12_500),
    Reference("tcn-adding", _tcn(30, 8, 7, 2, 1, 600),
              lambda b: (torch.rand(b, 600, 2), torch.rand(b, 600, 1)), 32, 96_000),
    Reference("convlstm-moving-mnist", _stack("convlstm"), _frames(1, 64, 10, 10), 4, 15_080_000),
    Reference("predrnn-moving-mnist", _stack("predrnn"), _frames(1, 64, 10, 10), 4, 23_840_000),
    Reference("dcrnn-metr-la", _dcrnn, lambda b: (torch.rand(b, 12, 207, 2), torch.rand(b, 12, 207, 1)), 16, 372_353),
    Reference("trajgru-hko7", _trajgru, _frames(1, 240, 5, 20), 2, 12_753_909),
    Reference("rulstm-rgb-epic55", RGBBranch, lambda b: (torch.randn(b, 14, 1024), torch.randn(b, 8, 2513)), 128,
              19_400_000),
]


def count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())

