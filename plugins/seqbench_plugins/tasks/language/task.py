"""The runtime side of every language-modelling task: adapter, loss and whole-split scoring.

Batches are ``(inputs (B, T), targets (B, T))`` with ``targets = IGNORE`` on padding.
Scores are computed over the whole split as sum of NLL / number of predicted tokens
(:mod:`~seqbench_plugins.tasks.language.metrics`), in the host's evaluation loop. Every window is
scored from an empty history (no state carried between windows), the same for every model,
so recurrent, convolutional, attention and count models see exactly the same context.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seqbench.signatures import CAUSAL_SEQ, TOKENS, SeqProblem, Signature, TokenProblem
from seqbench.specs import TaskContext, TaskSpec
from seqbench.task import Batch, IncompatibleModel, Metric, PairMetric, TensorTask
from seqbench_plugins.tasks.language.data import IGNORE
from seqbench_plugins.tasks.language.metrics import NextTokenNLL, check_logits


@dataclass(frozen=True)
class LMConfig:
    """Sizes of one language-modelling task at one preset."""

    length: int  # predictions per training/evaluation window
    embedding: int  # embedding size the task gives a CAUSAL_SEQ backbone
    dropout: float = 0.0  # on the embedding and before the head of adapted backbones


class TokenLM(nn.Module):
    """embedding -> causal backbone -> linear head: any CAUSAL_SEQ backbone as a language model."""

    def __init__(self, backbone: nn.Module, vocab: int, embedding: int, dropout: float) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, embedding)
        self.backbone = backbone
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(int(getattr(backbone, "output_size")), vocab)  # noqa: B009 - contract attribute

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.backbone(self.drop(self.embed(tokens)))))


class LanguageTask(TensorTask):
    """Next-token prediction over fixed windows; splits are ``(inputs, targets)`` tensors."""

    def __init__(
        self,
        spec: TaskSpec,
        context: TaskContext,
        config: LMConfig,
        splits: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
        vocab_size: int,
        oracle: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(spec, context)
        self.config = config
        self.splits = dict(splits)
        self.vocab_size = vocab_size
        self.oracle = dict(oracle or {})

    def problem(self, signature: Signature) -> object:
        if signature == TOKENS:
            return TokenProblem(self.vocab_size, self.config.length)
        if signature == CAUSAL_SEQ:
            return SeqProblem(self.config.embedding, self.config.length)
        raise IncompatibleModel(f"task {self.spec.name!r} does not accept signature {signature}")

    def adapter(self, backbone: nn.Module) -> nn.Module:
        return TokenLM(backbone, self.vocab_size, self.config.embedding, self.config.dropout)

    def count(self, batch: Batch) -> tuple[int, int]:
        inputs, targets = batch
        return int(inputs.shape[0]), int((targets != IGNORE).sum())

    def loss(self, module: nn.Module, batch: Batch) -> torch.Tensor:
        inputs, targets = batch
        logits = module(inputs)
        check_logits(self.spec.name, logits, targets, self.vocab_size)
        return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE)

    def predict(self, module: nn.Module, batch: Batch) -> Any:
        return module(batch[0])

    def metric(self, split: str) -> Metric:
        accumulator = NextTokenNLL(self.spec.name, self.vocab_size, [m.name for m in self.spec.metrics], self.oracle)
        return PairMetric(accumulator, lambda logits, batch: (logits, batch[1]))

    def reference(self) -> dict[str, float]:
        return {**self.oracle, "oracle_ratio": 1.0} if self.oracle else {}
