"""Recurrent backbones: Elman RNN, LSTM and GRU, on PyTorch's fused (cuDNN / oneDNN) kernels.

Elman, "Finding structure in time", Cognitive Science 1990; Hochreiter & Schmidhuber,
"Long short-term memory", Neural Computation 1997; Cho et al., "Learning phrase
representations using RNN encoder-decoder for statistical machine translation", EMNLP 2014.

All three declare ``CAUSAL_SEQ``: (B, T, F) -> (B, T, H) and a streaming ``step``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from seqbench import hookimpl
from seqbench.signatures import CAUSAL_SEQ, SeqProblem
from seqbench.specs import ModelSpec, Preset


@dataclass(frozen=True)
class RNNConfig:
    hidden: int
    layers: int
    dropout: float


SIZES: dict[Preset, RNNConfig] = {
    "smoke": RNNConfig(hidden=32, layers=1, dropout=0.0),
    "quick": RNNConfig(hidden=128, layers=2, dropout=0.1),
    "paper": RNNConfig(hidden=650, layers=2, dropout=0.5),  # Zaremba et al. 2014, medium
}

CELLS: dict[str, Callable[..., nn.Module]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentBackbone(nn.Module):
    """A stack of fused recurrent layers; the state is carried by ``step`` for streaming."""

    def __init__(self, cell: str, problem: SeqProblem, config: RNNConfig) -> None:
        super().__init__()
        kwargs: dict[str, Any] = {"nonlinearity": "tanh"} if cell == "rnn" else {}
        self.rnn = CELLS[cell](
            problem.input_size,
            config.hidden,
            num_layers=config.layers,
            dropout=config.dropout if config.layers > 1 else 0.0,
            batch_first=True,
            **kwargs,
        )
        self.output_size = config.hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return out

    def step(self, x_t: torch.Tensor, state: object = None) -> tuple[torch.Tensor, object]:
        out, state = self.rnn(x_t.unsqueeze(1), state)
        return out.squeeze(1), state


def _spec(cell: str, summary: str, paper: str) -> ModelSpec:
    def build(problem: SeqProblem, preset: Preset) -> nn.Module:
        return RecurrentBackbone(cell, problem, SIZES[preset])

    return ModelSpec(cell, (CAUSAL_SEQ,), build, summary, paper, tags=("backbone", "recurrent"))


@hookimpl
def seqbench_register_models() -> list[ModelSpec]:
    return [
        _spec("rnn", "Elman RNN (tanh), fused", "Elman 1990"),
        _spec("lstm", "LSTM, fused", "Hochreiter & Schmidhuber 1997"),
        _spec("gru", "GRU, fused", "Cho et al. 2014"),
    ]
