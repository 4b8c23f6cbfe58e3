"""Scheduled sampling (Bengio, Vinyals, Jaitly & Shazeer, "Scheduled Sampling for Sequence
Prediction with Recurrent Neural Networks", NeurIPS 2015), inverse-sigmoid decay.

At training step i the decoder is fed the ground truth with probability
eps_i = k / (k + exp(i / k)) (k >= 1, the paper's Eq. for inverse sigmoid decay), otherwise its
own previous prediction. Shared by DCRNN (Li et al. ICLR 2018, who use exactly this schedule)
and the attention sequence-to-sequence model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

# exp(i / k) overflows a float beyond ~709; the probability there is 0 to double precision anyway.
_EXP_LIMIT = 700.0


@dataclass(frozen=True)
class InverseSigmoid:
    """The schedule, recorded in a model's config: ``decay`` is k, in training steps."""

    decay: float

    def __post_init__(self) -> None:
        if not self.decay >= 1.0:
            raise ValueError(f"inverse-sigmoid decay k must be >= 1 (eps_0 = k / (k + 1)), got {self.decay}")

    def truth_probability(self, step: int) -> float:
        """eps_i: the probability of feeding the ground truth at training step ``step``."""
        tau = self.decay
        if step / tau > _EXP_LIMIT:
            return 0.0
        return tau / (tau + math.exp(step / tau))


def feed_truth(probability: float) -> bool:
    """One coin flip from torch's generator (so seeded runs repeat): True = feed the ground truth."""
    return torch.rand(()).item() < probability
