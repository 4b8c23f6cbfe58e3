"""Anticipation baselines: the action grammar prior and the class prior.

The grammar prior predicts the training split's most frequent next actions given the last
observed action (a first-order Markov model of the action sequence, the classic baseline
of anticipation work since Damen et al., ECCV 2018); the class prior ranks actions by their
training frequency whatever was observed. Both fit from one pass over the training split
and predict the same ranking at every tau_a.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from seqbench import hookimpl
from seqbench.signatures import MULTIMODAL, PREVIOUS_ACTION, MultimodalProblem
from seqbench.specs import ModelSpec, Preset

Batch = tuple[dict[str, torch.Tensor], torch.Tensor]


class GrammarPrior(nn.Module):
    """log P(next | previous) from counts; row 0 is "nothing observed yet". A previous action
    never seen in training falls back to the class prior (the smoothing term)."""

    table: torch.Tensor

    def __init__(self, problem: MultimodalProblem, conditional: bool = True) -> None:
        super().__init__()
        self.steps, self.conditional = problem.anticipation_steps, conditional
        self.register_buffer("table", torch.zeros(problem.num_actions + 1, problem.num_actions))

    def fit(self, batches: Iterable[Batch]) -> None:
        counts = torch.zeros_like(self.table, dtype=torch.float64)
        for streams, action in batches:
            row = streams[PREVIOUS_ACTION] + 1 if self.conditional else torch.zeros_like(action)
            counts.index_put_((row.long(), action.long()), torch.ones(len(action), dtype=torch.float64),
                              accumulate=True)
        prior = (counts.sum(0) + 1.0) / (counts.sum() + counts.shape[1])  # add-one: unseen actions rank last
        # Counts dominate; the prior (weight < 1 count) only orders actions a row never saw.
        self.table.copy_(torch.log(counts + 0.5 * prior / prior.max()).float())

    def forward(self, streams: dict[str, torch.Tensor]) -> torch.Tensor:
        row = streams[PREVIOUS_ACTION] + 1 if self.conditional else torch.zeros_like(streams[PREVIOUS_ACTION])
        return self.table[row.long()].unsqueeze(1).expand(-1, self.steps, -1)


@hookimpl
def seqbench_register_models() -> list[ModelSpec]:
    def grammar(problem: MultimodalProblem, preset: Preset) -> nn.Module:
        return GrammarPrior(problem)

    def prior(problem: MultimodalProblem, preset: Preset) -> nn.Module:
        return GrammarPrior(problem, conditional=False)

    return [
        ModelSpec("grammar-prior", (MULTIMODAL,), grammar, "most frequent next actions given the last observed action",
                  "first-order action grammar (Damen et al. ECCV 2018 baselines)", baseline=True,
                  tags=("baseline", "anticipation")),
        ModelSpec("class-prior", (MULTIMODAL,), prior, "training frequency of each action, whatever was observed",
                  "prior baseline", baseline=True, tags=("baseline", "anticipation")),
    ]
