"""The runtime side of every language-modelling task: adapter, loss and whole-split scoring.

Batches are ``(inputs (B, T), targets (B, T))`` with ``targets = IGNORE`` on padding.
Scores are computed over the whole split as sum of NLL / number of predicted tokens,
never as a mean of per-batch means (the last batch is usually smaller). Every window is
scored from an empty history (no state carried between windows), the same for every model,
so recurrent, convolutional, attention and count models see exactly the same context.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seqbench.signatures import CAUSAL_SEQ, TOKENS, SeqProblem, Signature, TokenProblem
from seqbench.specs import TaskContext, TaskSpec
from seqbench.task import Batch, IncompatibleModel, TensorTask
from seqbench_plugins.tasks.language.data import IGNORE


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

    def _logits(self, module: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
        logits = module(inputs)
        expected = (*inputs.shape, self.vocab_size)
        if tuple(logits.shape) != expected:
            raise ValueError(f"task {self.spec.name!r}: model returned logits of shape {tuple(logits.shape)}, "
                             f"expected (batch, time, vocab) = {expected}")
        return logits

    def loss(self, module: nn.Module, batch: Batch) -> torch.Tensor:
        inputs, targets = batch
        logits = self._logits(module, inputs)
        return F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE)

    def predict(self, module: nn.Module, batch: Batch) -> Any:
        return module(batch[0])

    @torch.no_grad()
    def evaluate(self, module: nn.Module, split: str, device: torch.device) -> dict[str, float]:
        module.eval()
        total, count = 0.0, 0
        for inputs, targets in self.eval_batches(split, self.budget.eval_batch_size):
            logits = self._logits(module, inputs.to(device)).float()
            targets = targets.to(device).flatten()
            total += float(F.cross_entropy(logits.flatten(0, 1), targets, ignore_index=IGNORE, reduction="sum"))
            count += int((targets != IGNORE).sum())
        return self.metrics_from(total, count)

    def metrics_from(self, nll: float, count: int) -> dict[str, float]:
        """Every metric from the total NLL (nats) over ``count`` predicted tokens."""
        ce = nll / max(count, 1)
        out = {"cross_entropy": ce, "perplexity": math.exp(min(ce, 700.0)), "bits_per_char": ce / math.log(2)}
        if "perplexity" in self.oracle:
            out["oracle_ratio"] = out["perplexity"] / self.oracle["perplexity"]
        names = {m.name for m in self.spec.metrics}  # bits per *char* only where tokens are chars
        return {k: v for k, v in out.items() if k in names}

    def reference(self) -> dict[str, float]:
        return {**self.oracle, "oracle_ratio": 1.0} if self.oracle else {}
