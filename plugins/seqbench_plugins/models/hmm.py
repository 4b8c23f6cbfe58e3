"""Hidden Markov model language model, trained by gradient through the forward algorithm.

Baum, Petrie, Soules & Weiss, "A maximization technique occurring in the statistical
analysis of probabilistic functions of Markov chains", Ann. Math. Stat. 1970; Rabiner,
"A tutorial on hidden Markov models", Proc. IEEE 1989. The classic baseline the recurrent
network papers argue against: a discrete state of fixed size carries all the history.

Parameters are unconstrained logits, normalised by softmax, so plain gradient ascent on
the forward-algorithm likelihood replaces Baum-Welch and shares the common training loop.
It fits the ``TOKENS`` contract: position t returns log p(x_{t+1} | x_1..x_t), the
emission mixture under the predicted state distribution filtered from x_1..x_t.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from seqbench import hookimpl
from seqbench.signatures import TOKENS, TokenProblem
from seqbench.specs import ModelSpec, Preset


@dataclass(frozen=True)
class HMMConfig:
    states: int


SIZES: dict[Preset, HMMConfig] = {
    "smoke": HMMConfig(states=8),
    "quick": HMMConfig(states=64),
    "paper": HMMConfig(states=512),
}


class HMMLanguageModel(nn.Module):
    """tokens (B, T) -> next-token log-probabilities (B, T, V)."""

    def __init__(self, problem: TokenProblem, config: HMMConfig) -> None:
        super().__init__()
        s, v = config.states, problem.vocab_size
        # Random (not uniform) start: a symmetric HMM has zero gradient between states.
        self.initial = nn.Parameter(torch.randn(s) * 0.1)
        self.transition = nn.Parameter(torch.randn(s, s) * 0.5)
        self.emission = nn.Parameter(torch.randn(s, v) * 0.5)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.dim() != 2:
            raise ValueError(f"HMM expects token ids (batch, time), got shape {tuple(tokens.shape)}")
        transition = torch.softmax(self.transition, dim=1)
        emission = torch.softmax(self.emission, dim=1)
        emit_t = emission.t()[tokens]  # (B, T, S): p(x_t | z_t = s)
        # Scaled forward recursion in probability space (Rabiner 1989, eq. 91-93): the filtered
        # distribution is renormalised each step, so nothing underflows and no log-sum-exp is needed.
        predicted = torch.softmax(self.initial, dim=0).expand(tokens.shape[0], -1)
        out = []
        for t in range(tokens.shape[1]):
            filtered = predicted * emit_t[:, t]
            filtered = filtered / filtered.sum(dim=1, keepdim=True).clamp_min(1e-30)
            predicted = filtered @ transition
            out.append(predicted)
        states = torch.stack(out, dim=1)  # p(z_{t+1} | x_<=t)
        return torch.log((states @ emission).clamp_min(1e-30))


def build(problem: TokenProblem, preset: Preset) -> nn.Module:
    return HMMLanguageModel(problem, SIZES[preset])


@hookimpl
def seqbench_register_models() -> list[ModelSpec]:
    return [ModelSpec("hmm", (TOKENS,), build, "hidden Markov model, gradient-trained forward algorithm",
                      "Baum et al. 1970; Rabiner 1989", lr=3e-2, tags=("language", "probabilistic"))]
