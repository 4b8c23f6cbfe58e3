"""The runtime side of the long-memory tasks: a linear read-out on any causal backbone.

Bai, Kolter & Koltun 2018 put a linear layer on the last step of the TCN (adding problem,
sequential digits) or on every step (copy memory); the recurrent baselines get the same head.
Batches are ``(inputs (B, T, F), targets)``; training losses are the paper's: MSE on the sum,
cross-entropy averaged over every step of copy memory, cross-entropy of the digit class.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from seqbench.signatures import CAUSAL_SEQ, SeqProblem, Signature
from seqbench.specs import TaskContext, TaskSpec
from seqbench.task import Batch, IncompatibleModel, Metric, TensorTask

Kind = Literal["regression", "copy", "classify"]


class SeqHead(nn.Module):
    """backbone -> linear read-out, on the last step (``last``) or on every step."""

    def __init__(self, backbone: nn.Module, outputs: int, last: bool) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(int(getattr(backbone, "output_size")), outputs)  # noqa: B009 - contract attribute
        self.last = last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.backbone(x)
        return self.head(h[:, -1] if self.last else h)


class LongMemoryTask(TensorTask):
    """One long-memory task: ``splits`` of (inputs, targets), read out as ``kind`` says.

    ``memory`` is the span the task needs (``SeqProblem.memory``); ``outputs`` the width of the
    read-out (1 for the adding problem's sum, 10 classes otherwise); ``metric_factory`` makes a
    fresh accumulator (:mod:`~seqbench_plugins.tasks.longmemory.metrics`) per pass.
    """

    def __init__(self, spec: TaskSpec, context: TaskContext, splits: Mapping[str, tuple[torch.Tensor, torch.Tensor]],
                 kind: Kind, memory: int, outputs: int, metric_factory: Callable[[], Metric]) -> None:
        super().__init__(spec, context)
        self.splits = dict(splits)
        self.kind = kind
        self.outputs = outputs
        self.metric_factory = metric_factory
        x = self.splits["train"][0]
        self.seq_problem = SeqProblem(int(x.shape[2]), int(x.shape[1]), memory)

    def problem(self, signature: Signature) -> object:
        if signature == CAUSAL_SEQ:
            return self.seq_problem
        raise IncompatibleModel(f"task {self.spec.name!r} does not accept signature {signature}")

    def adapter(self, backbone: nn.Module) -> nn.Module:
        return SeqHead(backbone, self.outputs, last=self.kind != "copy")

    def count(self, batch: Batch) -> tuple[int, int]:
        x = batch[0]
        return int(x.shape[0]), int(x.shape[0] * x.shape[1])

    def _check(self, output: torch.Tensor, target: torch.Tensor) -> None:
        expected = {"regression": (*target.shape, 1), "copy": (*target.shape, self.outputs),
                    "classify": (*target.shape, self.outputs)}[self.kind]
        if tuple(output.shape) != expected:
            raise ValueError(f"task {self.spec.name!r}: model returned shape {tuple(output.shape)}, "
                             f"expected {expected}")

    def predict(self, module: nn.Module, batch: Batch) -> Any:
        output = module(batch[0])
        self._check(output, batch[1])
        return output.squeeze(-1) if self.kind == "regression" else output

    def loss(self, module: nn.Module, batch: Batch) -> torch.Tensor:
        output, target = self.predict(module, batch), batch[1]
        if self.kind == "regression":
            return F.mse_loss(output.float(), target.float())
        if self.kind == "copy":  # mean over every step, blanks included, as the paper trains it
            return F.cross_entropy(output.float().transpose(1, 2), target)
        return F.cross_entropy(output.float(), target)

    def metric(self, split: str) -> Metric:
        return self.metric_factory()
