"""Count-based language-model baselines: add-one unigram and interpolated Kneser-Ney n-gram.

Kneser & Ney, "Improved backing-off for m-gram language modeling", ICASSP 1995; Chen &
Goodman, "An empirical study of smoothing techniques for language modeling", 1998
(interpolated *modified* KN: discounts D1, D2, D3+ per order from the counts of counts). Both are ``TOKENS`` models and
baselines: ``fit(batches)`` counts the training split once; ``forward`` returns normalised
log-probabilities over the whole vocabulary, so they are scored exactly like the networks.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import torch
from torch import nn

from seqbench import hookimpl
from seqbench.signatures import TOKENS, TokenProblem
from seqbench.specs import ModelSpec, Preset
from seqbench_plugins.models.ngram_counts import IGNORE, OrderTable, count_tables, window_sequences


@dataclass(frozen=True)
class NGramConfig:
    order: int


SIZES: dict[Preset, NGramConfig] = {"smoke": NGramConfig(3), "quick": NGramConfig(5), "paper": NGramConfig(5)}


def _sequences(batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    parts = [window_sequences(inputs, targets) for inputs, targets in batches]
    if not parts:
        raise ValueError("n-gram fit received no training batches")
    width = max(p.shape[1] for p in parts)
    return torch.cat([nn.functional.pad(p, (0, width - p.shape[1]), value=IGNORE) for p in parts])


class Unigram(nn.Module):
    """p(w) = (count(w) + 1) / (N + V): Laplace smoothing keeps unseen symbols possible."""

    def __init__(self, problem: TokenProblem) -> None:
        super().__init__()
        self.vocab_size = problem.vocab_size
        self.log_prob: torch.Tensor | None = None

    def fit(self, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> None:
        seqs = _sequences(batches)
        tokens = seqs[seqs != IGNORE]
        counts = torch.bincount(tokens, minlength=self.vocab_size).double() + 1.0
        self.log_prob = (counts / counts.sum()).log().float()

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if self.log_prob is None:
            raise RuntimeError("unigram: call fit(batches) before forward")
        return self.log_prob.to(tokens.device).expand(*tokens.shape, -1)


class KneserNey(nn.Module):
    """Interpolated Kneser-Ney n-gram; history is the window's tokens up to and including t."""

    def __init__(self, problem: TokenProblem, config: NGramConfig) -> None:
        super().__init__()
        self.vocab_size = problem.vocab_size
        # n-grams are packed into one int64 code (base V), so V ** order must stay below 2 ** 62.
        self.order = max(1, min(config.order, int(62 * math.log(2) / math.log(max(problem.vocab_size, 2)))))
        self.tables: list[OrderTable] = []

    def fit(self, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.tables = count_tables(_sequences(batches), self.order, self.vocab_size)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        if not self.tables:
            raise RuntimeError("ngram: call fit(batches) before forward")
        b, t = tokens.shape
        v = self.vocab_size
        # Order 1 has one (empty) context, the same at every position: interpolate it with the
        # uniform distribution once, then refine each position with longer contexts.
        base = torch.full((1, v), 1.0 / v, device=tokens.device)
        one = torch.ones(1, dtype=torch.bool, device=tokens.device)
        self.tables[0].interpolate(base, torch.zeros(1, dtype=torch.long, device=tokens.device), one)
        prob = base.expand(b * t, v).clone()
        code = tokens.clone()
        for k, table in enumerate(self.tables[1:], start=2):
            # context of order k at t: the k-1 tokens ending at t = (context of order k-1 at t-1, x_t)
            if k > 2:
                shifted = torch.zeros_like(code)
                shifted[:, 1:] = code[:, :-1]
                code = shifted * v + tokens
            valid = torch.zeros(b, t, dtype=torch.bool, device=tokens.device)
            valid[:, k - 2 :] = True  # the first k-2 positions have too little history
            table.interpolate(prob, code.flatten(), valid.flatten())
        return prob.log_().view(b, t, v)


@hookimpl
def seqbench_register_models() -> list[ModelSpec]:
    def unigram(problem: TokenProblem, preset: Preset) -> nn.Module:
        return Unigram(problem)

    def ngram(problem: TokenProblem, preset: Preset) -> nn.Module:
        return KneserNey(problem, SIZES[preset])

    return [
        ModelSpec("unigram", (TOKENS,), unigram, "add-one smoothed unigram", "Laplace", baseline=True,
                  tags=("language", "baseline")),
        ModelSpec("ngram", (TOKENS,), ngram, "interpolated modified Kneser-Ney n-gram (5-gram at quick)",
                  "Kneser & Ney 1995; Chen & Goodman 1998", baseline=True, tags=("language", "baseline")),
    ]
