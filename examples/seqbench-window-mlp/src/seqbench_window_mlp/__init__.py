"""A windowed-MLP causal backbone as a seqbench plugin.

Bengio, Ducharme, Vincent, Jauvin, "A neural probabilistic language model", JMLR 2003:
the output at step t is an MLP of the last ``window`` inputs (zero-padded at the start),
so it is causal by construction and has no recurrent state.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from seqbench import hookimpl
from seqbench.signatures import CAUSAL_SEQ, SeqProblem
from seqbench.specs import ModelSpec, Preset


@dataclass(frozen=True)
class WindowConfig:
    window: int
    hidden: int


SIZES: dict[Preset, WindowConfig] = {
    "smoke": WindowConfig(window=3, hidden=32),
    "quick": WindowConfig(window=8, hidden=256),
    "paper": WindowConfig(window=5, hidden=500),  # Bengio et al. 2003 used n = 5 and h = 500 or so
}


class WindowMLP(nn.Module):
    def __init__(self, problem: SeqProblem, config: WindowConfig) -> None:
        super().__init__()
        self.window = config.window
        self.net = nn.Sequential(
            nn.Linear(problem.input_size * config.window, config.hidden), nn.Tanh(),
            nn.Linear(config.hidden, config.hidden), nn.Tanh(),
        )
        self.output_size = config.hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, T, F) -> (B, T, window, F): step t sees inputs t-window+1 .. t, zeros before 0.
        padded = F.pad(x, (0, 0, self.window - 1, 0))
        windows = padded.unfold(1, self.window, 1).transpose(2, 3)
        return self.net(windows.flatten(2))


def build(problem: SeqProblem, preset: Preset) -> nn.Module:
    return WindowMLP(problem, SIZES[preset])


@hookimpl
def seqbench_register_models() -> list[ModelSpec]:
    return [ModelSpec("window-mlp", (CAUSAL_SEQ,), build, "causal windowed MLP (example plugin)", "Bengio et al. 2003",
                      tags=("backbone", "example"))]
