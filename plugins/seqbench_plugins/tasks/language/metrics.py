"""Language-modelling metrics from the total next-token negative log-likelihood of a split.

Cross-entropy (nats per predicted token), perplexity ``exp(cross-entropy)``, bits per
character ``cross-entropy / ln 2`` and, for the HMM language, the ratio of the model's
perplexity to the exact oracle's (Rabiner 1989 forward algorithm). The NLL is summed over
every predicted token of the split and divided once at the end (padding, ``IGNORE``,
excluded), never averaged per batch: the last window and batch are usually shorter.

Not torchmetrics' ``Perplexity`` (1.9), on purpose. It takes ``softmax`` and then ``log``
in the logits' precision: a token the model gives a probability below float32's smallest
value (~1e-45) scores ``-log 0 = inf``, so a confident but wrong model gets an infinite
perplexity (and its job is recorded as diverged) where ``log_softmax`` gives its true,
finite loss. It also reports perplexity alone, and cross-entropy and bits per character
must come from the same sum. Perplexity is capped at ``exp(700)`` so that a very bad but
finite model still gets a finite (if huge) figure rather than overflowing to inf.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping

import torch
import torch.nn.functional as F

from seqbench_plugins.tasks.language.data import IGNORE

MAX_LOG_PERPLEXITY = 700.0  # exp(700) ~ 1e304: still a finite double


def check_logits(task: str, logits: torch.Tensor, targets: torch.Tensor, vocab: int) -> None:
    """A clear error for a model whose output is not ``(batch, time, vocab)`` logits."""
    expected = (*targets.shape, vocab)
    if tuple(logits.shape) != expected:
        raise ValueError(f"task {task!r}: model returned logits of shape {tuple(logits.shape)}, "
                         f"expected (batch, time, vocab) = {expected}")


class NextTokenNLL:
    """Accumulates the summed NLL of ``logits (B, T, V)`` against ``targets (B, T)``."""

    def __init__(self, task: str, vocab: int, names: Collection[str], oracle: Mapping[str, float]) -> None:
        self.task, self.vocab, self.names, self.oracle = task, vocab, set(names), dict(oracle)
        self.nll = 0.0
        self.count = 0

    def update(self, logits: torch.Tensor, targets: torch.Tensor) -> None:
        check_logits(self.task, logits, targets, self.vocab)
        flat = targets.flatten()
        self.nll += float(F.cross_entropy(logits.float().flatten(0, 1), flat, ignore_index=IGNORE, reduction="sum"))
        self.count += int((flat != IGNORE).sum())

    def compute(self) -> dict[str, float]:
        """Every metric the task declares (bits per *char* only where tokens are chars)."""
        ce = self.nll / max(self.count, 1)
        out = {"cross_entropy": ce, "perplexity": math.exp(min(ce, MAX_LOG_PERPLEXITY)),
               "bits_per_char": ce / math.log(2)}
        if "perplexity" in self.oracle:
            out["oracle_ratio"] = out["perplexity"] / self.oracle["perplexity"]
        return {k: v for k, v in out.items() if k in self.names}
